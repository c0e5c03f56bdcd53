package dev.ferry.client.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.io.IOException;
import java.util.List;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.exceptions.GroupMismatchException;
import org.apache.ratis.protocol.exceptions.RaftRetryFailureException;
import org.apache.ratis.protocol.exceptions.ServerNotReadyException;
import org.apache.ratis.thirdparty.io.grpc.Status;
import org.junit.jupiter.api.Test;

/** Telling a state machine's refusal from a transient failure, as Ratis reports them. */
class RaftTransportTest {
  @Test
  void aQueryExceptionOfTheServersStateMachineIsFoundUnderRatissRetries() {
    IllegalArgumentException thrown = new IllegalArgumentException("unknown kv operation 127");
    IOException fromGrpc = new IOException(thrown);
    IOException retried = new RaftRetryFailureException(null, 5, null, fromGrpc);
    assertSame(thrown, RaftTransport.thrownByStateMachine(retried));
  }

  @Test
  void ratisAndGrpcFailuresAreNotTheStateMachines() {
    assertNull(RaftTransport.thrownByStateMachine(new IOException("timeout")));
    assertNull(
        RaftTransport.thrownByStateMachine(
            new IOException(Status.UNAVAILABLE.withDescription("down").asRuntimeException())));
    assertNull(
        RaftTransport.thrownByStateMachine(
            new IOException(new java.util.concurrent.CompletionException(new IOException("x")))));
  }

  @Test
  void aNotHereAnswerIsTracedToTheNodeItsMessageNames() {
    List<RaftPeer> peers =
        List.of(
            RaftPeer.newBuilder().setId("n1").build(), RaftPeer.newBuilder().setId("n12").build());
    // RaftServerProxy: no division of the group on the node.
    assertEquals(
        "n12",
        RaftTransport.answeredBy(
            new GroupMismatchException("n12: group-4F2A0C3E1B7D not found."), peers));
    // A division's assertGroup: a request of another group.
    assertEquals(
        "n1",
        RaftTransport.answeredBy(
            new GroupMismatchException(
                "n1@group-AAAA: The group (group-BBBB) of remote client-1 does not match the group"
                    + " (group-AAAA) of local n1"),
            peers));
    GroupMismatchException other = new GroupMismatchException("n3: group-4F2A0C3E1B7D not found.");
    assertNull(RaftTransport.answeredBy(other, peers), "not a node of the group");
    assertNull(RaftTransport.answeredBy(new GroupMismatchException("mismatch"), peers));
    assertEquals(other, RaftTransport.groupMismatchIn(new IOException(other)));
  }

  @Test
  void aStartingAnswerIsToldFromNotHereAndFromRatissOwnNotReady() {
    List<RaftPeer> peers =
        List.of(
            RaftPeer.newBuilder().setId("n1").build(), RaftPeer.newBuilder().setId("n2").build());
    ServerNotReadyException starting =
        new ServerNotReadyException(
            "n2: " + Transport.Starting.ANSWER + "group-4F2A0C3E1B7D: this node hosts it");
    IOException retried = new RaftRetryFailureException(null, 3, null, new IOException(starting));
    assertSame(starting, RaftTransport.startingIn(retried));
    assertEquals("n2", RaftTransport.answeredBy(starting, peers));
    assertNull(RaftTransport.groupMismatchIn(retried), "no \"not here\" in it");
    // Ratis's own answer of a division that exists but does not run yet: not Ferry's "starting".
    assertNull(
        RaftTransport.startingIn(
            new ServerNotReadyException(
                "n1@group-AAAA is not in [RUNNING]: current state is NEW")));
    assertNull(
        RaftTransport.startingIn(new GroupMismatchException("n1: group-4F2A0C3E1B7D not found.")));
  }
}
