package dev.ferry.kv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.raft.admin.NodeStatus;
import dev.ferry.shipping.install.InstallProgress;
import dev.ferry.shipping.install.TransferPriority;
import dev.ferry.shipping.install.TransferScheduler;
import dev.ferry.snapshot.StateDigest;
import dev.ferry.statemachine.DigestAt;
import java.time.Duration;
import java.util.ArrayList;
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
    return node(id, role, checkpoint, install, Optional.empty());
  }

  private static NodeStatus node(
      String id,
      String role,
      Optional<DigestAt> checkpoint,
      Optional<InstallProgress> install,
      Optional<NodeStatus.Transfers> transfers) {
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
        id.equals("n1") ? Optional.of(new NodeStatus.Recovery(40, 2, 1, 1, 3)) : Optional.empty(),
        transfers);
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

  /**
   * A node replacing another runs 2 installs and queues 35 behind them: the status shows each
   * running one with its priority, and each queued one with its place, priority and wait (the node
   * lists 32, the rest are counted); a node that does not report its scheduler says so.
   */
  @Test
  void showsTheNodesRunningAndQueuedInstalls() {
    List<TransferScheduler.Install> queued = new ArrayList<>();
    for (int g = 0; g < NodeStatus.Transfers.LISTED; g++) {
      queued.add(
          new TransferScheduler.Install(
              "kv.r" + (g + 2),
              g == 0 ? TransferPriority.REPAIR : TransferPriority.CATCH_UP,
              Duration.ofSeconds(40 - g),
              0,
              0));
    }
    NodeStatus.Transfers t =
        new NodeStatus.Transfers(
            2,
            256L << 20,
            3L << 20,
            64L << 20,
            1L << 20,
            2,
            List.of(
                new TransferScheduler.Install(
                    "kv.r0", TransferPriority.REPAIR, Duration.ofSeconds(75), 2L << 20, 1L << 20),
                new TransferScheduler.Install(
                    "kv.r1", TransferPriority.REBALANCE, Duration.ofMillis(4500), 1L << 20, 0)),
            35,
            queued);
    NodeStatus withTransfers =
        node("n1", "LEADER", Optional.empty(), Optional.empty(), Optional.of(t));
    String table =
        AdminCommand.Status.render(
            List.of(withTransfers, node("n4", "FOLLOWER", Optional.empty(), Optional.empty())));
    String section =
        table.substring(
            table.indexOf("snapshot installs on the node"), table.indexOf("configuration"));
    assertTrue(
        section.contains(
            "  n1       2/2 running, 35 queued; in flight 3.0 MiB/256.0 MiB; decoded 1.0 MiB/64.0"
                + " MiB\n"),
        section);
    assertTrue(
        section.contains("running   kv.r0 (repair) for 75 s, 2.0 MiB in flight, 1.0 MiB decoded\n"),
        section);
    assertTrue(section.contains("running   kv.r1 (rebalance) for 4.5 s"), section);
    assertTrue(section.contains("queued 1   kv.r2 (repair) waiting 40 s\n"), section);
    assertTrue(section.contains("queued 32  kv.r33 (catch_up) waiting 9.0 s\n"), section);
    assertTrue(section.contains("... and 3 more queued\n"), section);
    assertTrue(section.contains("  n4       (not reported)\n"), section);
    assertEquals(2 + 2 + 32 + 1 + 1, section.split("\n").length, section);
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
