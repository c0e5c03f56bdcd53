package dev.ferry.client.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The loop on a fake clock: sleeping moves the clock, nothing waits. */
class RetryLoopTest {
  private static final long MS = TimeUnit.MILLISECONDS.toNanos(1);

  private long now = 1_000 * MS;
  private final List<Long> pauses = new ArrayList<>();
  private final RetryLoop loop =
      new RetryLoop(
          () -> now,
          nanos -> {
            pauses.add(nanos);
            now += nanos;
          });

  @AfterEach
  void clearInterrupt() {
    Thread.interrupted();
  }

  @Test
  void retriesTransientFailuresWithDoublingBackoffUntilAnAttemptSucceeds() throws IOException {
    AtomicInteger attempts = new AtomicInteger();
    String r =
        loop.call(
            now + 10_000 * MS,
            () -> {
              int n = attempts.incrementAndGet();
              if (n == 1) {
                throw new IOException("no leader");
              }
              if (n < 8) {
                throw new IllegalStateException("gRPC: unavailable"); // unchecked, also transient
              }
              return "done";
            });
    assertEquals("done", r);
    assertEquals(8, attempts.get());
    assertEquals(
        List.of(20 * MS, 40 * MS, 80 * MS, 160 * MS, 320 * MS, 500 * MS, 500 * MS), pauses);
  }

  @Test
  void theDeadlineEndsTheLoopWithTheLastFailureAndNoPauseRunsPastIt() {
    long deadline = now + 100 * MS;
    AtomicInteger attempts = new AtomicInteger();
    RetryLoop.DeadlineExceeded e =
        assertThrows(
            RetryLoop.DeadlineExceeded.class,
            () ->
                loop.call(
                    deadline,
                    () -> {
                      throw new IOException("attempt " + attempts.incrementAndGet());
                    }));
    // Pauses 20, 40, then 40 (cut to the deadline); the attempt at the deadline is the last.
    assertEquals(List.of(20 * MS, 40 * MS, 40 * MS), pauses);
    assertEquals(4, e.attempts());
    assertEquals("attempt 4", e.getCause().getMessage());
    assertEquals(deadline, now);
  }

  @Test
  void anAttemptIsMadeEvenWhenTheDeadlineHasPassed() throws IOException {
    assertEquals("x", loop.call(now - 1, () -> "x"));
  }

  @Test
  void refusalsAndAClosedTransportAreNotRetried() {
    Transport.Refused refused = new Transport.Refused("apply threw", null);
    AtomicInteger attempts = new AtomicInteger();
    assertSame(
        refused,
        assertThrows(
            Transport.Refused.class,
            () ->
                loop.call(
                    now + 10_000 * MS,
                    () -> {
                      attempts.incrementAndGet();
                      throw refused;
                    })));
    assertThrows(
        Transport.Closed.class,
        () ->
            loop.call(
                now + 10_000 * MS,
                () -> {
                  attempts.incrementAndGet();
                  throw new Transport.Closed("closed", null);
                }));
    assertEquals(2, attempts.get());
    assertTrue(pauses.isEmpty());
  }

  @Test
  void anInterruptStopsTheLoopAndStaysSet() {
    AtomicInteger attempts = new AtomicInteger();
    assertThrows(
        InterruptedIOException.class,
        () ->
            loop.call(
                now + 10_000 * MS,
                () -> {
                  if (attempts.incrementAndGet() == 3) {
                    Thread.currentThread().interrupt();
                  }
                  throw new IOException("down");
                }));
    assertEquals(3, attempts.get());
    assertTrue(Thread.currentThread().isInterrupted());
  }

  @Test
  void backoffDoublesFromTheFirstPauseToTheLongest() {
    assertEquals(RetryLoop.FIRST_BACKOFF_NANOS, RetryLoop.backoff(1));
    assertEquals(2 * RetryLoop.FIRST_BACKOFF_NANOS, RetryLoop.backoff(2));
    assertEquals(RetryLoop.MAX_BACKOFF_NANOS, RetryLoop.backoff(1_000_000));
  }
}
