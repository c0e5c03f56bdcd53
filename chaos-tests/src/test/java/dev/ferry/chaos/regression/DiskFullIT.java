package dev.ferry.chaos.regression;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ferry.chaos.harness.Await;
import dev.ferry.chaos.harness.ChaosCluster;
import dev.ferry.chaos.harness.Convergence;
import dev.ferry.chaos.nemesis.DiskFullNemesis;
import dev.ferry.chaos.nemesis.Target;
import dev.ferry.kv.KvClient;
import dev.ferry.kv.cluster.Progress;
import dev.ferry.kv.testing.NodeLogsOnFailure;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Found by the disk-full chaos scenario: when a node's Raft log cannot be written (its disk is
 * full), Ratis fails that write and every later one, even once space is free again, yet keeps the
 * server running and answering its peers. The node was stuck for good, behind, until someone
 * restarted it. Ferry now stops such a node ({@code FerryServer.failed()}; {@code ferry server}
 * exits with status 1), so that it is restarted and recovers its log.
 */
@ExtendWith(NodeLogsOnFailure.class)
class DiskFullIT {
  private static final Duration T = Duration.ofSeconds(90);

  @TempDir Path dir;

  private static String tails(ChaosCluster c) {
    StringBuilder s = new StringBuilder();
    for (String id : c.initialVoters()) {
      s.append("--- ").append(id).append('\n').append(c.tail(id, 25)).append('\n');
    }
    return s.toString();
  }

  @Test
  void aNodeWhoseLogCannotBeWrittenStopsAndRecoversAfterARestart() throws Exception {
    assumeTrue(ChaosCluster.disksAvailable(), "a tmpfs per node needs root");
    try (ChaosCluster c =
            ChaosCluster.builder(dir)
                .diskBytes(64L << 20)
                .serverArgs(
                    "--raft-property",
                    "raft.server.log.segment.size.max=128KB",
                    "--raft-property",
                    "raft.server.log.preallocated.size=32KB")
                .start(T);
        KvClient k = c.client(Duration.ofSeconds(30))) {
      String leader = Await.value(T, () -> c.leader().orElse(null), "a leader");
      String follower =
          c.initialVoters().stream().filter(id -> !id.equals(leader)).findFirst().orElseThrow();
      c.fillDisk(follower);
      byte[] value = new byte[512];
      int i = 0;
      long deadline = System.nanoTime() + T.toNanos();
      while (c.isAlive(follower) && System.nanoTime() < deadline) {
        k.put(("k" + i++).getBytes(StandardCharsets.UTF_8), value); // the majority still commits
      }
      assertTrue(
          !c.isAlive(follower),
          follower
              + " kept running with a log it could not write, after "
              + i
              + " writes:\n"
              + c.tail(follower, 20));
      c.freeDisk(follower);
      c.start(follower);
      Convergence.Result r = Convergence.await(c, Progress.STALL);
      assertTrue(r.converged(), r.detail() + "\n" + tails(c));
    } catch (TimeoutException e) {
      throw new AssertionError(e);
    }
  }

  /**
   * The disk-full nemesis's repair of the Ratis bug in docs/ratis-workarounds.md: a node whose
   * {@code raft-meta} was left empty (made here as Ratis leaves it: the file truncated while the
   * node is down) exits at its restart, and heal replaces it (removed, wiped, started as a
   * listener, added back); every member then converges, the replaced node included.
   */
  @Test
  void aNodeLeftWithAnEmptyRaftMetaIsReplacedByHeal() throws Exception {
    assumeTrue(ChaosCluster.disksAvailable(), "a tmpfs per node needs root");
    try (ChaosCluster c = ChaosCluster.builder(dir).diskBytes(64L << 20).start(T);
        KvClient k = c.client(Duration.ofSeconds(30));
        DiskFullNemesis nemesis = new DiskFullNemesis(Target.FOLLOWER)) {
      for (int i = 0; i < 200; i++) {
        k.put(("k" + i).getBytes(StandardCharsets.UTF_8), new byte[] {(byte) i});
      }
      nemesis.inject(c, new Random(1));
      String node =
          c.initialVoters().stream()
              .filter(id -> Files.exists(c.dataDir(id).resolve("fe-filler")))
              .findFirst()
              .orElseThrow();
      c.kill(node);
      List<Path> metas;
      try (Stream<Path> files = Files.walk(c.dataDir(node).resolve("raft"))) {
        metas = files.filter(p -> p.endsWith(Path.of("current", "raft-meta"))).toList();
      }
      assertEquals(1, metas.size(), "one group's raft-meta: " + metas);
      Files.write(metas.get(0), new byte[0]);

      String healed = nemesis.heal(c);

      assertTrue(healed.contains(DiskFullNemesis.REPLACED), healed + "\n" + tails(c));
      assertTrue(healed.contains(node + " could not restart: Ratis left raft-meta empty"), healed);
      Await.until(
          T,
          () -> c.configuration().map(conf -> conf.voters().contains(node)).orElse(false),
          node + " a voter again");
      k.put("after".getBytes(StandardCharsets.UTF_8), new byte[] {1});
      Convergence.Result r = Convergence.await(c, Progress.STALL);
      assertTrue(r.converged(), r.detail() + "\n" + tails(c));
      assertArrayEquals(new byte[] {7}, k.get("k7".getBytes(StandardCharsets.UTF_8)));
    }
  }
}
