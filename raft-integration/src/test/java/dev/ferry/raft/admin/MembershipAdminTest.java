package dev.ferry.raft.admin;

import static java.util.concurrent.TimeUnit.MINUTES;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.raft.FerryServer;
import dev.ferry.raft.RaftPeers;
import dev.ferry.shipping.PeerAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.proto.RaftProtos.RaftPeerRole;
import org.apache.ratis.protocol.RaftGroup;
import org.junit.jupiter.api.Test;

/** Request validation and the one-change-at-a-time rule, without a cluster. */
class MembershipAdminTest {
  private static final PeerAddress NODE = PeerAddress.of("n4", "127.0.0.1", 30_000);

  @Test
  void requestsAreValidated() {
    assertThrows(NullPointerException.class, () -> new AddRequest(null, Duration.ofSeconds(1)));
    assertThrows(IllegalArgumentException.class, () -> new AddRequest(NODE, Duration.ZERO));
    AddRequest add = new AddRequest(NODE, Duration.ofSeconds(1));
    assertEquals("", add.replaces());
    assertEquals("n2", add.replacing("n2").replaces());
    assertTrue(add.replacing("n2").isReplacement());
    assertThrows(IllegalArgumentException.class, () -> add.replacing("n4"), "itself");
    assertThrows(IllegalArgumentException.class, () -> add.replacing(""));
    assertThrows(IllegalArgumentException.class, () -> add.replacing(" "));
    assertThrows(NullPointerException.class, () -> add.replacing(null));
    assertThrows(
        IllegalArgumentException.class, () -> new RemoveRequest("n1", Duration.ofSeconds(-1)));
    assertThrows(
        IllegalArgumentException.class, () -> new RemoveRequest(" ", Duration.ofSeconds(1)));
  }

  @Test
  void aMoveWaitsAtMostItsDeadlineAndKnowsItsChange() {
    PeerAddress n2 = PeerAddress.of("n2", "127.0.0.1", 30_010);
    ReplicaMover.MoveRequest m =
        new ReplicaMover.MoveRequest("g", List.of(n2), "n2", NODE, Duration.ofMinutes(1));
    assertEquals(m.deadline(), m.waitAtMost());
    assertEquals(Duration.ofSeconds(1), m.waitingAtMost(Duration.ofSeconds(1)).waitAtMost());
    assertThrows(IllegalArgumentException.class, () -> m.waitingAtMost(Duration.ofMinutes(2)));
    assertThrows(IllegalArgumentException.class, () -> m.waitingAtMost(Duration.ZERO));
    dev.ferry.statemachine.MembershipChange.Phase started =
        dev.ferry.statemachine.MembershipChange.Phase.STARTED;
    dev.ferry.statemachine.MembershipChange.Kind add =
        dev.ferry.statemachine.MembershipChange.Kind.ADD;
    assertTrue(
        m.isChange(
            new dev.ferry.statemachine.MembershipChange(
                1, add, "n4", "", started, 0, 0, "", "n2")));
    assertTrue(
        !m.isChange(new dev.ferry.statemachine.MembershipChange(1, add, "n4", "", started, 0, 0)),
        "a plain add of the target is another change");
  }

  @Test
  void aSecondChangeIsRefusedUntilTheFirstCompletes() throws Exception {
    List<Runnable> queued = new ArrayList<>();
    RaftGroup group =
        RaftGroup.valueOf(
            FerryServer.groupId("t"),
            RaftPeers.toRaftPeer(PeerAddress.of("n1", "127.0.0.1", 30_010), RaftPeerRole.FOLLOWER));
    try (RaftClient raft =
        RaftClient.newBuilder()
            .setRaftGroup(group)
            .setProperties(new org.apache.ratis.conf.RaftProperties())
            .build()) {
      MembershipAdmin admin =
          MembershipAdmin.builder(raft, group)
              .executor(queued::add)
              .clock(Clock.systemUTC())
              .build();
      CompletableFuture<AddResult> first =
          admin.addMember(new AddRequest(NODE, Duration.ofMillis(1)));
      CompletableFuture<RemoveResult> second =
          admin.removeMember(new RemoveRequest("n1", Duration.ofSeconds(1)));
      ExecutionException e = assertThrows(ExecutionException.class, second::get);
      assertInstanceOf(MembershipConflictException.class, e.getCause());
      assertTrue(e.getCause().getMessage().contains("add n4"), e.getCause().getMessage());
      assertEquals(1, queued.size(), "only the first was handed to the executor");

      // The first runs (and fails: no cluster, 1 ms deadline); then a new change is accepted.
      queued.remove(0).run();
      assertTrue(first.isCompletedExceptionally());
      admin.removeMember(new RemoveRequest("n1", Duration.ofSeconds(1)));
      assertEquals(1, queued.size(), "accepted once the first completed");

      // Each ended change is counted by kind and outcome (what ferry_membership_changes_total
      // exports).
      assertEquals(1, admin.changes().get("remove", "conflict"));
      assertEquals(
          1,
          admin.changes().get("add", MembershipAdmin.outcomeOf(first.handle((r, t) -> t).get())));
      assertEquals(0, admin.changes().get("add", "ok"));
    }
  }

  /**
   * An add whose Raft client is closed under it (its owner shut down) ends at once instead of
   * retrying until its deadline: each attempt made Ratis log three stack traces, 54,000 WARN lines
   * in one test run.
   */
  @Test
  void aClosedClientEndsTheChangeInsteadOfRetryingUntilTheDeadline() throws Exception {
    RaftGroup group =
        RaftGroup.valueOf(
            FerryServer.groupId("t"),
            RaftPeers.toRaftPeer(PeerAddress.of("n1", "127.0.0.1", 30_020), RaftPeerRole.FOLLOWER));
    RaftClient raft =
        RaftClient.newBuilder()
            .setRaftGroup(group)
            .setProperties(new org.apache.ratis.conf.RaftProperties())
            .build();
    raft.close();
    MembershipAdmin admin = MembershipAdmin.builder(raft, group).build();
    CompletableFuture<AddResult> add =
        admin.addMember(new AddRequest(NODE, Duration.ofMinutes(10)));
    // Far below the 10-minute deadline; without the check the add retried for all of it.
    ExecutionException e = assertThrows(ExecutionException.class, () -> add.get(2, MINUTES));
    assertTrue(
        e.getCause().getMessage().contains("the Raft client was closed"),
        String.valueOf(e.getCause()));
  }

  @Test
  void aCancelRequestIsValidated() {
    assertThrows(NullPointerException.class, () -> new CancelRequest(null, Duration.ofSeconds(1)));
    assertThrows(
        IllegalArgumentException.class,
        () -> new CancelRequest(java.util.Optional.of(" "), Duration.ofSeconds(1)));
    assertThrows(
        IllegalArgumentException.class,
        () -> new CancelRequest(java.util.Optional.empty(), Duration.ZERO));
  }

  @Test
  void aCancelAfterTheVerificationIsTooLateAndNamesTheWayOut() {
    assertEquals(
        "too late: n4 is a voter; remove it with `ferry admin remove`",
        MembershipAdmin.tooLate("n4", true));
    String promoting = MembershipAdmin.tooLate("n4", false);
    assertTrue(promoting.startsWith("too late: n4's digest was verified"), promoting);
    assertTrue(promoting.contains("`ferry admin remove`"), promoting);
  }

  @Test
  void outcomesAreNamedByTheFailure() {
    assertEquals(
        "cancelled", MembershipAdmin.outcomeOf(new MembershipCancelledException("by ops")));
    assertEquals("ok", MembershipAdmin.outcomeOf(null));
    assertEquals("conflict", MembershipAdmin.outcomeOf(new MembershipConflictException("busy")));
    assertEquals(
        "timeout", MembershipAdmin.outcomeOf(new MembershipTimeoutException("deadline", null)));
    assertEquals(
        "unreachable", MembershipAdmin.outcomeOf(new MemberUnreachableException("down", null)));
    assertEquals("refused", MembershipAdmin.outcomeOf(new IllegalStateException("a voter")));
    assertEquals("failed", MembershipAdmin.outcomeOf(new java.io.IOException("network")));
  }
}
