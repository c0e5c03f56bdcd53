package dev.ferry.chaos.checker;

import java.time.Duration;
import java.util.Objects;

/**
 * How much search {@link LinearizabilityChecker} may spend on one key before answering {@link
 * Verdict#UNKNOWN}.
 *
 * <p>A state is one new (set of linearized operations, model state) pair the search memoizes; the
 * memo table holds at most {@code maxStatesPerKey} entries of about {@code ops/8 + 64} bytes each,
 * so the state limit also bounds memory. The state limit makes a verdict deterministic; the time
 * limit does not, and is meant for interactive use.
 *
 * @param maxStatesPerKey the most states explored for one key, {@code >= 1}
 * @param maxTimePerKey the most wall-clock time spent on one key, positive
 */
public record Budget(long maxStatesPerKey, Duration maxTimePerKey) {
  /** Two million states and one minute per key. */
  public static final Budget DEFAULT = new Budget(2_000_000, Duration.ofMinutes(1));

  /**
   * Validates the budget.
   *
   * @throws IllegalArgumentException if a limit is not positive
   */
  public Budget {
    Objects.requireNonNull(maxTimePerKey, "maxTimePerKey");
    if (maxStatesPerKey < 1) {
      throw new IllegalArgumentException("maxStatesPerKey must be >= 1: " + maxStatesPerKey);
    }
    if (maxTimePerKey.isNegative() || maxTimePerKey.isZero()) {
      throw new IllegalArgumentException("maxTimePerKey must be positive: " + maxTimePerKey);
    }
  }

  /** A budget of {@code maxStatesPerKey} states and no practical time limit. */
  public static Budget states(long maxStatesPerKey) {
    return new Budget(maxStatesPerKey, Duration.ofDays(365));
  }
}
