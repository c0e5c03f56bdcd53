package dev.ferry.snapshot.transfer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.ChunkRef;
import dev.ferry.snapshot.codec.ChunkCodec;
import dev.ferry.snapshot.codec.ChunkCodecs;
import dev.ferry.snapshot.transfer.TransferAction.Done;
import dev.ferry.snapshot.transfer.TransferAction.Fetch;
import dev.ferry.snapshot.transfer.TransferAction.GiveUp;
import dev.ferry.snapshot.transfer.TransferAction.SourceDemoted;
import dev.ferry.snapshot.transfer.TransferAction.Store;
import dev.ferry.snapshot.transfer.TransferProgress.SourceProgress;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.NoSuchFileException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/** The protocol fed events by hand: each rule of the state machine on its own. */
class ChunkTransferTest {
  private static final long MS = 1_000_000L;

  /** Every test chunk is 1000 random bytes, stored raw: 1001 bytes. */
  private static final int STORED = 1001;

  private static final TransferConfig CONFIG =
      TransferConfig.defaults()
          .withMaxInFlightBytesPerSource(100 * STORED)
          .withMaxBatchChunks(100)
          .withChunkTimeout(Duration.ofMillis(100))
          .withMaxAttemptsPerChunk(3)
          .withCorruptionsToDemote(1)
          .withDeadline(Duration.ofSeconds(10))
          .withFailureBackoff(Duration.ofMillis(10), Duration.ofMillis(80));

  private final Map<ChunkId, byte[]> stored = new HashMap<>();

  /** {@code n} distinct incompressible chunks of 1000 bytes. */
  private List<ChunkRef> chunks(int n) {
    SplittableRandom random = new SplittableRandom(n);
    List<ChunkRef> refs = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      byte[] raw = new byte[1000];
      random.nextBytes(raw);
      byte[] s = ChunkCodecs.encode(raw, 0, raw.length, ChunkCodecs.DEFAULT_LEVEL);
      ChunkRef ref = new ChunkRef(ChunkId.of(raw), raw.length, s.length);
      assertEquals(STORED, s.length);
      stored.put(ref.id(), s);
      refs.add(ref);
    }
    return refs;
  }

  private ByteBuffer good(ChunkRef ref) {
    return ByteBuffer.wrap(stored.get(ref.id())).asReadOnlyBuffer();
  }

  private ByteBuffer corrupt(ChunkRef ref) {
    byte[] b = stored.get(ref.id()).clone();
    b[b.length / 2] ^= 1;
    return ByteBuffer.wrap(b);
  }

  private static ChunkTransfer started(List<ChunkRef> wanted, TransferConfig config) {
    ChunkTransfer t = new ChunkTransfer(wanted, id -> false, config);
    assertEquals(List.of(), t.start(0));
    return t;
  }

  private static List<Fetch> fetches(List<TransferAction> actions) {
    return actions.stream().filter(a -> a instanceof Fetch).map(a -> (Fetch) a).toList();
  }

  private static Map<String, List<ChunkRef>> bySource(List<TransferAction> actions) {
    Map<String, List<ChunkRef>> m = new HashMap<>();
    for (Fetch f : fetches(actions)) {
      m.computeIfAbsent(f.source(), k -> new ArrayList<>()).addAll(f.chunks());
    }
    return m;
  }

  private static <T> T only(List<TransferAction> actions, Class<T> type) {
    List<TransferAction> of = actions.stream().filter(type::isInstance).toList();
    assertEquals(1, of.size(), "expected one " + type.getSimpleName() + " in " + actions);
    return type.cast(of.get(0));
  }

  private static SourceProgress source(ChunkTransfer t, String id) {
    return t.progress().sources().stream().filter(s -> s.id().equals(id)).findFirst().orElseThrow();
  }

  // ---------------------------------------------------------------------------------------------
  // Construction and lifecycle

  @Test
  void chunksAlreadyHeldAreDoneAtOnceAndNeverFetched() {
    List<ChunkRef> refs = chunks(4);
    Set<ChunkId> held = Set.of(refs.get(0).id(), refs.get(2).id());
    ChunkTransfer t = new ChunkTransfer(refs, held::contains, CONFIG);
    t.start(0);
    List<TransferAction> a = t.onSourceAvailable(0, TransferSource.of("a"));
    assertEquals(List.of(refs.get(1), refs.get(3)), bySource(a).get("a"));
    TransferProgress p = t.progress();
    assertEquals(4, p.chunksWanted());
    assertEquals(2, p.chunksHeldAtStart());
    assertEquals(2 * STORED, p.bytesHeldAtStart());
    assertEquals(2, p.chunksRemaining());

    ChunkTransfer all = new ChunkTransfer(refs, id -> true, CONFIG);
    assertEquals(List.of(new Done()), all.start(0));
    assertTrue(all.isFinished());
  }

  /**
   * With a shared budget, a chunk is requested only once the budget granted its bytes; a refusal
   * stops the round (later chunks wait too) until the driver says bytes were freed.
   */
  @Test
  void aRequestGoesOutOnlyOnceTheBudgetGrantedItsBytes() {
    List<ChunkRef> refs = chunks(5);
    long[] left = {2L * STORED};
    List<Long> asked = new ArrayList<>();
    RequestBudget budget =
        bytes -> {
          asked.add(bytes);
          if (bytes > left[0]) {
            return false;
          }
          left[0] -= bytes;
          return true;
        };
    ChunkTransfer t = new ChunkTransfer(refs, id -> false, CONFIG, budget);
    t.start(0);
    List<TransferAction> a = t.onSourceAvailable(0, TransferSource.of("a"));
    assertEquals(List.of(refs.get(0), refs.get(1)), bySource(a).get("a"));
    assertTrue(t.waitingForBudget());
    assertEquals(List.of((long) STORED, (long) STORED, (long) STORED), asked);

    assertEquals(List.of(), fetches(t.onBudgetFreed(1 * MS)), "nothing freed yet");
    left[0] += 3L * STORED; // the driver released bytes
    a = t.onBudgetFreed(2 * MS);
    assertEquals(List.of(refs.get(2), refs.get(3), refs.get(4)), bySource(a).get("a"));
    assertFalse(t.waitingForBudget());
  }

  @Test
  void repeatedChunksAreFetchedOnceAndConflictingSizesAreRejected() {
    List<ChunkRef> refs = chunks(2);
    List<ChunkRef> wanted = List.of(refs.get(0), refs.get(1), refs.get(0));
    ChunkTransfer t = started(wanted, CONFIG);
    List<TransferAction> a = t.onSourceAvailable(0, TransferSource.of("a"));
    assertEquals(List.of(refs.get(0), refs.get(1)), bySource(a).get("a"));
    assertEquals(2, t.progress().chunksWanted());

    ChunkRef liar = new ChunkRef(refs.get(0).id(), 999, 1000);
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> new ChunkTransfer(List.of(refs.get(0), liar), id -> false, CONFIG));
    assertTrue(e.getMessage().contains(refs.get(0).id().toHex()), e.getMessage());
  }

  @Test
  void misuseFailsAtOnce() {
    List<ChunkRef> refs = chunks(1);
    ChunkTransfer t = new ChunkTransfer(refs, id -> false, CONFIG);
    assertThrows(IllegalStateException.class, () -> t.onTick(0));
    t.start(0);
    assertThrows(IllegalStateException.class, () -> t.start(0));
    assertThrows(IllegalArgumentException.class, () -> t.onSourceLost(0, "nobody"));
    assertThrows(
        IllegalArgumentException.class,
        () -> t.onChunkArrived(0, "nobody", refs.get(0).id(), good(refs.get(0))));
    t.onSourceAvailable(0, TransferSource.of("a"));
    assertThrows(IllegalArgumentException.class, () -> t.onThroughputSample(0, "a", 0));
    assertThrows(IllegalArgumentException.class, () -> t.onThroughputSample(0, "a", Double.NaN));
  }

  @Test
  void afterTheOutcomeEveryEventIsIgnored() {
    List<ChunkRef> refs = chunks(1);
    ChunkTransfer t = started(refs, CONFIG);
    t.onSourceAvailable(0, TransferSource.of("a"));
    List<TransferAction> a = t.onChunkArrived(1 * MS, "a", refs.get(0).id(), good(refs.get(0)));
    assertInstanceOf(Store.class, a.get(0));
    assertEquals(new Done(), a.get(a.size() - 1));
    assertEquals(List.of(), t.onChunkArrived(2 * MS, "a", refs.get(0).id(), good(refs.get(0))));
    assertEquals(List.of(), t.onTick(Long.MAX_VALUE));
    assertEquals(Long.MAX_VALUE, t.nextTimerNanos());
  }

  // ---------------------------------------------------------------------------------------------
  // Scheduling

  @Test
  void unknownThroughputsShareEquallyInManifestOrder() {
    List<ChunkRef> refs = chunks(30);
    ChunkTransfer t = started(refs, CONFIG);
    List<TransferAction> a =
        t.onSourcesAvailable(
            0, List.of(TransferSource.of("a"), TransferSource.of("b"), TransferSource.of("c")));
    Map<String, List<ChunkRef>> by = bySource(a);
    assertEquals(Set.of("a", "b", "c"), by.keySet());
    for (List<ChunkRef> l : by.values()) {
      assertEquals(10, l.size());
    }
    assertEquals(List.of(refs.get(0), refs.get(3), refs.get(6)), by.get("a").subList(0, 3));
  }

  @Test
  void throughputEstimatesWeightTheShares() {
    List<ChunkRef> refs = chunks(40);
    ChunkTransfer t = started(refs, CONFIG);
    List<TransferAction> a =
        t.onSourcesAvailable(
            0,
            List.of(
                TransferSource.withThroughput("fast", 3e6),
                TransferSource.withThroughput("slow", 1e6)));
    Map<String, List<ChunkRef>> by = bySource(a);
    // 3:1, give or take one chunk where the finishing times tie.
    int fast = by.get("fast").size();
    assertTrue(fast >= 29 && fast <= 31, by.toString());
    assertEquals(40, fast + by.get("slow").size());
  }

  @Test
  void theWindowCapsBytesInFlightAndBatchesAreSplit() {
    List<ChunkRef> refs = chunks(20);
    TransferConfig c = CONFIG.withMaxInFlightBytesPerSource(8 * STORED).withMaxBatchChunks(3);
    ChunkTransfer t = started(refs, c);
    List<TransferAction> a = t.onSourceAvailable(0, TransferSource.of("a"));
    assertEquals(List.of(3, 3, 2), fetches(a).stream().map(f -> f.chunks().size()).toList());
    assertEquals(8 * STORED, t.progress().bytesInFlight());

    // One arrival frees 1/8 of the window: below the refill threshold of 1/4.
    assertEquals(
        List.of(Store.class),
        t.onChunkArrived(1 * MS, "a", refs.get(0).id(), good(refs.get(0))).stream()
            .map(Object::getClass)
            .toList());
    // A second one frees 1/4: refilled to the cap.
    List<TransferAction> b = t.onChunkArrived(2 * MS, "a", refs.get(1).id(), good(refs.get(1)));
    assertEquals(List.of(refs.get(8), refs.get(9)), bySource(b).get("a"));
    assertEquals(8 * STORED, t.progress().bytesInFlight());
  }

  @Test
  void aChunkLargerThanTheWindowGoesAloneToAnIdleSource() {
    List<ChunkRef> refs = chunks(3);
    ChunkTransfer t = started(refs, CONFIG.withMaxInFlightBytesPerSource(500));
    List<TransferAction> a = t.onSourceAvailable(0, TransferSource.of("a"));
    assertEquals(List.of(refs.get(0)), bySource(a).get("a"));
    List<TransferAction> b = t.onChunkArrived(1 * MS, "a", refs.get(0).id(), good(refs.get(0)));
    assertEquals(List.of(refs.get(1)), bySource(b).get("a"));
  }

  @Test
  void raisingTheInFlightCapRequestsMoreAtOnceAndNeverLowersIt() {
    List<ChunkRef> refs = chunks(10);
    ChunkTransfer t = started(refs, CONFIG.withMaxInFlightBytesPerSource(2 * STORED));
    assertEquals(2, bySource(t.onSourceAvailable(0, TransferSource.of("a", 0))).get("a").size());
    List<TransferAction> more = t.raiseInFlight(1 * MS, 6 * STORED);
    assertEquals(4, bySource(more).get("a").size(), "the new room is filled at once");
    assertEquals(6 * STORED, t.maxInFlightBytesPerSource());
    assertEquals(List.of(), t.raiseInFlight(2 * MS, STORED), "never lowered");
    assertEquals(6 * STORED, t.maxInFlightBytesPerSource());
    assertThrows(IllegalArgumentException.class, () -> t.raiseInFlight(3 * MS, 0));
  }

  @Test
  void aHigherTierIsUsedOnlyWhenNoLowerTierSourceRemains() {
    List<ChunkRef> refs = chunks(6);
    ChunkTransfer t = started(refs, CONFIG.withMaxInFlightBytesPerSource(2 * STORED));
    List<TransferAction> a =
        t.onSourcesAvailable(
            0,
            List.of(
                TransferSource.of("leader", 1),
                TransferSource.of("f1", 0),
                TransferSource.of("f2", 0)));
    Map<String, List<ChunkRef>> by = bySource(a);
    assertEquals(Set.of("f1", "f2"), by.keySet(), "followers full, leader still idle");
    assertEquals(0, source(t, "leader").chunksInFlight());

    t.onSourceLost(1 * MS, "f1");
    List<TransferAction> b = t.onSourceLost(1 * MS, "f2");
    assertEquals(Set.of("leader"), bySource(b).keySet());
  }

  @Test
  void throughputIsMeasuredFromArrivals() {
    List<ChunkRef> refs = chunks(10);
    ChunkTransfer t = started(refs, CONFIG);
    t.onSourceAvailable(0, TransferSource.of("a"));
    assertTrue(source(t, "a").bytesPerSecond().isEmpty());
    for (int i = 0; i < 10; i++) {
      t.onChunkArrived((i + 1) * MS, "a", refs.get(i).id(), good(refs.get(i)));
    }
    // 1001 bytes per ms.
    assertEquals(1.001e6, source(t, "a").bytesPerSecond().getAsDouble(), 1e3);
    assertEquals(10 * STORED, source(t, "a").bytesStored());
  }

  // ---------------------------------------------------------------------------------------------
  // Arrivals

  @Test
  void aVerifiedChunkIsStoredOnceAndRepeatsAreIgnored() throws IOException {
    List<ChunkRef> refs = chunks(2);
    ChunkTransfer t = started(refs, CONFIG);
    t.onSourceAvailable(0, TransferSource.of("a"));
    ChunkRef r = refs.get(0);
    List<TransferAction> a = t.onChunkArrived(1 * MS, "a", r.id(), good(r));
    Store s = only(a, Store.class);
    assertEquals(r, s.ref());
    assertEquals(good(r), s.stored());
    assertArrayEquals(ChunkCodecs.decode(good(r), r.rawSize()), s.raw());
    assertEquals(List.of(), t.onChunkArrived(2 * MS, "a", r.id(), good(r)));
    assertEquals(1, t.progress().duplicates());
    assertEquals(1, t.progress().chunksStored());
  }

  @Test
  void aStoreCarriesTheContentItsZstdChunkDecodedTo() throws IOException {
    byte[] raw = new byte[5000];
    for (int i = 0; i < raw.length; i++) {
      raw[i] = (byte) (i % 7);
    }
    byte[] enc = ChunkCodecs.encode(raw, 0, raw.length, ChunkCodecs.DEFAULT_LEVEL);
    assertEquals(ChunkCodec.ZSTD, ChunkCodecs.codecOf(ByteBuffer.wrap(enc)));
    ChunkRef r = new ChunkRef(ChunkId.of(raw), raw.length, enc.length);
    ChunkTransfer t = started(List.of(r), CONFIG);
    t.onSourceAvailable(0, TransferSource.of("a"));
    Store s = only(t.onChunkArrived(1 * MS, "a", r.id(), ByteBuffer.wrap(enc)), Store.class);
    assertArrayEquals(raw, s.raw());
  }

  @Test
  void chunksNeverRequestedFromASourceAreIgnored() {
    List<ChunkRef> refs = chunks(4);
    ChunkTransfer t = started(refs, CONFIG.withMaxInFlightBytesPerSource(2 * STORED));
    t.onSourcesAvailable(0, List.of(TransferSource.of("a"), TransferSource.of("b")));
    // a was asked for chunks 0 and 2, b for 1 and 3; x is not wanted at all.
    assertEquals(List.of(), t.onChunkArrived(1 * MS, "a", refs.get(1).id(), good(refs.get(1))));
    assertEquals(List.of(), t.onChunkArrived(1 * MS, "a", refs.get(3).id(), good(refs.get(3))));
    ChunkRef x = chunks(1).get(0);
    assertEquals(List.of(), t.onChunkArrived(1 * MS, "a", x.id(), good(x)));
    assertEquals(3, t.progress().unsolicited());
    assertEquals(0, t.progress().chunksStored());
  }

  @Test
  void aCorruptChunkIsRetriedElsewhereAndItsSourceDemotedWithItsWorkRescheduled() {
    List<ChunkRef> refs = chunks(4);
    ChunkTransfer t = started(refs, CONFIG.withMaxInFlightBytesPerSource(2 * STORED));
    Map<String, List<ChunkRef>> first =
        bySource(t.onSourcesAvailable(0, List.of(TransferSource.of("a"), TransferSource.of("b"))));
    assertEquals(List.of(refs.get(0), refs.get(2)), first.get("a"));

    List<TransferAction> a = t.onChunkArrived(1 * MS, "a", refs.get(0).id(), corrupt(refs.get(0)));
    SourceDemoted d = only(a, SourceDemoted.class);
    assertEquals("a", d.source());
    assertTrue(d.reason().contains(refs.get(0).id().toHex()), d.reason());
    assertTrue(a.stream().noneMatch(x -> x instanceof Store));
    assertEquals(SourceProgress.Status.DEMOTED, source(t, "a").status());
    assertEquals(0, source(t, "a").bytesInFlight());

    // b's window is full; as it drains, a's two chunks go to b, never to a.
    List<ChunkRef> toB = new ArrayList<>();
    for (ChunkRef r : first.get("b")) {
      toB.addAll(
          bySource(t.onChunkArrived(2 * MS, "b", r.id(), good(r))).getOrDefault("b", List.of()));
    }
    assertEquals(Set.of(refs.get(0), refs.get(2)), Set.copyOf(toB));

    // A late good answer from the demoted source is ignored; re-offering it does not revive it.
    assertEquals(List.of(), t.onChunkArrived(3 * MS, "a", refs.get(2).id(), good(refs.get(2))));
    assertEquals(List.of(), t.onSourceAvailable(3 * MS, TransferSource.of("a")));
    assertEquals(SourceProgress.Status.DEMOTED, source(t, "a").status());
  }

  @Test
  void demotionWaitsForTheConfiguredNumberOfCorruptions() {
    List<ChunkRef> refs = chunks(3);
    ChunkTransfer t = started(refs, CONFIG.withCorruptionsToDemote(2));
    t.onSourcesAvailable(0, List.of(TransferSource.of("a")));
    List<TransferAction> a = t.onChunkArrived(1 * MS, "a", refs.get(0).id(), corrupt(refs.get(0)));
    assertTrue(a.stream().noneMatch(x -> x instanceof SourceDemoted), a.toString());
    assertEquals(1, t.progress().corruptions());
    a = t.onChunkArrived(2 * MS, "a", refs.get(1).id(), corrupt(refs.get(1)));
    assertEquals("a", only(a, SourceDemoted.class).source());
    // The only source is gone.
    assertEquals(GiveUp.Reason.NO_SOURCES, only(a, GiveUp.class).reason());
  }

  // ---------------------------------------------------------------------------------------------
  // Failures, timeouts, loss

  @Test
  void aFailedChunkIsRetriedOnAnotherSourceAndTheFailingSourceBacksOff() {
    List<ChunkRef> refs = chunks(2);
    ChunkTransfer t = started(refs, CONFIG);
    Map<String, List<ChunkRef>> first =
        bySource(t.onSourcesAvailable(0, List.of(TransferSource.of("a"), TransferSource.of("b"))));
    assertEquals(List.of(refs.get(0)), first.get("a"));

    List<TransferAction> a =
        t.onChunkFailed(1 * MS, "a", refs.get(0).id(), new IOException("boom"));
    assertEquals(Map.of("b", List.of(refs.get(0))), bySource(a));
    assertEquals(SourceProgress.Status.BACKING_OFF, source(t, "a").status());
    assertEquals(1, t.progress().failures());
    assertEquals(11 * MS, t.nextTimerNanos(), "the backoff ends 10 ms after the failure");
  }

  @Test
  void aBackedOffSourceIsProbedWithOneChunkAndBackoffDoubles() {
    List<ChunkRef> refs = chunks(10);
    ChunkTransfer t = started(refs, CONFIG);
    List<ChunkRef> sent = bySource(t.onSourceAvailable(0, TransferSource.of("a"))).get("a");
    assertEquals(10, sent.size());
    for (ChunkRef r : sent) {
      assertEquals(List.of(), t.onChunkFailed(1 * MS, "a", r.id(), new IOException("refused")));
    }
    assertEquals(11 * MS, t.nextTimerNanos(), "failures at one instant back off once");
    List<TransferAction> probe = t.onTick(11 * MS);
    assertEquals(1, bySource(probe).get("a").size(), "one probe chunk");
    ChunkRef p = bySource(probe).get("a").get(0);
    assertEquals(List.of(), t.onChunkFailed(12 * MS, "a", p.id(), new IOException("refused")));
    assertEquals(32 * MS, t.nextTimerNanos(), "second backoff doubled to 20 ms");
    ChunkRef p2 = bySource(t.onTick(32 * MS)).get("a").get(0);
    // A good answer ends probing: the window opens again.
    List<TransferAction> open = t.onChunkArrived(33 * MS, "a", p2.id(), good(p2));
    assertEquals(9, bySource(open).get("a").size(), "the nine chunks left, at once");
  }

  @Test
  void aChunkThatKeepsFailingExhaustsItsAttempts() {
    List<ChunkRef> refs = chunks(1);
    ChunkRef r = refs.get(0);
    ChunkTransfer t = started(refs, CONFIG);
    t.onSourcesAvailable(0, List.of(TransferSource.of("a"), TransferSource.of("b")));
    t.onChunkFailed(1 * MS, "a", r.id(), new IOException("one"));
    List<TransferAction> a = t.onChunkFailed(2 * MS, "b", r.id(), new IOException("two"));
    // Both sources have failed it once and are backing off: it waits for the first to recover.
    assertEquals(List.of(), a);
    a = t.onTick(11 * MS);
    assertEquals(Map.of("a", List.of(r)), bySource(a));
    a = t.onChunkFailed(12 * MS, "a", r.id(), new IOException("three"));
    GiveUp g = only(a, GiveUp.class);
    assertEquals(GiveUp.Reason.ATTEMPTS_EXHAUSTED, g.reason());
    assertTrue(g.message().contains(r.id().toHex()) && g.message().contains("three"), g.message());
    assertTrue(t.isFinished());
  }

  @Test
  void aSourceLackingAChunkIsNotAskedAgainAndNoAttemptIsSpent() {
    List<ChunkRef> refs = chunks(1);
    ChunkRef r = refs.get(0);
    ChunkTransfer t = started(refs, CONFIG.withMaxAttemptsPerChunk(1));
    t.onSourcesAvailable(0, List.of(TransferSource.of("a"), TransferSource.of("b")));
    List<TransferAction> a = t.onChunkFailed(1 * MS, "a", r.id(), new NoSuchFileException("x"));
    assertEquals(Map.of("b", List.of(r)), bySource(a));
    assertEquals(SourceProgress.Status.ACTIVE, source(t, "a").status(), "no backoff");
    assertEquals(0, t.progress().failures());
    assertEquals(1, t.progress().missing());
    a = t.onChunkFailed(2 * MS, "b", r.id(), new NoSuchFileException("x"));
    GiveUp g = only(a, GiveUp.class);
    assertEquals(GiveUp.Reason.CHUNK_UNAVAILABLE, g.reason());
    assertTrue(g.message().contains(r.id().toHex()), g.message());
  }

  @Test
  void anUnansweredChunkTimesOutAndALateGoodAnswerStillCounts() {
    List<ChunkRef> refs = chunks(1);
    ChunkRef r = refs.get(0);
    ChunkTransfer t = started(refs, CONFIG);
    t.onSourcesAvailable(0, List.of(TransferSource.of("a"), TransferSource.of("b")));
    assertEquals(100 * MS, t.nextTimerNanos());
    assertEquals(List.of(), t.onTick(99 * MS));
    List<TransferAction> a = t.onTick(100 * MS);
    assertEquals(Map.of("b", List.of(r)), bySource(a));
    assertEquals(1, t.progress().timeouts());

    // a answers late, before b: stored; b's answer is then a duplicate.
    a = t.onChunkArrived(150 * MS, "a", r.id(), good(r));
    assertEquals(r, only(a, Store.class).ref());
    assertInstanceOf(Done.class, a.get(a.size() - 1));
  }

  @Test
  void aLateCorruptAnswerIsIgnoredWithoutDemotion() {
    List<ChunkRef> refs = chunks(1);
    ChunkRef r = refs.get(0);
    ChunkTransfer t = started(refs, CONFIG);
    t.onSourcesAvailable(0, List.of(TransferSource.of("a"), TransferSource.of("b")));
    t.onTick(100 * MS);
    assertEquals(List.of(), t.onChunkArrived(105 * MS, "a", r.id(), corrupt(r)));
    assertEquals(SourceProgress.Status.BACKING_OFF, source(t, "a").status());
    assertEquals(0, source(t, "a").corruptions());
    assertEquals(1, t.progress().corruptions());
  }

  @Test
  void aLostSourcesChunksAreRescheduledWithoutSpendingAttempts() {
    List<ChunkRef> refs = chunks(4);
    ChunkTransfer t = started(refs, CONFIG.withMaxAttemptsPerChunk(1));
    t.onSourcesAvailable(0, List.of(TransferSource.of("a"), TransferSource.of("b")));
    List<TransferAction> a = t.onSourceLost(1 * MS, "a");
    // b's window has room: a's chunks go there at once.
    assertEquals(Set.of(refs.get(0), refs.get(2)), Set.copyOf(bySource(a).get("b")));
    assertEquals(0, t.progress().failures());
    assertEquals(List.of(), t.onChunkArrived(2 * MS, "a", refs.get(0).id(), good(refs.get(0))));

    // Reconnecting revives it (with nothing pending, it takes over half of b's requests).
    List<ChunkRef> toA =
        new ArrayList<>(bySource(t.onSourceAvailable(3 * MS, TransferSource.of("a"))).get("a"));
    assertEquals(2, toA.size());
    assertEquals(SourceProgress.Status.ACTIVE, source(t, "a").status());
    List<TransferAction> gone = t.onSourceLost(4 * MS, "b");
    toA.addAll(bySource(gone).get("a"));
    assertEquals(Set.copyOf(refs), Set.copyOf(toA));
    assertEquals(4, toA.size());

    GiveUp g = only(t.onSourceLost(5 * MS, "a"), GiveUp.class);
    assertEquals(GiveUp.Reason.NO_SOURCES, g.reason());
    assertTrue(g.message().contains("a=lost") && g.message().contains("b=lost"), g.message());
  }

  @Test
  void theDeadlineEndsTheTransfer() {
    List<ChunkRef> refs = chunks(1);
    ChunkTransfer t =
        started(
            refs,
            CONFIG.withDeadline(Duration.ofMillis(50)).withChunkTimeout(Duration.ofSeconds(1)));
    t.onSourceAvailable(0, TransferSource.of("a"));
    assertEquals(50 * MS, t.nextTimerNanos());
    GiveUp g = only(t.onTick(50 * MS), GiveUp.class);
    assertEquals(GiveUp.Reason.DEADLINE, g.reason());
    assertEquals(List.of(), t.onChunkArrived(51 * MS, "a", refs.get(0).id(), good(refs.get(0))));
  }

  @Test
  void noSourcesYetIsNotAFailureUntilTheDeadline() {
    ChunkTransfer t = started(chunks(1), CONFIG);
    assertEquals(List.of(), t.onTick(5 * MS));
    assertFalse(t.isFinished());
  }

  @Test
  void aFailedStoreGivesUp() {
    List<ChunkRef> refs = chunks(2);
    ChunkTransfer t = started(refs, CONFIG);
    t.onSourceAvailable(0, TransferSource.of("a"));
    t.onChunkArrived(1 * MS, "a", refs.get(0).id(), good(refs.get(0)));
    GiveUp g =
        only(t.onStoreFailed(2 * MS, refs.get(0), new IOException("disk full")), GiveUp.class);
    assertEquals(GiveUp.Reason.STORE_FAILED, g.reason());
    assertTrue(g.message().contains("disk full"), g.message());
  }

  @Test
  void timeNeverRunsBackwards() {
    List<ChunkRef> refs = chunks(2);
    ChunkTransfer t = started(refs, CONFIG);
    t.onSourcesAvailable(10 * MS, List.of(TransferSource.of("a")));
    // An event stamped earlier than one already seen is taken as happening now.
    t.onChunkArrived(5 * MS, "a", refs.get(0).id(), good(refs.get(0)));
    assertEquals(110 * MS, t.nextTimerNanos());
  }

  @Test
  void progressCountsAddUp() {
    List<ChunkRef> refs = chunks(6);
    ChunkTransfer t = started(refs, CONFIG);
    t.onSourcesAvailable(0, List.of(TransferSource.of("a"), TransferSource.of("b")));
    t.onChunkArrived(1 * MS, "a", refs.get(0).id(), good(refs.get(0)));
    t.onChunkArrived(1 * MS, "b", refs.get(1).id(), good(refs.get(1)));
    TransferProgress p = t.progress();
    assertEquals(2, p.chunksStored());
    assertEquals(4, p.chunksInFlight());
    assertEquals(4 * STORED, p.bytesInFlight());
    assertEquals(6 * STORED, p.bytesWanted());
    assertEquals(2 * STORED, p.bytesDone());
    assertEquals(
        Map.of("a", 2, "b", 2),
        p.sources().stream()
            .collect(Collectors.toMap(SourceProgress::id, SourceProgress::chunksInFlight)));
  }

  // ---------------------------------------------------------------------------------------------
  // Pre-verified arrivals

  @Test
  void aPreVerifiedChunkIsStoredWithTheVerifiersContent() {
    List<ChunkRef> refs = chunks(2);
    ChunkTransfer t = started(refs, CONFIG);
    t.onSourceAvailable(0, TransferSource.of("a"));
    ChunkVerifier.Verified v =
        (ChunkVerifier.Verified) ChunkVerifier.verify(refs.get(0), good(refs.get(0)));
    Store s = only(t.onChunkVerified(1 * MS, "a", v), Store.class);
    assertEquals(refs.get(0), s.ref());
    assertTrue(s.raw() == v.raw(), "the verified content is handed on, not decoded again");
    assertTrue(s.stored() == v.stored());
    assertEquals(1, source(t, "a").chunksStored());
    // A second answer for the stored chunk is a duplicate.
    assertEquals(List.of(), t.onChunkVerified(2 * MS, "a", v));
    assertEquals(1, t.progress().duplicates());
    Done d =
        only(
            t.onChunkVerified(3 * MS, "a", ChunkVerifier.verify(refs.get(1), good(refs.get(1)))),
            Done.class);
    assertEquals(new Done(), d);
  }

  @Test
  void aPreVerifiedCorruptChunkIsRetriedElsewhereAndDemotesItsSourceLikeAnArrivedOne() {
    List<ChunkRef> refs = chunks(4);
    ChunkTransfer t = started(refs, CONFIG.withMaxInFlightBytesPerSource(2 * STORED));
    Map<String, List<ChunkRef>> first =
        bySource(t.onSourcesAvailable(0, List.of(TransferSource.of("a"), TransferSource.of("b"))));
    assertEquals(List.of(refs.get(0), refs.get(2)), first.get("a"));

    ChunkVerifier.Result bad = ChunkVerifier.verify(refs.get(0), corrupt(refs.get(0)));
    assertInstanceOf(ChunkVerifier.Corrupt.class, bad);
    List<TransferAction> a = t.onChunkVerified(1 * MS, "a", bad);
    assertEquals("a", only(a, SourceDemoted.class).source());
    assertTrue(a.stream().noneMatch(x -> x instanceof Store));
    assertEquals(1, t.progress().corruptions());
    assertEquals(1, source(t, "a").corruptions());

    List<ChunkRef> toB = new ArrayList<>();
    for (ChunkRef r : first.get("b")) {
      toB.addAll(
          bySource(t.onChunkVerified(2 * MS, "b", ChunkVerifier.verify(r, good(r))))
              .getOrDefault("b", List.of()));
    }
    assertEquals(Set.of(refs.get(0), refs.get(2)), Set.copyOf(toB));
  }

  @Test
  void aResultVerifiedAgainstOtherSizesIsRefused() {
    List<ChunkRef> refs = chunks(1);
    ChunkTransfer t = started(refs, CONFIG);
    t.onSourceAvailable(0, TransferSource.of("a"));
    ChunkRef r = refs.get(0);
    ChunkRef other = new ChunkRef(r.id(), r.rawSize(), r.storedSize() + 1);
    assertThrows(
        IllegalArgumentException.class,
        () -> t.onChunkVerified(1 * MS, "a", new ChunkVerifier.Corrupt(other, 5, "x")));
  }

  // ---------------------------------------------------------------------------------------------
  // A source joining when everything is requested

  @Test
  void aSourceJoiningWhenEverythingIsRequestedTakesOverTheNewestRequestsOfTheBusiest() {
    List<ChunkRef> refs = chunks(6);
    ChunkTransfer t = started(refs, CONFIG);
    Map<String, List<ChunkRef>> first =
        bySource(t.onSourcesAvailable(0, List.of(TransferSource.of("a"), TransferSource.of("b"))));
    assertEquals(3, first.get("a").size());
    assertEquals(3, first.get("b").size());

    Map<String, List<ChunkRef>> taken =
        bySource(t.onSourceAvailable(1 * MS, TransferSource.of("c")));
    List<ChunkRef> a = first.get("a");
    List<ChunkRef> b = first.get("b");
    assertEquals(Set.of(a.get(2), b.get(2)), Set.copyOf(taken.get("c")), "each one's newest");
    assertEquals(2, source(t, "a").chunksInFlight());
    assertEquals(2, source(t, "b").chunksInFlight());
    assertEquals(2, source(t, "c").chunksInFlight());

    // The abandoned request's late answer still counts; the joiner's answer is then a duplicate.
    assertEquals(
        1,
        only(t.onChunkArrived(2 * MS, "a", a.get(2).id(), good(a.get(2))), Store.class).raw().length
            / 1000);
    assertEquals(List.of(), t.onChunkArrived(3 * MS, "c", a.get(2).id(), good(a.get(2))));
    assertEquals(1, t.progress().duplicates());
    assertEquals(1, source(t, "c").chunksInFlight());
  }

  @Test
  void aJoiningSourceTakesNothingOverWhileChunksArePendingOrFromALowerTier() {
    List<ChunkRef> refs = chunks(4);
    ChunkTransfer t = started(refs, CONFIG);
    t.onSourcesAvailable(0, List.of(TransferSource.of("a")));
    assertFalse(
        bySource(t.onSourceAvailable(1 * MS, TransferSource.of("leader", 1)))
            .containsKey("leader"));
    assertEquals(0, source(t, "leader").chunksInFlight());
    assertEquals(4, source(t, "a").chunksInFlight());
  }
}
