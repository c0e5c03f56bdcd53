package dev.ferry.raft.admin;

import java.time.Duration;
import java.util.Objects;

/**
 * What {@link MembershipAdmin#removeMember} did.
 *
 * @param nodeId the node named in the request
 * @param outcome what it was and whether it was removed
 * @param leadershipTransferred whether the node was the leader and leadership was moved away first
 * @param leaderAfter the leader once the change committed
 * @param duration how long it took
 */
public record RemoveResult(
    String nodeId,
    Outcome outcome,
    boolean leadershipTransferred,
    String leaderAfter,
    Duration duration) {
  public RemoveResult {
    Objects.requireNonNull(nodeId, "nodeId");
    Objects.requireNonNull(outcome, "outcome");
    Objects.requireNonNull(leaderAfter, "leaderAfter");
    Objects.requireNonNull(duration, "duration");
    if (leadershipTransferred && outcome != Outcome.REMOVED_VOTER) {
      throw new IllegalArgumentException("only a voter can have led: " + outcome);
    }
  }

  /** What the node was, and so what was done. */
  public enum Outcome {
    /** The node was a voter and is no longer in the configuration. */
    REMOVED_VOTER,
    /** The node was a listener and is no longer in the configuration. */
    REMOVED_LISTENER,
    /** The node was not in the configuration; nothing changed. */
    NOT_A_MEMBER
  }
}
