package dev.ferry.client.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
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

  private static final Set<String> PEERS = Set.of("a", "b", "c");

  /**
   * An attempt answered by the nodes of {@code answers} in turn (then by the last one again): a
   * node id answers "not here" (cleanly, or {@code "~id"}: after a send that failed otherwise),
   * {@code "+id"} answers "starting" (it hosts the group, not added yet), {@code "-"} does not
   * answer.
   */
  private static RetryLoop.Attempt<String> answeredBy(AtomicInteger attempts, String... answers) {
    return () -> {
      String node = answers[Math.min(attempts.getAndIncrement(), answers.length - 1)];
      if (node.equals("-")) {
        throw new IOException("unreachable");
      }
      if (node.startsWith("+")) {
        String id = node.substring(1);
        throw new Transport.Starting(id, id + ": starting group group-x: try again", null);
      }
      boolean clean = !node.startsWith("~");
      String id = clean ? node : node.substring(1);
      throw new Transport.NotHere(id, clean, id + ": group-x not found.", null);
    };
  }

  @Test
  void everyPeerAnsweringNotHereWithinOnePassEndsTheCallAtOnce() {
    AtomicInteger attempts = new AtomicInteger();
    RetryLoop.NotHereEverywhere e =
        assertThrows(
            RetryLoop.NotHereEverywhere.class,
            () -> loop.call(now + 10_000 * MS, PEERS, answeredBy(attempts, "a", "a", "c", "b")));
    assertEquals(4, attempts.get(), "ends with the last peer's answer");
    assertTrue(e.reachedNoReplica());
    assertEquals(List.of(20 * MS, 40 * MS, 80 * MS), pauses);
  }

  @Test
  void aMixOfNotHereAndUnansweredPeersIsRetriedUntilTheDeadline() {
    AtomicInteger attempts = new AtomicInteger();
    long deadline = now + 10_000 * MS;
    RetryLoop.DeadlineExceeded e =
        assertThrows(
            RetryLoop.DeadlineExceeded.class,
            () -> loop.call(deadline, PEERS, answeredBy(attempts, "a", "-", "c", "a", "-", "c")));
    assertEquals(deadline, now, "ran to the deadline");
    assertTrue(attempts.get() > 6, "kept asking after the mix: " + attempts.get());
  }

  @Test
  void aFailureOtherThanNotHereStartsANewPassAndLeavesTheOutcomeUnknown() {
    AtomicInteger attempts = new AtomicInteger();
    RetryLoop.NotHereEverywhere e =
        assertThrows(
            RetryLoop.NotHereEverywhere.class,
            () ->
                loop.call(
                    now + 10_000 * MS, PEERS, answeredBy(attempts, "a", "b", "-", "c", "a", "b")));
    assertEquals(6, attempts.get(), "a, b before the silence do not count");
    assertFalse(e.reachedNoReplica(), "the unanswered attempt may have reached a replica");
  }

  @Test
  void aNotHereAfterAnotherFailureWithinTheAttemptCountsButLeavesTheOutcomeUnknown() {
    AtomicInteger attempts = new AtomicInteger();
    RetryLoop.NotHereEverywhere e =
        assertThrows(
            RetryLoop.NotHereEverywhere.class,
            () -> loop.call(now + 10_000 * MS, PEERS, answeredBy(attempts, "a", "~b", "c")));
    assertEquals(3, attempts.get());
    assertFalse(e.reachedNoReplica());
  }

  @Test
  void withoutPeersOrFromUnknownNodesNotHereIsRetriedLikeAnyTransientFailure() {
    long deadline = now + 1_000 * MS;
    assertThrows(
        RetryLoop.DeadlineExceeded.class,
        () -> loop.call(deadline, answeredBy(new AtomicInteger(), "a", "b", "c")));
    assertEquals(deadline, now);
    assertThrows(
        RetryLoop.DeadlineExceeded.class,
        () -> loop.call(now + 1_000 * MS, PEERS, answeredBy(new AtomicInteger(), "a", "b", "x")));
  }

  @Test
  void aStartingNodeIsNoNotHereAndTheCallGoesOnUntilItServes() throws IOException {
    // b and c do not host the group; a hosts it and is starting: "not here" everywhere is false.
    AtomicInteger attempts = new AtomicInteger();
    RetryLoop.DeadlineExceeded e =
        assertThrows(
            RetryLoop.DeadlineExceeded.class,
            () -> loop.call(now + 10_000 * MS, PEERS, answeredBy(attempts, "b", "+a", "c")));
    assertTrue(e.getCause() instanceof Transport.NotHere, "the last answer: " + e.getCause());
    assertTrue(attempts.get() > 3, "kept asking after the starting answer: " + attempts.get());

    // Every peer starting (a fresh cluster): retried, then served once one started.
    AtomicInteger tries = new AtomicInteger();
    String served =
        loop.call(
            now + 10_000 * MS,
            PEERS,
            () -> {
              int n = tries.getAndIncrement();
              if (n < 6) {
                String id = List.of("a", "b", "c").get(n % 3);
                throw new Transport.Starting(id, id + ": starting group group-x", null);
              }
              return "ok";
            });
    assertEquals("ok", served);
    assertEquals(7, tries.get());
  }
}
