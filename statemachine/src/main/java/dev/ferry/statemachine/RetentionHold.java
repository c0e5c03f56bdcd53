package dev.ferry.statemachine;

import java.util.Objects;

/**
 * A log-retention hold as every replica records it: while it stands, no voter reports a snapshot
 * above {@link #floor} to Ratis, so none purges the log entries after it. An installing node places
 * and renews one (a {@link CommandCodec#holdRenew} log entry) so that the log it must replay after
 * its baseline is still there when the install ends.
 *
 * <p>Every field is a function of the log, the same on every replica.
 *
 * @param owner the node that placed it (one hold per owner)
 * @param floor the highest log index voters may purge up to while the hold stands
 * @param placedAt the log index of the entry that placed it at this floor
 * @param renewedAt the log index of its latest renewal ({@code placedAt} at first)
 * @param logBytes bytes of log entries applied since it was placed: what it made the voters keep
 */
public record RetentionHold(
    String owner, long floor, long placedAt, long renewedAt, long logBytes) {

  /**
   * Validates the fields.
   *
   * @throws IllegalArgumentException if {@code floor < 0}, {@code renewedAt < placedAt} or {@code
   *     logBytes < 0}
   */
  public RetentionHold {
    Objects.requireNonNull(owner, "owner");
    if (floor < 0) {
      throw new IllegalArgumentException("floor < 0: " + floor);
    }
    if (renewedAt < placedAt) {
      throw new IllegalArgumentException("renewedAt " + renewedAt + " < placedAt " + placedAt);
    }
    if (logBytes < 0) {
      throw new IllegalArgumentException("logBytes < 0: " + logBytes);
    }
  }
}
