package dev.ferry.statemachine.internal;

/**
 * Exponential backoff for an action that keeps failing the same way (a follower's snapshot install,
 * which Ratis asks for again at once): the delay doubles from {@code first} up to {@code max}, and
 * a success resets it. It also says which failures are worth an operator's line: the first of a
 * series, and then the 8th, 16th, 32nd… so a failure that repeats for hours logs a handful of
 * lines, not one per attempt. Thread-safe.
 */
public final class RetryBackoff {
  private final long firstNanos;
  private final long maxNanos;
  private int failures;
  private long notBeforeNanos = Long.MIN_VALUE;

  public RetryBackoff(long firstNanos, long maxNanos) {
    if (firstNanos <= 0 || maxNanos < firstNanos) {
      throw new IllegalArgumentException("need 0 < first <= max");
    }
    this.firstNanos = firstNanos;
    this.maxNanos = maxNanos;
  }

  /** Records a failure at {@code nowNanos}; returns the delay before the next attempt. */
  public synchronized long failed(long nowNanos) {
    failures++;
    long delay = firstNanos;
    for (int i = 1; i < failures && delay < maxNanos; i++) {
      delay *= 2;
    }
    delay = Math.min(delay, maxNanos);
    notBeforeNanos = nowNanos + delay;
    return delay;
  }

  /** Records a success: the next failure starts a new series. Returns the failures it ended. */
  public synchronized int succeeded() {
    int n = failures;
    failures = 0;
    notBeforeNanos = Long.MIN_VALUE;
    return n;
  }

  /** How long an attempt starting at {@code nowNanos} must wait (0: at once). */
  public synchronized long waitNanos(long nowNanos) {
    return notBeforeNanos == Long.MIN_VALUE ? 0 : Math.max(0, notBeforeNanos - nowNanos);
  }

  /** Failures in a row. */
  public synchronized int failures() {
    return failures;
  }

  /** True for the failures an operator should read of: the 1st, 8th, 16th, 32nd… */
  public synchronized boolean worthLogging() {
    return failures == 1 || (failures >= 8 && Integer.bitCount(failures) == 1);
  }
}
