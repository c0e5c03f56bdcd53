package dev.ferry.kv.cli;

import dev.ferry.kv.KvClient;
import dev.ferry.kv.cluster.ProcessCluster;
import dev.ferry.raft.PeerAddress;
import dev.ferry.statemachine.CommandCodec;
import dev.ferry.statemachine.DigestAt;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ferry demo}: a local 3-node cluster of separate processes, loaded with data; a follower is
 * stopped while 1 % of the keys change, restarted, and shown to catch up to the same state digest
 * as every other replica. Cleans up after itself, also on Ctrl-C.
 */
@Command(name = "demo", description = "Run a local 3-node cluster and show a follower catching up.")
final class DemoCommand implements Callable<Integer> {
  private static final int VALUE_BYTES = 1024;

  /** Keys per write command while loading. */
  private static final int BATCH = 64;

  @Option(
      names = "--size",
      defaultValue = "64",
      description = "MiB of key-value data to load (default ${DEFAULT-VALUE}).")
  int sizeMiB;

  @Option(names = "--dir", description = "Where the nodes keep their data (default: a temp dir).")
  Path dir;

  @Option(names = "--keep", description = "Keep the data directory afterwards.")
  boolean keep;

  private final PrintStream out = System.out;

  @Override
  public Integer call() throws Exception {
    if (sizeMiB < 1 || sizeMiB > 65536) {
      throw new IllegalArgumentException("--size must be 1..65536 MiB: " + sizeMiB);
    }
    Path root =
        dir != null ? Files.createDirectories(dir) : Files.createTempDirectory("ferry-demo");
    Thread cleanup = new Thread(() -> deleteQuietly(root), "ferry-demo-cleanup");
    if (!keep) {
      Runtime.getRuntime().addShutdownHook(cleanup);
    }
    Map<String, String> summary = new LinkedHashMap<>();
    int keys = (int) Math.max(1, (long) sizeMiB * 1024 * 1024 / VALUE_BYTES);
    out.printf(Locale.ROOT, "Ferry demo: 3 nodes on loopback, data in %s%n", root);
    long t0 = System.nanoTime();
    try (ProcessCluster cluster =
        ProcessCluster.builder(root, 3)
            .heap("-Xmx" + Math.max(512, 3 * sizeMiB + 256) + "m")
            .serverArgs("--capture-every", "1000000000", "--log-preserve", "1000000")
            .start(Duration.ofSeconds(120))) {
      summary.put("cluster up", seconds(t0));
      for (PeerAddress p : cluster.peers()) {
        out.printf(
            Locale.ROOT,
            "  %s  raft %d  (log %s)%n",
            p.id(),
            p.raftPort(),
            cluster.logFile(p.id()));
      }
      try (KvClient client = cluster.client(Duration.ofSeconds(60))) {
        long t1 = System.nanoTime();
        write(client, keys, keys, "loading", 1);
        double loadSeconds = (System.nanoTime() - t1) / 1e9;
        summary.put(
            "data loaded",
            String.format(
                Locale.ROOT,
                "%d keys, %d MiB in %.1f s (%.1f MiB/s)",
                keys,
                sizeMiB,
                loadSeconds,
                sizeMiB / loadSeconds));

        RaftClientReply r =
            client
                .raftClient()
                .io()
                .send(Message.valueOf(ByteString.copyFrom(CommandCodec.captureCommand())));
        out.printf(Locale.ROOT, "snapshot capture proposed at log index %d%n", r.getLogIndex());

        String leader = String.valueOf(client.raftClient().getLeaderId());
        String follower =
            cluster.peers().stream()
                .map(PeerAddress::id)
                .filter(id -> !id.equals(leader))
                .findFirst()
                .orElseThrow();
        out.printf(Locale.ROOT, "stopping follower %s (leader is %s)%n", follower, leader);
        cluster.stop(follower);
        int changed = Math.max(1, keys / 100);
        write(client, changed, keys, "updating 1 % of keys", 2);
        summary.put(
            "while stopped",
            changed + " random keys updated (" + changed * VALUE_BYTES / 1024 + " KiB)");

        long t2 = System.nanoTime();
        cluster.start(follower);
        DigestAt expected = client.checkpoint(1);
        DigestAt caughtUp = client.checkpointOn(follower, 1, expected.index());
        summary.put(
            "follower catch-up",
            seconds(t2) + " (restart + replay to index " + caughtUp.index() + ")");

        out.printf(Locale.ROOT, "%nstate digests at log index %d:%n", expected.index());
        boolean allEqual = true;
        for (PeerAddress p : cluster.peers()) {
          DigestAt d = client.checkpointOn(p.id(), 1, expected.index());
          boolean equal = d.digest().equals(expected.digest());
          allEqual &= equal;
          out.printf(
              Locale.ROOT,
              "  %s  %s  %s%n",
              p.id(),
              d.digest().toHex(),
              equal ? "equal" : "DIFFERENT");
        }
        summary.put("digests", allEqual ? "all 3 replicas equal" : "MISMATCH");
        summary.put("total", seconds(t0));
        out.printf(Locale.ROOT, "%nSummary%n");
        summary.forEach((k, v) -> out.printf(Locale.ROOT, "  %-18s %s%n", k, v));
        return allEqual ? 0 : 1;
      }
    } finally {
      if (!keep) {
        deleteQuietly(root);
        try {
          Runtime.getRuntime().removeShutdownHook(cleanup);
        } catch (IllegalStateException ignored) {
          // shutting down: the hook runs anyway
        }
      }
    }
  }

  /** Writes {@code count} keys (sequential, or random within {@code range} when seed > 1). */
  private void write(KvClient client, int count, int range, String label, long seed)
      throws Exception {
    int threads = 8;
    ProgressBar bar = new ProgressBar(out, label, (long) count * VALUE_BYTES);
    AtomicLong done = new AtomicLong();
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<?>> futures = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int first = t;
        futures.add(
            pool.submit(
                () -> {
                  SplittableRandom rnd = new SplittableRandom(seed * 1000 + first);
                  List<byte[][]> batch = new ArrayList<>();
                  for (int i = first; i < count; i += threads) {
                    int k = seed > 1 ? rnd.nextInt(range) : i;
                    batch.add(new byte[][] {key(k), value(rnd)});
                    if (batch.size() == BATCH) {
                      client.putAll(batch);
                      done.addAndGet((long) batch.size() * VALUE_BYTES);
                      batch.clear();
                    }
                  }
                  if (!batch.isEmpty()) {
                    client.putAll(batch);
                    done.addAndGet((long) batch.size() * VALUE_BYTES);
                  }
                  return null;
                }));
      }
      for (Future<?> f : futures) {
        while (!f.isDone()) {
          bar.update(done.get());
          try {
            f.get(100, java.util.concurrent.TimeUnit.MILLISECONDS);
          } catch (java.util.concurrent.TimeoutException e) {
            // keep drawing
          }
        }
        f.get();
      }
      bar.finish(done.get());
    } finally {
      pool.shutdownNow();
    }
  }

  /** Text-like values (compress about 3:1), deterministic per seed. */
  private static byte[] value(SplittableRandom rnd) {
    byte[] v = new byte[VALUE_BYTES];
    for (int i = 0; i < v.length; i++) {
      v[i] = (byte) ('a' + Math.min(25, (int) (-Math.log(1 - rnd.nextDouble()) * 4)));
    }
    return v;
  }

  private static byte[] key(int k) {
    return String.format(Locale.ROOT, "key-%09d", k).getBytes(StandardCharsets.UTF_8);
  }

  private static String seconds(long sinceNanos) {
    return String.format(Locale.ROOT, "%.1f s", (System.nanoTime() - sinceNanos) / 1e9);
  }

  private static void deleteQuietly(Path root) {
    try (var paths = Files.walk(root)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    } catch (IOException e) {
      System.err.println("ferry demo: could not delete " + root + ": " + e);
    }
  }
}
