package dev.ferry.kv;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.kv.cli.FerryCli;
import dev.ferry.kv.cluster.ProcessCluster;
import dev.ferry.kv.cluster.ShardStatus;
import dev.ferry.kv.cluster.ShardStatus.GroupView;
import dev.ferry.kv.shard.ClusterLayout;
import dev.ferry.kv.shard.Range;
import dev.ferry.kv.shard.RoutingKvClient;
import dev.ferry.kv.testing.NodeLogsOnFailure;
import dev.ferry.raft.ClusterSecret;
import dev.ferry.raft.admin.AdminClient;
import dev.ferry.shipping.PeerAddress;
import dev.ferry.statemachine.DigestAt;
import dev.ferry.testing.LocalCluster;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A sharded cluster of four {@code ferry server --map} processes (four ranges at replication 3 on
 * n1..n3, n4 empty): writes and reads routed across ranges from several client threads while a
 * replica moves ({@code ferry admin move}, run in this JVM) with the moved group's digests checked;
 * an increment session that spans the move applies each increment once; then a second move whose
 * source (the range's leader, which drives the add) is killed with SIGKILL mid-move: the group ends
 * with the move finished or undone, never half-done, the CLI and the map agree with it, and running
 * the move again completes it.
 */
@ExtendWith(NodeLogsOnFailure.class)
class ShardedProcessIT {
  private static final Logger LOG = LoggerFactory.getLogger(ShardedProcessIT.class);
  private static final Duration T = Duration.ofSeconds(120);
  private static final int WRITERS = 4;
  private static final String TARGET = "n4";

  @TempDir Path dir;

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  /** Four ranges split at k1, k2, k3, replicated on n1..n3; n4 in the map but holding none. */
  private static ClusterLayout layout() throws IOException {
    List<PeerAddress> nodes = ProcessCluster.loopbackPeers(4);
    ClusterLayout onThree =
        ClusterLayout.create(
            "sharded", nodes.subList(0, 3), List.of(bytes("k1"), bytes("k2"), bytes("k3")), 3);
    return new ClusterLayout("sharded", 1, 3, nodes, onThree.ranges());
  }

  /** Runs {@code ferry admin move} in this JVM; returns its exit status and its error output. */
  private static Map.Entry<Integer, String> move(
      ProcessCluster cluster, int range, String from, String to, long deadlineSeconds)
      throws IOException {
    StringWriter err = new StringWriter();
    int exit =
        FerryCli.run(
            new PrintWriter(new StringWriter(), true),
            new PrintWriter(err, true),
            "admin",
            "move",
            "--map",
            cluster.map().orElseThrow().toString(),
            "--range",
            String.valueOf(range),
            "--from",
            from,
            "--to",
            to,
            "--deadline",
            String.valueOf(deadlineSeconds),
            "--secret-file",
            cluster.secretFile().toString());
    return Map.entry(exit, err.toString());
  }

  /**
   * Puts {@code keys} random values of {@code size} bytes (incompressible) under {@code prefix}.
   */
  private static void fill(RoutingKvClient c, String prefix, int keys, int size)
      throws IOException {
    Random rnd = new Random(keys);
    List<byte[][]> batch = new ArrayList<>();
    for (int i = 0; i < keys; i++) {
      byte[] v = new byte[size];
      rnd.nextBytes(v);
      batch.add(new byte[][] {bytes(prefix + i), v});
      if (batch.size() == 100 || i == keys - 1) {
        c.putAll(batch);
        batch = new ArrayList<>();
      }
    }
  }

  /** The group of {@code range} once its leader reports no pending membership change. */
  private static GroupView settled(ClusterLayout layout, int range, ClusterSecret secret)
      throws IOException {
    AtomicReference<GroupView> v = new AtomicReference<>();
    LocalCluster.await(
        T,
        () -> {
          try {
            GroupView g = ShardStatus.group(layout, layout.range(range), secret, T);
            v.set(g);
            return g.leaderStatus().pending().isEmpty();
          } catch (IOException e) {
            return false;
          }
        },
        "range " + range + "'s leader with no pending change");
    return v.get();
  }

  /** Every voter of the group records the same digest at one new checkpoint. */
  private static void assertSameDigest(ProcessCluster cluster, GroupView g, long checkpointId)
      throws IOException {
    ClusterLayout now = ClusterLayout.read(cluster.map().orElseThrow());
    List<PeerAddress> voters = g.voters().stream().map(now::node).toList();
    try (KvClient c = KvClient.connect(g.range().group(), voters, T)) {
      DigestAt expected = c.checkpoint(checkpointId);
      for (String id : g.voters()) {
        assertEquals(
            expected,
            c.checkpointOn(id, checkpointId, expected.index()),
            g.range().group() + " on " + id);
      }
    }
  }

  @Test
  void routedLoadAMoveUnderItAndASourceKilledMidMove() throws Exception {
    ClusterLayout layout = layout();
    Path mapFile = dir.resolve("cluster.map");
    layout.write(mapFile);
    try (ProcessCluster cluster =
        ProcessCluster.builder(dir, 4)
            .map(mapFile)
            // Installs at 1 MB/s per source: a move takes seconds, long enough to cut one short.
            .serverArgs("--chunk-send-rate", "1000000")
            .start(T)) {
      LOG.info("cluster up");
      ClusterSecret secret = cluster.secret();
      ExecutorService pool = Executors.newFixedThreadPool(WRITERS + 1);
      AtomicBoolean stop = new AtomicBoolean();
      Map<String, String> acked = new ConcurrentHashMap<>();
      AtomicLong failed = new AtomicLong();
      AtomicLong increments = new AtomicLong();
      byte[] counter = bytes("k1-counter");
      List<Future<?>> clients = new ArrayList<>();
      try (RoutingKvClient c = cluster.routingClient(T);
          RoutingKvClient session = cluster.routingClient(T)) {
        // Range 1 (keys k1...) gets some state (2 MB), so the move installs a snapshot of it.
        fill(c, "k1-fill-", 1000, 2048);
        LOG.info("range 1 filled");
        // Writers across all four ranges, each reading back what it wrote.
        for (int w = 0; w < WRITERS; w++) {
          int id = w;
          clients.add(
              pool.submit(
                  () -> {
                    for (int n = 0; !stop.get(); n++) {
                      String key = (n % 4 == 0 ? "a" : "k" + (n % 4)) + "-w" + id + "-" + n;
                      try {
                        c.put(bytes(key), bytes("v" + n));
                        acked.put(key, "v" + n);
                        assertArrayEquals(bytes("v" + n), c.get(bytes(key)), key);
                      } catch (IOException e) {
                        failed.incrementAndGet();
                      }
                    }
                    return null;
                  }));
        }
        // One session incrementing a key of the range that moves, through the move.
        clients.add(
            pool.submit(
                () -> {
                  while (!stop.get()) {
                    session.increment(counter, 1);
                    increments.incrementAndGet();
                  }
                  return null;
                }));
        LocalCluster.await(
            T, () -> acked.size() > 100 && increments.get() > 20, "the clients to get going");

        // Move 1, under load: range 1's replica on a follower goes to n4.
        GroupView r1 = settled(layout, 1, secret);
        LOG.info("load running; move 1 starts");
        String from1 =
            r1.voters().stream().filter(id -> !id.equals(r1.leader())).findFirst().orElseThrow();
        Map.Entry<Integer, String> moved = move(cluster, 1, from1, TARGET, T.toSeconds());
        assertEquals(0, moved.getKey(), moved.getValue());
        long ackedAtMove = acked.size();
        long incrementsAtMove = increments.get();
        LocalCluster.await(
            T,
            () -> acked.size() > ackedAtMove + 100 && increments.get() > incrementsAtMove + 20,
            "writes and increments after the move");
        stop.set(true);
        for (Future<?> f : clients) {
          f.get(T.toSeconds(), TimeUnit.SECONDS);
        }
        LOG.info(
            "move 1 ({} -> {}): {} writes acked, {} failed, {} increments",
            from1,
            TARGET,
            acked.size(),
            failed.get(),
            increments.get());
        ClusterLayout v2 = ClusterLayout.read(mapFile);
        assertEquals(2, v2.version());
        GroupView after1 = settled(v2, 1, secret);
        Set<String> expected1 = new HashSet<>(r1.voters());
        expected1.remove(from1);
        expected1.add(TARGET);
        assertEquals(expected1, new HashSet<>(after1.voters()));
        assertEquals(new HashSet<>(v2.range(1).replicas()), expected1, "the map says the same");
        assertSameDigest(cluster, after1, 1);
        // The session's increments were each applied once: the counter is their number.
        assertEquals(increments.get(), session.increment(counter, 0), "increments applied");
      }
      try (RoutingKvClient fresh = cluster.routingClient(T)) {
        for (Map.Entry<String, String> e : acked.entrySet()) {
          assertArrayEquals(bytes(e.getValue()), fresh.get(bytes(e.getKey())), e.getKey());
        }
        // Range 2 gets state too (6 MB), so that its move installs for a while: about 3 s from
        // two sources at 1 MB/s each, time enough to kill the source while n4 installs. (Each
        // install of it costs that long: the run again installs it anew.)
        fill(fresh, "k2-fill-", 1500, 4096);
        LOG.info("acked writes read back; range 2 filled");
      }

      // Move 2: range 2's replica on its leader (which drives the add) goes to n4; the leader's
      // node is killed with SIGKILL once n4 installs.
      ClusterLayout v2 = ClusterLayout.read(mapFile);
      GroupView r2 = settled(v2, 2, secret);
      String from2 = r2.leader();
      Set<String> before2 = new HashSet<>(r2.voters());
      Future<Map.Entry<Integer, String>> move2 =
          pool.submit(() -> move(cluster, 2, from2, TARGET, 60));
      String gid2 = AdminClient.groupId(v2.range(2).group());
      LocalCluster.await(
          T,
          () -> {
            if (move2.isDone()) {
              return true;
            }
            try (AdminClient a = AdminClient.connect(v2.node(TARGET), gid2, secret, null, "t")) {
              return a.status().install().map(i -> i.bytesDone() > 0).orElse(false);
            } catch (IOException | RuntimeException e) {
              return false;
            }
          },
          TARGET + " to install " + v2.range(2).group());
      boolean killedMidMove = !move2.isDone();
      cluster.kill(from2);
      Map.Entry<Integer, String> cut = move2.get(T.toSeconds(), TimeUnit.SECONDS);
      pool.shutdown();

      GroupView afterKill = settled(v2, 2, secret);
      Set<String> voters = new HashSet<>(afterKill.voters());
      Set<String> added = new HashSet<>(before2);
      added.add(TARGET);
      Set<String> done = new HashSet<>(added);
      done.remove(from2);
      LOG.info(
          "move 2 ({} -> {}) with {} killed {}: exit {} ({}), voters {}",
          from2,
          TARGET,
          from2,
          killedMidMove ? "while n4 installed" : "after the move returned",
          cut.getKey(),
          cut.getValue().strip(),
          afterKill.voters());
      assertTrue(
          voters.equals(before2) || voters.equals(added) || voters.equals(done),
          "undone, target added, or finished; not half-done: " + voters);
      assertTrue(voters.size() >= 3, "at least the replication factor of voters: " + voters);
      ClusterLayout afterCut = ClusterLayout.read(mapFile);
      boolean mapMoved = !afterCut.range(2).replicas().contains(from2);
      assertEquals(
          cut.getKey() == 0,
          mapMoved,
          "the CLI reports the move done exactly when the map records it: " + cut);
      if (mapMoved) {
        assertEquals(done, voters, "a move the map records is finished");
      }

      // The killed node comes back; its replicas (if still members) catch up.
      cluster.start(from2);
      LOG.info("{} restarted", from2);
      GroupView back = settled(afterCut, 2, secret);
      assertEquals(voters, new HashSet<>(back.voters()));
      assertSameDigest(cluster, back, 2);
      LOG.info("range 2 settled and equal after the restart; the move runs again");

      // Running the move again completes it.
      Map.Entry<Integer, String> rerun = move(cluster, 2, from2, TARGET, T.toSeconds());
      assertEquals(0, rerun.getKey(), rerun.getValue());
      ClusterLayout v3 = ClusterLayout.read(mapFile);
      assertEquals(done, new HashSet<>(v3.range(2).replicas()));
      LOG.info("move run again: exit 0");
      GroupView finished = settled(v3, 2, secret);
      assertEquals(done, new HashSet<>(finished.voters()));
      assertTrue(finished.listeners().isEmpty(), "no listener left: " + finished.listeners());
      LocalCluster.await(
          T,
          () -> {
            try {
              return !ShardStatus.hostedGroups(v3.node(from2), secret)
                  .contains(v3.range(2).group());
            } catch (IOException e) {
              return false;
            }
          },
          from2 + " to drop " + v3.range(2).group());
      assertSameDigest(cluster, finished, 3);
      LOG.info("{} dropped the group; digests equal", from2);
      try (RoutingKvClient last = cluster.routingClient(T)) {
        for (Range r : v3.ranges()) {
          byte[] key = bytes((r.index() == 0 ? "a" : "k" + r.index()) + "-last");
          last.put(key, bytes("x"));
          assertArrayEquals(bytes("x"), last.get(key), r.toString());
        }
      }
    }
  }
}
