package dev.ferry.snapshot.transport;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.codec.ChunkCodecs;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.NoSuchFileException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

class SimulatedTransportTest {
  private static final long MS = 1_000_000L;

  /** What a listener saw. */
  record Seen(long at, ChunkId id, String kind, byte[] bytes, Throwable cause) {}

  private final Map<ChunkId, byte[]> stored = new LinkedHashMap<>();
  private final List<ChunkId> ids = new ArrayList<>();

  SimulatedTransportTest() {
    SplittableRandom random = new SplittableRandom(42);
    for (int i = 0; i < 20; i++) {
      byte[] raw = new byte[1000];
      random.nextBytes(raw);
      byte[] s = ChunkCodecs.encode(raw, 0, raw.length, Integer.MIN_VALUE); // raw: 1001 bytes
      ChunkId id = ChunkId.of(raw);
      stored.put(id, s);
      ids.add(id);
    }
  }

  private static List<Seen> fetchAll(SimulatedNetwork net, ChunkTransport t, List<ChunkId> what) {
    List<Seen> seen = new ArrayList<>();
    t.fetch(
        what,
        new ChunkTransport.FetchListener() {
          @Override
          public void arrived(ChunkId id, ByteBuffer bytes) {
            byte[] b = new byte[bytes.remaining()];
            bytes.duplicate().get(b);
            seen.add(new Seen(net.nanoTime(), id, "arrived", b, null));
          }

          @Override
          public void failed(ChunkId id, Throwable cause) {
            seen.add(new Seen(net.nanoTime(), id, "failed", null, cause));
          }
        });
    assertTrue(seen.isEmpty(), "callback inside fetch");
    return seen;
  }

  private static void drain(SimulatedNetwork net) {
    while (net.runNext()) {
      // run everything
    }
  }

  @Test
  void chunksAreSentOneAfterAnotherOverTheLinkThenArriveAfterTheLatency() {
    SimulatedNetwork net = new SimulatedNetwork(1);
    SimulatedTransport t =
        net.addSource(
            "a",
            stored,
            SimulatedFaults.none()
                .withBandwidth(1_001_000) // 1 ms per 1001-byte chunk
                .withLatency(Duration.ofMillis(2), Duration.ofMillis(2)));
    List<Seen> seen = fetchAll(net, t, ids.subList(0, 3));
    drain(net);
    assertEquals(List.of(3 * MS, 4 * MS, 5 * MS), seen.stream().map(Seen::at).toList());
    assertEquals(ids.subList(0, 3), seen.stream().map(Seen::id).toList());
    for (Seen s : seen) {
      assertArrayEquals(stored.get(s.id()), s.bytes());
    }
    assertEquals(3, t.chunksDelivered());
    assertEquals(1, t.requests());
  }

  @Test
  void aChunkTheSourceLacksFailsWithNoSuchFile() {
    SimulatedNetwork net = new SimulatedNetwork(1);
    SimulatedTransport t = net.addSource("a", Map.of(), SimulatedFaults.none());
    List<Seen> seen = fetchAll(net, t, ids.subList(0, 1));
    drain(net);
    assertEquals(1, seen.size());
    assertInstanceOf(NoSuchFileException.class, seen.get(0).cause());
    assertEquals(SimulatedFaults.DEFAULT_LATENCY.toNanos(), seen.get(0).at());
  }

  @Test
  void droppedChunksAreNeverAnswered() {
    SimulatedNetwork net = new SimulatedNetwork(1);
    SimulatedTransport t = net.addSource("a", stored, SimulatedFaults.none().withDrop(1));
    List<Seen> seen = fetchAll(net, t, ids);
    assertEquals(Long.MAX_VALUE, net.nextEventNanos());
    assertTrue(seen.isEmpty());
  }

  @Test
  void aDropRateDropsAboutThatShare() {
    SimulatedNetwork net = new SimulatedNetwork(7);
    SimulatedTransport t = net.addSource("a", stored, SimulatedFaults.none().withDrop(0.5));
    int delivered = 0;
    for (int i = 0; i < 50; i++) {
      List<Seen> seen = fetchAll(net, t, ids);
      drain(net);
      delivered += seen.size();
    }
    assertTrue(delivered > 400 && delivered < 600, "delivered " + delivered + " of 1000");
  }

  @Test
  void duplicatedChunksArriveTwiceTheSecondTimeLater() {
    SimulatedNetwork net = new SimulatedNetwork(1);
    SimulatedTransport t = net.addSource("a", stored, SimulatedFaults.none().withDuplicate(1));
    List<Seen> seen = fetchAll(net, t, ids.subList(0, 2));
    drain(net);
    assertEquals(4, seen.size());
    for (ChunkId id : ids.subList(0, 2)) {
      List<Seen> of = seen.stream().filter(s -> s.id().equals(id)).toList();
      assertEquals(2, of.size());
      assertTrue(of.get(1).at() > of.get(0).at());
      assertArrayEquals(of.get(0).bytes(), of.get(1).bytes());
    }
  }

  @Test
  void corruptedChunksKeepTheirLengthButFailVerification() {
    SimulatedNetwork net = new SimulatedNetwork(1);
    SimulatedTransport t = net.addSource("a", stored, SimulatedFaults.none().withCorrupt(1));
    List<Seen> seen = fetchAll(net, t, ids);
    drain(net);
    assertEquals(ids.size(), seen.size());
    for (Seen s : seen) {
      byte[] original = stored.get(s.id());
      assertEquals(original.length, s.bytes().length);
      assertFalse(java.util.Arrays.equals(original, s.bytes()));
      boolean verifies;
      try {
        byte[] raw = ChunkCodecs.decode(ByteBuffer.wrap(s.bytes()), 1000);
        verifies = s.id().matches(raw, 0, raw.length);
      } catch (IOException e) {
        verifies = false;
      }
      assertFalse(verifies, "corruption went unnoticed");
    }
    // The source's own copy is untouched.
    assertEquals(1001, stored.get(ids.get(0)).length);
  }

  @Test
  void reorderServesARequestInAnotherOrder() {
    SimulatedNetwork net = new SimulatedNetwork(3);
    SimulatedTransport t = net.addSource("a", stored, SimulatedFaults.none().withReorder());
    List<Seen> seen = fetchAll(net, t, ids);
    drain(net);
    List<ChunkId> order = seen.stream().map(Seen::id).toList();
    assertEquals(java.util.Set.copyOf(ids), java.util.Set.copyOf(order));
    assertNotEquals(ids, order);
  }

  @Test
  void aFailFastPartitionRefusesRequestsAndResetsChunksInFlight() {
    SimulatedNetwork net = new SimulatedNetwork(1);
    SimulatedTransport t =
        net.addSource(
            "a",
            stored,
            SimulatedFaults.none()
                .withBandwidth(1_001_000)
                .withPartition(Duration.ofMillis(3), Duration.ofMillis(10), true));
    // Sent at 0: chunk 0 arrives at 2 ms; chunks 1.. would arrive at 3, 4, ... ms: reset.
    List<Seen> before = fetchAll(net, t, ids.subList(0, 3));
    net.runUntil(5 * MS);
    assertEquals(List.of("arrived", "failed", "failed"), before.stream().map(Seen::kind).toList());
    assertTrue(before.get(1).cause().getMessage().contains("reset"));
    List<Seen> during = fetchAll(net, t, ids.subList(3, 4));
    drain(net);
    assertEquals("failed", during.get(0).kind());
    assertTrue(during.get(0).cause().getMessage().contains("partition"));
    net.advanceTo(10 * MS);
    List<Seen> after = fetchAll(net, t, ids.subList(4, 5));
    drain(net);
    assertEquals("arrived", after.get(0).kind());
  }

  @Test
  void aSilentPartitionAnswersNothing() {
    SimulatedNetwork net = new SimulatedNetwork(1);
    SimulatedTransport t =
        net.addSource(
            "a",
            stored,
            SimulatedFaults.none().withPartition(Duration.ZERO, Duration.ofMillis(10), false));
    List<Seen> seen = fetchAll(net, t, ids);
    drain(net);
    assertTrue(seen.isEmpty());
  }

  @Test
  void aDisconnectedSourceLosesWhatWasInFlightAndRefusesNewRequests() {
    SimulatedNetwork net = new SimulatedNetwork(1);
    SimulatedTransport t = net.addSource("a", stored, SimulatedFaults.none());
    List<Seen> lost = fetchAll(net, t, ids.subList(0, 2));
    t.disconnect();
    List<Seen> refused = fetchAll(net, t, ids.subList(2, 3));
    drain(net);
    assertTrue(lost.isEmpty());
    assertEquals("failed", refused.get(0).kind());
  }

  @Test
  void theSameSeedReplaysTheSameDeliveriesAndAnotherSeedDoesNot() {
    SimulatedFaults chaos =
        SimulatedFaults.none()
            .withLatency(Duration.ofMillis(1), Duration.ofMillis(30))
            .withDrop(0.1)
            .withDuplicate(0.2)
            .withCorrupt(0.1)
            .withReorder();
    assertEquals(trace(5, chaos), trace(5, chaos));
    assertNotEquals(trace(5, chaos), trace(6, chaos));
  }

  private List<String> trace(long seed, SimulatedFaults faults) {
    SimulatedNetwork net = new SimulatedNetwork(seed);
    SimulatedTransport a = net.addSource("a", stored, faults);
    SimulatedTransport b = net.addSource("b", stored, faults);
    List<Seen> fromA = fetchAll(net, a, ids);
    List<Seen> fromB = fetchAll(net, b, ids);
    drain(net);
    List<Seen> seen = new ArrayList<>(fromA);
    seen.addAll(fromB);
    assertTrue(seen.size() > ids.size(), "too few deliveries to compare: " + seen.size());
    return seen.stream()
        .map(
            s ->
                s.at() + " " + s.id() + " " + s.kind() + " " + java.util.Arrays.hashCode(s.bytes()))
        .toList();
  }

  @Test
  void theNetworkRunsEventsInTimeOrderAndRefusesThePast() {
    SimulatedNetwork net = new SimulatedNetwork(1);
    List<String> log = new ArrayList<>();
    net.schedule(5, () -> log.add("b"));
    net.schedule(2, () -> log.add("a"));
    net.schedule(5, () -> log.add("c"));
    assertThrows(IllegalStateException.class, () -> net.advanceTo(3));
    net.runUntil(5);
    assertEquals(List.of("a", "b", "c"), log);
    assertEquals(5, net.nanoTime());
    assertThrows(IllegalArgumentException.class, () -> net.schedule(4, () -> {}));

    net.addSource("x", stored, SimulatedFaults.none());
    assertThrows(
        IllegalArgumentException.class, () -> net.addSource("x", stored, SimulatedFaults.none()));
  }

  @Test
  void faultsAreValidated() {
    SimulatedFaults f = SimulatedFaults.none();
    assertThrows(IllegalArgumentException.class, () -> f.withDrop(1.5));
    assertThrows(IllegalArgumentException.class, () -> f.withCorrupt(-0.1));
    assertThrows(IllegalArgumentException.class, () -> f.withDuplicate(Double.NaN));
    assertThrows(
        IllegalArgumentException.class,
        () -> f.withLatency(Duration.ofMillis(5), Duration.ofMillis(1)));
    assertThrows(IllegalArgumentException.class, () -> f.withBandwidth(-1));
    assertThrows(
        IllegalArgumentException.class,
        () -> f.withPartition(Duration.ofMillis(5), Duration.ofMillis(5), true));
  }
}
