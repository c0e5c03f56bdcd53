package dev.ferry.raft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.client.internal.Transport;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.ratis.grpc.GrpcUtil;
import org.apache.ratis.proto.RaftProtos.AppendEntriesReplyProto;
import org.apache.ratis.proto.RaftProtos.AppendEntriesRequestProto;
import org.apache.ratis.proto.RaftProtos.RaftClientReplyProto;
import org.apache.ratis.proto.RaftProtos.RaftClientRequestProto;
import org.apache.ratis.proto.RaftProtos.RaftRpcRequestProto;
import org.apache.ratis.proto.grpc.RaftClientProtocolServiceGrpc;
import org.apache.ratis.proto.grpc.RaftServerProtocolServiceGrpc;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.exceptions.ServerNotReadyException;
import org.apache.ratis.thirdparty.io.grpc.Attributes;
import org.apache.ratis.thirdparty.io.grpc.Metadata;
import org.apache.ratis.thirdparty.io.grpc.MethodDescriptor;
import org.apache.ratis.thirdparty.io.grpc.ServerCall;
import org.apache.ratis.thirdparty.io.grpc.ServerCallHandler;
import org.apache.ratis.thirdparty.io.grpc.Status;
import org.apache.ratis.thirdparty.io.grpc.StatusRuntimeException;
import org.apache.ratis.util.ProtoUtils;
import org.junit.jupiter.api.Test;

/** The gate on a fake gRPC call: what reaches Ratis's handler and what the client is answered. */
class StartingGateTest {
  private final StartingGate gate = new StartingGate("n1");
  private final RaftGroupId starting = FerryServer.groupId("g.r0");
  private final RaftGroupId running = FerryServer.groupId("g.r1");

  /** A call of {@code method}: what the gate asks of it and how it is closed. */
  private static final class Call<Q, A> extends ServerCall<Q, A> {
    private final MethodDescriptor<Q, A> method;
    int requested;
    Status closedWith;
    Metadata trailers;

    Call(MethodDescriptor<Q, A> method) {
      this.method = method;
    }

    @Override
    public void request(int n) {
      requested += n;
    }

    @Override
    public void sendHeaders(Metadata headers) {}

    @Override
    public void sendMessage(A message) {}

    @Override
    public void close(Status status, Metadata trailers) {
      closedWith = status;
      this.trailers = trailers;
    }

    @Override
    public boolean isCancelled() {
      return false;
    }

    @Override
    public Attributes getAttributes() {
      return Attributes.EMPTY;
    }

    @Override
    public MethodDescriptor<Q, A> getMethodDescriptor() {
      return method;
    }
  }

  /** Ratis's side: whether it was handed the call and the requests it got. */
  private static final class Ratis<Q, A> implements ServerCallHandler<Q, A> {
    int started;
    final List<Q> received = new ArrayList<>();

    @Override
    public ServerCall.Listener<Q> startCall(ServerCall<Q, A> call, Metadata headers) {
      started++;
      return new ServerCall.Listener<>() {
        @Override
        public void onMessage(Q message) {
          received.add(message);
        }
      };
    }
  }

  private static RaftClientRequestProto request(RaftGroupId gid) {
    return RaftClientRequestProto.newBuilder()
        .setRpcRequest(
            RaftRpcRequestProto.newBuilder()
                .setRaftGroupId(ProtoUtils.toRaftGroupIdProtoBuilder(gid))
                .setCallId(1))
        .build();
  }

  private ServerCall.Listener<RaftClientRequestProto> open(
      Call<RaftClientRequestProto, RaftClientReplyProto> call,
      Ratis<RaftClientRequestProto, RaftClientReplyProto> ratis) {
    return gate.interceptCall(call, new Metadata(), ratis);
  }

  @Test
  void aRequestForAStartingGroupIsAnsweredStartingAndNeverReachesRatis() throws IOException {
    gate.starting(starting);
    Call<RaftClientRequestProto, RaftClientReplyProto> call =
        new Call<>(RaftClientProtocolServiceGrpc.getOrderedMethod());
    Ratis<RaftClientRequestProto, RaftClientReplyProto> ratis = new Ratis<>();
    ServerCall.Listener<RaftClientRequestProto> l = open(call, ratis);
    assertEquals(1, call.requested, "the gate asks for the first request");
    l.onMessage(request(starting));
    l.onMessage(request(starting));
    l.onHalfClose();
    assertEquals(0, ratis.started, "Ratis never saw the stream");

    // What the client's Ratis decodes from the closed stream: Ferry's "starting", no "not here".
    IOException answer =
        GrpcUtil.unwrapException(new StatusRuntimeException(call.closedWith, call.trailers));
    ServerNotReadyException s = assertInstanceOf(ServerNotReadyException.class, answer);
    assertTrue(
        s.getMessage().startsWith("n1: " + Transport.Starting.ANSWER + starting), s.getMessage());
  }

  @Test
  void otherGroupsAndGroupsThatStartedGoToRatisUnchanged() {
    gate.starting(starting);
    gate.starting(running);
    gate.started(running);
    Call<RaftClientRequestProto, RaftClientReplyProto> call =
        new Call<>(RaftClientProtocolServiceGrpc.getUnorderedMethod());
    Ratis<RaftClientRequestProto, RaftClientReplyProto> ratis = new Ratis<>();
    ServerCall.Listener<RaftClientRequestProto> l = open(call, ratis);
    RaftClientRequestProto first = request(running);
    RaftClientRequestProto second = request(running);
    l.onMessage(first);
    l.onMessage(second);
    assertEquals(1, ratis.started);
    assertEquals(List.of(first, second), ratis.received);
    assertNull(call.closedWith);
    assertFalse(gate.isStarting(running));
    assertTrue(gate.isStarting(starting));
  }

  @Test
  void withNothingStartingOrForServerTrafficTheGateStepsAside() {
    Ratis<RaftClientRequestProto, RaftClientReplyProto> ratis = new Ratis<>();
    Call<RaftClientRequestProto, RaftClientReplyProto> call =
        new Call<>(RaftClientProtocolServiceGrpc.getOrderedMethod());
    open(call, ratis);
    assertEquals(1, ratis.started, "nothing starting: handed to Ratis at once");
    assertEquals(0, call.requested);

    gate.starting(starting);
    Ratis<AppendEntriesRequestProto, AppendEntriesReplyProto> server = new Ratis<>();
    Call<AppendEntriesRequestProto, AppendEntriesReplyProto> append =
        new Call<>(RaftServerProtocolServiceGrpc.getAppendEntriesMethod());
    gate.interceptCall(append, new Metadata(), server);
    assertEquals(1, server.started, "peers' traffic is Ratis's to answer");
    assertEquals(0, append.requested);
  }
}
