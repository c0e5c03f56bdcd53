package dev.ferry.kv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.ferry.raft.admin.AddResult;
import dev.ferry.snapshot.StateDigest;
import dev.ferry.statemachine.DigestAt;
import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The demo's summary lines. */
class DemoCommandTest {
  private static AddResult added(Map<String, Long> shipped) {
    return new AddResult(
        "n4",
        1,
        new DigestAt(2, 812, StateDigest.EMPTY),
        Duration.ZERO,
        Duration.ZERO,
        Duration.ZERO,
        Duration.ZERO,
        shipped);
  }

  @Test
  void theJoinNamesTheBytesFromEachSourceInIdOrder() {
    long mib = 1 << 20;
    assertEquals(
        "2.9 s: 8.0 MiB from 3 sources (n1 2.0 MiB, n2 3.0 MiB, n3 3.0 MiB), digest verified at"
            + " index 812, voter",
        DemoCommand.joined("2.9 s", added(Map.of("n3", 3 * mib, "n1", 2 * mib, "n2", 3 * mib))));
    assertEquals(
        "1.0 s: 0.5 MiB from 1 source (n2 0.5 MiB), digest verified at index 812, voter",
        DemoCommand.joined("1.0 s", added(Map.of("n2", mib / 2))));
  }

  @Test
  void theShardedDemoRunsTwoToMaxGroups() {
    java.io.PrintStream out =
        new java.io.PrintStream(
            new java.io.ByteArrayOutputStream(), true, java.nio.charset.StandardCharsets.UTF_8);
    java.nio.file.Path dir = java.nio.file.Path.of("unused");
    assertThrows(IllegalArgumentException.class, () -> new ShardedDemo(out, dir, 1, 16));
    assertThrows(
        IllegalArgumentException.class,
        () -> new ShardedDemo(out, dir, ShardedDemo.MAX_GROUPS + 1, 16));
    new ShardedDemo(out, dir, 8, 16);
  }
}
