package dev.ferry.kv.cluster;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Locale;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.LongSupplier;
import java.util.function.Predicate;
import java.util.function.Supplier;

/**
 * Waits for a condition while watching a measure of progress (bytes or chunks stored, an applied
 * index, output written): the wait fails when the measure stops changing for a stall timeout, not
 * when the total time grows long. On a loaded machine a slow but moving cluster then passes, and a
 * stuck one fails with the values it last showed, which tell a stall from slowness. A hard cap
 * keeps a wait that progresses forever from hanging the build.
 *
 * <p>For tests and harnesses (process clusters, chaos runs). Stateless; each call blocks the
 * calling thread, polling every 100 ms.
 */
public final class Progress {
  /** A stall timeout that suits a shared 2-core machine: long enough for a busy one. */
  public static final Duration STALL = Duration.ofMinutes(2);

  /** A hard cap that suits the waits of the process tests. */
  public static final Duration CAP = Duration.ofMinutes(15);

  private static final long POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(100);
  private static final int KEPT_VALUES = 8;

  private final LongSupplier nanoTime;
  private final Sleeper sleeper;

  /** Sleeps between polls (injected, so that tests run on a fake clock). */
  @FunctionalInterface
  interface Sleeper {
    void sleepNanos(long nanos) throws InterruptedException;
  }

  Progress(LongSupplier nanoTime, Sleeper sleeper) {
    this.nanoTime = Objects.requireNonNull(nanoTime, "nanoTime");
    this.sleeper = Objects.requireNonNull(sleeper, "sleeper");
  }

  private static final Progress SYSTEM =
      new Progress(System::nanoTime, nanos -> TimeUnit.NANOSECONDS.sleep(nanos));

  /**
   * Polls {@code progress} until {@code done} accepts its value, and returns that value. A value
   * not {@linkplain Object#equals equal} to the previous one is progress.
   *
   * @param what what is awaited, for the failure message (e.g. "n2 to store 15 chunks")
   * @param progress reads the measure; called on the calling thread; a value may be any object with
   *     a meaningful {@code equals} and {@code toString} (a number, a record, a list)
   * @param done whether the measure's value means the wait is over
   * @param stall how long the measure may stay unchanged before the wait fails
   * @param cap how long the whole wait may take at most, progress or not
   * @throws TimeoutException naming {@code what}, the timeout that ran out, the time waited and the
   *     last values of the measure with when each was first seen
   * @throws IllegalArgumentException if {@code stall} or {@code cap} is not positive
   */
  public static <T> T await(
      String what,
      Supplier<? extends T> progress,
      Predicate<? super T> done,
      Duration stall,
      Duration cap)
      throws TimeoutException {
    return SYSTEM.waitFor(new Goal<>(what, progress, done), stall, cap);
  }

  /** What a wait is for: its description, its measure of progress, and when it is over. */
  record Goal<T>(String what, Supplier<? extends T> progress, Predicate<? super T> done) {
    Goal {
      Objects.requireNonNull(what, "what");
      Objects.requireNonNull(progress, "progress");
      Objects.requireNonNull(done, "done");
    }
  }

  <T> T waitFor(Goal<T> goal, Duration stall, Duration cap) throws TimeoutException {
    if (stall.isNegative() || stall.isZero() || cap.isNegative() || cap.isZero()) {
      throw new IllegalArgumentException("stall and cap must be positive: " + stall + ", " + cap);
    }
    String what = goal.what();
    long start = nanoTime.getAsLong();
    long lastChange = start;
    Deque<String> seen = new ArrayDeque<>();
    T last = null;
    boolean first = true;
    while (true) {
      T value = goal.progress().get();
      long now = nanoTime.getAsLong();
      if (first || !Objects.equals(value, last)) {
        first = false;
        last = value;
        lastChange = now;
        seen.addLast(value + " at " + seconds(now - start));
        if (seen.size() > KEPT_VALUES) {
          seen.removeFirst();
        }
      }
      if (goal.done().test(value)) {
        return value;
      }
      String values = String.join(", ", seen);
      if (now - lastChange >= stall.toNanos()) {
        throw new TimeoutException(
            String.format(
                Locale.ROOT,
                "no progress for %s waiting for %s (waited %s; progress: %s)",
                stall,
                what,
                seconds(now - start),
                values));
      }
      if (now - start >= cap.toNanos()) {
        throw new TimeoutException(
            String.format(
                Locale.ROOT,
                "hard cap of %s reached waiting for %s, though it progressed (last change at %s;"
                    + " progress: %s)",
                cap,
                what,
                seconds(lastChange - start),
                values));
      }
      try {
        sleeper.sleepNanos(POLL_NANOS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new TimeoutException("interrupted waiting for " + what + " (progress: " + seen + ")");
      }
    }
  }

  private static String seconds(long nanos) {
    return String.format(Locale.ROOT, "%.1f s", nanos / 1e9);
  }
}
