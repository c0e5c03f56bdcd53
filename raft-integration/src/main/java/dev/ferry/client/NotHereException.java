package dev.ferry.client;

/**
 * Every peer the client knows answered that it does not host the group ("not here": Ratis's group
 * mismatch, or group not found), within one pass over the peers: the client's peers are out of
 * date, e.g. the group's replicas moved to other nodes. Thrown at once, before the call's deadline,
 * so that a caller routing by a cluster map can refresh it and try the group's new replicas. A mix
 * of "not here" and peers that did not answer is not this: the call is retried until its deadline
 * (the group may be moving to them). Nor is a Ferry node's "starting" answer (it hosts the group
 * and is still adding it, see {@code FerryNode}): that is a transient failure, retried until the
 * deadline.
 *
 * <p>A node decides "not here" before the request reaches the group's state machine: Ratis's server
 * finds no division of the group ({@code RaftServerProxy}: "group … not found") or the division
 * refuses a request of another group ({@code assertGroup}) before anything is appended. So a
 * command answered "not here" by a node was not applied there. Whether the command was applied
 * anywhere is {@link #reachedNoReplica()}: true when every send of every attempt was answered "not
 * here"; false when an earlier attempt failed otherwise (e.g. timed out at a node that did host the
 * group then), so the outcome is unknown as for {@link OutcomeUnknownException}.
 *
 * <p>For a command that reached no replica, the client's session forgets its sequence number. To
 * send it again to the group's new replicas, use a new client (a new session): a session's sequence
 * numbers are never reused, and a session is never carried to another group. A read changes
 * nothing, so it is safe to ask again. The cause is the last "not here" answer.
 */
public final class NotHereException extends FerryClientException {
  private static final long serialVersionUID = 1L;

  private final boolean reachedNoReplica;

  NotHereException(String message, Throwable cause, boolean reachedNoReplica) {
    super(message, cause);
    this.reachedNoReplica = reachedNoReplica;
  }

  /**
   * Whether the request reached no replica of the group: every send of every attempt was answered
   * "not here". For a command, true means it was not applied and never will be (no replica holds
   * it); false means its outcome is unknown. A read changed nothing either way.
   */
  public boolean reachedNoReplica() {
    return reachedNoReplica;
  }
}
