package dev.ferry.client.internal;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.io.IOException;
import org.apache.ratis.protocol.exceptions.RaftRetryFailureException;
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
}
