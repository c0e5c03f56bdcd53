package dev.ferry.shipping.install;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.shipping.install.TransferScheduler.Admission;
import dev.ferry.snapshot.ChunkId;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

/** The node's transfer scheduler alone: admission order, the byte budget, and releases. */
class TransferSchedulerTest {
  private static final long BUDGET = 1 << 20;

  private final AtomicLong clock = new AtomicLong();

  private TransferScheduler scheduler(int maxActive) {
    return TransferScheduler.builder()
        .name("test")
        .maxActiveInstalls(maxActive)
        .maxBytesInFlight(BUDGET)
        .promoteAfter(Duration.ofMinutes(1))
        .nanoTime(clock::get)
        .build();
  }

  /** Admits what is queued by closing the running admission, and returns who ran next. */
  private static List<String> drain(Admission running, List<Admission> queued) {
    List<String> order = new ArrayList<>();
    Admission current = running;
    for (int i = 0; i < queued.size(); i++) {
      current.close();
      Admission next =
          queued.stream()
              .filter(a -> a.admitted().isDone())
              .filter(a -> !order.contains(a.who()))
              .findFirst()
              .orElseThrow(() -> new AssertionError("nothing admitted after " + order));
      order.add(next.who());
      current = next;
    }
    current.close();
    return order;
  }

  @Test
  void queuedInstallsAreAdmittedByPriorityThenInArrivalOrder() {
    try (TransferScheduler s = scheduler(1)) {
      Admission first = s.submit("g0", TransferPriority.CATCH_UP);
      assertTrue(first.admitted().isDone());
      List<Admission> queued = new ArrayList<>();
      queued.add(s.submit("c1", TransferPriority.CATCH_UP));
      queued.add(s.submit("b1", TransferPriority.REBALANCE));
      queued.add(s.submit("r1", TransferPriority.REPAIR));
      queued.add(s.submit("c2", TransferPriority.CATCH_UP));
      queued.add(s.submit("r2", TransferPriority.REPAIR));
      queued.add(s.submit("b2", TransferPriority.REBALANCE));
      assertTrue(queued.stream().noneMatch(a -> a.admitted().isDone()), "one at a time");
      TransferScheduler.Stats st = s.stats();
      assertEquals(1, st.activeCount());
      assertEquals(6, st.queuedCount());
      assertEquals(2, st.queued().get(TransferPriority.REPAIR));
      // Listed in the order they will be admitted.
      assertEquals(
          List.of("r1", "r2", "b1", "b2", "c1", "c2"),
          st.queuedInstalls().stream().map(TransferScheduler.Install::who).toList());

      assertEquals(List.of("r1", "r2", "b1", "b2", "c1", "c2"), drain(first, queued));
      assertEquals(0, s.stats().activeCount());
      assertEquals(7, s.stats().admittedTotal().values().stream().mapToLong(Long::longValue).sum());
    }
  }

  @Test
  void anInstallThatWaitedLongEnoughGoesBeforeNewerRepairs() {
    try (TransferScheduler s = scheduler(1)) {
      Admission running = s.submit("busy", TransferPriority.REPAIR);
      Admission old = s.submit("old", TransferPriority.CATCH_UP);
      clock.addAndGet(Duration.ofMinutes(2).toNanos()); // two promotions: CATCH_UP -> REPAIR
      Admission repair = s.submit("new-repair", TransferPriority.REPAIR);
      Admission rebalance = s.submit("new-rebalance", TransferPriority.REBALANCE);
      assertEquals(
          List.of("old", "new-repair", "new-rebalance"),
          drain(running, List.of(old, repair, rebalance)));
    }
  }

  @Test
  void aNewerSubmissionOfTheSameGroupTakesTheQueuedOnesPlace() throws Exception {
    try (TransferScheduler s = scheduler(1)) {
      Admission running = s.submit("busy", TransferPriority.CATCH_UP);
      Admission a1 = s.submit("a", TransferPriority.CATCH_UP);
      Admission b = s.submit("b", TransferPriority.CATCH_UP);
      Admission a2 = s.submit("a", TransferPriority.CATCH_UP);
      assertThrows(CancellationException.class, () -> a1.admitted().get(1, TimeUnit.SECONDS));
      assertEquals(2, s.stats().queuedCount());
      assertEquals(List.of("a", "b"), drain(running, List.of(a2, b)));
      a1.close(); // closing the replaced one changes nothing
      assertEquals(0, s.stats().activeCount());
    }
  }

  @Test
  void closingFreesTheSlotAndEveryByteAndAQueuedCloseLeavesTheQueue() throws Exception {
    try (TransferScheduler s = scheduler(1)) {
      Admission a = s.submit("a", TransferPriority.CATCH_UP);
      Admission gone = s.submit("gone", TransferPriority.REPAIR);
      Admission b = s.submit("b", TransferPriority.CATCH_UP);
      assertTrue(a.tryReserve(300_000));
      assertTrue(a.tryReserve(300_000));
      assertEquals(600_000, s.stats().bytesInFlight());
      gone.close();
      assertThrows(CancellationException.class, () -> gone.admitted().get(1, TimeUnit.SECONDS));
      assertEquals(1, s.stats().queuedCount());
      a.close(); // as an install that threw would, in its finally
      assertEquals(0, s.stats().bytesInFlight());
      assertTrue(b.admitted().isDone(), "the next one runs");
      a.release(300_000); // a late release after close does nothing
      assertEquals(0, s.stats().bytesInFlight());
      assertFalse(gone.tryReserve(1), "a closed admission reserves nothing");
      b.close();
      assertEquals(0, s.stats().activeCount());
    }
  }

  @Test
  void anInstallWithoutRoomIsWokenWhenBytesAreReleasedAndSharesAreEqual() {
    try (TransferScheduler s = scheduler(2)) {
      Admission a = s.submit("a", TransferPriority.CATCH_UP);
      Admission b = s.submit("b", TransferPriority.CATCH_UP);
      AtomicInteger wokenA = new AtomicInteger();
      AtomicInteger wokenB = new AtomicInteger();
      a.onBytesFreed(wokenA::incrementAndGet);
      b.onBytesFreed(wokenB::incrementAndGet);
      assertTrue(a.tryReserve(BUDGET - 100), "alone, a takes the whole budget");
      assertFalse(b.tryReserve(200), "no room");
      assertEquals(0, wokenB.get());
      a.release(BUDGET / 2);
      assertEquals(1, wokenB.get(), "woken once");
      a.release(10);
      assertEquals(1, wokenB.get(), "not again before it was refused again");
      assertTrue(b.tryReserve(BUDGET / 2 - 200), "b holds nothing: it gets its bytes");
      assertFalse(a.tryReserve(200), "a would hold more than its half while b holds bytes");
      assertFalse(b.tryReserve(BUDGET / 2), "no room");
      b.release(BUDGET / 2 - 200);
      assertEquals(1, wokenA.get(), "a was refused, and is woken");
      assertEquals(2, wokenB.get(), "b too: it was refused, and released bytes itself");
      // A chunk larger than the whole budget goes only while nothing else is in flight.
      a.close();
      assertTrue(b.tryReserve(BUDGET + 1));
      assertEquals(BUDGET + 1, s.stats().bytesInFlight());
      assertFalse(b.tryReserve(1), "nothing more beside it");
      b.close();
      assertEquals(0, s.stats().bytesInFlight());
    }
  }

  /**
   * Many installs reserve and release from many threads at once: the bytes in flight never exceed
   * the budget (seen by a sampler and by every reservation), at most the limit run, all finish, and
   * nothing is held at the end.
   */
  @Test
  void theBudgetAndTheInstallLimitHoldUnderConcurrentUse() throws Exception {
    int maxActive = 3;
    try (TransferScheduler s =
        TransferScheduler.builder()
            .name("test")
            .maxActiveInstalls(maxActive)
            .maxBytesInFlight(BUDGET)
            .build()) {
      int installs = 12;
      AtomicLong held = new AtomicLong();
      AtomicInteger running = new AtomicInteger();
      List<String> problems = new CopyOnWriteArrayList<>();
      CountDownLatch done = new CountDownLatch(installs);
      List<Thread> threads = new ArrayList<>();
      for (int i = 0; i < installs; i++) {
        int n = i;
        Thread t =
            new Thread(
                () -> {
                  SplittableRandom random = new SplittableRandom(n);
                  Admission a = s.submit("g" + n, TransferPriority.values()[n % 3]);
                  try {
                    a.admitted().get(60, TimeUnit.SECONDS);
                    if (running.incrementAndGet() > maxActive) {
                      problems.add("more than " + maxActive + " ran");
                    }
                    long mine = 0;
                    for (int k = 0; k < 2_000; k++) {
                      long size = 1 + random.nextInt(128 << 10);
                      if (random.nextBoolean() && a.tryReserve(size)) {
                        mine += size;
                        if (held.addAndGet(size) > BUDGET) {
                          problems.add("over budget: " + held.get());
                        }
                      } else if (mine > 0) {
                        long back = Math.min(mine, 1 + random.nextInt(128 << 10));
                        mine -= back;
                        held.addAndGet(-back);
                        a.release(back);
                      }
                    }
                    held.addAndGet(-mine);
                    running.decrementAndGet();
                    if (n % 4 == 0) {
                      throw new IllegalStateException("an install that fails holding bytes");
                    }
                  } catch (Exception e) {
                    if (!(e instanceof IllegalStateException)) {
                      problems.add(e.toString());
                    }
                  } finally {
                    a.close();
                    done.countDown();
                  }
                });
        threads.add(t);
        t.start();
      }
      while (!done.await(1, TimeUnit.MILLISECONDS)) {
        TransferScheduler.Stats st = s.stats();
        if (st.bytesInFlight() > BUDGET || st.activeCount() > maxActive) {
          problems.add("sampled " + st);
        }
      }
      for (Thread t : threads) {
        t.join(TimeUnit.SECONDS.toMillis(60));
      }
      assertEquals(List.of(), problems);
      TransferScheduler.Stats end = s.stats();
      assertEquals(0, end.bytesInFlight(), end.toString());
      assertEquals(0, end.activeCount() + end.queuedCount(), end.toString());
      assertEquals(
          installs, end.admittedTotal().values().stream().mapToLong(Long::longValue).sum());
    }
  }

  /**
   * The figures list every install: running ones with their priority and time since admission,
   * queued ones in the order they will be admitted (a promotion moves one up) with their wait.
   */
  @Test
  void statsListRunningAndQueuedInstallsWithPriorityAndWaitInAdmissionOrder() {
    try (TransferScheduler s = scheduler(2)) {
      Admission a = s.submit("a", TransferPriority.REPAIR);
      s.submit("b", TransferPriority.CATCH_UP);
      clock.addAndGet(Duration.ofSeconds(10).toNanos());
      s.submit("c", TransferPriority.CATCH_UP);
      clock.addAndGet(Duration.ofSeconds(5).toNanos());
      s.submit("d", TransferPriority.REBALANCE);
      assertTrue(a.tryReserve(1000));
      TransferScheduler.Stats st = s.stats();
      assertEquals(
          List.of(
              new TransferScheduler.Install(
                  "a", TransferPriority.REPAIR, Duration.ofSeconds(15), 1000, 0),
              new TransferScheduler.Install(
                  "b", TransferPriority.CATCH_UP, Duration.ofSeconds(15), 0, 0)),
          st.activeInstalls());
      assertEquals(
          List.of(
              new TransferScheduler.Install("d", TransferPriority.REBALANCE, Duration.ZERO, 0, 0),
              new TransferScheduler.Install(
                  "c", TransferPriority.CATCH_UP, Duration.ofSeconds(5), 0, 0)),
          st.queuedInstalls());
      // c has waited two promotion periods (CATCH_UP -> REPAIR), d one (REBALANCE -> REPAIR):
      // both rank as repairs now, and c came first.
      clock.addAndGet(Duration.ofSeconds(115).toNanos());
      assertEquals(
          List.of("c", "d"),
          s.stats().queuedInstalls().stream().map(TransferScheduler.Install::who).toList());
      assertEquals(Duration.ofMinutes(2), s.stats().queuedInstalls().get(0).since());
    }
  }

  /**
   * Decoded chunks of every install come from one node-wide pool: what does not fit is refused (the
   * caches keep less), what a cache drops or an install's end gives back is free again, and a
   * queued install keeps nothing.
   */
  @Test
  void decodedCachesOfAllInstallsShareTheNodesPool() {
    try (TransferScheduler s =
        TransferScheduler.builder()
            .name("test")
            .maxActiveInstalls(3)
            .maxBytesInFlight(BUDGET)
            .maxDecodedBytes(10_000)
            .nanoTime(clock::get)
            .build()) {
      Admission a = s.submit("a", TransferPriority.CATCH_UP);
      Admission b = s.submit("b", TransferPriority.CATCH_UP);
      s.submit("c", TransferPriority.CATCH_UP);
      Admission queued = s.submit("d", TransferPriority.REPAIR);
      DecodedChunkCache ca = new DecodedChunkCache(8_000, DecodedChunkCache.of(a));
      DecodedChunkCache cb = new DecodedChunkCache(8_000, DecodedChunkCache.of(b));
      DecodedChunkCache cq = new DecodedChunkCache(8_000, DecodedChunkCache.of(queued));
      SplittableRandom random = new SplittableRandom(3);
      byte[] x1 = chunk(random, 4_000);
      byte[] x2 = chunk(random, 4_000);
      byte[] y1 = chunk(random, 4_000);
      byte[] y2 = chunk(random, 3_000);
      assertTrue(ca.offer(ChunkId.of(x1), x1, 1));
      assertTrue(ca.offer(ChunkId.of(x2), x2, 2));
      assertFalse(cq.offer(ChunkId.of(y2), y2, 1), "a queued install keeps nothing");
      assertFalse(cb.offer(ChunkId.of(y1), y1, 1), "8,000 of 10,000 taken: 4,000 do not fit");
      assertFalse(cb.offer(ChunkId.of(y2), y2, 1), "nor 3,000");
      assertEquals(8_000, s.stats().decodedBytes());
      assertEquals(x1.length, ca.take(ChunkId.of(x1)).length);
      assertEquals(4_000, s.stats().decodedBytes(), "the last take gave it back");
      assertTrue(cb.offer(ChunkId.of(y1), y1, 1));
      assertEquals(8_000, s.stats().decodedBytes());
      assertEquals(4_000, b.decodedBytesHeld());
      a.close(); // its install ended; its cache is closed after (as in the installer)
      assertEquals(4_000, s.stats().decodedBytes());
      ca.close();
      assertEquals(4_000, s.stats().decodedBytes(), "a closed admission gives back nothing twice");
      assertTrue(cb.offer(ChunkId.of(y2), y2, 1));
      cb.close();
      assertEquals(0, s.stats().decodedBytes());
      assertEquals(10_000, s.stats().decodedBudget());
      assertThrows(IllegalArgumentException.class, () -> b.releaseDecoded(-1));
    }
  }

  /** {@code n} random bytes (a chunk's content). */
  private static byte[] chunk(SplittableRandom random, int n) {
    byte[] raw = new byte[n];
    random.nextBytes(raw);
    return raw;
  }

  @Test
  void anUnlimitedSchedulerAdmitsEverythingAtOnce() {
    try (TransferScheduler s = TransferScheduler.unlimited("one-group")) {
      List<Admission> all = new ArrayList<>();
      for (int i = 0; i < 50; i++) {
        all.add(s.submit("g", TransferPriority.CATCH_UP));
      }
      assertTrue(all.stream().allMatch(a -> a.admitted().isDone()));
      assertTrue(all.get(0).tryReserve(Long.MAX_VALUE / 4));
      all.forEach(Admission::close);
      assertEquals(0, s.stats().bytesInFlight());
    }
  }

  @Test
  void aClosedSchedulerCancelsTheQueueAndRefusesNewInstalls() {
    TransferScheduler s = scheduler(1);
    Admission running = s.submit("a", TransferPriority.CATCH_UP);
    Admission queued = s.submit("b", TransferPriority.CATCH_UP);
    s.close();
    assertTrue(queued.admitted().isCompletedExceptionally());
    assertTrue(s.submit("c", TransferPriority.REPAIR).admitted().isCompletedExceptionally());
    running.close();
    assertEquals(0, s.stats().activeCount());
  }

  @Test
  void prioritiesParseFromTheirLabels() {
    assertEquals(TransferPriority.CATCH_UP, TransferPriority.parse("catch_up"));
    assertEquals(TransferPriority.REPAIR, TransferPriority.parse("REPAIR"));
    assertEquals("rebalance", TransferPriority.REBALANCE.label());
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> TransferPriority.parse("urgent"));
    assertTrue(e.getMessage().contains("urgent") && e.getMessage().contains("catch_up"));
  }
}
