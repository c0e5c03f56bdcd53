package dev.ferry.chaos.regression;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.chaos.harness.Await;
import dev.ferry.chaos.harness.ChaosCluster;
import dev.ferry.chaos.harness.Convergence;
import dev.ferry.kv.KvClient;
import dev.ferry.kv.cluster.Progress;
import dev.ferry.kv.testing.NodeLogsOnFailure;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.apache.ratis.protocol.RaftPeerId;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * Found by the partition-kill chaos scenario: a follower finishes a snapshot install that one
 * leader asked for after leadership moved to a node whose log still holds the entries the follower
 * lacks. That leader never sends an install notification, and Ratis swaps an installed snapshot in
 * only on the next notification, rejecting every append meanwhile: without Ferry's workaround the
 * follower stays behind forever (docs/ratis-workarounds.md).
 *
 * <p>Set-up: n1 purges its log (small preservation), n2 keeps all of it. n3 stops, falls behind
 * n1's log start, restarts; n1 asks it for a snapshot; leadership then moves to n2 before the
 * install (slowed by a send rate limit) finishes.
 */
@ExtendWith(NodeLogsOnFailure.class)
class InstallReloadIT {
  private static final Duration T = Duration.ofSeconds(90);

  @TempDir Path dir;

  @Test
  void aFollowerWhoseInstallOutlivesTheAskingLeaderCatchesUp() throws Exception {
    try (ChaosCluster c =
            ChaosCluster.builder(dir)
                .serverArgs(
                    "--capture-every",
                    "100",
                    "--chunk-send-rate",
                    "300000",
                    "--raft-property",
                    "raft.server.log.segment.size.max=64KB")
                .nodeArgs("n1", "--log-preserve", "10")
                .nodeArgs("n2", "--log-preserve", "1000000")
                .nodeArgs("n3", "--log-preserve", "10")
                .start(T);
        KvClient k = c.client(Duration.ofSeconds(30))) {
      k.raftClient().admin().transferLeadership(RaftPeerId.valueOf("n1"), 20_000);
      write(k, "bulk", 3_000, 1024);
      c.kill("n3");
      write(k, "more", 1_500, 16);
      c.start("n3");
      Await.until(
          T,
          () -> log(c, "n3").contains("leader n1 asks for a snapshot"),
          "n1 to ask n3 for a snapshot");
      k.raftClient().admin().transferLeadership(RaftPeerId.valueOf("n2"), 20_000);
      k.put(bytes("after"), bytes("the leader change"));
      Convergence.Result r = Convergence.await(c, Progress.STALL);
      assertTrue(r.converged(), r.detail() + "\nn3 log:\n" + c.tail("n3", 30));
    }
  }

  private static void write(KvClient k, String prefix, int n, int size) throws Exception {
    Random rnd = new Random(n);
    List<byte[][]> batch = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      byte[] v = new byte[size];
      rnd.nextBytes(v);
      if (size > 100) {
        batch.add(new byte[][] {bytes(prefix + "/" + i), v});
        if (batch.size() == 50) {
          k.putAll(batch);
          batch = new ArrayList<>();
        }
      } else {
        k.put(bytes(prefix + "/" + i), v);
      }
    }
    if (!batch.isEmpty()) {
      k.putAll(batch);
    }
  }

  private static String log(ChaosCluster c, String id) {
    try {
      return Files.readString(c.logFile(id), StandardCharsets.UTF_8);
    } catch (java.io.IOException e) {
      return "";
    }
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
