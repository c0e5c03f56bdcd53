package dev.ferry.raft;

import dev.ferry.client.internal.Transport;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.apache.ratis.grpc.GrpcUtil;
import org.apache.ratis.proto.RaftProtos.RaftClientRequestProto;
import org.apache.ratis.proto.grpc.RaftClientProtocolServiceGrpc;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.exceptions.ServerNotReadyException;
import org.apache.ratis.thirdparty.io.grpc.ForwardingServerCallListener;
import org.apache.ratis.thirdparty.io.grpc.Metadata;
import org.apache.ratis.thirdparty.io.grpc.ServerCall;
import org.apache.ratis.thirdparty.io.grpc.ServerCallHandler;
import org.apache.ratis.thirdparty.io.grpc.ServerInterceptor;
import org.apache.ratis.thirdparty.io.grpc.StatusRuntimeException;
import org.apache.ratis.util.ProtoUtils;

/**
 * Ferry's gate in front of a node's Raft port: a client request for a group the node is starting
 * (it will host the group, but has not added the group's division to its Raft server yet) is
 * answered "starting" — Ratis's {@link ServerNotReadyException} with a message that begins with
 * {@link Transport.Starting#ANSWER} — instead of Ratis's "group not found" ({@code
 * GroupMismatchException}), which Ferry's clients take as "this node does not host the group" (a
 * stale map).
 *
 * <p>Why a gate: Ratis answers a request for a group it has no division of with "not found" before
 * any division sees it ({@code RaftServerProxy}'s group map), and a node adds a group's division
 * only once its Raft server runs (a group management request), so between the Raft port opening and
 * the division being added that answer is false. Ratis opens every group it finds in its storage
 * before its port opens (a restart), but a fresh voter waits for its peers' word before its
 * division exists ({@link VoterGuard}), which can take as long as they are away.
 *
 * <p>What it does: it sits in the gRPC server of the Raft port (a {@link ServerInterceptor} on
 * Ratis's client service, installed by {@link RaftPort#limitConnections}); on the first request of
 * a client stream it reads the request's group id; if the group is starting, it closes the stream
 * with the "starting" error the way Ratis closes a stream on a failed request (the error encoded by
 * {@link GrpcUtil#wrapException}); else it hands the stream to Ratis unchanged. A Ratis client
 * stream carries one group (Ratis binds an ordered stream to its first request's group; Ferry's
 * clients keep one Ratis client per group), so only the first request is checked.
 *
 * <p>Concurrency: thread-safe; {@link #starting} and {@link #started} are called by the node's
 * threads, the interceptor runs on gRPC's.
 */
final class StartingGate implements ServerInterceptor {
  private static final String CLIENT_SERVICE = RaftClientProtocolServiceGrpc.SERVICE_NAME;

  private final String nodeId;
  private final Set<RaftGroupId> starting = ConcurrentHashMap.newKeySet();

  StartingGate(String nodeId) {
    this.nodeId = nodeId;
  }

  /** Marks {@code gid} as starting: the node will host it, its division is not added yet. */
  void starting(RaftGroupId gid) {
    starting.add(gid);
  }

  /** Ends {@code gid}'s start (its division was added, or the node gave the group up). */
  void started(RaftGroupId gid) {
    starting.remove(gid);
  }

  /** Whether a request for {@code gid} is answered "starting". */
  boolean isStarting(RaftGroupId gid) {
    return starting.contains(gid);
  }

  /** The "starting" answer for a request for {@code gid}. */
  ServerNotReadyException answer(RaftGroupId gid) {
    return new ServerNotReadyException(
        nodeId
            + ": "
            + Transport.Starting.ANSWER
            + gid
            + ": this node hosts it and is adding it (its division is not running yet);"
            + " try again");
  }

  @Override
  public <Q, A> ServerCall.Listener<Q> interceptCall(
      ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
    if (starting.isEmpty() || !CLIENT_SERVICE.equals(call.getMethodDescriptor().getServiceName())) {
      return next.startCall(call, headers);
    }
    return new FirstRequest<>(call, headers, next);
  }

  /** Holds a client stream until its first request shows its group. */
  private final class FirstRequest<Q, A> extends ForwardingServerCallListener<Q> {
    private final ServerCall<Q, A> call;
    private final Metadata headers;
    private final ServerCallHandler<Q, A> next;
    private ServerCall.Listener<Q> ratis;
    private boolean refused;

    FirstRequest(ServerCall<Q, A> call, Metadata headers, ServerCallHandler<Q, A> next) {
      this.call = call;
      this.headers = headers;
      this.next = next;
      call.request(1);
    }

    @Override
    protected ServerCall.Listener<Q> delegate() {
      if (ratis == null) {
        // No request yet (or refused): nothing reaches Ratis.
        return new ServerCall.Listener<>() {};
      }
      return ratis;
    }

    @Override
    public void onMessage(Q message) {
      if (refused) {
        return;
      }
      if (ratis == null) {
        if (message instanceof RaftClientRequestProto r) {
          RaftGroupId gid = ProtoUtils.toRaftGroupId(r.getRpcRequest().getRaftGroupId());
          if (isStarting(gid)) {
            refused = true;
            StatusRuntimeException e = GrpcUtil.wrapException(answer(gid));
            Metadata trailers = e.getTrailers();
            call.close(e.getStatus(), trailers != null ? trailers : new Metadata());
            return;
          }
        }
        ratis = next.startCall(call, headers);
      }
      ratis.onMessage(message);
    }

    @Override
    public void onHalfClose() {
      if (!refused && ratis == null) {
        // A stream ended before any request: Ratis ends it as it does any other.
        ratis = next.startCall(call, headers);
      }
      super.onHalfClose();
    }
  }
}
