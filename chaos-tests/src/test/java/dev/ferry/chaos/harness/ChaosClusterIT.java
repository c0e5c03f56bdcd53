package dev.ferry.chaos.harness;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ferry.kv.KvClient;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The harness on both networks: an isolated leader is cut off from the majority (it cannot see
 * writes made meanwhile) until the network heals, and closing leaves nothing behind.
 */
class ChaosClusterIT {
  private static final Duration T = Duration.ofSeconds(60);

  @TempDir Path dir;

  @Test
  void namespacesCutAndHeal() throws Exception {
    assumeTrue(Shell.isRoot(), "network namespaces need root");
    isolatedLeaderMissesWritesUntilHealed(NetworkMode.NETNS);
    assertEquals(
        "",
        Shell.run("sh", "-c", "ip netns list | grep '^fe-' || true").output(),
        "namespaces removed");
    assertEquals(
        "",
        Shell.run("sh", "-c", "ip -o link show | grep ' fe-' || true").output(),
        "links removed");
  }

  @Test
  void proxyCutsAndHeals() throws Exception {
    isolatedLeaderMissesWritesUntilHealed(NetworkMode.PROXY);
  }

  private void isolatedLeaderMissesWritesUntilHealed(NetworkMode mode) throws Exception {
    try (ChaosCluster c = ChaosCluster.builder(dir.resolve(mode.name())).network(mode).start(T);
        KvClient client = c.client(T)) {
      assertEquals(mode, c.mode());
      byte[] key = bytes("k");
      client.put(key, bytes("before"));
      String leader = Await.value(T, () -> c.leader().orElse(null), "a leader");
      for (String other : c.initialVoters()) {
        if (!other.equals(leader)) {
          c.network().cut(leader, other);
        }
      }
      client.put(key, bytes("during")); // the majority elects a new leader and commits
      assertFalse(
          Arrays.equals(bytes("during"), client.getStale(key, leader)),
          "the isolated old leader cannot have the write made without it");
      c.network().heal();
      Await.until(
          T,
          () -> {
            try {
              return Arrays.equals(bytes("during"), client.getStale(key, leader));
            } catch (IOException e) {
              return false;
            }
          },
          leader + " to catch up after the heal");
      String victim = c.initialVoters().get(0);
      c.pause(victim);
      assertTrue(c.isPaused(victim));
      client.put(key, bytes("paused"));
      c.resume(victim);
      c.kill(victim);
      assertFalse(c.isAlive(victim));
      c.start(victim);
      client.put(key, bytes("restarted"));
      assertArrayEquals(bytes("restarted"), client.get(key));
    }
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }
}
