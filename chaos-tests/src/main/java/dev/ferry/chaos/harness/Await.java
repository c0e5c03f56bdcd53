package dev.ferry.chaos.harness;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * Waits for a condition with a deadline, polling every 50 ms. Stateless; blocks the calling thread.
 */
public final class Await {
  private static final long POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(50);

  private Await() {}

  /**
   * Polls {@code value} until it returns non-null, and returns that.
   *
   * @throws TimeoutException naming {@code what} if {@code timeout} passes first
   */
  public static <T> T value(Duration timeout, Supplier<T> value, String what)
      throws TimeoutException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      T v = value.get();
      if (v != null) {
        return v;
      }
      if (System.nanoTime() - deadline > 0) {
        throw new TimeoutException("timed out after " + timeout + " waiting for " + what);
      }
      LockSupport.parkNanos(POLL_NANOS);
      if (Thread.interrupted()) {
        Thread.currentThread().interrupt();
        throw new TimeoutException("interrupted waiting for " + what);
      }
    }
  }

  /**
   * Polls {@code condition} until it holds.
   *
   * @throws TimeoutException naming {@code what} if {@code timeout} passes first
   */
  public static void until(Duration timeout, BooleanSupplier condition, String what)
      throws TimeoutException {
    value(timeout, () -> condition.getAsBoolean() ? Boolean.TRUE : null, what);
  }
}
