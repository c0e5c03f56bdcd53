package dev.ferry.snapshot.transfer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.ChunkRef;
import dev.ferry.snapshot.codec.ChunkCodecs;
import dev.ferry.snapshot.transfer.SimulatedTransfer.Request;
import dev.ferry.snapshot.transfer.TestSnapshots.Fixture;
import dev.ferry.snapshot.transfer.TransferAction.Done;
import dev.ferry.snapshot.transfer.TransferAction.Fetch;
import dev.ferry.snapshot.transfer.TransferAction.GiveUp;
import dev.ferry.snapshot.transfer.TransferAction.SourceDemoted;
import dev.ferry.snapshot.transfer.TransferProgress.SourceProgress;
import dev.ferry.snapshot.transport.SimulatedFaults;
import dev.ferry.snapshot.transport.SimulatedNetwork;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.LongConsumer;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * The transfer protocol driven over a seeded simulated network with faults: a three-shard manifest
 * of about 200 chunks (some repeated) fetched from three sources, 50 seeds per fault kind. A
 * failing seed is named in the failure message; {@code SEEDS_FROM} replays from it.
 */
class ChunkTransferSimulationTest {
  private static final int SEEDS = 50;
  private static final long SEEDS_FROM = 1;
  private static final List<String> SOURCES = List.of("a", "b", "c");
  private static final long MB = 1_000_000;

  /** 64 KiB in flight per source; timeouts well above the 2 MB/s queueing (~33 ms) + latency. */
  private static final TransferConfig CONFIG =
      TransferConfig.defaults()
          .withMaxInFlightBytesPerSource(64 << 10)
          .withMaxBatchChunks(8)
          .withChunkTimeout(Duration.ofMillis(250))
          .withMaxAttemptsPerChunk(8)
          .withCorruptionsToDemote(1)
          .withDeadline(Duration.ofSeconds(60))
          .withFailureBackoff(Duration.ofMillis(10), Duration.ofMillis(200));

  enum Scenario {
    NONE,
    DROP,
    DELAY,
    DUPLICATE,
    REORDER,
    CORRUPT,
    PARTITION,
    MIXED;

    SimulatedFaults faults(String source) {
      SimulatedFaults base = SimulatedFaults.none().withBandwidth(2 * MB);
      switch (this) {
        case NONE:
          return base;
        case DROP:
          return base.withDrop(0.05);
        case DELAY:
          return base.withLatency(Duration.ofMillis(1), Duration.ofMillis(40));
        case DUPLICATE:
          return base.withDuplicate(0.3);
        case REORDER:
          return base.withReorder().withLatency(Duration.ofMillis(1), Duration.ofMillis(5));
        case CORRUPT:
          return source.equals("c") ? base.withCorrupt(0.2) : base;
        case PARTITION:
          if (source.equals("a")) {
            return base.withPartition(ms(5), ms(300), false);
          }
          if (source.equals("b")) {
            return base.withPartition(ms(0), ms(50), true);
          }
          return base;
        case MIXED:
          if (source.equals("a")) {
            return base.withDrop(0.03)
                .withDuplicate(0.1)
                .withLatency(Duration.ofMillis(1), Duration.ofMillis(20));
          }
          if (source.equals("b")) {
            return base.withReorder().withCorrupt(0.02).withPartition(ms(20), ms(60), true);
          }
          return base.withBandwidth(1 * MB)
              .withDuplicate(0.2)
              .withPartition(ms(50), ms(150), false);
      }
      throw new AssertionError(this);
    }

    TransferConfig config() {
      return this == MIXED ? CONFIG.withCorruptionsToDemote(2) : CONFIG;
    }
  }

  @ParameterizedTest
  @EnumSource(Scenario.class)
  void everyFaultKindEndsWithExactlyTheManifestsChunks(Scenario scenario) {
    long[] seen = new long[5]; // timeouts, failures, corruptions+demotions, duplicates, reordered
    forEachSeed(
        seed -> {
          Fixture fx = TestSnapshots.fixture(seed, 3, 66);
          SimulatedNetwork net = new SimulatedNetwork(seed);
          for (String s : SOURCES) {
            net.addSource(s, fx.stored(), scenario.faults(s));
          }
          InMemoryChunkStore store = new InMemoryChunkStore();
          SimulatedTransfer h = new SimulatedTransfer(net, fx.wanted(), store, scenario.config());
          TransferAction outcome = h.run();
          check(h, outcome instanceof Done, "outcome " + outcome);
          assertStoreHoldsExactly(h, store, fx.distinct());
          assertRefetchedOnlyAfterImpairedFetch(h);
          assertEveryChunkFetched(h, fx.distinct());
          if (scenario == Scenario.CORRUPT) {
            assertCorrupterDemoted(h, "c");
          }
          if (scenario == Scenario.NONE) {
            check(h, h.requests().size() == fx.distinct().size(), "refetches without faults");
          }
          TransferProgress p = h.transfer().progress();
          seen[0] += p.timeouts();
          seen[1] += p.failures() - p.timeouts() - p.corruptions();
          seen[2] += p.corruptions() + h.demoted().size();
          seen[3] += p.duplicates();
          seen[4] += h.outOfOrderArrivals();
        });
    // The fault was really exercised (summed over all seeds).
    String figures =
        scenario
            + " timeouts/failures/corruption/duplicates/reordered "
            + java.util.Arrays.toString(seen);
    switch (scenario) {
      case NONE -> assertEquals(0, seen[0] + seen[1] + seen[2] + seen[3] + seen[4], figures);
      case DROP -> assertTrue(seen[0] > 0, figures);
      case DELAY, REORDER -> assertTrue(seen[4] > 0 && seen[0] == 0, figures);
      case DUPLICATE -> assertTrue(seen[3] > 0, figures);
      case CORRUPT -> assertTrue(seen[2] > 0, figures);
      case PARTITION -> assertTrue(seen[0] > 0 && seen[1] > 0, figures);
      case MIXED -> assertTrue(seen[0] > 0 && seen[1] > 0 && seen[2] > 0 && seen[3] > 0, figures);
    }
  }

  @Test
  void aSourceWithThreeTimesTheThroughputGetsAboutThreeTimesTheBytes() {
    for (long seed = 1; seed <= 5; seed++) {
      Fixture fx = TestSnapshots.fixture(seed, 3, 200);
      SimulatedNetwork net = new SimulatedNetwork(seed);
      net.addSource("fast", fx.stored(), SimulatedFaults.none().withBandwidth(3 * MB));
      net.addSource("slow1", fx.stored(), SimulatedFaults.none().withBandwidth(MB));
      net.addSource("slow2", fx.stored(), SimulatedFaults.none().withBandwidth(MB));
      SimulatedTransfer h =
          new SimulatedTransfer(
              net,
              fx.wanted(),
              new InMemoryChunkStore(),
              CONFIG.withMaxInFlightBytesPerSource(32 << 10));
      assertInstanceOf(Done.class, h.run(), "seed=" + seed);
      assertProportional(h, seed);
    }
  }

  @Test
  void throughputHintsSpreadByThroughputEvenWithoutAWindowLimit() {
    long seed = 7;
    Fixture fx = TestSnapshots.fixture(seed, 3, 200);
    SimulatedNetwork net = new SimulatedNetwork(seed);
    net.addSource("fast", fx.stored(), SimulatedFaults.none().withBandwidth(3 * MB));
    net.addSource("slow1", fx.stored(), SimulatedFaults.none().withBandwidth(MB));
    net.addSource("slow2", fx.stored(), SimulatedFaults.none().withBandwidth(MB));
    SimulatedTransfer h =
        new SimulatedTransfer(
            net,
            fx.wanted(),
            new InMemoryChunkStore(),
            CONFIG.withMaxInFlightBytesPerSource(64 << 20).withChunkTimeout(Duration.ofSeconds(5)),
            List.of(
                TransferSource.withThroughput("fast", 3 * MB),
                TransferSource.withThroughput("slow1", MB),
                TransferSource.withThroughput("slow2", MB)));
    assertInstanceOf(Done.class, h.run(), "seed=" + seed);
    assertProportional(h, seed);
  }

  @Test
  void aRestartedTransferFetchesExactlyTheChunksStillMissing() {
    forEachSeed(
        seed -> {
          Fixture fx = TestSnapshots.fixture(seed, 3, 66);
          InMemoryChunkStore store = new InMemoryChunkStore();
          SimulatedNetwork first = network(seed, fx, SimulatedFaults.none().withBandwidth(2 * MB));
          SimulatedTransfer h1 = new SimulatedTransfer(first, fx.wanted(), store, CONFIG);
          int half = fx.distinct().size() / 2;
          check(h1, h1.run(h -> h.storedCount() >= half) == null, "finished before half");
          Set<ChunkId> held = store.ids();
          check(h1, held.size() >= half && held.size() < fx.distinct().size(), "held " + held);

          SimulatedNetwork second =
              network(seed + 1_000_000, fx, SimulatedFaults.none().withBandwidth(2 * MB));
          SimulatedTransfer h2 = new SimulatedTransfer(second, fx.wanted(), store, CONFIG);
          check(h2, h2.run() instanceof Done, "second run did not finish");
          Set<ChunkId> missing = new HashSet<>();
          for (ChunkRef r : fx.distinct()) {
            if (!held.contains(r.id())) {
              missing.add(r.id());
            }
          }
          List<ChunkId> fetched = h2.requests().stream().map(r -> r.ref.id()).toList();
          check(
              h2,
              fetched.size() == missing.size(),
              "fetched " + fetched.size() + " of " + missing.size());
          check(
              h2, new HashSet<>(fetched).equals(missing), "fetched other chunks than the missing");
          TransferProgress p = h2.transfer().progress();
          check(h2, p.chunksHeldAtStart() == held.size(), "held at start " + p.chunksHeldAtStart());
          assertStoreHoldsExactly(h2, store, fx.distinct());
        });
  }

  @Test
  void losingEverySourceGivesUpWithNoSources() {
    forEachSeed(
        seed -> {
          Fixture fx = TestSnapshots.fixture(seed, 3, 66);
          SimulatedNetwork net = network(seed, fx, SimulatedFaults.none().withBandwidth(MB));
          InMemoryChunkStore store = new InMemoryChunkStore();
          SimulatedTransfer h = new SimulatedTransfer(net, fx.wanted(), store, CONFIG);
          h.loseSourceAt(ms(20).toNanos(), "a");
          h.loseSourceAt(ms(40).toNanos(), "b");
          h.loseSourceAt(ms(60).toNanos(), "c");
          TransferAction outcome = h.run();
          check(
              h,
              outcome instanceof GiveUp g && g.reason() == GiveUp.Reason.NO_SOURCES,
              "outcome " + outcome);
          check(h, h.network().nanoTime() == ms(60).toNanos(), "gave up late");
          check(h, ((GiveUp) outcome).message().contains("a=lost"), outcome.toString());
          assertRefetchedOnlyAfterImpairedFetch(h);
          check(h, store.ids().size() < fx.distinct().size(), "store complete anyway");
        });
  }

  @Test
  void losingSomeSourcesMidwayStillFinishes() {
    forEachSeed(
        seed -> {
          Fixture fx = TestSnapshots.fixture(seed, 3, 66);
          SimulatedNetwork net = network(seed, fx, SimulatedFaults.none().withBandwidth(MB));
          InMemoryChunkStore store = new InMemoryChunkStore();
          SimulatedTransfer h = new SimulatedTransfer(net, fx.wanted(), store, CONFIG);
          h.loseSourceAt(ms(20).toNanos(), "a");
          h.loseSourceAt(ms(70).toNanos(), "c");
          check(h, h.run() instanceof Done, "did not finish");
          assertStoreHoldsExactly(h, store, fx.distinct());
          assertRefetchedOnlyAfterImpairedFetch(h);
        });
  }

  @Test
  void theDeadlineGivesUp() {
    long seed = 3;
    Fixture fx = TestSnapshots.fixture(seed, 3, 66);
    SimulatedNetwork net = network(seed, fx, SimulatedFaults.none().withBandwidth(20_000));
    SimulatedTransfer h =
        new SimulatedTransfer(
            net,
            fx.wanted(),
            new InMemoryChunkStore(),
            CONFIG.withChunkTimeout(Duration.ofSeconds(30)).withDeadline(Duration.ofSeconds(2)));
    TransferAction outcome = h.run();
    assertInstanceOf(GiveUp.class, outcome);
    assertEquals(GiveUp.Reason.DEADLINE, ((GiveUp) outcome).reason(), outcome.toString());
    assertEquals(Duration.ofSeconds(2).toNanos(), net.nanoTime());
  }

  @Test
  void aChunkNoSourceHoldsIsUnavailableOnceEverySourceSaysSo() {
    forEachSeed(
        seed -> {
          Fixture fx = TestSnapshots.fixture(seed, 3, 66);
          ChunkRef lost = fx.distinct().get(fx.distinct().size() / 2);
          Map<ChunkId, byte[]> partial = new HashMap<>(fx.stored());
          partial.remove(lost.id());
          SimulatedNetwork net =
              network(seed, partial, SimulatedFaults.none().withBandwidth(2 * MB));
          SimulatedTransfer h =
              new SimulatedTransfer(net, fx.wanted(), new InMemoryChunkStore(), CONFIG);
          TransferAction outcome = h.run();
          check(
              h,
              outcome instanceof GiveUp g
                  && g.reason() == GiveUp.Reason.CHUNK_UNAVAILABLE
                  && g.message().contains(lost.id().toHex()),
              "outcome " + outcome);
          List<Request> tries = h.requestsByChunk().get(lost.id());
          Set<String> asked = tries.stream().map(r -> r.source).collect(Collectors.toSet());
          check(h, tries.size() == 3 && asked.size() == 3, "asked " + tries);
          check(h, h.transfer().progress().failures() == 0, "a missing chunk spent attempts");
        });
  }

  @Test
  void aChunkCorruptEverywhereExhaustsItsAttemptsTryingEachSourceInTurn() {
    forEachSeed(
        seed -> {
          Fixture fx = TestSnapshots.fixture(seed, 3, 66);
          ChunkRef bad = fx.distinct().get(fx.distinct().size() / 3);
          Map<ChunkId, byte[]> tampered = new HashMap<>(fx.stored());
          byte[] copy = tampered.get(bad.id()).clone();
          copy[copy.length - 1] ^= 0x5a;
          tampered.put(bad.id(), copy);
          SimulatedNetwork net =
              network(seed, tampered, SimulatedFaults.none().withBandwidth(2 * MB));
          TransferConfig tolerant = CONFIG.withCorruptionsToDemote(100).withMaxAttemptsPerChunk(5);
          SimulatedTransfer h =
              new SimulatedTransfer(net, fx.wanted(), new InMemoryChunkStore(), tolerant);
          TransferAction outcome = h.run();
          check(
              h,
              outcome instanceof GiveUp g
                  && g.reason() == GiveUp.Reason.ATTEMPTS_EXHAUSTED
                  && g.message().contains(bad.id().toHex()),
              "outcome " + outcome);
          List<String> order =
              h.requestsByChunk().get(bad.id()).stream().map(r -> r.source).toList();
          check(h, order.size() == 5, "tries " + order);
          check(
              h, new HashSet<>(order.subList(0, 3)).size() == 3, "not each source first: " + order);
          check(
              h,
              new HashSet<>(order.subList(3, 5)).size() == 2,
              "repeated a source early: " + order);
        });
  }

  @Test
  void chunksSomeSourcesLackComeFromTheOthers() {
    forEachSeed(
        seed -> {
          Fixture fx = TestSnapshots.fixture(seed, 3, 66);
          SimulatedNetwork net = new SimulatedNetwork(seed);
          int i = 0;
          for (String s : SOURCES) {
            Map<ChunkId, byte[]> part = new HashMap<>();
            int j = 0;
            for (Map.Entry<ChunkId, byte[]> e : fx.stored().entrySet()) {
              if (j++ % 3 != i) { // each source lacks a third of the chunks
                part.put(e.getKey(), e.getValue());
              }
            }
            i++;
            net.addSource(s, part, SimulatedFaults.none().withBandwidth(2 * MB));
          }
          InMemoryChunkStore store = new InMemoryChunkStore();
          SimulatedTransfer h = new SimulatedTransfer(net, fx.wanted(), store, CONFIG);
          check(h, h.run() instanceof Done, "did not finish");
          assertStoreHoldsExactly(h, store, fx.distinct());
          assertRefetchedOnlyAfterImpairedFetch(h);
        });
  }

  @Test
  void theLeaderTierServesOnlyWhatTheFollowersCannot() {
    forEachSeed(
        seed -> {
          Fixture fx = TestSnapshots.fixture(seed, 3, 66);
          ChunkRef onlyOnLeader = fx.distinct().get(10);
          Map<ChunkId, byte[]> followers = new HashMap<>(fx.stored());
          followers.remove(onlyOnLeader.id());
          SimulatedNetwork net = new SimulatedNetwork(seed);
          net.addSource("f1", followers, SimulatedFaults.none().withBandwidth(MB));
          net.addSource("f2", followers, SimulatedFaults.none().withBandwidth(MB));
          net.addSource("leader", fx.stored(), SimulatedFaults.none().withBandwidth(10 * MB));
          InMemoryChunkStore store = new InMemoryChunkStore();
          SimulatedTransfer h =
              new SimulatedTransfer(
                  net,
                  fx.wanted(),
                  store,
                  CONFIG,
                  List.of(
                      TransferSource.of("f1", 0),
                      TransferSource.of("f2", 0),
                      TransferSource.of("leader", 1)));
          check(h, h.run() instanceof Done, "did not finish");
          List<ChunkId> fromLeader =
              h.requests().stream()
                  .filter(r -> r.source.equals("leader"))
                  .map(r -> r.ref.id())
                  .toList();
          check(h, fromLeader.equals(List.of(onlyOnLeader.id())), "leader asked for " + fromLeader);
          assertStoreHoldsExactly(h, store, fx.distinct());
        });
  }

  // ---------------------------------------------------------------------------------------------

  private static void assertStoreHoldsExactly(
      SimulatedTransfer h, InMemoryChunkStore store, List<ChunkRef> distinct) {
    Set<ChunkId> want = distinct.stream().map(ChunkRef::id).collect(Collectors.toSet());
    check(h, store.ids().equals(want), "store holds " + store.ids().size() + " of " + want.size());
    for (ChunkRef r : distinct) {
      try {
        byte[] raw = ChunkCodecs.decode(store.readStored(r.id()), r.rawSize());
        check(h, ChunkId.of(raw).equals(r.id()), "stored chunk does not re-hash: " + r);
      } catch (java.io.IOException e) {
        throw h.fail("stored chunk unreadable: " + r + ": " + e);
      }
    }
  }

  /** Every fetch of a chunk but the last must have failed, timed out, been corrupt or lost. */
  private static void assertRefetchedOnlyAfterImpairedFetch(SimulatedTransfer h) {
    for (Map.Entry<ChunkId, List<Request>> e : h.requestsByChunk().entrySet()) {
      List<Request> rs = e.getValue();
      for (int i = 0; i < rs.size() - 1; i++) {
        check(h, h.impaired(rs.get(i)), "chunk " + e.getKey() + " fetched again after " + rs);
      }
    }
  }

  private static void assertEveryChunkFetched(SimulatedTransfer h, List<ChunkRef> distinct) {
    Set<ChunkId> fetched = h.requestsByChunk().keySet();
    check(h, fetched.size() == distinct.size(), "fetched " + fetched.size() + " distinct chunks");
  }

  private static void assertCorrupterDemoted(SimulatedTransfer h, String source) {
    boolean corruptAnswer =
        h.requests().stream()
            .anyMatch(r -> r.source.equals(source) && r.answer == SimulatedTransfer.Answer.CORRUPT);
    List<String> demotedSources =
        h.actions().stream()
            .filter(t -> t.action() instanceof SourceDemoted)
            .map(t -> ((SourceDemoted) t.action()).source())
            .toList();
    if (!corruptAnswer) {
      check(h, demotedSources.isEmpty(), "demoted without corruption: " + demotedSources);
      return;
    }
    check(h, demotedSources.equals(List.of(source)), "demoted " + demotedSources);
    boolean after = false;
    for (SimulatedTransfer.Timed t : h.actions()) {
      if (t.action() instanceof SourceDemoted d && d.source().equals(source)) {
        after = true;
      } else if (after && t.action() instanceof Fetch f) {
        check(h, !f.source().equals(source), "fetch from " + source + " after its demotion");
      }
    }
  }

  private static void assertProportional(SimulatedTransfer h, long seed) {
    Map<String, Long> bytes = new LinkedHashMap<>();
    for (SourceProgress sp : h.transfer().progress().sources()) {
      bytes.put(sp.id(), sp.bytesStored());
    }
    double r1 = bytes.get("fast") / (double) bytes.get("slow1");
    double r2 = bytes.get("fast") / (double) bytes.get("slow2");
    String msg = "seed=" + seed + " bytes per source " + bytes;
    assertTrue(r1 > 2.5 && r1 < 3.5, msg);
    assertTrue(r2 > 2.5 && r2 < 3.5, msg);
  }

  private static SimulatedNetwork network(long seed, Fixture fx, SimulatedFaults faults) {
    return network(seed, fx.stored(), faults);
  }

  private static SimulatedNetwork network(
      long seed, Map<ChunkId, byte[]> stored, SimulatedFaults faults) {
    SimulatedNetwork net = new SimulatedNetwork(seed);
    for (String s : SOURCES) {
      net.addSource(s, stored, faults);
    }
    return net;
  }

  private static void check(SimulatedTransfer h, boolean condition, String message) {
    if (!condition) {
      throw h.fail(message);
    }
  }

  private static Duration ms(long millis) {
    return Duration.ofMillis(millis);
  }

  /** Runs {@code body} for each seed; reports every failing seed, with the first failure. */
  private static void forEachSeed(LongConsumer body) {
    List<String> failed = new ArrayList<>();
    AssertionError first = null;
    for (long seed = SEEDS_FROM; seed < SEEDS_FROM + SEEDS; seed++) {
      try {
        body.accept(seed);
      } catch (AssertionError | RuntimeException e) {
        failed.add(seed + ": " + e.getMessage());
        if (first == null) {
          first = new AssertionError("seed " + seed + " failed", e);
        }
      }
    }
    if (first != null) {
      throw new AssertionError(
          failed.size() + " seeds failed; first: " + failed.subList(0, Math.min(3, failed.size())),
          first);
    }
  }
}
