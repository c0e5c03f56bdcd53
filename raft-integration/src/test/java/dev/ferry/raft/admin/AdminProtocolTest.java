package dev.ferry.raft.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.ferry.shipping.chunks.AdminMessage;
import dev.ferry.shipping.install.InstallProgress;
import dev.ferry.shipping.install.TransferPriority;
import dev.ferry.shipping.install.TransferScheduler;
import dev.ferry.snapshot.StateDigest;
import dev.ferry.statemachine.DigestAt;
import dev.ferry.statemachine.MembershipChange;
import java.io.IOException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Test;

class AdminProtocolTest {
  private static final StateDigest D = StateDigest.EMPTY.plus(new byte[32]);

  private static AdminProtocol.Frame roundTrip(int type, Map<String, String> body)
      throws IOException {
    return AdminProtocol.frame(AdminProtocol.message(type, body));
  }

  private static final InstallProgress I =
      new InstallProgress(
          40,
          1000,
          600,
          Map.of("n1", 300L, "n2", 200L),
          Duration.ofMillis(250),
          1234,
          Duration.ofMillis(70));

  /** A leader's status with everything reported, and {@code transfers}. */
  private static NodeStatus status(Optional<NodeStatus.Transfers> transfers) {
    MembershipChange c =
        new MembershipChange(
            5,
            MembershipChange.Kind.ADD,
            "n4",
            "n4=h:1:2:3",
            MembershipChange.Phase.STARTED,
            3,
            40);
    return new NodeStatus(
        "n1",
        "LEADER",
        Optional.of("n1"),
        3,
        41,
        42,
        7,
        D,
        Optional.of(new DigestAt(3, 40, D)),
        List.of(
            new NodeStatus.Member("n1", "n1=h:1:2:3", true),
            new NodeStatus.Member("n4", "n4=h:4:5:6", false)),
        Optional.of(c),
        List.of("n5 (last answered 12 ms ago)", "n6 (last answered 3 ms ago)"),
        Optional.of(I),
        Optional.empty(),
        Optional.of(new NodeStatus.Counters(1, 2, 5)),
        Optional.of(new NodeStatus.Recovery(-1, 6, 7, 8, 9)),
        transfers);
  }

  @Test
  void statusProgressAndResultsRoundTrip() throws IOException {
    InstallProgress i = I;
    NodeStatus s = status(Optional.empty());
    assertEquals(
        s, AdminProtocol.status(roundTrip(AdminProtocol.STATUS_REPLY, AdminProtocol.status(s))));
    // A node that reports no counters (an older one) still reads.
    Map<String, String> old = new LinkedHashMap<>(AdminProtocol.status(s));
    old.keySet().removeIf(k -> k.startsWith("counters."));
    assertEquals(
        Optional.empty(),
        AdminProtocol.status(roundTrip(AdminProtocol.STATUS_REPLY, old)).counters());

    AddProgress p = new AddProgress("n4", AddProgress.Phase.INSTALLING, Optional.of(i));
    assertEquals(
        p, AdminProtocol.progress(roundTrip(AdminProtocol.PROGRESS, AdminProtocol.progress(p))));

    AddResult r =
        new AddResult(
            "n4",
            99,
            new DigestAt(3, 44, D),
            Duration.ofMillis(1),
            Duration.ofMillis(2),
            Duration.ofMillis(3),
            Duration.ofMillis(4),
            Map.of("n1", 10L));
    assertEquals(
        r, AdminProtocol.addResult(roundTrip(AdminProtocol.ADD_DONE, AdminProtocol.addResult(r))));

    RemoveResult rr =
        new RemoveResult(
            "n2", RemoveResult.Outcome.REMOVED_VOTER, true, "n3", Duration.ofMillis(7));
    assertEquals(
        rr,
        AdminProtocol.removeResult(
            roundTrip(AdminProtocol.REMOVE_DONE, AdminProtocol.removeResult(rr))));

    // A move: the add's result carries the replaced node's removal.
    AddResult moved =
        new AddResult(
            "n4",
            99,
            new DigestAt(3, 44, D),
            Duration.ofMillis(1),
            Duration.ofMillis(2),
            Duration.ofMillis(3),
            Duration.ofMillis(4),
            Map.of("n1", 10L),
            Optional.of(rr));
    assertEquals(
        moved,
        AdminProtocol.addResult(roundTrip(AdminProtocol.ADD_DONE, AdminProtocol.addResult(moved))));
    assertEquals(Duration.ofMillis(17), moved.total());
    AddProgress removing = new AddProgress("n4", AddProgress.Phase.REMOVING, Optional.empty());
    assertEquals(
        removing,
        AdminProtocol.progress(
            roundTrip(AdminProtocol.PROGRESS, AdminProtocol.progress(removing))));
  }

  /**
   * A node replacing another: 8 installs run, 40 wait. The status carries the scheduler's limits
   * and figures, both counts, and the first 32 of each list in order; a status without them (an
   * older node) reads as not reported, and a bad install entry is refused.
   */
  @Test
  void theNodesRunningAndQueuedInstallsRoundTrip() throws IOException {
    NodeStatus.Transfers t;
    try (TransferScheduler scheduler =
        TransferScheduler.builder().maxActiveInstalls(8).maxBytesInFlight(1 << 20).build()) {
      for (int g = 0; g < 48; g++) {
        scheduler.submit(
            "kv.r" + g, g % 3 == 0 ? TransferPriority.REPAIR : TransferPriority.CATCH_UP);
      }
      t = NodeStatus.Transfers.of(scheduler.stats());
    }
    assertEquals(8, t.activeCount());
    assertEquals(40, t.queuedCount());
    assertEquals(NodeStatus.Transfers.LISTED, t.queued().size());
    assertEquals("kv.r9", t.queued().get(0).who(), "the first queued repair is next");
    assertEquals(TransferPriority.REPAIR, t.queued().get(0).priority());
    NodeStatus s = status(Optional.of(t));
    Map<String, String> body = AdminProtocol.status(s);
    assertEquals(s, AdminProtocol.status(roundTrip(AdminProtocol.STATUS_REPLY, body)));

    Map<String, String> old = new LinkedHashMap<>(body);
    old.keySet().removeIf(k -> k.startsWith("transfers."));
    assertEquals(
        Optional.empty(),
        AdminProtocol.status(roundTrip(AdminProtocol.STATUS_REPLY, old)).transfers());
    assertEquals(
        status(Optional.empty()), AdminProtocol.status(roundTrip(AdminProtocol.STATUS_REPLY, old)));

    Map<String, String> bad = new LinkedHashMap<>(body);
    bad.put("transfers.queued.3", "urgent 5 0 0 kv.r1");
    assertThrows(
        AdminProtocol.AdminProtocolException.class,
        () -> AdminProtocol.status(roundTrip(AdminProtocol.STATUS_REPLY, bad)));
    Map<String, String> missing = new LinkedHashMap<>(body);
    missing.remove("transfers.active.8");
    assertThrows(
        AdminProtocol.AdminProtocolException.class,
        () -> AdminProtocol.status(roundTrip(AdminProtocol.STATUS_REPLY, missing)));
  }

  @Test
  void cancelRequestsAndResultsRoundTrip() throws IOException {
    for (CancelRequest q :
        List.of(
            new CancelRequest(Optional.of("n4"), Duration.ofSeconds(90)),
            new CancelRequest(Optional.empty(), Duration.ofMillis(1500)))) {
      assertEquals(
          q,
          AdminProtocol.cancelRequest(
              roundTrip(AdminProtocol.CANCEL, AdminProtocol.cancelRequest(q))));
    }
    MembershipChange cancelled =
        new MembershipChange(
                5,
                MembershipChange.Kind.ADD,
                "n4",
                "n4=h:1:2",
                MembershipChange.Phase.STARTED,
                3,
                40)
            .cancelled("ferry-cli via n2", 3, 57);
    for (CancelResult r :
        List.of(
            new CancelResult(
                CancelResult.Outcome.CANCELLED,
                Optional.of(cancelled),
                Optional.of(Duration.ofMillis(8123)),
                Duration.ofMillis(5200)),
            new CancelResult(
                CancelResult.Outcome.CANCELLED,
                Optional.of(cancelled),
                Optional.empty(),
                Duration.ofMillis(1)),
            new CancelResult(
                CancelResult.Outcome.NOTHING_PENDING,
                Optional.empty(),
                Optional.empty(),
                Duration.ofMillis(3)))) {
      assertEquals(
          r,
          AdminProtocol.cancelResult(
              roundTrip(AdminProtocol.CANCEL_DONE, AdminProtocol.cancelResult(r))));
    }
    assertThrows(
        AdminProtocol.AdminProtocolException.class,
        () ->
            AdminProtocol.cancelRequest(
                roundTrip(AdminProtocol.CANCEL, Map.of("node", " ", "deadlineMs", "1000"))));
    assertThrows(
        AdminProtocol.AdminProtocolException.class,
        () -> AdminProtocol.cancelResult(roundTrip(AdminProtocol.CANCEL_DONE, Map.of("ms", "1"))));
  }

  @Test
  void errorsComeBackAsTheirExceptions() throws IOException {
    MembershipCancelledException cancelled =
        assertInstanceOf(
            MembershipCancelledException.class,
            AdminProtocol.error(
                roundTrip(
                    AdminProtocol.ERROR,
                    AdminProtocol.error(
                        new MembershipCancelledException("add of n4 cancelled by ops")))));
    assertEquals("add of n4 cancelled by ops", cancelled.getMessage());
    MemberDigestMismatchException m =
        new MemberDigestMismatchException("n4", 12, D, StateDigest.EMPTY);
    RuntimeException back =
        AdminProtocol.error(roundTrip(AdminProtocol.ERROR, AdminProtocol.error(m)));
    MemberDigestMismatchException mm = assertInstanceOf(MemberDigestMismatchException.class, back);
    assertEquals(m.expected(), mm.expected());
    assertEquals(m.actual(), mm.actual());
    assertEquals(12, mm.index());
    assertInstanceOf(
        MembershipConflictException.class,
        AdminProtocol.error(
            roundTrip(
                AdminProtocol.ERROR,
                AdminProtocol.error(new MembershipConflictException("busy")))));
    assertInstanceOf(
        MembershipTimeoutException.class,
        AdminProtocol.error(
            roundTrip(
                AdminProtocol.ERROR,
                AdminProtocol.error(new MembershipTimeoutException("late", null)))));
    assertInstanceOf(
        AdminException.class,
        AdminProtocol.error(
            roundTrip(AdminProtocol.ERROR, AdminProtocol.error(new RuntimeException("boom")))));
  }

  @Test
  void malformedBodiesAreRefused() throws IOException {
    assertThrows(
        AdminProtocol.AdminProtocolException.class,
        () -> AdminProtocol.frame(new AdminMessage(AdminProtocol.STATUS, new byte[0])));
    // More entries than allowed: refused from the count alone.
    assertThrows(
        AdminProtocol.AdminProtocolException.class,
        () -> AdminProtocol.frame(new AdminMessage(AdminProtocol.STATUS, new byte[] {0x7f, 0})));
    Map<String, String> body = new LinkedHashMap<>();
    body.put("k", "v");
    byte[] good = AdminProtocol.message(AdminProtocol.STATUS, body).body();
    // Every single-byte corruption either decodes to some frame or fails with an IOException.
    Random rnd = new Random(7);
    for (int i = 0; i < 5_000; i++) {
      byte[] b = good.clone();
      b[rnd.nextInt(b.length)] = (byte) rnd.nextInt(256);
      try {
        AdminProtocol.frame(new AdminMessage(AdminProtocol.STATUS, b));
      } catch (IOException expected) {
        // refused
      }
    }
    AdminProtocol.Frame f = roundTrip(AdminProtocol.STATUS_REPLY, Map.of("term", "x"));
    assertThrows(AdminProtocol.AdminProtocolException.class, () -> f.number("term"));
    assertThrows(AdminProtocol.AdminProtocolException.class, () -> f.get("absent"));
  }
}
