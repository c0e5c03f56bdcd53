package dev.ferry.client.internal;

import java.io.IOException;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.client.RaftClientConfigKeys;
import org.apache.ratis.conf.Parameters;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.protocol.exceptions.AlreadyClosedException;
import org.apache.ratis.retry.RetryPolicies;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;
import org.apache.ratis.util.TimeDuration;

/**
 * {@link Transport} over a Ratis {@link RaftClient}'s blocking API. One attempt is one Ratis call:
 * Ratis follows {@code NotLeader} redirects and retries briefly within it (a 3 s request timeout,
 * up to 5 retries 200 ms apart, for the clients this class builds).
 *
 * <p>A reply carrying a state machine exception, or a failure carrying the exception a server's
 * state machine failed a query with, becomes {@link Transport.Refused}; a failure caused by this
 * client's own closing becomes {@link Transport.Closed}; every other failure is thrown as it is, a
 * transient failure. Thread-safe (Ratis's client is).
 */
public final class RaftTransport implements Transport {
  private final RaftClient raft;
  private final RaftGroup group;
  private final boolean owned;

  private RaftTransport(RaftClient raft, RaftGroup group, boolean owned) {
    this.raft = raft;
    this.group = group;
    this.owned = owned;
  }

  /**
   * A transport with a Raft client of its own (closed with it) for {@code group}, with the Ratis
   * {@code parameters} (mutual TLS, for one) when not null.
   */
  public static RaftTransport connect(RaftGroup group, Parameters parameters) {
    return new RaftTransport(newRaftClient(group, parameters), group, true);
  }

  /**
   * A new Ratis client of {@code group} (a new Ratis client id), with the Ratis {@code parameters}
   * (mutual TLS, for one) when not null, configured for one attempt of this transport: a 3 s
   * request timeout, up to 5 retries 200 ms apart. The caller closes it.
   */
  public static RaftClient newRaftClient(RaftGroup group, Parameters parameters) {
    return newRaftClient(group, null, parameters);
  }

  /**
   * As {@link #newRaftClient(RaftGroup, Parameters)}, sending its first request to {@code leader}
   * when not null (Ratis otherwise starts with the group's first peer, and logs every redirect of
   * an async request at ERROR).
   */
  public static RaftClient newRaftClient(
      RaftGroup group, RaftPeerId leader, Parameters parameters) {
    RaftProperties p = new RaftProperties();
    RaftClientConfigKeys.Rpc.setRequestTimeout(p, TimeDuration.valueOf(3, TimeUnit.SECONDS));
    RaftClient.Builder builder =
        RaftClient.newBuilder()
            .setRaftGroup(group)
            .setProperties(p)
            .setClientId(org.apache.ratis.protocol.ClientId.randomId())
            .setRetryPolicy(
                RetryPolicies.retryUpToMaximumCountWithFixedSleep(
                    5, TimeDuration.valueOf(200, TimeUnit.MILLISECONDS)));
    if (parameters != null) {
      builder.setParameters(parameters);
    }
    if (leader != null) {
      builder.setLeaderId(leader);
    }
    return builder.build();
  }

  /**
   * A transport through {@code raft}, which its owner keeps and closes; {@link #close} does not.
   */
  public static RaftTransport over(RaftClient raft, RaftGroup group) {
    return new RaftTransport(
        Objects.requireNonNull(raft, "raft"), Objects.requireNonNull(group, "group"), false);
  }

  /** The Ratis client this transport sends through. */
  public RaftClient raftClient() {
    return raft;
  }

  /** The Raft group this transport talks to. */
  public RaftGroup group() {
    return group;
  }

  @Override
  public Written write(byte[] entry) throws IOException {
    RaftClientReply r = attempt(() -> raft.io().send(message(entry)));
    return new Written(r.getMessage().getContent().toByteArray(), r.getLogIndex());
  }

  @Override
  public byte[] read(byte[] query) throws IOException {
    return attempt(() -> raft.io().sendReadOnly(message(query)))
        .getMessage()
        .getContent()
        .toByteArray();
  }

  @Override
  public byte[] readStale(byte[] query, long minIndex, String nodeId) throws IOException {
    RaftPeerId peer = RaftPeerId.valueOf(nodeId);
    return attempt(() -> raft.io().sendStaleRead(message(query), minIndex, peer))
        .getMessage()
        .getContent()
        .toByteArray();
  }

  @FunctionalInterface
  private interface Call {
    RaftClientReply send() throws IOException;
  }

  private RaftClientReply attempt(Call call) throws IOException {
    RaftClientReply r;
    try {
      r = call.send();
    } catch (IOException | RuntimeException e) {
      // gRPC reports an unreachable peer with an unchecked StatusRuntimeException.
      if (closedBy(raft, e)) {
        throw new Transport.Closed("the Raft client " + raft.getId() + " was closed", e);
      }
      Throwable thrown = thrownByStateMachine(e);
      if (thrown != null) {
        throw new Transport.Refused(thrown.toString(), e);
      }
      throw e;
    }
    if (r.isSuccess()) {
      return r;
    }
    if (r.getStateMachineException() != null) {
      throw new Transport.Refused(
          String.valueOf(r.getStateMachineException().getMessage()), r.getStateMachineException());
    }
    IOException failure = r.getException();
    throw failure != null ? failure : new IOException("unsuccessful reply " + r);
  }

  /**
   * The exception a server's state machine failed a query with, if {@code e} carries one, else
   * null. Ratis (3.3) does not answer a failed query with a state machine exception in the reply:
   * the server's exception travels in the gRPC trailers and arrives as an {@link IOException}
   * wrapping it (and the client's retries wrap that again), while Ratis's own and gRPC's failures
   * are {@code IOException}s of their own or {@code org.apache.ratis} runtime exceptions.
   */
  static Throwable thrownByStateMachine(Throwable e) {
    for (Throwable t = e; t != null && t.getCause() != t; t = t.getCause()) {
      Throwable cause = t.getCause();
      if (t instanceof IOException
          && cause instanceof RuntimeException
          && !cause.getClass().getName().startsWith("org.apache.ratis.")
          && !cause.getClass().getName().startsWith("java.util.concurrent.")) {
        return cause;
      }
    }
    return null;
  }

  /**
   * Whether {@code e} says that {@code raft} itself was closed (its owner shut down), rather than a
   * server: retrying through it could only fail again, and Ratis logs each failed attempt.
   */
  public static boolean closedBy(RaftClient raft, Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof AlreadyClosedException
          && String.valueOf(t.getMessage()).startsWith(raft.getId() + ":")) {
        return true;
      }
    }
    return false;
  }

  private static Message message(byte[] bytes) {
    return Message.valueOf(ByteString.copyFrom(bytes));
  }

  @Override
  public void close() throws IOException {
    if (owned) {
      raft.close();
    }
  }
}
