package dev.ferry.bench.cluster;

import dev.ferry.kv.KvClient;
import dev.ferry.kv.cluster.ProcessCluster;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
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
 * Write throughput and latency of a 3-node cluster of separate {@code ferry server} processes on
 * loopback, with 1, 16 and 64 concurrent clients, over a fixed window, without and then with one
 * snapshot capture inside the window. Each concurrency level gets a fresh cluster preloaded with
 * the same data, so the capture in the second window is a full one (the worst case).
 *
 * <p>Usage: {@code WriteThroughputBenchmark [--window SECONDS] [--preload KEYS] [--clients
 * 1,16,64]}. Prints a table with ops/s, p50 and p99 per run and the with/without ratios.
 */
public final class WriteThroughputBenchmark {
  private static final int VALUE_BYTES = 1024;

  private WriteThroughputBenchmark() {}

  /** One measured window. */
  record Result(int clients, boolean capture, long ops, double seconds, long p50us, long p99us) {
    double opsPerSecond() {
      return ops / seconds;
    }
  }

  public static void main(String[] args) throws Exception {
    int window = 30;
    int preload = 100_000;
    int[] clientCounts = {1, 16, 64};
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--window" -> window = Integer.parseInt(args[++i]);
        case "--preload" -> preload = Integer.parseInt(args[++i]);
        case "--clients" ->
            clientCounts =
                Arrays.stream(args[++i].split(",")).mapToInt(Integer::parseInt).toArray();
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    List<Result> results = new ArrayList<>();
    for (int clients : clientCounts) {
      Path dir = Files.createTempDirectory("ferry-write-bench");
      try (ProcessCluster cluster =
          ProcessCluster.builder(dir, 3)
              .heap("-Xmx1g")
              .serverArgs("--capture-every", "100000000")
              .start(Duration.ofSeconds(120))) {
        load(cluster, preload);
        results.add(measure(cluster, clients, window, false));
        results.add(measure(cluster, clients, window, true));
      } finally {
        deleteTree(dir);
      }
    }
    print(results, preload, window);
  }

  private static void load(ProcessCluster cluster, int keys) throws Exception {
    int threads = 16;
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try (KvClient c = cluster.client(Duration.ofSeconds(60))) {
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int first = t;
        done.add(
            pool.submit(
                () -> {
                  SplittableRandom rnd = new SplittableRandom(first);
                  List<byte[][]> batch = new ArrayList<>();
                  for (int k = first; k < keys; k += threads) {
                    byte[] value = new byte[VALUE_BYTES];
                    rnd.nextBytes(value);
                    batch.add(new byte[][] {key(k), value});
                    if (batch.size() == 100) {
                      c.putAll(batch);
                      batch = new ArrayList<>();
                    }
                  }
                  if (!batch.isEmpty()) {
                    c.putAll(batch);
                  }
                  return null;
                }));
      }
      for (Future<?> f : done) {
        f.get();
      }
    } finally {
      pool.shutdown();
    }
  }

  private static Result measure(ProcessCluster cluster, int clients, int window, boolean capture)
      throws Exception {
    ExecutorService pool = Executors.newFixedThreadPool(clients);
    long[][] latencies = new long[clients][];
    int[] counts = new int[clients];
    AtomicLong errors = new AtomicLong();
    try (KvClient c = cluster.client(Duration.ofSeconds(30))) {
      long start = System.nanoTime();
      long end = start + Duration.ofSeconds(window).toNanos();
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < clients; t++) {
        int id = t;
        latencies[t] = new long[1 << 16];
        done.add(
            pool.submit(
                () -> {
                  SplittableRandom rnd = new SplittableRandom(1000 + id);
                  byte[] value = new byte[VALUE_BYTES];
                  while (System.nanoTime() < end) {
                    rnd.nextBytes(value);
                    long t0 = System.nanoTime();
                    try {
                      c.put(key(rnd.nextInt(1 << 20)), value.clone());
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
      if (capture) {
        Thread.sleep(Duration.ofSeconds(window).toMillis() / 3);
        long index = c.ferryClient().captureSnapshot();
        System.out.printf(
            Locale.ROOT, "  capture proposed at log index %d (%d clients)%n", index, clients);
      }
      for (Future<?> f : done) {
        f.get();
      }
      double seconds = (System.nanoTime() - start) / 1e9;
      long total = 0;
      for (int n : counts) {
        total += n;
      }
      long[] all = new long[(int) total];
      int pos = 0;
      for (int t = 0; t < clients; t++) {
        System.arraycopy(latencies[t], 0, all, pos, counts[t]);
        pos += counts[t];
      }
      Arrays.sort(all);
      if (errors.get() > 0) {
        System.out.printf(Locale.ROOT, "  %d operations failed%n", errors.get());
      }
      return new Result(
          clients, capture, total, seconds, percentile(all, 0.50), percentile(all, 0.99));
    } finally {
      pool.shutdown();
    }
  }

  /** The {@code p} quantile of {@code sorted} (0 if empty); shared with ReadLatencyBenchmark. */
  static long percentile(long[] sorted, double p) {
    if (sorted.length == 0) {
      return 0;
    }
    return sorted[Math.min(sorted.length - 1, (int) Math.floor(p * sorted.length))];
  }

  /** Key {@code k} of the benchmarks' key space ({@code key-%08d}). */
  static byte[] key(int k) {
    return String.format(Locale.ROOT, "key-%08d", k).getBytes(StandardCharsets.UTF_8);
  }

  private static void print(List<Result> results, int preload, int window) {
    System.out.printf(
        Locale.ROOT,
        "%nWrite throughput, 3 processes on loopback, %d preloaded keys of %d B, %d s windows%n",
        preload,
        VALUE_BYTES,
        window);
    System.out.printf(
        Locale.ROOT,
        "%-8s %-9s %10s %9s %9s %14s %14s%n",
        "clients",
        "capture",
        "ops/s",
        "p50 ms",
        "p99 ms",
        "ops ratio",
        "p99 ratio");
    for (int i = 0; i + 1 < results.size(); i += 2) {
      Result off = results.get(i);
      Result on = results.get(i + 1);
      for (Result r : List.of(off, on)) {
        System.out.printf(
            Locale.ROOT,
            "%-8d %-9s %10.0f %9.2f %9.2f %14s %14s%n",
            r.clients(),
            r.capture() ? "yes" : "no",
            r.opsPerSecond(),
            r.p50us() / 1000.0,
            r.p99us() / 1000.0,
            r.capture()
                ? String.format(Locale.ROOT, "%.2f", on.opsPerSecond() / off.opsPerSecond())
                : "",
            r.capture()
                ? String.format(Locale.ROOT, "%.2f", (double) on.p99us() / off.p99us())
                : "");
      }
    }
  }

  static void deleteTree(Path dir) throws IOException {
    try (var paths = Files.walk(dir)) {
      for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
