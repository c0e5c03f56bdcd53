package dev.ferry.shipping.install;

/**
 * A transfer rate smoothed over the last few seconds (an exponentially weighted moving average with
 * a time constant), so an ETA follows a link that slows down or speeds up without jumping at every
 * chunk. Fed the running total of bytes with the time it was read; not thread-safe.
 */
final class RateEstimator {
  private final double tauNanos;
  private final long minIntervalNanos;
  private long lastNanos = Long.MIN_VALUE;
  private long lastBytes;
  private double rate = Double.NaN;

  /**
   * @param tauNanos the time constant: a sample {@code tau} old weighs {@code 1/e} of a new one
   * @param minIntervalNanos samples closer together than this are folded into the next one
   */
  RateEstimator(long tauNanos, long minIntervalNanos) {
    if (tauNanos <= 0 || minIntervalNanos <= 0) {
      throw new IllegalArgumentException("tau and interval must be > 0");
    }
    this.tauNanos = tauNanos;
    this.minIntervalNanos = minIntervalNanos;
  }

  /** Records that {@code totalBytes} had been moved at {@code nanos} (a monotonic clock). */
  void sample(long nanos, long totalBytes) {
    if (lastNanos == Long.MIN_VALUE) {
      lastNanos = nanos;
      lastBytes = totalBytes;
      return;
    }
    long dt = nanos - lastNanos;
    if (dt < minIntervalNanos) {
      return;
    }
    double instant = (totalBytes - lastBytes) * 1e9 / dt;
    if (Double.isNaN(rate)) {
      rate = instant;
    } else {
      double alpha = 1 - Math.exp(-dt / tauNanos);
      rate += alpha * (instant - rate);
    }
    lastNanos = nanos;
    lastBytes = totalBytes;
  }

  /** Bytes per second, or 0 before two samples far enough apart. */
  double bytesPerSecond() {
    return Double.isNaN(rate) ? 0 : rate;
  }
}
