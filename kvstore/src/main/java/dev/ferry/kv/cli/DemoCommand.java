package dev.ferry.kv.cli;

import dev.ferry.kv.KvClient;
import dev.ferry.kv.KvOperations;
import dev.ferry.kv.cluster.ProcessCluster;
import dev.ferry.raft.ClusterSecret;
import dev.ferry.raft.RaftPeers;
import dev.ferry.raft.admin.AddRequest;
import dev.ferry.raft.admin.AddResult;
import dev.ferry.raft.admin.AdminClient;
import dev.ferry.raft.admin.NodeStatus;
import dev.ferry.shipping.PeerAddress;
import dev.ferry.shipping.install.InstallProgress;
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
import org.apache.ratis.proto.RaftProtos.RaftPeerRole;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code ferry demo}: a local 3-node cluster of separate processes, loaded with data; a 4th node
 * joins through the digest gate (snapshot install from several peers with a progress bar, digest
 * verification, promotion); then a follower is stopped while 1 % of the keys change, restarted, and
 * catches up by fetching only the changed chunks. Ends with the digests of every replica and a
 * summary. Cleans up after itself, also on Ctrl-C.
 *
 * <p>With {@code --groups N} it runs the sharded demo instead ({@link ShardedDemo}): N ranges on
 * four {@code ferry server --map} processes and one replica move.
 */
@Command(
    name = "demo",
    description =
        "Run a local cluster: load data, add a 4th node through the digest gate, and show a"
            + " stopped follower catching up with a delta. With --groups N: a sharded cluster of"
            + " N ranges on 4 nodes, and one range's replica moved to the 4th node.")
final class DemoCommand implements Callable<Integer> {
  static final int VALUE_BYTES = 1024;
  private static final Duration T = Duration.ofSeconds(120);

  /** Keys per write command while loading. */
  static final int LOAD_BATCH = 64;

  /** Keys per write command while updating: small entries, so the log rolls segments. */
  private static final int UPDATE_BATCH = 1;

  /** First characters of keys: spread over every key range of the default shard layout. */
  private static final String PREFIXES = "0123456789abcdefghijklmnopqrstuvwxyz";

  @Option(
      names = "--size",
      description =
          "MiB of key-value data to load (default 128, or "
              + ShardedDemo.DEFAULT_SIZE_MIB
              + " with --groups).")
  Integer size;

  @Option(
      names = "--groups",
      description =
          "Run the sharded demo: this many ranges (2.."
              + ShardedDemo.MAX_GROUPS
              + ", e.g. 8) at replication 3 on nodes n1..n3, n4 empty; one replica moves to n4.")
  Integer groups;

  @Option(names = "--dir", description = "Where the nodes keep their data (default: a temp dir).")
  Path dir;

  @Option(names = "--keep", description = "Keep the data directory afterwards.")
  boolean keep;

  private final PrintStream out = System.out;

  @Override
  public Integer call() throws Exception {
    int sizeMiB = size != null ? size : groups != null ? ShardedDemo.DEFAULT_SIZE_MIB : 128;
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
    int keys = keys(sizeMiB);
    if (groups != null) {
      try {
        return new ShardedDemo(out, root, groups, sizeMiB).run();
      } finally {
        cleanUp(root, cleanup);
      }
    }
    out.printf(Locale.ROOT, "Ferry demo: 3 nodes on loopback, data in %s%n", root);
    long t0 = System.nanoTime();
    try (ProcessCluster cluster =
        ProcessCluster.builder(root, 3)
            .heap("-Xmx" + Math.max(512, 3 * sizeMiB + 256) + "m")
            .serverArgs(
                "--capture-every",
                "100000",
                "--log-preserve",
                "16",
                "--raft-property",
                "raft.server.log.segment.size.max=128KB",
                "--raft-property",
                "raft.server.log.purge.gap=16")
            .start(T)) {
      summary.put("cluster up", seconds(t0));
      for (PeerAddress p : cluster.peers()) {
        out.printf(Locale.ROOT, "  %s  %s  (log %s)%n", p.id(), p, cluster.logFile(p.id()));
      }
      ClusterSecret secret = cluster.secret();
      String group = AdminClient.groupId(cluster.clusterName());
      try (KvClient client = cluster.client(Duration.ofSeconds(60))) {
        // 1. Load.
        long t1 = System.nanoTime();
        write(out, client, keys, keys, "loading", 1, LOAD_BATCH);
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

        // 2. A 4th node joins through the digest gate.
        int[] ports = ProcessCluster.freePorts(2);
        PeerAddress n4 = new PeerAddress("n4", "127.0.0.1", ports[0], ports[1]);
        out.printf(Locale.ROOT, "%nstarting n4 as a listener and adding it (%s)%n", n4);
        cluster.startListener(n4);
        PeerAddress leader = leader(cluster, client);
        long t2 = System.nanoTime();
        AddResult added;
        try (AdminClient admin = AdminClient.connect(leader, group, secret, null, "ferry-demo")) {
          added = AdminCommand.Add.add(admin, new AddRequest(n4, Duration.ofMinutes(10)), out);
        }
        out.println(AdminCommand.Add.summary(added));
        summary.put("n4 joined", joined(seconds(t2), added));

        // 3. A follower misses 1 % of the keys changing, and catches up with a delta.
        String leaderId = leader(cluster, client).id();
        String follower =
            cluster.peers().stream()
                .map(PeerAddress::id)
                .filter(id -> !id.equals(leaderId))
                .findFirst()
                .orElseThrow();
        PeerAddress followerAddress =
            cluster.peers().stream().filter(p -> p.id().equals(follower)).findFirst().get();
        long stoppedAt = status(followerAddress, group, secret).appliedIndex();
        out.printf(
            Locale.ROOT,
            "%nstopping follower %s at log index %d (leader is %s)%n",
            follower,
            stoppedAt,
            leaderId);
        cluster.stop(follower);
        int changed = Math.max(1, keys / 100);
        write(out, client, changed, keys, "updating 1 % of keys", 2, UPDATE_BATCH);
        // A new baseline past the stopped follower, and the log purged up to it: it must install.
        boolean purged = false;
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        client.ferryClient().captureSnapshot();
        while (!purged && System.nanoTime() < deadline) {
          Thread.sleep(250);
          // The leader reports its newest durable snapshot to Ratis, which purges the log to it.
          client.raftClient().getSnapshotManagementApi().create(1, 10_000);
          purged = status(leader(cluster, client), group, secret).logStartIndex() > stoppedAt + 1;
        }
        out.printf(
            Locale.ROOT,
            "%d keys (%.1f MiB) changed; the leader's log now starts at index %d%s%n",
            changed,
            changed * (double) VALUE_BYTES / 1048576.0,
            status(leader(cluster, client), group, secret).logStartIndex(),
            purged ? ", past the stopped follower" : "");

        long target = status(leader(cluster, client), group, secret).commitIndex();
        long t3 = System.nanoTime();
        cluster.start(follower);
        NodeStatus fs = null;
        while (fs == null || fs.appliedIndex() < target) {
          if (System.nanoTime() - t3 > T.toNanos()) {
            throw new IOException(follower + " did not catch up within " + T);
          }
          try {
            fs = status(followerAddress, group, secret);
          } catch (IOException e) {
            // Still starting.
          }
          Thread.sleep(20);
        }
        String catchUp = seconds(t3) + " (process start included)";
        DigestAt expected = client.checkpoint(1);
        String how;
        if (fs.lastInstall().isPresent() && fs.lastInstall().get().index() > stoppedAt) {
          InstallProgress i = fs.lastInstall().get();
          how =
              String.format(
                  Locale.ROOT,
                  "installed baseline %d: fetched %.2f MiB of %.1f MiB (%.1f %%) from %s",
                  i.index(),
                  i.bytesFetched() / 1048576.0,
                  i.bytesWanted() / 1048576.0,
                  100.0 * i.bytesFetched() / Math.max(1, i.bytesWanted()),
                  i.bytesPerSource().keySet());
        } else {
          how = "replayed the log (no install needed)";
        }
        out.printf(Locale.ROOT, "%s caught up in %s: %s%n", follower, catchUp, how);
        summary.put("follower catch-up", catchUp + ", " + how);

        // 4. Every replica has the same state.
        List<PeerAddress> all = new ArrayList<>(cluster.peers());
        all.add(n4);
        client
            .raftClient()
            .getClientRpc()
            .addRaftPeers(List.of(RaftPeers.toRaftPeer(n4, RaftPeerRole.FOLLOWER)));
        out.printf(Locale.ROOT, "%nstate digests at log index %d:%n", expected.index());
        boolean allEqual = true;
        for (PeerAddress p : all) {
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
        summary.put("digests", allEqual ? "all 4 replicas equal" : "MISMATCH");
        summary.put("total", seconds(t0));
        out.printf(Locale.ROOT, "%nSummary%n");
        summary.forEach((k, v) -> out.printf(Locale.ROOT, "  %-18s %s%n", k, v));
        return allEqual ? 0 : 1;
      }
    } finally {
      cleanUp(root, cleanup);
    }
  }

  /** Deletes the demo's data unless {@code --keep}. */
  private void cleanUp(Path root, Thread cleanup) {
    if (!keep) {
      deleteQuietly(root);
      try {
        Runtime.getRuntime().removeShutdownHook(cleanup);
      } catch (IllegalStateException ignored) {
        // shutting down: the hook runs anyway
      }
    }
  }

  /** The number of {@link #VALUE_BYTES} values that make {@code sizeMiB}. */
  static int keys(int sizeMiB) {
    return (int) Math.max(1, (long) sizeMiB * 1024 * 1024 / VALUE_BYTES);
  }

  /** The current leader's address. */
  private static PeerAddress leader(ProcessCluster cluster, KvClient client) throws IOException {
    client.get(new byte[] {0}); // makes the client find the leader
    String id = String.valueOf(client.raftClient().getLeaderId());
    return cluster.peers().stream()
        .filter(p -> p.id().equals(id))
        .findFirst()
        .orElse(cluster.peers().get(0));
  }

  private static NodeStatus status(PeerAddress p, String group, ClusterSecret secret)
      throws IOException {
    try (AdminClient c = AdminClient.connect(p, group, secret, null, "ferry-demo")) {
      return c.status();
    }
  }

  /** Writes {@code count} keys (sequential, or random within {@code range} when seed > 1). */
  static void write(
      PrintStream out,
      KvOperations client,
      int count,
      int range,
      String label,
      long seed,
      int perCommand)
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
                    if (batch.size() == perCommand) {
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

  /** A key whose first character spreads keys over every shard. */
  static byte[] key(int k) {
    int h = (k * 0x9E3779B1) >>> 16;
    return String.format(Locale.ROOT, "%c-key-%09d", PREFIXES.charAt(h % PREFIXES.length()), k)
        .getBytes(StandardCharsets.UTF_8);
  }

  /**
   * The summary of the join: {@code 2.9 s: 8.1 MiB from 3 sources (n1 2.1 MiB, n2 3.0 MiB, n3 3.0
   * MiB), digest verified at index 812, voter}; sources in id order.
   */
  static String joined(String took, AddResult added) {
    String perSource = perSource(added.bytesShipped());
    int n = added.bytesShipped().size();
    return String.format(
        Locale.ROOT,
        "%s: %.1f MiB from %d source%s (%s), digest verified at index %d, voter",
        took,
        added.totalBytesShipped() / 1048576.0,
        n,
        n == 1 ? "" : "s",
        perSource,
        added.verified().index());
  }

  /** {@code n1 2.1 MiB, n2 3.0 MiB}: bytes per source, in id order. */
  static String perSource(Map<String, Long> bytesPerSource) {
    StringBuilder perSource = new StringBuilder();
    new java.util.TreeMap<>(bytesPerSource)
        .forEach(
            (id, bytes) ->
                perSource
                    .append(perSource.length() == 0 ? "" : ", ")
                    .append(String.format(Locale.ROOT, "%s %.1f MiB", id, bytes / 1048576.0)));
    return perSource.toString();
  }

  static String seconds(long sinceNanos) {
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
