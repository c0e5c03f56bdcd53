package dev.ferry.chaos.harness;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link ChaosLock} between processes (on a lock file of its own, not the machine's): a second run
 * waits while another holds the lock, says who holds it, and gets it once it is released.
 */
class ChaosLockTest {
  @TempDir Path dir;

  @Test
  void aSecondProcessWaitsNamingTheHolderAndGetsTheLockOnceReleased() throws Exception {
    Path file = dir.resolve("chaos.lock");
    Process holder = LockHolder.start(file);
    try {
      ByteArrayOutputStream said = new ByteArrayOutputStream();
      PrintStream stderr = System.err;
      System.setErr(new PrintStream(said, true, StandardCharsets.UTF_8));
      IOException e;
      try {
        e = assertThrows(IOException.class, () -> ChaosLock.acquire(file, Duration.ofSeconds(2)));
      } finally {
        System.setErr(stderr);
      }
      String line = said.toString(StandardCharsets.UTF_8);
      // ChaosLock logs the note (slf4j-simple writes it to stderr after a time and level).
      assertTrue(
          line.contains(
              "chaos: another chaos run holds " + file + " (pid " + holder.pid() + " since "),
          line);
      assertTrue(line.contains("waiting for it to finish"), line);
      assertTrue(e.getMessage().contains("pid " + holder.pid()), e.getMessage());

      holder.getOutputStream().close(); // the holder releases the lock and exits
      try (ChaosLock lock = ChaosLock.acquire(file, Duration.ofMinutes(2))) {
        assertTrue(lock.isHeld());
        assertTrue(
            Files.readString(file).startsWith("pid " + ProcessHandle.current().pid() + " since "),
            Files.readString(file));
      }
      assertTrue(holder.waitFor(60, TimeUnit.SECONDS), "the holder exited");
    } finally {
      holder.destroyForcibly();
    }
  }

  @Test
  void theLockFileIsWritableByEveryUser() throws Exception {
    Path file = dir.resolve("chaos.lock");
    ChaosLock.acquire(file, Duration.ZERO).close();
    assertEquals("rw-rw-rw-", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
  }

  @Test
  void aSecondClusterOfTheSameJvmWaitsForTheFirst() throws Exception {
    Path file = dir.resolve("chaos.lock");
    ChaosLock first = ChaosLock.acquire(file, Duration.ZERO);
    assertThrows(IOException.class, () -> ChaosLock.acquire(file, Duration.ofMillis(200)));
    first.close();
    assertFalse(first.isHeld());
    first.close(); // idempotent
    try (ChaosLock second = ChaosLock.acquire(file, Duration.ZERO)) {
      assertTrue(second.isHeld());
    }
  }

  @Test
  void whatTouchesSharedNamesNeedsTheLock() throws Exception {
    assertThrows(IllegalStateException.class, () -> ChaosCluster.removeLeftovers(null));
    ChaosLock lock = ChaosLock.acquire(dir.resolve("chaos.lock"), Duration.ZERO);
    lock.close();
    assertThrows(
        IllegalStateException.class, () -> NetnsNetwork.create(java.util.List.of("n1"), lock));
  }
}
