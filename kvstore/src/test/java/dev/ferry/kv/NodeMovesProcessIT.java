package dev.ferry.kv;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.kv.cli.FerryCli;
import dev.ferry.kv.cluster.ProcessCluster;
import dev.ferry.kv.cluster.ShardStatus;
import dev.ferry.kv.cluster.ShardStatus.GroupView;
import dev.ferry.kv.shard.ClusterLayout;
import dev.ferry.kv.shard.ClusterMaps;
import dev.ferry.kv.shard.NodeMoves;
import dev.ferry.kv.shard.NodeMoves.GroupProgress;
import dev.ferry.kv.shard.NodeMoves.NodeProgress;
import dev.ferry.kv.shard.NodeMoves.State;
import dev.ferry.kv.shard.Range;
import dev.ferry.kv.shard.ReplicatedClusterMap;
import dev.ferry.kv.shard.RoutingKvClient;
import dev.ferry.kv.testing.NodeLogsOnFailure;
import dev.ferry.raft.ClusterSecret;
import dev.ferry.raft.admin.AdminClient;
import dev.ferry.raft.admin.NodeStatus;
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
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Replacing a killed node and draining another, in a sharded cluster of six {@code ferry server
 * --map} processes with a replicated map (meta on n1..n3; four ranges at replication 3 on n1..n5;
 * n6 empty). Under routed writers: n4 is killed and replaced by n6 ({@link NodeMoves#replace}, the
 * Java API), then n3, a meta node, is drained ({@code ferry admin drain}, the CLI: its ranges and,
 * last, its replica of the metadata group move; the file's meta line is rewritten and the new meta
 * node runs the map service). Asserted: every move done, no range's leader ever reports fewer
 * voters than the replication factor in samples taken throughout, the map's version moves with each
 * move, a routing client created before both still reads every acknowledged write and writes after
 * them, every group's digests equal on its voters.
 */
@ExtendWith(NodeLogsOnFailure.class)
class NodeMovesProcessIT {
  private static final Logger LOG = LoggerFactory.getLogger(NodeMovesProcessIT.class);
  private static final Duration T = Duration.ofSeconds(120);
  private static final int WRITERS = 3;

  @TempDir Path dir;

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static String logOf(ProcessCluster cluster, String id) {
    try {
      return new String(
          java.nio.file.Files.readAllBytes(cluster.logFile(id)), StandardCharsets.UTF_8);
    } catch (IOException e) {
      return "";
    }
  }

  private static String keyOf(int range, String rest) {
    return (range == 0 ? "a" : "k" + range) + "-" + rest;
  }

  /** Four ranges split at k1, k2, k3 on n1..n5 at replication 3, n6 empty, meta on n1..n3. */
  private static ClusterLayout layout() throws IOException {
    List<PeerAddress> nodes = ProcessCluster.loopbackPeers(6);
    ClusterLayout onFive =
        ClusterLayout.create(
            "nm", nodes.subList(0, 5), List.of(bytes("k1"), bytes("k2"), bytes("k3")), 3);
    return new ClusterLayout(
        "nm", 1, 3, nodes, onFive.ranges(), List.of("n1", "n2", "n3"), Map.of());
  }

  @Test
  void replaceAKilledNodeThenDrainAnotherUnderWrites() throws Exception {
    ClusterLayout seed = layout();
    Path mapFile = dir.resolve("cluster.map");
    seed.write(mapFile);
    List<String> onN4 =
        seed.ranges().stream().filter(r -> r.replicas().contains("n4")).map(Range::group).toList();
    List<String> onN3 =
        seed.ranges().stream().filter(r -> r.replicas().contains("n3")).map(Range::group).toList();
    LOG.info("n4 holds {}, n3 holds {} and a replica of nm.meta", onN4, onN3);
    try (ProcessCluster cluster =
            ProcessCluster.builder(dir, 6)
                .map(mapFile)
                // 2 MB/s per sender: installs of ~0.5 MB take a fraction of a second, seen by
                // polls.
                .serverArgs("--chunk-send-rate", "2000000")
                .start(T);
        ReplicatedClusterMap map =
            (ReplicatedClusterMap)
                ClusterMaps.open(mapFile, ReplicatedClusterMap.DEFAULT_READ_DEADLINE, null)) {
      ClusterSecret secret = cluster.secret();
      LocalCluster.await(
          T,
          () -> {
            try {
              return map.read().layout() != null;
            } catch (IOException e) {
              return false;
            }
          },
          "the metadata group to be seeded");
      long v1 = map.read().version();
      String metaTarget;
      ExecutorService pool = Executors.newFixedThreadPool(WRITERS + 1);
      AtomicBoolean stop = new AtomicBoolean();
      Map<String, String> acked = new ConcurrentHashMap<>();
      AtomicLong failed = new AtomicLong();
      List<String> belowFactor = new CopyOnWriteArrayList<>();
      AtomicLong samples = new AtomicLong();
      List<Future<?>> tasks = new ArrayList<>();
      try (RoutingKvClient c = RoutingKvClient.connect(map, Duration.ofSeconds(20))) {
        // About 0.5 MB of incompressible values per range, so that each move installs a snapshot.
        Random rnd = new Random(1);
        for (Range r : seed.ranges()) {
          List<byte[][]> batch = new ArrayList<>();
          for (int i = 0; i < 250; i++) {
            byte[] v = new byte[2048];
            rnd.nextBytes(v);
            batch.add(new byte[][] {bytes(keyOf(r.index(), "fill-" + i)), v});
          }
          c.putAll(batch);
        }
        for (int w = 0; w < WRITERS; w++) {
          int id = w;
          tasks.add(
              pool.submit(
                  () -> {
                    for (int n = 0; !stop.get(); n++) {
                      String key = keyOf(n % 4, "w" + id + "-" + n);
                      try {
                        c.put(bytes(key), bytes("v" + n));
                        acked.put(key, "v" + n);
                      } catch (IOException e) {
                        failed.incrementAndGet();
                      }
                    }
                    return null;
                  }));
        }
        // Every range's configuration as its leader reports it, sampled throughout.
        tasks.add(
            pool.submit(
                () -> {
                  while (!stop.get()) {
                    for (Range r : seed.ranges()) {
                      try {
                        GroupView g = ShardStatus.group(seed, r, secret, Duration.ofSeconds(5));
                        samples.incrementAndGet();
                        if (g.voters().size() < seed.replication()) {
                          belowFactor.add(r.group() + ": " + g.voters());
                        }
                      } catch (IOException e) {
                        // No leader for a moment (an election): not a sample.
                      }
                    }
                  }
                  return null;
                }));
        LocalCluster.await(T, () -> acked.size() > 100, "the writers to get going");

        // Replace: n4 killed, its replicas re-created on n6 (Java API).
        cluster.kill("n4");
        LOG.info("n4 killed; replacing it with n6");
        List<GroupProgress> seen = new CopyOnWriteArrayList<>();
        List<NodeProgress> nodeSeen = new CopyOnWriteArrayList<>();
        NodeMoves.Result replaced =
            NodeMoves.replace(
                map,
                "n4",
                seed.node("n6"),
                NodeMoves.Options.of(secret).withParallelism(4).withDeadline(T),
                new NodeMoves.Listener() {
                  @Override
                  public void step(NodeMoves.Move m, String line) {
                    LOG.info("{}: {}", m.group(), line);
                  }

                  @Override
                  public void progress(GroupProgress g, NodeProgress n) {
                    seen.add(g);
                    nodeSeen.add(n);
                  }
                });
        LOG.info("replace took {} ms: {}", replaced.took().toMillis(), replaced.groups());
        assertEquals(List.of(), replaced.failed(), "no move failed");
        assertEquals(onN4, replaced.groups().stream().map(g -> g.move().group()).toList());
        assertTrue(
            seen.stream().anyMatch(g -> g.state() == State.INSTALLING && g.bytesTotal() > 0),
            "an install's bytes were reported: " + seen);
        NodeProgress last = nodeSeen.get(nodeSeen.size() - 1);
        assertEquals(onN4.size(), last.done());
        assertEquals(1.0, last.fraction());
        ClusterLayout afterReplace = map.read().layout();
        assertEquals(v1 + onN4.size(), afterReplace.version(), "one version per recorded move");
        for (Range r : afterReplace.ranges()) {
          assertFalse(r.replicas().contains("n4"), r.toString());
        }
        assertEquals(onN4.size(), afterReplace.loadPerNode().get("n6").replicas());

        // Drain: n3's replicas to the least loaded nodes, n4 (down) excluded, then its replica of
        // the metadata group to a node not on the meta line (CLI).
        StringWriter err = new StringWriter();
        int exit =
            FerryCli.run(
                new PrintWriter(new StringWriter(), true),
                new PrintWriter(err, true),
                "admin",
                "drain",
                "n3",
                "--map",
                mapFile.toString(),
                "--exclude",
                "n4",
                "--deadline",
                String.valueOf(T.toSeconds()),
                "--secret-file",
                cluster.secretFile().toString());
        assertEquals(0, exit, err.toString());
        ClusterLayout afterDrain = map.read().layout();
        assertEquals(
            afterReplace.version() + onN3.size() + 1,
            afterDrain.version(),
            "one version per range moved, and one for the meta line");
        for (Range r : afterDrain.ranges()) {
          assertFalse(r.replicas().contains("n3"), r.toString());
          assertFalse(r.replicas().contains("n4"), r.toString());
        }
        List<String> meta = afterDrain.meta();
        assertEquals(List.of("n1", "n2"), meta.subList(0, 2), "n3's place on the meta line");
        metaTarget = meta.get(2);
        assertTrue(Set.of("n5", "n6").contains(metaTarget), "not a meta node, not n4: " + meta);
        assertEquals(meta, ClusterLayout.read(mapFile).meta(), "the file's meta line rewritten");
        long ackedAtEnd = acked.size();
        LocalCluster.await(T, () -> acked.size() > ackedAtEnd + 50, "writes after the drain");
        stop.set(true);
        for (Future<?> f : tasks) {
          f.get(T.toSeconds(), TimeUnit.SECONDS);
        }
        pool.shutdown();
        LOG.info(
            "{} writes acked, {} failed; {} configuration samples",
            acked.size(),
            failed.get(),
            samples.get());
        assertEquals(List.of(), belowFactor, "no range below its replication factor");
        assertTrue(samples.get() >= 8, "configurations were sampled: " + samples.get());

        // The client made before both operations reads every acknowledged write and writes.
        for (Map.Entry<String, String> e : acked.entrySet()) {
          assertArrayEquals(bytes(e.getValue()), c.get(bytes(e.getKey())), e.getKey());
        }
        for (Range r : afterDrain.ranges()) {
          byte[] key = bytes(keyOf(r.index(), "last"));
          c.put(key, bytes("x"));
          assertArrayEquals(bytes("x"), c.get(key), r.toString());
        }
        assertTrue(c.map().current().version() >= afterDrain.version(), "the client followed");
      }
      // The metadata group's voters are the meta line's nodes; its new node runs the map service.
      try (AdminClient a =
          AdminClient.connect(
              seed.node("n1"), AdminClient.groupId("nm.meta"), secret, null, "it")) {
        assertEquals(
            Set.copyOf(map.read().layout().meta()),
            a.status().members().stream()
                .filter(NodeStatus.Member::voter)
                .map(NodeStatus.Member::id)
                .collect(Collectors.toSet()));
      }
      String target = metaTarget;
      LocalCluster.await(
          T,
          () -> logOf(cluster, target).contains("runs its map service"),
          target + " to run the map service");
      // Every group's voters are the map's replicas, with equal digests.
      for (Range r : map.read().layout().ranges()) {
        GroupView g = ShardStatus.group(seed, r, secret, T);
        assertEquals(Set.copyOf(r.replicas()), Set.copyOf(g.voters()), r.group());
        List<PeerAddress> voters = g.voters().stream().map(seed::node).toList();
        try (KvClient k = KvClient.connect(r.group(), voters, T)) {
          DigestAt expected = k.checkpoint(1);
          for (String id : g.voters()) {
            assertEquals(
                expected, k.checkpointOn(id, 1, expected.index()), r.group() + " on " + id);
          }
        }
      }
    }
  }
}
