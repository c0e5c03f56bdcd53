package dev.ferry.client.internal;

import java.io.Closeable;
import java.io.IOException;

/**
 * One attempt at reaching a Ferry cluster: the I/O under {@link RetryLoop}, which decides whether
 * and when to try again. The production implementation is {@link RaftTransport}; tests put a fake
 * here to drop replies, fail attempts and expire sessions without a cluster.
 *
 * <p>Each method blocks the calling thread for one attempt (the implementation may follow a leader
 * redirect within it). Failures:
 *
 * <ul>
 *   <li>{@link Refused}: the cluster answered and refused deterministically (the state machine
 *       threw); trying again gets the same answer;
 *   <li>{@link Closed}: this transport was closed; no attempt can succeed any more;
 *   <li>{@link NotHere}: the node the attempt reached does not host the group (Ratis's group
 *       mismatch); another node may, so it is transient for one attempt, and {@link RetryLoop} ends
 *       a call early only once every node it knows answered so;
 *   <li>{@link Starting}: the node the attempt reached hosts the group but is still adding it
 *       (Ferry's node answers so during its start instead of "not here"); transient like any other
 *       failure, and it is no "not here": the node will serve the group soon;
 *   <li>any other {@link IOException} or {@link RuntimeException}: transient (no leader, a timeout,
 *       an unreachable peer); the same request may be sent again.
 * </ul>
 *
 * Implementations are thread-safe.
 */
public interface Transport extends Closeable {

  /**
   * Appends {@code entry} to the replicated log and returns the state machine's reply to it.
   *
   * @param entry a log entry as {@code CommandCodec} encodes it
   */
  Written write(byte[] entry) throws IOException;

  /**
   * A linearizable read: the leader answers {@code query} after confirming its leadership.
   *
   * @param query a query as {@code CommandCodec} encodes it
   */
  byte[] read(byte[] query) throws IOException;

  /**
   * A read from node {@code nodeId}'s current state, once it has applied {@code minIndex}.
   *
   * @param query a query as {@code CommandCodec} encodes it
   */
  byte[] readStale(byte[] query, long minIndex, String nodeId) throws IOException;

  /** Closes the transport; attempts in flight and later fail with {@link Closed}. Idempotent. */
  @Override
  void close() throws IOException;

  /**
   * The reply to a log entry.
   *
   * @param reply the state machine's reply bytes
   * @param logIndex the entry's log index, or -1 if the transport does not know it
   */
  record Written(byte[] reply, long logIndex) {
    public Written {
      java.util.Objects.requireNonNull(reply, "reply");
    }
  }

  /** The cluster refused the request deterministically: the state machine threw on it. */
  final class Refused extends IOException {
    private static final long serialVersionUID = 1L;

    /** A refusal with the cluster's message. */
    public Refused(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /** The transport was closed: no attempt through it can succeed any more. */
  final class Closed extends IOException {
    private static final long serialVersionUID = 1L;

    /** The transport's closing, seen by an attempt. */
    public Closed(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /**
   * The node the attempt reached does not host the group ("not here": Ratis's {@code
   * GroupMismatchException}, decided by the node before the request reaches any division of it, so
   * nothing was appended on that node).
   */
  final class NotHere extends IOException {
    private static final long serialVersionUID = 1L;

    private final String peer;
    private final boolean clean;

    /**
     * A "not here" answer of {@code peer} (null if the answer does not say which node gave it).
     *
     * @param clean whether the attempt's only send was this one: no earlier send within the attempt
     *     failed otherwise (timed out, was redirected), so the attempt reached no node hosting the
     *     group
     */
    public NotHere(String peer, boolean clean, String message, Throwable cause) {
      super(message, cause);
      this.peer = peer;
      this.clean = clean;
    }

    /** The node that answered "not here", or null if unknown. */
    public String peer() {
      return peer;
    }

    /** Whether the attempt reached no node hosting the group (see the constructor). */
    public boolean clean() {
      return clean;
    }
  }

  /**
   * The node the attempt reached hosts the group but has not added it yet: it is starting (a Ferry
   * node's "starting" answer, Ratis's {@code ServerNotReadyException} sent by the node's gate in
   * front of its Raft port). Transient: the same node serves the group once it started, another
   * node may serve it now. Unlike {@link NotHere} it says nothing about a stale map.
   */
  final class Starting extends IOException {
    /**
     * How a node's "starting" answer's message goes on after {@code "<node id>: "}: {@code
     * "starting group <group id>: …"}.
     */
    public static final String ANSWER = "starting group ";

    private static final long serialVersionUID = 1L;

    private final String peer;

    /** A "starting" answer of {@code peer} (null if the answer does not say which node gave it). */
    public Starting(String peer, String message, Throwable cause) {
      super(message, cause);
      this.peer = peer;
    }

    /** The node that answered "starting", or null if unknown. */
    public String peer() {
      return peer;
    }
  }
}
