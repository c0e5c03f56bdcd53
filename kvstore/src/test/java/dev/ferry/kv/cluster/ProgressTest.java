package dev.ferry.kv.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.LongUnaryOperator;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/** {@link Progress} on a fake clock: it fails on a stall or at the cap, never on slowness alone. */
class ProgressTest {
  private static final Duration STALL = Duration.ofMinutes(2);
  private static final Duration CAP = Duration.ofMinutes(15);

  /** A clock that moves only when the waiter sleeps. */
  private static final class FakeClock {
    long nanos;

    Progress progress() {
      return new Progress(() -> nanos, n -> nanos += n);
    }

    long at(LongUnaryOperator f) {
      return f.applyAsLong(TimeUnit.NANOSECONDS.toSeconds(nanos));
    }
  }

  /** Waits on {@code measure} until it reaches {@code target}, expecting a timeout. */
  private static TimeoutException timesOut(
      FakeClock clock, String what, Supplier<Long> measure, long target) {
    Progress.Goal<Long> goal = new Progress.Goal<>(what, measure, v -> v >= target);
    return assertThrows(TimeoutException.class, () -> clock.progress().waitFor(goal, STALL, CAP));
  }

  @Test
  void aSlowButSteadyMeasurePassesThoughTheWholeWaitExceedsTheStallTimeout() throws Exception {
    FakeClock clock = new FakeClock();
    // One chunk a minute: 15 chunks take 14 minutes, far beyond a 2-minute fixed deadline.
    long value =
        clock
            .progress()
            .waitFor(
                new Progress.Goal<>("15 chunks", () -> clock.at(s -> s / 60 + 1), v -> v >= 15),
                STALL,
                CAP);
    assertEquals(15, value);
    assertTrue(clock.nanos >= TimeUnit.MINUTES.toNanos(14), "waited " + clock.nanos);
  }

  @Test
  void aStalledMeasureFailsAfterTheStallTimeoutWithItsLastValues() {
    FakeClock clock = new FakeClock();
    // 1, 2, … 10 chunks over the first 10 minutes, then nothing more.
    TimeoutException e =
        timesOut(clock, "n2 to store 15 chunks", () -> clock.at(s -> Math.min(10, s / 60 + 1)), 15);
    long waited = TimeUnit.NANOSECONDS.toSeconds(clock.nanos);
    assertTrue(
        waited >= 11 * 60 && waited < 11 * 60 + 5, "failed 2 min after the last change: " + waited);
    String m = e.getMessage();
    assertTrue(m.startsWith("no progress for PT2M waiting for n2 to store 15 chunks"), m);
    assertTrue(m.contains("10 at 540.0 s") && m.contains("3 at 120.0 s"), m);
    assertTrue(
        !m.contains(" 1 at 0.0 s") && !m.contains("(1 at") && !m.contains(" 2 at 60.0 s"),
        "only the last values are kept: " + m);
  }

  @Test
  void aMeasureThatNeverReachesTheConditionFailsAtTheHardCap() {
    FakeClock clock = new FakeClock();
    TimeoutException e = timesOut(clock, "forever", () -> clock.nanos, Long.MAX_VALUE);
    assertEquals(CAP.toSeconds(), TimeUnit.NANOSECONDS.toSeconds(clock.nanos));
    assertTrue(
        e.getMessage().startsWith("hard cap of PT15M reached waiting for forever"), e.getMessage());
  }

  @Test
  void aConditionAlreadyTrueReturnsAtOnce() throws Exception {
    FakeClock clock = new FakeClock();
    assertEquals(
        "x",
        clock.progress().waitFor(new Progress.Goal<>("x", () -> "x", "x"::equals), STALL, CAP));
    assertEquals(0, clock.nanos);
  }

  @Test
  void rejectsNonPositiveTimeouts() {
    assertThrows(
        IllegalArgumentException.class,
        () -> Progress.await("x", () -> 1, v -> true, Duration.ZERO, CAP));
  }
}
