package dev.ferry.shipping.chunks;

import java.util.function.LongSupplier;

/**
 * Paces sends to a byte rate shared by all connections of a server, to emulate a slow link. Each
 * reservation books its bytes on a virtual timeline that advances at the rate; the caller waits
 * until its slot starts. Idle time earns no credit, so there is no burst beyond one send.
 *
 * <p>Thread-safe (a short lock per reservation).
 */
final class SendRateLimiter {
  private final long bytesPerSecond;
  private final LongSupplier nanoTime;
  private long nextFreeNanos;

  SendRateLimiter(long bytesPerSecond, LongSupplier nanoTime) {
    if (bytesPerSecond <= 0) {
      throw new IllegalArgumentException("send rate must be positive: " + bytesPerSecond);
    }
    this.bytesPerSecond = bytesPerSecond;
    this.nanoTime = nanoTime;
    this.nextFreeNanos = nanoTime.getAsLong();
  }

  long bytesPerSecond() {
    return bytesPerSecond;
  }

  /**
   * Books {@code bytes} and returns how many nanoseconds to wait before sending them (0 to send
   * now).
   */
  synchronized long reserve(long bytes) {
    long now = nanoTime.getAsLong();
    long start = Math.max(now, nextFreeNanos);
    long duration = (long) (bytes * 1e9 / bytesPerSecond);
    nextFreeNanos = start + duration;
    return start - now;
  }
}
