package dev.ferry.shipping.net;

import java.time.Duration;
import java.util.Objects;
import java.util.function.LongSupplier;

/**
 * Keeps a flood of similar log lines (one per refused or broken connection) from flooding the log:
 * at most {@code lines} per window of {@code window}; the lines left out are counted and the next
 * line admitted says how many. The services' counters still count every event.
 *
 * <p>Thread-safe.
 */
public final class LogLimiter {
  private final int lines;
  private final long windowNanos;
  private final LongSupplier nanoTime;
  private long windowStart;
  private int admitted;
  private long suppressed;

  /**
   * @param lines most lines per window
   * @param window the window's length
   * @param nanoTime the clock ({@code System::nanoTime} outside tests)
   */
  public LogLimiter(int lines, Duration window, LongSupplier nanoTime) {
    if (lines < 1) {
      throw new IllegalArgumentException("lines < 1: " + lines);
    }
    if (window.isNegative() || window.isZero()) {
      throw new IllegalArgumentException("window must be positive: " + window);
    }
    this.lines = lines;
    this.windowNanos = window.toNanos();
    this.nanoTime = Objects.requireNonNull(nanoTime, "nanoTime");
    this.windowStart = nanoTime.getAsLong();
  }

  /** At most {@code lines} lines a minute, on the system clock. */
  public static LogLimiter perMinute(int lines) {
    return new LogLimiter(lines, Duration.ofMinutes(1), System::nanoTime);
  }

  /**
   * Asks to log one line.
   *
   * @return -1 if the line must be left out; otherwise how many lines were left out since the last
   *     admitted one (to mention in this one, see {@link #note})
   */
  public synchronized long admit() {
    long now = nanoTime.getAsLong();
    if (now - windowStart >= windowNanos) {
      windowStart = now;
      admitted = 0;
    }
    if (admitted >= lines) {
      suppressed++;
      return -1;
    }
    admitted++;
    long s = suppressed;
    suppressed = 0;
    return s;
  }

  /** The suffix for a line admitted with {@code skipped} lines left out before it. */
  public static String note(long skipped) {
    return skipped > 0 ? " (" + skipped + " similar lines left out before this one)" : "";
  }
}
