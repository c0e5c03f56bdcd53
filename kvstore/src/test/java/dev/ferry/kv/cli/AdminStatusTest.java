package dev.ferry.kv.cli;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.raft.admin.NodeStatus;
import dev.ferry.shipping.install.InstallProgress;
import dev.ferry.snapshot.StateDigest;
import dev.ferry.statemachine.DigestAt;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The table `ferry admin status` (and `--watch`) prints. */
class AdminStatusTest {
  private static StateDigest digest(int b) {
    byte[] bytes = new byte[StateDigest.LENGTH];
    Arrays.fill(bytes, (byte) b);
    return StateDigest.fromBytes(bytes);
  }

  private static NodeStatus node(
      String id, String role, Optional<DigestAt> checkpoint, Optional<InstallProgress> install) {
    return new NodeStatus(
        id,
        role,
        Optional.of("n1"),
        2,
        100,
        100,
        1,
        digest(9),
        checkpoint,
        List.of(new NodeStatus.Member("n1", "n1=h:1:2:3", true)),
        Optional.empty(),
        id.equals("n1") ? List.of("n5 (last answered 4200 ms ago)") : List.of(),
        install,
        Optional.empty(),
        id.equals("n1") ? Optional.of(new NodeStatus.Counters(3, 1, 4)) : Optional.empty(),
        id.equals("n1") ? Optional.of(new NodeStatus.Recovery(40, 2, 1, 1, 3)) : Optional.empty());
  }

  @Test
  void showsCheckpointsInstallsWithRateAndEtaAndTheLeader() {
    InstallProgress i =
        new InstallProgress(
            90,
            100 * 1048576L,
            40 * 1048576L,
            Map.of("n1", 30 * 1048576L, "n2", 10 * 1048576L),
            Duration.ofSeconds(6),
            10 * 1048576.0,
            Duration.ofSeconds(2));
    String table =
        AdminCommand.Status.render(
            List.of(
                node("n1", "LEADER", Optional.of(new DigestAt(2, 80, digest(1))), Optional.empty()),
                node("n4", "LISTENER", Optional.empty(), Optional.of(i)),
                "n3: connection refused"));
    assertTrue(table.contains("80 0101010101010101"), table);
    assertTrue(table.contains("  n1       service port 3/1, quarantined 4\n"), table);
    assertTrue(table.contains("  n4       (not reported)\n"), table);
    assertTrue(
        table.contains("  n1       hold after index 40; holds 2/1; rebases 1; alerts 3\n"), table);
    assertTrue(
        table.contains("index 90: 40.0/100.0 MiB, 10.0 MiB/s, 60.0 MiB left, ETA 8.0 s from"),
        table);
    assertTrue(table.contains("n3: connection refused (unreachable)"), table);
    assertTrue(table.contains("leader: n1"), table);
    assertTrue(
        table.contains(
            "staged by the leader (a Ratis reconfiguration in progress; other changes wait): n5"
                + " (last answered 4200 ms ago)\n"),
        table);
    assertFalse(table.contains("MISMATCH"), table);
  }

  @Test
  void flagsReplicasWhoseDigestsDifferAtTheSameCheckpoint() {
    String table =
        AdminCommand.Status.render(
            List.of(
                node("n1", "LEADER", Optional.of(new DigestAt(2, 80, digest(1))), Optional.empty()),
                node(
                    "n2",
                    "FOLLOWER",
                    Optional.of(new DigestAt(2, 80, digest(1))),
                    Optional.empty()),
                node(
                    "n3",
                    "FOLLOWER",
                    Optional.of(new DigestAt(2, 80, digest(2))),
                    Optional.empty()),
                node(
                    "n4",
                    "FOLLOWER",
                    Optional.of(new DigestAt(2, 60, digest(3))),
                    Optional.empty())));
    assertTrue(table.contains("DIGEST MISMATCH: n3 at checkpoint index 80"), table);
    assertFalse(table.contains("n4 at checkpoint"), "a different index is not compared: " + table);
  }

  @Test
  void anInstallWithoutAMeasuredRateHasNoEtaYet() {
    InstallProgress i = new InstallProgress(90, 1000, 0, Map.of(), Duration.ZERO);
    assertTrue(AdminCommand.Status.install(i).contains("ETA ?"), AdminCommand.Status.install(i));
  }
}
