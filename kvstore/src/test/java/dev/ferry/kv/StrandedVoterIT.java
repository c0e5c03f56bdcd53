package dev.ferry.kv;

import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.kv.testing.LocalCluster;
import dev.ferry.kv.testing.RatisHooks;
import dev.ferry.statemachine.StateMachineConfig;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.ratis.util.CodeInjectionForTesting;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A voter that its leader sends nothing, while the other voter follows that leader, gets a new
 * leader: it hears from no leader, its pre-votes are refused (the others hear from theirs), and
 * only a new leader's replication reaches it again. Seen in the multi-raft chaos runs after a
 * move's configuration changes (the leader stopped sending to one voter). Here the voter's Raft
 * server refuses every append from the first leader (Ratis's test hook on the follower's append
 * handler), so that only a change of leader heals it: it must catch up with the writes made
 * meanwhile. Real three-node cluster in this JVM, real sockets and disks.
 */
class StrandedVoterIT {
  private static final Duration T = Duration.ofSeconds(90);

  @TempDir Path dir;
  private LocalCluster cluster;

  @AfterEach
  void close() throws Exception {
    RatisHooks.clear();
    if (cluster != null) {
      cluster.close();
    }
  }

  @Test
  void aVoterItsLeaderSendsNothingAsksForANewLeaderAndCatchesUp() throws Exception {
    cluster = LocalCluster.start(dir, 3, StateMachineConfig.defaults());
    try (KvClient c = cluster.client(T)) {
      put(c, 0, 20);
      String leader = cluster.leader(T);
      String stranded = cluster.follower(T);
      AtomicBoolean cut = new AtomicBoolean(true);
      AtomicLong refused = new AtomicLong();
      CodeInjectionForTesting.put(
          RatisHooks.APPEND_ENTRIES,
          (local, remote, args) -> {
            if (cut.get()
                && stranded.equals(String.valueOf(local))
                && leader.equals(String.valueOf(remote))) {
              refused.incrementAndGet();
              throw new IllegalStateException(
                  "StrandedVoterIT: " + stranded + " refuses appends from " + leader);
            }
            return false;
          });
      long before = cluster.applied(stranded);

      put(c, 20, 60); // committed by the leader and the other voter
      long written = cluster.applied(cluster.leader(T));
      assertTrue(written > before, "the writes went through the other voters");

      // Only a new leader reaches it: the first one stays cut off from it for the whole test.
      LocalCluster.await(
          T,
          () -> cluster.applied(stranded) >= written,
          stranded + " to apply " + written + " (cut off from " + leader + ")");
      assertTrue(refused.get() > 0, "the first leader's appends were refused");
      assertNotEquals(leader, cluster.leader(T), "leadership moved away from " + leader);

      put(c, 60, 70);
      LocalCluster.assertSameDigest(
          "the group",
          List.of(cluster.server("n1"), cluster.server("n2"), cluster.server("n3")),
          T);
    }
  }

  private static void put(KvClient c, int from, int to) throws Exception {
    for (int i = from; i < to; i++) {
      c.put(("k" + i).getBytes(StandardCharsets.UTF_8), ("v" + i).getBytes(StandardCharsets.UTF_8));
    }
  }
}
