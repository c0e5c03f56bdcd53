package dev.ferry.bench.cluster;

import dev.ferry.kv.KvClient;
import dev.ferry.kv.cluster.ProcessCluster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What the read guard costs: linearizable read throughput and latency of a 3-node cluster of
 * separate {@code ferry server} processes on loopback, with the guard as shipped ({@code on}),
 * without its re-triggered heartbeats ({@code no-retrigger}) and without the guard at all ({@code
 * off}: Ratis's shortcut, stale reads on a cut-off leader), one fresh cluster per mode, set through
 * the nodes' {@code ferry.readGuard} system property (docs/ratis-workarounds.md). For each mode: a
 * window of sequential reads (1 client) and one of concurrent reads, then a window of writes by 1
 * client for scale. Ratios are against {@code off}.
 *
 * <p>Usage: {@code ReadLatencyBenchmark [--window SECONDS] [--clients 1,8] [--modes
 * on,no-retrigger,off] [--preload KEYS] [--out FILE]}. Prints a table and writes it to {@code
 * --out} (if given) as each row is measured, so a run that fails halfway keeps what it measured.
 */
public final class ReadLatencyBenchmark {
  private static final int VALUE_BYTES = 256;

  private ReadLatencyBenchmark() {}

  /** One measured window. */
  record Result(
      String mode,
      String op,
      int clients,
      long ops,
      long errors,
      double seconds,
      long p50us,
      long p99us) {
    double opsPerSecond() {
      return ops / seconds;
    }
  }

  public static void main(String[] args) throws Exception {
    int window = 15;
    int preload = 10_000;
    int[] clientCounts = {1, 8};
    List<String> modes = List.of("on", "no-retrigger", "off");
    Path out = null;
    for (int i = 0; i < args.length; i++) {
      String value = i + 1 < args.length ? args[i + 1] : null;
      switch (args[i]) {
        case "--window" -> window = Integer.parseInt(require(args[i], value));
        case "--preload" -> preload = Integer.parseInt(require(args[i], value));
        case "--clients" ->
            clientCounts =
                Arrays.stream(require(args[i], value).split(","))
                    .mapToInt(Integer::parseInt)
                    .toArray();
        case "--modes" -> modes = List.of(require(args[i], value).split(","));
        case "--out" -> out = Path.of(require(args[i], value));
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
      i++;
    }
    for (String m : modes) {
      if (!List.of("on", "no-retrigger", "off").contains(m)) {
        throw new IllegalArgumentException("--modes: unknown mode " + m);
      }
    }
    List<Result> results = new ArrayList<>();
    for (String mode : modes) {
      Path dir = Files.createTempDirectory("ferry-read-bench");
      try (ProcessCluster cluster =
          ProcessCluster.builder(dir, 3)
              .heap("-Xmx512m")
              .launcher((id, cmd, env) -> cmd.add(1, "-Dferry.readGuard=" + mode))
              .start(Duration.ofSeconds(120))) {
        load(cluster, preload);
        for (int clients : clientCounts) {
          results.add(measure(cluster, mode, "get", clients, window, preload));
          report(results, preload, window, out);
        }
        results.add(measure(cluster, mode, "put", 1, window, preload));
        report(results, preload, window, out);
      } catch (IOException | RuntimeException e) {
        System.out.printf(Locale.ROOT, "mode %s failed: %s%n", mode, e);
      } finally {
        deleteTree(dir);
      }
    }
    report(results, preload, window, out);
  }

  private static String require(String flag, String value) {
    if (value == null) {
      throw new IllegalArgumentException(flag + " needs a value");
    }
    return value;
  }

  private static void load(ProcessCluster cluster, int keys) throws IOException {
    try (KvClient c = cluster.client(Duration.ofSeconds(60))) {
      List<byte[][]> batch = new ArrayList<>();
      for (int k = 0; k < keys; k++) {
        batch.add(new byte[][] {WriteThroughputBenchmark.key(k), new byte[VALUE_BYTES]});
        if (batch.size() == 500) {
          c.putAll(batch);
          batch = new ArrayList<>();
        }
      }
      if (!batch.isEmpty()) {
        c.putAll(batch);
      }
    }
  }

  private static Result measure(
      ProcessCluster cluster, String mode, String op, int clients, int window, int keys)
      throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(clients);
    long[][] latencies = new long[clients][];
    int[] counts = new int[clients];
    AtomicLong errors = new AtomicLong();
    try (KvClient c = cluster.client(Duration.ofSeconds(30))) {
      c.get(
          WriteThroughputBenchmark.key(0)); // the client knows the leader before the window starts
      long start = System.nanoTime();
      long end = start + Duration.ofSeconds(window).toNanos();
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < clients; t++) {
        int id = t;
        latencies[t] = new long[1 << 14];
        done.add(
            pool.submit(
                () -> {
                  SplittableRandom rnd = new SplittableRandom(1000 + id);
                  while (System.nanoTime() < end) {
                    byte[] k = WriteThroughputBenchmark.key(rnd.nextInt(keys));
                    long t0 = System.nanoTime();
                    try {
                      if (op.equals("get")) {
                        c.get(k);
                      } else {
                        c.put(k, new byte[VALUE_BYTES]);
                      }
                    } catch (IOException e) {
                      errors.incrementAndGet();
                      continue;
                    }
                    long us = (System.nanoTime() - t0) / 1000;
                    if (counts[id] == latencies[id].length) {
                      latencies[id] = Arrays.copyOf(latencies[id], counts[id] * 2);
                    }
                    latencies[id][counts[id]++] = us;
                  }
                  return null;
                }));
      }
      for (Future<?> f : done) {
        f.get();
      }
      double seconds = (System.nanoTime() - start) / 1e9;
      long total = Arrays.stream(counts).asLongStream().sum();
      long[] all = new long[(int) total];
      int pos = 0;
      for (int t = 0; t < clients; t++) {
        System.arraycopy(latencies[t], 0, all, pos, counts[t]);
        pos += counts[t];
      }
      Arrays.sort(all);
      return new Result(
          mode,
          op,
          clients,
          total,
          errors.get(),
          seconds,
          WriteThroughputBenchmark.percentile(all, 0.50),
          WriteThroughputBenchmark.percentile(all, 0.99));
    } finally {
      pool.shutdown();
    }
  }

  /** The table so far, to stdout and to {@code out}; ratios against the {@code off} row. */
  private static void report(List<Result> results, int preload, int window, Path out) {
    StringBuilder b = new StringBuilder();
    b.append(
        String.format(
            Locale.ROOT,
            "Linearizable reads, 3 processes on loopback, %d keys of %d B, %d s windows%n%n",
            preload,
            VALUE_BYTES,
            window));
    b.append(
        String.format(
            Locale.ROOT,
            "| %-12s | %-3s | %7s | %9s | %8s | %8s | %6s | %13s | %13s |%n",
            "guard",
            "op",
            "clients",
            "ops/s",
            "p50 ms",
            "p99 ms",
            "errors",
            "ops/s vs off",
            "p99 vs off"));
    b.append("|---|---|---:|---:|---:|---:|---:|---:|---:|\n");
    for (Result r : results) {
      Result off =
          results.stream()
              .filter(
                  o ->
                      o.mode().equals("off") && o.op().equals(r.op()) && o.clients() == r.clients())
              .findFirst()
              .orElse(null);
      b.append(
          String.format(
              Locale.ROOT,
              "| %-12s | %-3s | %7d | %9.0f | %8.2f | %8.2f | %6d | %13s | %13s |%n",
              r.mode(),
              r.op(),
              r.clients(),
              r.opsPerSecond(),
              r.p50us() / 1000.0,
              r.p99us() / 1000.0,
              r.errors(),
              off == null
                  ? ""
                  : String.format(Locale.ROOT, "%.2f", r.opsPerSecond() / off.opsPerSecond()),
              off == null || off.p99us() == 0
                  ? ""
                  : String.format(Locale.ROOT, "%.2f", (double) r.p99us() / off.p99us())));
    }
    System.out.println();
    System.out.print(b);
    if (out != null) {
      try {
        Files.createDirectories(out.toAbsolutePath().getParent());
        Files.writeString(out, b.toString());
      } catch (IOException e) {
        System.out.printf(Locale.ROOT, "could not write %s: %s%n", out, e);
      }
    }
  }

  private static void deleteTree(Path dir) {
    try {
      WriteThroughputBenchmark.deleteTree(dir);
    } catch (IOException e) {
      System.out.printf(Locale.ROOT, "could not delete %s: %s%n", dir, e);
    }
  }
}
