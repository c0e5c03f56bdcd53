package dev.ferry.chaos.checker;

import java.time.Duration;
import java.util.Objects;

/**
 * How much search {@link LinearizabilityChecker} may spend on one key before answering {@link
 * Verdict#UNKNOWN}.
 *
 * <p>A state is one new (set of linearized operations, model state) pair the search memoizes. A
 * memo entry takes about {@code ops/8 + 96} bytes for a key with {@code ops} operations, so the
 * search stops at {@code min(maxStatesPerKey, maxMemoBytesPerKey / (ops/8 + 96))} states. Those
 * limits make a verdict deterministic; the time limit does not, and is meant for interactive use.
 *
 * @param maxStatesPerKey the most states explored for one key, {@code >= 1}
 * @param maxTimePerKey the most wall-clock time spent on one key, positive
 * @param maxMemoBytesPerKey the most heap the memo of one key may take (estimated), {@code >= 1}
 */
public record Budget(long maxStatesPerKey, Duration maxTimePerKey, long maxMemoBytesPerKey) {
  /** The default memo size limit: 256 MiB. */
  public static final long DEFAULT_MEMO_BYTES = 256L << 20;

  /** Two million states, one minute and 256 MiB of memo per key. */
  public static final Budget DEFAULT =
      new Budget(2_000_000, Duration.ofMinutes(1), DEFAULT_MEMO_BYTES);

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
    if (maxMemoBytesPerKey < 1) {
      throw new IllegalArgumentException("maxMemoBytesPerKey must be >= 1: " + maxMemoBytesPerKey);
    }
    if (maxTimePerKey.isNegative() || maxTimePerKey.isZero()) {
      throw new IllegalArgumentException("maxTimePerKey must be positive: " + maxTimePerKey);
    }
  }

  /**
   * A budget of {@code maxStatesPerKey} states, no practical time limit and {@link
   * #DEFAULT_MEMO_BYTES} of memo.
   */
  public static Budget states(long maxStatesPerKey) {
    return new Budget(maxStatesPerKey, Duration.ofDays(365), DEFAULT_MEMO_BYTES);
  }
}
