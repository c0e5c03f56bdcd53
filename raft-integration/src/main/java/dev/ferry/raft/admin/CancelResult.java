package dev.ferry.raft.admin;

import dev.ferry.statemachine.MembershipChange;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * What a cancel did ({@link MembershipAdmin#cancel}).
 *
 * @param outcome whether an add was cancelled
 * @param change the add cancelled, as recorded once cancelled (phase {@code CANCELLED}, naming who
 *     cancelled it); empty if nothing was pending
 * @param addRan how long the add had run when it was cancelled, if the admin that cancelled it also
 *     drove it (otherwise unknown: the record holds log positions, not times)
 * @param took how long the cancel took, the undo included
 */
public record CancelResult(
    Outcome outcome, Optional<MembershipChange> change, Optional<Duration> addRan, Duration took) {

  /** What a cancel found. */
  public enum Outcome {
    /** The add was cancelled and undone: the node is out of the configuration, the record ended. */
    CANCELLED,
    /** No membership change was pending: nothing to do. */
    NOTHING_PENDING
  }

  public CancelResult {
    Objects.requireNonNull(outcome, "outcome");
    Objects.requireNonNull(change, "change");
    Objects.requireNonNull(addRan, "addRan");
    Objects.requireNonNull(took, "took");
    if (change.isPresent() != (outcome == Outcome.CANCELLED)) {
      throw new IllegalArgumentException("a change is named exactly when one was cancelled");
    }
  }
}
