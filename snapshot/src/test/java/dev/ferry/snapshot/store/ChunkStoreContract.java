package dev.ferry.snapshot.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.ChunkRef;
import dev.ferry.snapshot.StateDigest;
import dev.ferry.snapshot.codec.ChunkCodec;
import dev.ferry.snapshot.codec.ChunkCodecs;
import dev.ferry.snapshot.format.Manifest;
import dev.ferry.snapshot.format.Shard;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.NoSuchFileException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The behaviour every {@link ChunkStore} must have. An implementation's test extends this class and
 * says how to open a fresh, empty store on a given clock.
 */
public abstract class ChunkStoreContract {
  protected static final Instant START = Instant.parse("2026-01-01T00:00:00Z");

  protected final MutableClock clock = new MutableClock(START);
  protected ChunkStore store;

  /** Opens a fresh, empty store whose leases follow {@code clock}. */
  protected abstract ChunkStore newStore(MutableClock clock) throws IOException;

  @BeforeEach
  void openStore() throws IOException {
    store = newStore(clock);
  }

  @AfterEach
  void closeStore() throws IOException {
    if (store != null) {
      store.close();
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Chunks

  @Test
  void incompressibleChunkRoundTripsRaw() throws IOException {
    byte[] raw = TestChunks.random(1, 100_000);
    ChunkRef ref = store.put(raw, 0, raw.length);

    assertEquals(ChunkId.of(raw), ref.id());
    assertEquals(raw.length, ref.rawSize());
    assertEquals(raw.length + 1, ref.storedSize());
    assertTrue(store.contains(ref.id()));
    assertArrayEquals(raw, store.read(ref.id()));
    ByteBuffer stored = store.readStored(ref.id());
    assertEquals(ChunkCodec.RAW, ChunkCodecs.codecOf(stored));
    assertEquals(ref.storedSize(), stored.remaining());
  }

  @Test
  void compressibleChunkRoundTripsZstd() throws IOException {
    byte[] raw = TestChunks.compressible(2, 200_000);
    ChunkRef ref = store.put(raw, 0, raw.length);

    assertTrue(ref.storedSize() < raw.length / 2, "stored " + ref.storedSize());
    assertArrayEquals(raw, store.read(ref.id()));
    ByteBuffer stored = store.readStored(ref.id());
    assertEquals(ChunkCodec.ZSTD, ChunkCodecs.codecOf(stored));
    assertEquals(ref.storedSize(), stored.remaining());
  }

  @Test
  void putTakesTheGivenRangeOnly() throws IOException {
    byte[] raw = TestChunks.compressible(3, 10_000);
    ChunkRef ref = store.put(raw, 1000, 5000);

    byte[] expected = java.util.Arrays.copyOfRange(raw, 1000, 6000);
    assertEquals(ChunkId.of(expected), ref.id());
    assertArrayEquals(expected, store.read(ref.id()));
  }

  @Test
  void putIsIdempotent() throws IOException {
    byte[] raw = TestChunks.compressible(4, 50_000);
    ChunkRef first = store.put(raw, 0, raw.length);
    ChunkRef second = store.put(raw.clone(), 0, raw.length);

    assertEquals(first, second);
    assertEquals(Set.of(first.id()), store.ids());
    assertEquals(new StoreStats(1, first.storedSize(), 0, 0), store.stats());
  }

  @Test
  void putRejectsBadRanges() {
    byte[] raw = new byte[10];
    assertThrows(IndexOutOfBoundsException.class, () -> store.put(raw, 5, 6));
    assertThrows(IndexOutOfBoundsException.class, () -> store.put(raw, -1, 2));
    assertThrows(IllegalArgumentException.class, () -> store.put(raw, 0, 0));
    assertEquals(Set.of(), store.ids());
  }

  @Test
  void idsAndStatsListWhatIsHeld() throws IOException {
    Set<ChunkId> expected = new HashSet<>();
    long bytes = 0;
    for (int i = 0; i < 20; i++) {
      byte[] raw = i % 2 == 0 ? TestChunks.random(i, 1000 + i) : TestChunks.compressible(i, 5000);
      ChunkRef ref = store.put(raw, 0, raw.length);
      expected.add(ref.id());
      bytes += ref.storedSize();
    }
    assertEquals(expected, store.ids());
    assertEquals(new StoreStats(20, bytes, 0, 0), store.stats());
    for (ChunkId id : expected) {
      assertTrue(store.contains(id));
    }
    assertFalse(store.contains(ChunkId.of(new byte[] {1, 2, 3})));
  }

  @Test
  void putStoredAcceptsAnyValidEncoding() throws IOException {
    byte[] raw = TestChunks.compressible(5, 64_000);
    ChunkId id = ChunkId.of(raw);
    // A peer may have stored it raw, at another level, or as we would: all name the same chunk.
    byte[] rawForm = ChunkCodecs.encode(raw, 0, raw.length, Integer.MIN_VALUE);
    ChunkRef ref = new ChunkRef(id, raw.length, rawForm.length);
    store.putStored(ref, ByteBuffer.wrap(rawForm));

    assertTrue(store.contains(id));
    assertArrayEquals(raw, store.read(id));
    assertEquals(ByteBuffer.wrap(rawForm), store.readStored(id));
  }

  @Test
  void putStoredDoesNotMoveTheBuffer() throws IOException {
    byte[] raw = TestChunks.compressible(6, 30_000);
    byte[] stored = ChunkCodecs.encode(raw, 0, raw.length, 3);
    ByteBuffer buf = ByteBuffer.allocate(stored.length + 10);
    buf.position(5);
    buf.put(stored);
    buf.position(5).limit(5 + stored.length);

    store.putStored(new ChunkRef(ChunkId.of(raw), raw.length, stored.length), buf);

    assertEquals(5, buf.position());
    assertArrayEquals(raw, store.read(ChunkId.of(raw)));
  }

  @Test
  void putStoredRejectsBytesThatAreNotTheNamedChunkAndStoresNothing() throws IOException {
    byte[] raw = TestChunks.compressible(7, 40_000);
    ChunkId id = ChunkId.of(raw);
    byte[] zstd = ChunkCodecs.encode(raw, 0, raw.length, 3);
    byte[] rawForm = ChunkCodecs.encode(raw, 0, raw.length, Integer.MIN_VALUE);
    byte[] other = TestChunks.compressible(8, 40_000);
    byte[] otherStored = ChunkCodecs.encode(other, 0, other.length, 3);

    List<ByteBuffer> bad = new ArrayList<>();
    bad.add(ByteBuffer.wrap(otherStored)); // another chunk's bytes
    byte[] flipped = rawForm.clone();
    flipped[1000] ^= 1;
    bad.add(ByteBuffer.wrap(flipped)); // one bit off
    byte[] unknownTag = zstd.clone();
    unknownTag[0] = 9;
    bad.add(ByteBuffer.wrap(unknownTag));
    bad.add(ByteBuffer.wrap(java.util.Arrays.copyOf(zstd, zstd.length / 2))); // truncated
    bad.add(ByteBuffer.allocate(0)); // empty
    bad.add(ByteBuffer.wrap(java.util.Arrays.copyOf(rawForm, rawForm.length - 1)));

    for (ByteBuffer b : bad) {
      ChunkCorruptException e =
          assertThrows(
              ChunkCorruptException.class,
              () -> store.putStored(new ChunkRef(id, raw.length, 100), b),
              "accepted " + b);
      assertEquals(id, e.chunkId());
    }
    // The right bytes with a wrong raw size are refused too.
    assertThrows(
        ChunkCorruptException.class,
        () -> store.putStored(new ChunkRef(id, raw.length + 1, 100), ByteBuffer.wrap(zstd)));

    assertFalse(store.contains(id));
    assertEquals(Set.of(), store.ids());
    assertEquals(new StoreStats(0, 0, 0, 0), store.stats());
    assertThrows(NoSuchFileException.class, () -> store.read(id));
  }

  @Test
  void putStoredOfAHeldChunkIsANoOp() throws IOException {
    byte[] raw = TestChunks.compressible(9, 20_000);
    ChunkRef ref = store.put(raw, 0, raw.length);
    byte[] rawForm = ChunkCodecs.encode(raw, 0, raw.length, Integer.MIN_VALUE);

    store.putStored(new ChunkRef(ref.id(), raw.length, rawForm.length), ByteBuffer.wrap(rawForm));

    assertEquals(ref.storedSize(), store.readStored(ref.id()).remaining());
    assertEquals(1, store.stats().chunks());

    // Bad bytes are refused even for a chunk already held, and the held copy stays.
    rawForm[100] ^= 1;
    assertThrows(
        ChunkCorruptException.class,
        () -> store.putStored(new ChunkRef(ref.id(), raw.length, 1), ByteBuffer.wrap(rawForm)));
    assertArrayEquals(raw, store.read(ref.id()));
  }

  @Test
  void readStoredRoundTripsThroughAnotherStore() throws IOException {
    byte[] raw = TestChunks.compressible(10, 80_000);
    ChunkRef ref = store.put(raw, 0, raw.length);
    ByteBuffer shipped = store.readStored(ref.id());

    // What a receiver does with it.
    assertArrayEquals(raw, ChunkCodecs.decode(shipped, ref.rawSize()));
    assertEquals(0, shipped.position());
    assertEquals(ref.storedSize(), shipped.remaining());
  }

  @Test
  void missingChunksAreNoSuchFile() {
    ChunkId id = ChunkId.of(new byte[] {42});
    assertFalse(store.contains(id));
    assertThrows(NoSuchFileException.class, () -> store.read(id));
    assertThrows(NoSuchFileException.class, () -> store.readStored(id));
  }

  // ---------------------------------------------------------------------------------------------
  // References and collection

  @Test
  void collectionDeletesWhatNothingReferences() throws IOException {
    ChunkRef kept = putCompressible(20);
    ChunkRef dropped = putCompressible(21);
    store.retain("m1", List.of(kept.id()));

    GcResult r = store.collectGarbage();

    assertEquals(new GcResult(1, dropped.storedSize(), 1, 0), r);
    assertTrue(store.contains(kept.id()));
    assertFalse(store.contains(dropped.id()));
    assertThrows(NoSuchFileException.class, () -> store.read(dropped.id()));
    assertEquals(new StoreStats(1, kept.storedSize(), 0, 0), store.stats());
  }

  @Test
  void aChunkSharedByTwoManifestsLivesUntilBothAreReleased() throws IOException {
    ChunkRef shared = putCompressible(22);
    ChunkRef onlyA = putCompressible(23);
    ChunkRef onlyB = putCompressible(24);
    store.retain("a", List.of(shared.id(), onlyA.id()));
    store.retain("b", List.of(shared.id(), onlyB.id()));
    assertEquals(Set.of("a", "b"), store.retainedKeys());

    store.release("a");
    assertEquals(1, store.collectGarbage().chunksDeleted());
    assertEquals(Set.of(shared.id(), onlyB.id()), store.ids());

    store.release("b");
    GcResult r = store.collectGarbage();
    assertEquals(2, r.chunksDeleted());
    assertEquals(shared.storedSize() + onlyB.storedSize(), r.bytesFreed());
    assertEquals(Set.of(), store.ids());
    assertEquals(Set.of(), store.retainedKeys());
  }

  @Test
  void retainReplacesTheSetUnderAKey() throws IOException {
    ChunkRef a = putCompressible(25);
    ChunkRef b = putCompressible(26);
    store.retain("k", List.of(a.id()));
    store.retain("k", List.of(b.id()));

    store.collectGarbage();

    assertEquals(Set.of(b.id()), store.ids());
  }

  @Test
  void retainingAbsentChunksProtectsThemOnceTheyArrive() throws IOException {
    byte[] raw = TestChunks.compressible(27, 10_000);
    ChunkId id = ChunkId.of(raw);
    store.retain("install-target", List.of(id));

    store.put(raw, 0, raw.length);
    store.collectGarbage();

    assertTrue(store.contains(id));
  }

  @Test
  void releasingAnUnknownKeyDoesNothing() throws IOException {
    store.release("never-retained");
    assertEquals(Set.of(), store.retainedKeys());
  }

  @Test
  void badKeysAreRefused() {
    for (String key : List.of("", "../x", "a/b", ".hidden", "a b", "x".repeat(129), "é")) {
      assertThrows(IllegalArgumentException.class, () -> store.retain(key, List.of()), key);
      assertThrows(IllegalArgumentException.class, () -> store.pin(key, Duration.ofSeconds(1)));
    }
  }

  @Test
  void retainAManifestUnderItsConventionalKey() throws IOException {
    ChunkRef a = putCompressible(28);
    ChunkRef b = putCompressible(29);
    ChunkRef session = putCompressible(30);
    putCompressible(31); // garbage
    Manifest m =
        new Manifest(
            3,
            120,
            List.of(Shard.ofChunks("s0", List.of(a, b, a))),
            List.of(session),
            StateDigest.EMPTY);

    store.retain(m);

    assertEquals(Set.of("manifest-3-120"), store.retainedKeys());
    assertEquals(1, store.collectGarbage().chunksDeleted());
    assertEquals(Set.of(a.id(), b.id(), session.id()), store.ids());
  }

  // ---------------------------------------------------------------------------------------------
  // Pins

  @Test
  void aPinnedManifestKeepsItsChunksAfterReleaseUntilTheLeaseExpires() throws IOException {
    ChunkRef c = putCompressible(40);
    store.retain("m", List.of(c.id()));
    Lease lease = store.pin("m", Duration.ofSeconds(30));
    assertEquals(START.plusSeconds(30), lease.expiresAt());
    assertEquals("m", lease.manifestKey());

    store.release("m");
    clock.advance(Duration.ofSeconds(29));
    assertEquals(new GcResult(0, 0, 1, 0), store.collectGarbage());
    assertTrue(store.contains(c.id()));

    clock.advance(Duration.ofSeconds(1)); // now == expiresAt: expired
    assertEquals(new GcResult(1, c.storedSize(), 0, 1), store.collectGarbage());
    assertFalse(store.contains(c.id()));
  }

  @Test
  void aPinHoldsTheSetRetainedWhenItWasTaken() throws IOException {
    ChunkRef old = putCompressible(41);
    ChunkRef replacement = putCompressible(42);
    store.retain("m", List.of(old.id()));
    store.pin("m", Duration.ofMinutes(1));
    store.retain("m", List.of(replacement.id()));

    store.collectGarbage();

    assertEquals(Set.of(old.id(), replacement.id()), store.ids());
  }

  @Test
  void renewExtendsALiveLease() throws IOException {
    ChunkRef c = putCompressible(43);
    store.retain("m", List.of(c.id()));
    Lease lease = store.pin("m", Duration.ofSeconds(10));
    store.release("m");

    clock.advance(Duration.ofSeconds(9));
    Lease renewed = store.renew(lease.id(), Duration.ofSeconds(10));
    assertEquals(lease.id(), renewed.id());
    assertEquals(START.plusSeconds(19), renewed.expiresAt());

    clock.advance(Duration.ofSeconds(9)); // 18 s: the original lease would be over
    store.collectGarbage();
    assertTrue(store.contains(c.id()));

    clock.advance(Duration.ofSeconds(1));
    store.collectGarbage();
    assertFalse(store.contains(c.id()));
  }

  @Test
  void anExpiredLeaseCannotBeRenewed() throws IOException {
    putCompressible(44);
    store.retain("m", store.ids());
    Lease lease = store.pin("m", Duration.ofSeconds(5));
    clock.advance(Duration.ofSeconds(5));

    LeaseExpiredException e =
        assertThrows(
            LeaseExpiredException.class, () -> store.renew(lease.id(), Duration.ofSeconds(5)));
    assertEquals(lease.id(), e.leaseId());
    assertThrows(LeaseExpiredException.class, () -> store.renew(12345, Duration.ofSeconds(5)));
  }

  @Test
  void unpinEndsALeaseAtOnce() throws IOException {
    ChunkRef c = putCompressible(45);
    store.retain("m", List.of(c.id()));
    Lease lease = store.pin("m", Duration.ofHours(1));
    store.release("m");

    store.unpin(lease.id());
    store.unpin(lease.id()); // idempotent

    assertEquals(1, store.collectGarbage().chunksDeleted());
    assertThrows(LeaseExpiredException.class, () -> store.renew(lease.id(), Duration.ofHours(1)));
  }

  @Test
  void pinningNeedsARetainedKeyAndAPositiveTtl() throws IOException {
    assertThrows(IllegalStateException.class, () -> store.pin("absent", Duration.ofSeconds(1)));
    store.retain("m", List.of());
    assertThrows(IllegalArgumentException.class, () -> store.pin("m", Duration.ZERO));
    assertThrows(IllegalArgumentException.class, () -> store.pin("m", Duration.ofSeconds(-1)));
  }

  @Test
  void leaseIdsAreDistinct() throws IOException {
    store.retain("m", List.of());
    Set<Long> ids = new HashSet<>();
    for (int i = 0; i < 10; i++) {
      assertTrue(ids.add(store.pin("m", Duration.ofSeconds(1)).id()));
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Writers

  @Test
  void aWritersChunksSurviveCollectionUntilItCommits() throws IOException {
    ChunkWriter w = store.openWriter();
    ChunkRef a = w.put(TestChunks.compressible(50, 9000), 0, 9000);
    byte[] raw = TestChunks.random(51, 3000);
    byte[] stored = ChunkCodecs.encode(raw, 0, raw.length, 3);
    ChunkRef b = new ChunkRef(ChunkId.of(raw), raw.length, stored.length);
    w.putStored(b, ByteBuffer.wrap(stored));

    assertEquals(0, store.collectGarbage().chunksDeleted());

    w.commit("m", List.of(a.id(), b.id()));
    assertEquals(Set.of("m"), store.retainedKeys());
    assertEquals(0, store.collectGarbage().chunksDeleted());
    assertThrows(IllegalStateException.class, () -> w.put(new byte[] {1}, 0, 1));
    assertThrows(IllegalStateException.class, () -> w.commit("m2", List.of()));

    store.release("m");
    assertEquals(2, store.collectGarbage().chunksDeleted());
  }

  @Test
  void closingAWriterWithoutCommitLeavesGarbage() throws IOException {
    ChunkRef c;
    try (ChunkWriter w = store.openWriter()) {
      c = w.put(TestChunks.compressible(52, 9000), 0, 9000);
      assertEquals(0, store.collectGarbage().chunksDeleted());
    }
    assertEquals(new GcResult(1, c.storedSize(), 0, 0), store.collectGarbage());
  }

  @Test
  void adoptProtectsAHeldChunkAndReportsAnAbsentOne() throws IOException {
    ChunkRef held = putCompressible(53);
    ChunkId absent = ChunkId.of(new byte[] {7});
    try (ChunkWriter w = store.openWriter()) {
      assertTrue(w.adopt(held.id()));
      assertFalse(w.adopt(absent));
      assertEquals(0, store.collectGarbage().chunksDeleted());
      assertTrue(store.contains(held.id()));
    }
    assertEquals(1, store.collectGarbage().chunksDeleted());
  }

  @Test
  void aChunkProtectedByTwoWritersLivesUntilBothClose() throws IOException {
    byte[] raw = TestChunks.compressible(54, 7000);
    ChunkWriter w1 = store.openWriter();
    ChunkWriter w2 = store.openWriter();
    ChunkRef c = w1.put(raw, 0, raw.length);
    assertEquals(c, w2.put(raw, 0, raw.length));

    w1.close();
    assertEquals(0, store.collectGarbage().chunksDeleted());
    w2.close();
    w2.close();
    assertEquals(1, store.collectGarbage().chunksDeleted());
  }

  @Test
  void aFailedPutStoredThroughAWriterStoresNothing() throws IOException {
    byte[] raw = TestChunks.compressible(55, 7000);
    try (ChunkWriter w = store.openWriter()) {
      assertThrows(
          ChunkCorruptException.class,
          () -> w.putStored(new ChunkRef(ChunkId.of(raw), 7000, 8), ByteBuffer.wrap(new byte[8])));
    }
    assertEquals(Set.of(), store.ids());
  }

  // ---------------------------------------------------------------------------------------------
  // Concurrency

  @Test
  void concurrentPutsAndReadsOfOverlappingChunks() throws Exception {
    int threads = 6;
    int distinct = 40;
    List<byte[]> chunks = new ArrayList<>();
    for (int i = 0; i < distinct; i++) {
      chunks.add(i % 3 == 0 ? TestChunks.random(i, 4000 + i) : TestChunks.compressible(i, 20_000));
    }
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      List<Future<Void>> results = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        long seed = t;
        Callable<Void> task =
            () -> {
              Random r = new Random(seed);
              for (int n = 0; n < 200; n++) {
                byte[] raw = chunks.get(r.nextInt(distinct));
                ChunkRef ref = store.put(raw, 0, raw.length);
                assertTrue(store.contains(ref.id()));
                assertArrayEquals(raw, store.read(ref.id()));
              }
              return null;
            };
        results.add(pool.submit(task));
      }
      for (Future<Void> f : results) {
        f.get(60, TimeUnit.SECONDS);
      }
    } finally {
      pool.shutdownNow();
    }
    long bytes = 0;
    Set<ChunkId> expected = new HashSet<>();
    for (byte[] raw : chunks) {
      expected.add(ChunkId.of(raw));
      assertArrayEquals(raw, store.read(ChunkId.of(raw)));
      bytes += store.readStored(ChunkId.of(raw)).remaining();
    }
    assertEquals(expected, store.ids());
    assertEquals(new StoreStats(distinct, bytes, 0, 0), store.stats());
  }

  /**
   * Writers put and adopt chunks while another thread collects garbage without pause: whatever a
   * writer's put or adopt returned as held must stay readable until the writer commits, and what it
   * committed must stay.
   */
  @Test
  void collectionNeverTakesAWritersChunks() throws Exception {
    int writers = 3;
    int rounds = 60;
    // A small pool of contents, so writers keep hitting chunks that others just left unprotected.
    List<byte[]> pool = new ArrayList<>();
    for (int i = 0; i < 12; i++) {
      pool.add(TestChunks.compressible(100 + i, 3000));
    }
    AtomicBoolean stop = new AtomicBoolean();
    ExecutorService exec = Executors.newFixedThreadPool(writers + 1);
    try {
      Future<Integer> collector =
          exec.submit(
              () -> {
                int collections = 0;
                while (!stop.get()) {
                  store.collectGarbage();
                  collections++;
                }
                return collections;
              });
      List<Future<Void>> results = new ArrayList<>();
      for (int t = 0; t < writers; t++) {
        long seed = t;
        results.add(
            exec.submit(
                () -> {
                  Random r = new Random(seed);
                  for (int round = 0; round < rounds; round++) {
                    String key = "w" + seed;
                    try (ChunkWriter w = store.openWriter()) {
                      List<ChunkId> mine = new ArrayList<>();
                      for (int k = 0; k < 4; k++) {
                        byte[] raw = pool.get(r.nextInt(pool.size()));
                        ChunkId id = ChunkId.of(raw);
                        if (r.nextBoolean() && w.adopt(id)) {
                          mine.add(id);
                        } else {
                          mine.add(w.put(raw, 0, raw.length).id());
                        }
                      }
                      for (ChunkId id : mine) {
                        assertNotNull(store.read(id), "writer lost " + id);
                      }
                      w.commit(key, mine);
                      for (ChunkId id : mine) {
                        assertNotNull(store.read(id), "committed chunk lost " + id);
                      }
                    }
                    if (r.nextBoolean()) {
                      store.release(key);
                    }
                  }
                  return null;
                }));
      }
      for (Future<Void> f : results) {
        f.get(60, TimeUnit.SECONDS);
      }
      stop.set(true);
      assertTrue(collector.get(60, TimeUnit.SECONDS) > 0);
    } finally {
      stop.set(true);
      exec.shutdownNow();
    }
    // Every retained key's chunks are all held.
    for (String key : store.retainedKeys()) {
      assertTrue(key.startsWith("w"), key);
    }
    store.collectGarbage();
    for (ChunkId id : store.ids()) {
      assertNotNull(store.read(id));
    }
  }

  // ---------------------------------------------------------------------------------------------

  protected ChunkRef putCompressible(long seed) throws IOException {
    byte[] raw = TestChunks.compressible(seed, 10_000 + (int) seed);
    ChunkRef ref = store.put(raw, 0, raw.length);
    if (!store.contains(ref.id())) {
      fail("put did not store " + ref);
    }
    return ref;
  }
}
