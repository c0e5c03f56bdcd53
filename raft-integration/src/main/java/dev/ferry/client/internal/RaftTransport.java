package dev.ferry.client.internal;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.client.RaftClientConfigKeys;
import org.apache.ratis.conf.Parameters;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.protocol.exceptions.AlreadyClosedException;
import org.apache.ratis.protocol.exceptions.GroupMismatchException;
import org.apache.ratis.protocol.exceptions.RaftException;
import org.apache.ratis.protocol.exceptions.ServerNotReadyException;
import org.apache.ratis.retry.RetryPolicies;
import org.apache.ratis.retry.RetryPolicy;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;
import org.apache.ratis.util.TimeDuration;

/**
 * {@link Transport} over a Ratis {@link RaftClient}'s blocking API. One attempt is one Ratis call:
 * Ratis follows {@code NotLeader} redirects and retries briefly within it (a 3 s request timeout,
 * up to 5 retries 200 ms apart, for the clients this class builds).
 *
 * <p>A reply carrying a state machine exception, or a failure carrying the exception a server's
 * state machine failed a query with, becomes {@link Transport.Refused}; a failure caused by this
 * client's own closing becomes {@link Transport.Closed}; a node's group mismatch ("not here")
 * becomes {@link Transport.NotHere}; every other failure is thrown as it is, a transient failure.
 * Thread-safe (Ratis's client is).
 *
 * <p>Not here. Ratis's client does not move on from a node that answers a group mismatch: its next
 * request goes to the same node (it changes its target only after other failures and redirects). So
 * after a "not here" from the node the client aims at, a transport (with a Raft client of its own,
 * {@link #connect}, or a borrowed one, {@link #over}) sends its next attempts through a Raft client
 * aimed at the next node of the group (one such client per node at most, made when first needed,
 * closed with the transport); the Raft client of {@link #raftClient()} stays as it is. A group
 * mismatch is decided by the node before the request reaches any division of it ({@code
 * RaftServerProxy.getImplFuture} finds no division of the group, or the division's {@code
 * assertGroup} refuses it before anything is appended), so a "not here" means the request was not
 * appended on that node.
 */
public final class RaftTransport implements Transport {
  /**
   * Set, on the thread running an attempt, when Ratis's client consulted its retry policy: a send
   * of the attempt failed in a way other than "not here" (only those are retried within an
   * attempt).
   */
  private static final ThreadLocal<boolean[]> RETRIED = new ThreadLocal<>();

  private final RaftClient raft;
  private final RaftGroup group;
  private final boolean owned;
  private final Parameters parameters;
  private final Map<RaftPeerId, RaftClient> aimed = new ConcurrentHashMap<>();
  private volatile RaftClient current;
  private volatile boolean closed;

  private RaftTransport(RaftClient raft, RaftGroup group, boolean owned, Parameters parameters) {
    this.raft = raft;
    this.group = group;
    this.owned = owned;
    this.parameters = parameters;
    this.current = raft;
  }

  /**
   * A transport with a Raft client of its own (closed with it) for {@code group}, with the Ratis
   * {@code parameters} (mutual TLS, for one) when not null.
   */
  public static RaftTransport connect(RaftGroup group, Parameters parameters) {
    return new RaftTransport(newRaftClient(group, parameters), group, true, parameters);
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
                new NotingRetries(
                    RetryPolicies.retryUpToMaximumCountWithFixedSleep(
                        5, TimeDuration.valueOf(200, TimeUnit.MILLISECONDS))));
    if (parameters != null) {
      builder.setParameters(parameters);
    }
    if (leader != null) {
      builder.setLeaderId(leader);
    }
    return builder.build();
  }

  /**
   * A transport through {@code raft}, which its owner keeps and closes; {@link #close} does not (it
   * closes only the clients it aimed past a "not here", see {@link #over(RaftClient, RaftGroup,
   * Parameters)}).
   */
  public static RaftTransport over(RaftClient raft, RaftGroup group) {
    return over(raft, group, null);
  }

  /**
   * A transport through {@code raft}, which its owner keeps and closes. After a "not here" (or
   * "starting") from the node {@code raft} aims at, the next attempts go through a client of this
   * transport's own aimed at the next node (with {@code parameters}, mutual TLS for one, when not
   * null), as for {@link #connect}: Ratis's client does not move on after a group mismatch, so a
   * borrowed client whose leader guess is a node that left the group would otherwise send every
   * attempt there (a new leader's membership recovery waited out its deadline so: chaos {@code
   * multi-raft} seeds 1905 and 1915). {@link #close} closes those clients, not {@code raft}.
   */
  public static RaftTransport over(RaftClient raft, RaftGroup group, Parameters parameters) {
    return new RaftTransport(
        Objects.requireNonNull(raft, "raft"),
        Objects.requireNonNull(group, "group"),
        false,
        parameters);
  }

  /** The Ratis client this transport was made with (its first attempts are sent through it). */
  public RaftClient raftClient() {
    return raft;
  }

  /** The Raft group this transport talks to. */
  public RaftGroup group() {
    return group;
  }

  @Override
  public Written write(byte[] entry) throws IOException {
    RaftClientReply r = attempt(c -> c.io().send(message(entry)));
    return new Written(r.getMessage().getContent().toByteArray(), r.getLogIndex());
  }

  @Override
  public byte[] read(byte[] query) throws IOException {
    return attempt(c -> c.io().sendReadOnly(message(query)))
        .getMessage()
        .getContent()
        .toByteArray();
  }

  @Override
  public byte[] readStale(byte[] query, long minIndex, String nodeId) throws IOException {
    RaftPeerId peer = RaftPeerId.valueOf(nodeId);
    return attempt(c -> c.io().sendStaleRead(message(query), minIndex, peer))
        .getMessage()
        .getContent()
        .toByteArray();
  }

  @FunctionalInterface
  private interface Call {
    RaftClientReply send(RaftClient client) throws IOException;
  }

  private RaftClientReply attempt(Call call) throws IOException {
    RaftClient c = current;
    if (closed) {
      throw new Transport.Closed("the transport was closed", null);
    }
    RaftClientReply r;
    boolean[] retried = {false};
    RETRIED.set(retried);
    try {
      r = call.send(c);
    } catch (IOException | RuntimeException e) {
      // gRPC reports an unreachable peer with an unchecked StatusRuntimeException.
      if (closedBy(c, e)) {
        throw new Transport.Closed("the Raft client " + c.getId() + " was closed", e);
      }
      GroupMismatchException mismatch = groupMismatchIn(e);
      if (mismatch != null) {
        throw notHere(c, mismatch, !retried[0], e);
      }
      ServerNotReadyException starting = startingIn(e);
      if (starting != null) {
        throw starting(c, starting, e);
      }
      Throwable thrown = thrownByStateMachine(e);
      if (thrown != null) {
        throw new Transport.Refused(thrown.toString(), e);
      }
      throw e;
    } finally {
      RETRIED.remove();
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
   * The "not here" answer {@code mismatch} got through {@code c}; if the node that gave it is the
   * one {@code c} aims at, the next attempts go through a client aimed at the node after it.
   */
  private Transport.NotHere notHere(
      RaftClient c, GroupMismatchException mismatch, boolean clean, Exception e) {
    String peer = aimPast(c, mismatch);
    return new Transport.NotHere(peer, clean, String.valueOf(mismatch.getMessage()), e);
  }

  /**
   * The "starting" answer {@code starting} got through {@code c}: the node hosts the group but has
   * not added it yet. If that node is the one {@code c} aims at, the next attempts go to the node
   * after it (it cannot lead the group before it started).
   */
  private Transport.Starting starting(RaftClient c, ServerNotReadyException starting, Exception e) {
    String peer = aimPast(c, starting);
    return new Transport.Starting(peer, String.valueOf(starting.getMessage()), e);
  }

  /**
   * The node of the group that gave {@code answer} (or null); if it is the one {@code c} aims at,
   * the next attempts go through a client aimed at the node after it.
   */
  private String aimPast(RaftClient c, RaftException answer) {
    String peer = answeredBy(answer, group.getPeers());
    RaftPeerId target = c.getLeaderId();
    if (peer != null && peer.equals(target.toString())) {
      aimAfter(target);
    }
    return peer;
  }

  private void aimAfter(RaftPeerId notHere) {
    List<RaftPeer> peers = List.copyOf(group.getPeers());
    int at = 0;
    while (at < peers.size() && !peers.get(at).getId().equals(notHere)) {
      at++;
    }
    RaftPeerId next = peers.get((at + 1) % peers.size()).getId();
    synchronized (aimed) {
      if (!closed) {
        current = aimed.computeIfAbsent(next, id -> newRaftClient(group, id, parameters));
      }
    }
  }

  /** The group mismatch among {@code e}'s causes, or null. */
  static GroupMismatchException groupMismatchIn(Throwable e) {
    return causeIn(e, GroupMismatchException.class, g -> true);
  }

  /** The first of {@code e}'s causes ({@code e} included) that is a {@code type} and passes. */
  private static <T extends Throwable> T causeIn(Throwable e, Class<T> type, Predicate<T> test) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (type.isInstance(t) && test.test(type.cast(t))) {
        return type.cast(t);
      }
      if (t.getCause() == t) {
        break;
      }
    }
    return null;
  }

  /**
   * A Ferry node's "starting" answer among {@code e}'s causes, or null: a {@link
   * ServerNotReadyException} whose message is {@code "<node id>: starting group …"} (Ratis's own
   * not-ready answers, of a division that runs, are not it).
   */
  static ServerNotReadyException startingIn(Throwable e) {
    return causeIn(
        e,
        ServerNotReadyException.class,
        s -> String.valueOf(s.getMessage()).contains(": " + Transport.Starting.ANSWER));
  }

  /**
   * The id of the node of {@code peers} that answered {@code mismatch}, or null if its message does
   * not name one. Ratis's servers start the message with their id ({@code "n4: group-… not
   * found."}) or their member id ({@code "n4@group-…: The group (…) …"}); Ferry's node ids hold
   * neither {@code ':'} nor {@code '@'}.
   */
  static String answeredBy(RaftException mismatch, Iterable<RaftPeer> peers) {
    String m = String.valueOf(mismatch.getMessage());
    int end = m.indexOf(':');
    if (end <= 0) {
      return null;
    }
    String id = m.substring(0, end);
    int at = id.indexOf('@');
    if (at >= 0) {
      id = id.substring(0, at);
    }
    for (RaftPeer p : peers) {
      if (p.getId().toString().equals(id)) {
        return id;
      }
    }
    return null;
  }

  /** A retry policy that notes, for the attempt running on the thread, that it was consulted. */
  private static final class NotingRetries implements RetryPolicy {
    private final RetryPolicy policy;

    NotingRetries(RetryPolicy policy) {
      this.policy = policy;
    }

    @Override
    public Action handleAttemptFailure(Event event) {
      boolean[] retried = RETRIED.get();
      if (retried != null) {
        retried[0] = true;
      }
      return policy.handleAttemptFailure(event);
    }

    @Override
    public String toString() {
      return policy.toString();
    }
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
    return causeIn(
            e,
            AlreadyClosedException.class,
            t -> String.valueOf(t.getMessage()).startsWith(raft.getId() + ":"))
        != null;
  }

  private static Message message(byte[] bytes) {
    return Message.valueOf(ByteString.copyFrom(bytes));
  }

  @Override
  public void close() throws IOException {
    synchronized (aimed) {
      closed = true;
    }
    IOException failure = null;
    for (RaftClient c : aimed.values()) {
      try {
        c.close();
      } catch (IOException e) {
        failure = e;
      }
    }
    if (owned) {
      raft.close();
    }
    if (failure != null) {
      throw failure;
    }
  }
}
