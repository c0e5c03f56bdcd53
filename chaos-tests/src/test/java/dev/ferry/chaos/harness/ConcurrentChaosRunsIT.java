package dev.ferry.chaos.harness;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Two chaos runs on one machine (two builds at once): while one holds the machine's {@link
 * ChaosLock}, a cluster started by the other waits, and does not clean up (kill) the first run's
 * node JVMs as leftovers of a crashed run. The first run here is a JVM marked as a chaos node that
 * holds the lock.
 */
class ConcurrentChaosRunsIT {
  @TempDir Path dir;

  @Test
  void aClusterStartedWhileAnotherRunHoldsTheLockWaitsAndLeavesItsNodesAlone() throws Exception {
    Process other =
        LockHolder.start(ChaosLock.defaultFile(), ChaosCluster.NODE_MARKER + "other-run-n1");
    try {
      IOException e =
          assertThrows(
              IOException.class,
              () ->
                  ChaosCluster.builder(dir)
                      .network(NetworkMode.PROXY)
                      .lockWait(Duration.ofSeconds(3))
                      .start(Duration.ofSeconds(60))
                      .close());
      assertTrue(e.getMessage().startsWith("another chaos run still holds "), e.getMessage());
      assertTrue(other.isAlive(), "the other run's node was left alone");
    } finally {
      other.getOutputStream().close();
      other.waitFor();
    }
  }
}
