package dev.ferry.examples.counter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.ferry.client.CommandRejectedException;
import dev.ferry.client.FerryClient;
import dev.ferry.statemachine.DigestAt;
import dev.ferry.statemachine.ReplyStatus;
import dev.ferry.statemachine.StateMachineConfig;
import dev.ferry.testing.LocalCluster;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The counter on three real nodes in this JVM ({@link LocalCluster}, the fixture users test their
 * own state machines with): adds through the client, a command the state machine refuses, and a
 * node that loses its disk and comes back with the same value and digest as the others.
 */
class CounterClusterIT {
  private static final Duration WAIT = Duration.ofSeconds(120);

  @TempDir Path dir;

  @Test
  void threeReplicasCountTogetherAndAWipedNodeCatchesUp() throws Exception {
    // A snapshot every 20 commands, so the wiped node recovers from a snapshot plus the log.
    StateMachineConfig config = StateMachineConfig.builder().captureEveryEntries(20).build();
    try (LocalCluster cluster = LocalCluster.start(dir, 3, config, Counter::new);
        CounterClient counter = CounterClient.connect(cluster.clusterName(), cluster.peers());
        FerryClient raw = FerryClient.connect(cluster.clusterName(), cluster.peers())) {
      for (int i = 1; i <= 50; i++) {
        assertEquals(i, counter.add(1));
      }
      assertEquals(50, counter.get());

      CommandRejectedException refused =
          assertThrows(
              CommandRejectedException.class,
              () -> raw.submit("one".getBytes(StandardCharsets.UTF_8)));
      assertEquals(ReplyStatus.APPLY_FAILED, refused.status());
      assertEquals(50, counter.get(), "a refused command changes nothing");

      String lost = cluster.follower(WAIT);
      cluster.stop(lost);
      cluster.wipe(lost);
      for (int i = 0; i < 30; i++) {
        counter.add(10);
      }
      assertEquals(350, counter.get());
      cluster.start(lost);

      LocalCluster.await(
          WAIT,
          () -> value(raw, lost) == 350,
          lost + " reads the value the others agreed on after losing its disk");
      LocalCluster.await(WAIT, () -> sameDigest(cluster), "every replica at the same digest");
    }
  }

  private static long value(FerryClient client, String node) {
    try {
      return Counter.decode(client.queryStale(new byte[0], node, Duration.ofSeconds(5)));
    } catch (RuntimeException e) {
      return -1; // Not serving yet.
    }
  }

  private static boolean sameDigest(LocalCluster cluster) {
    Set<DigestAt> digests = new HashSet<>();
    for (String id : cluster.running()) {
      try {
        digests.add(cluster.replica(id).digest().get(10, TimeUnit.SECONDS));
      } catch (ExecutionException | TimeoutException e) {
        return false;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return false;
      }
    }
    return digests.size() == 1;
  }
}
