package dev.ferry.snapshot.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.ChunkRef;
import dev.ferry.snapshot.codec.ChunkCodec;
import dev.ferry.snapshot.codec.ChunkCodecs;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileChunkStoreTest extends ChunkStoreContract {
  @TempDir Path dir;

  private final Map<ChunkId, String> quarantineReports = new ConcurrentHashMap<>();

  @Override
  protected ChunkStore newStore(MutableClock clock) throws IOException {
    return FileChunkStore.open(dir.resolve("store"), options());
  }

  private FileChunkStore.Options options() {
    return FileChunkStore.Options.defaults()
        .withClock(clock)
        .withQuarantineListener(quarantineReports::put);
  }

  private FileChunkStore fileStore() {
    return (FileChunkStore) store;
  }

  private FileChunkStore reopen() throws IOException {
    store.close();
    store = FileChunkStore.open(dir.resolve("store"), options());
    return fileStore();
  }

  private Path chunkFile(ChunkId id) {
    String hex = id.toHex();
    return dir.resolve("store/chunks").resolve(hex.substring(0, 2)).resolve(hex);
  }

  // ---------------------------------------------------------------------------------------------
  // Layout and durability

  @Test
  void aBatchWriterMakesChunksVisibleAtOnceAndDurableAtSync() throws IOException {
    java.util.List<ChunkRef> refs = new java.util.ArrayList<>();
    java.util.Random rnd = new java.util.Random(9);
    try (ChunkWriter w = store.openBatchWriter()) {
      for (int i = 0; i < 40; i++) {
        byte[] raw = new byte[10_000 + i];
        rnd.nextBytes(raw);
        ChunkRef ref = w.put(raw, 0, raw.length);
        refs.add(ref);
        assertTrue(store.contains(ref.id()), "visible before sync");
        assertEquals(ByteBuffer.wrap(raw), ByteBuffer.wrap(store.read(ref.id())));
      }
      byte[] received = new byte[5000];
      rnd.nextBytes(received);
      ChunkRef ref = new ChunkRef(ChunkId.of(received), received.length, received.length + 1);
      ByteBuffer stored =
          ByteBuffer.wrap(
              dev.ferry.snapshot.codec.ChunkCodecs.encode(received, 0, received.length, 3));
      w.putStored(ref, stored);
      refs.add(ref);
      w.sync();
      w.sync(); // idempotent
      w.commit("batch-1", refs.stream().map(ChunkRef::id).toList());
    }
    FileChunkStore reopened = reopen();
    for (ChunkRef r : refs) {
      assertTrue(reopened.contains(r.id()), "kept across reopen: " + r.id());
      reopened.read(r.id()); // verifies
    }
    assertTrue(reopened.retainedKeys().contains("batch-1"));
    try (Stream<Path> tmp = Files.list(dir.resolve("store/tmp"))) {
      assertEquals(0, tmp.count());
    }
  }

  @Test
  void putVerifiedTrustsTheCallerButReadsStillCatchBadBytes() throws IOException {
    byte[] raw = TestChunks.compressible(3, 50_000);
    ChunkRef ref = new ChunkRef(ChunkId.of(raw), raw.length, raw.length);
    byte[] good = ChunkCodecs.encode(raw, 0, raw.length, 3);
    byte[] other = TestChunks.compressible(4, 50_000);
    ChunkRef lie = new ChunkRef(ChunkId.of(other), other.length, other.length);
    try (ChunkWriter w = store.openBatchWriter()) {
      ByteBuffer stored = ByteBuffer.wrap(good);
      w.putVerified(ref, stored);
      assertEquals(good.length, stored.remaining(), "position not moved");
      // Bytes of another chunk under a wrong name: putVerified does not look (the caller vouched).
      w.putVerified(lie, ByteBuffer.wrap(good));
      w.sync();
    }
    assertArrayEquals(raw, store.read(ref.id()));
    assertArrayEquals(raw, store.readUnhashed(ref.id()));
    // readUnhashed decodes but does not hash; read hashes, catches the lie and quarantines it.
    assertArrayEquals(raw, store.readUnhashed(lie.id()));
    assertThrows(ChunkCorruptException.class, () -> store.read(lie.id()));
    assertFalse(store.contains(lie.id()), "quarantined");
    assertThrows(
        ChunkCorruptException.class,
        () -> {
          try (ChunkWriter w = store.openBatchWriter()) {
            w.putVerified(ref, ByteBuffer.allocate(0));
          }
        },
        "the stored size is still checked");
  }

  @Test
  void readUnhashedStillRefusesBytesThatDoNotDecode() throws IOException {
    byte[] raw = TestChunks.compressible(5, 40_000);
    ChunkRef ref = store.put(raw, 0, raw.length);
    assertEquals(ChunkCodec.ZSTD, ChunkCodecs.codecOf(store.readStored(ref.id())));
    Path file = chunkFile(ref.id());
    byte[] bytes = Files.readAllBytes(file);
    Files.write(file, java.util.Arrays.copyOf(bytes, bytes.length / 2)); // truncated frame
    assertThrows(ChunkCorruptException.class, () -> store.readUnhashed(ref.id()));
    assertFalse(store.contains(ref.id()), "quarantined");
  }

  @Test
  void chunkFilesAreNamedByIdAndHoldTheStoredForm() throws IOException {
    ChunkRef ref = putCompressible(1);
    Path file = chunkFile(ref.id());

    assertTrue(Files.isRegularFile(file), file.toString());
    assertEquals(ref.storedSize(), Files.size(file));
    assertEquals(ByteBuffer.wrap(Files.readAllBytes(file)), store.readStored(ref.id()));
    try (Stream<Path> tmp = Files.list(dir.resolve("store/tmp"))) {
      assertEquals(0, tmp.count());
    }
  }

  @Test
  void chunksRetainedKeysAndPinsSurviveReopen() throws IOException {
    ChunkRef kept = putCompressible(2);
    ChunkRef pinnedOnly = putCompressible(3);
    ChunkRef garbage = putCompressible(4);
    store.retain("kept", List.of(kept.id()));
    store.retain("pinned", List.of(pinnedOnly.id()));
    Lease lease = store.pin("pinned", Duration.ofSeconds(60));
    store.release("pinned");

    reopen();

    assertEquals(Set.of(kept.id(), pinnedOnly.id(), garbage.id()), store.ids());
    assertEquals(
        new StoreStats(3, kept.storedSize() + pinnedOnly.storedSize() + garbage.storedSize(), 0, 1),
        store.stats());
    assertEquals(Set.of("kept"), store.retainedKeys());
    assertEquals(List.of(lease), fileStore().leases());

    assertEquals(1, store.collectGarbage().chunksDeleted());
    assertEquals(Set.of(kept.id(), pinnedOnly.id()), store.ids());

    // The lease still renews after the restart, and still expires by the clock.
    clock.advance(Duration.ofSeconds(59));
    Lease renewed = store.renew(lease.id(), Duration.ofSeconds(10));
    reopen();
    assertEquals(List.of(renewed), fileStore().leases());
    clock.advance(Duration.ofSeconds(10));
    reopen();
    // Expired but not yet collected: no longer counted as held.
    assertEquals(0, store.stats().pins());
    GcResult r = store.collectGarbage();
    assertEquals(new GcResult(1, pinnedOnly.storedSize(), 1, 1), r);
    assertEquals(Set.of(kept.id()), store.ids());
    assertEquals(List.of(), fileStore().leases());
    try (Stream<Path> pins = Files.list(dir.resolve("store/pins"))) {
      assertEquals(0, pins.count());
    }

    // Lease ids are not reused after a restart.
    Lease next = store.pin("kept", Duration.ofSeconds(1));
    assertTrue(next.id() > lease.id(), next + " after " + lease);

    // Released keys stay released.
    store.release("kept");
    reopen();
    assertEquals(Set.of(), store.retainedKeys());
  }

  @Test
  void leftoverTempFilesAreDeletedAtOpen() throws IOException {
    ChunkRef ref = putCompressible(5);
    store.close();
    Path tmp = dir.resolve("store/tmp");
    Files.write(tmp.resolve("17-" + ref.id().toHex() + ".tmp"), new byte[] {1, 2, 3});
    Files.write(tmp.resolve("18-manifest-1-2.refs.tmp"), new byte[10]);
    byte[] other = TestChunks.random(6, 1000);
    ChunkId otherId = ChunkId.of(other);
    Path stray = chunkFile(otherId).resolveSibling(otherId.toHex() + ".tmp");
    Files.write(stray, other);

    store = FileChunkStore.open(dir.resolve("store"), options());

    try (Stream<Path> left = Files.list(tmp)) {
      assertEquals(List.of(), left.toList());
    }
    assertFalse(Files.exists(stray));
    assertEquals(Set.of(ref.id()), store.ids());
    assertFalse(store.contains(otherId));
  }

  @Test
  void unexpectedFilesAreNotChunks() throws IOException {
    store.close();
    Path fan = dir.resolve("store/chunks/ab");
    Files.write(fan.resolve("README"), new byte[] {1});
    Files.write(fan.resolve("cd" + "0".repeat(62)), new byte[] {0, 1}); // wrong fan-out
    Files.write(fan.resolve("AB" + "0".repeat(62)), new byte[] {0, 1}); // upper case

    store = FileChunkStore.open(dir.resolve("store"), options());

    assertEquals(Set.of(), store.ids());
  }

  @Test
  void aStoreCannotBeOpenedTwice() {
    IOException e =
        assertThrows(IOException.class, () -> FileChunkStore.open(dir.resolve("store"), options()));
    assertTrue(e.getMessage().contains("already open"), e.getMessage());
  }

  @Test
  void aCorruptRefsFileStopsOpenRatherThanDroppingReferences() throws IOException {
    ChunkRef ref = putCompressible(7);
    store.retain("m", List.of(ref.id()));
    store.close();
    Path refs = dir.resolve("store/refs/m.refs");
    byte[] bytes = Files.readAllBytes(refs);
    bytes[10] ^= 1;
    Files.write(refs, bytes);

    IOException e =
        assertThrows(IOException.class, () -> FileChunkStore.open(dir.resolve("store"), options()));
    assertTrue(e.getMessage().contains("checksum"), e.getMessage());
    store = null;
    // A failed open releases the directory lock: after repair it opens.
    Files.delete(refs);
    store = FileChunkStore.open(dir.resolve("store"), options());
    assertTrue(store.contains(ref.id()));
  }

  @Test
  void closedStoreRefusesWork() throws IOException {
    ChunkRef ref = putCompressible(8);
    store.close();
    store.close();
    assertThrows(IllegalStateException.class, () -> store.read(ref.id()));
    assertThrows(IllegalStateException.class, () -> store.put(new byte[] {1}, 0, 1));
    assertThrows(IllegalStateException.class, () -> store.collectGarbage());
  }

  @Test
  void rawOnlyLevelNeverCompresses() throws IOException {
    store.close();
    store = FileChunkStore.open(dir.resolve("raw"), options().withZstdLevel(Integer.MIN_VALUE));
    byte[] raw = TestChunks.compressible(9, 50_000);
    ChunkRef ref = store.put(raw, 0, raw.length);
    assertEquals(raw.length + 1, ref.storedSize());
    assertEquals(ChunkCodec.RAW, ChunkCodecs.codecOf(store.readStored(ref.id())));
  }

  @Test
  void zstdLevelIsConfigurable() throws IOException {
    byte[] raw = TestChunks.compressible(10, 200_000);
    int level3 = store.put(raw, 0, raw.length).storedSize();
    store.close();
    store = FileChunkStore.open(dir.resolve("fast"), options().withZstdLevel(-5));
    int levelMinus5 = store.put(raw, 0, raw.length).storedSize();
    assertTrue(levelMinus5 > level3, levelMinus5 + " vs " + level3);
    assertThrows(IllegalArgumentException.class, () -> options().withZstdLevel(23));
  }

  // ---------------------------------------------------------------------------------------------
  // Zero-copy shipping

  @Test
  void openStoredGivesTheStoredBytes() throws IOException {
    ChunkRef ref = putCompressible(11);
    try (StoredChunkFile f = fileStore().openStored(ref.id())) {
      assertEquals(ref.storedSize(), f.size());
      ByteBuffer buf = ByteBuffer.allocate((int) f.size());
      while (buf.hasRemaining() && f.channel().read(buf) >= 0) {
        // read on
      }
      assertEquals(store.readStored(ref.id()), buf.flip());
    }
    assertThrows(
        NoSuchFileException.class, () -> fileStore().openStored(ChunkId.of(new byte[] {1})));
  }

  @Test
  void anOpenStoredFileStaysReadableAfterCollection() throws IOException {
    ChunkRef ref = putCompressible(12);
    try (StoredChunkFile f = fileStore().openStored(ref.id())) {
      assertEquals(1, store.collectGarbage().chunksDeleted());
      ByteBuffer buf = ByteBuffer.allocate((int) f.size());
      f.channel().read(buf, 0);
      assertFalse(buf.hasRemaining());
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Corruption

  @Test
  void aFlippedByteIsDetectedQuarantinedAndCanBeStoredAgain() throws IOException {
    byte[] raw = TestChunks.compressible(20, 30_000);
    ChunkRef ref = store.put(raw, 0, raw.length);
    flipByte(chunkFile(ref.id()), ref.storedSize() / 2);

    ChunkCorruptException e = assertThrows(ChunkCorruptException.class, () -> store.read(ref.id()));
    assertEquals(ref.id(), e.chunkId());

    assertFalse(store.contains(ref.id()));
    assertFalse(store.ids().contains(ref.id()));
    assertFalse(Files.exists(chunkFile(ref.id())));
    assertEquals(new StoreStats(0, 0, 1, 0), store.stats());
    assertEquals(Set.of(ref.id()), quarantineReports.keySet());
    assertEquals(List.of(ref.id().toHex() + ".1"), quarantined());
    assertThrows(NoSuchFileException.class, () -> store.read(ref.id()));

    assertEquals(ref, store.put(raw, 0, raw.length));
    assertArrayEquals(raw, store.read(ref.id()));
    assertEquals(new StoreStats(1, ref.storedSize(), 1, 0), store.stats());
  }

  @Test
  void verifyQuarantinesOnlyWhatTheLocalBytesCondemn() throws IOException {
    byte[] good = TestChunks.compressible(40, 30_000);
    byte[] bad = TestChunks.random(41, 20_000);
    ChunkRef goodRef = store.put(good, 0, good.length);
    ChunkRef badRef = store.put(bad, 0, bad.length);
    flipByte(chunkFile(badRef.id()), 7);

    // An intact chunk survives any number of claims that it is corrupt.
    assertTrue(store.verify(goodRef.id()));
    assertTrue(store.verify(goodRef.id()));
    assertTrue(store.contains(goodRef.id()));
    // A corrupt one is quarantined and reported to the listener, once.
    assertFalse(store.verify(badRef.id()));
    assertFalse(store.contains(badRef.id()));
    assertEquals(Set.of(badRef.id()), quarantineReports.keySet());
    // A chunk not held is not an error, and nothing more is quarantined.
    assertFalse(store.verify(badRef.id()));
    assertFalse(store.verify(ChunkId.of(new byte[] {1, 2, 3}, 0, 3)));
    assertEquals(1, store.stats().quarantined());
    assertEquals(List.of(badRef.id().toHex() + ".1"), quarantined());
  }

  @Test
  void aScrubFindsEveryCorruptChunkAtTheConfiguredRate() throws Exception {
    List<ChunkRef> refs = new ArrayList<>();
    long rawBytes = 0;
    for (int i = 0; i < 20; i++) {
      byte[] raw = TestChunks.random(100 + i, 10_000 + i);
      refs.add(store.put(raw, 0, raw.length));
      rawBytes += raw.length;
    }
    Set<ChunkId> damaged = Set.of(refs.get(3).id(), refs.get(11).id(), refs.get(17).id());
    for (ChunkId id : damaged) {
      flipByte(chunkFile(id), 5);
    }
    long[] now = {0};
    List<Long> sleeps = new ArrayList<>();
    ChunkScrubber.Sleeper sleeper =
        nanos -> {
          sleeps.add(nanos);
          now[0] += nanos;
        };
    long rate = 50_000; // bytes per second
    ChunkScrubber scrubber = new ChunkScrubber(store, rate, Duration.ZERO, () -> now[0], sleeper);

    ChunkScrubber.Pass pass = scrubber.scrubOnce();

    assertEquals(damaged, Set.copyOf(pass.corrupt()));
    assertEquals(20, pass.checked());
    long intactBytes = rawBytes;
    for (ChunkRef r : refs) {
      if (damaged.contains(r.id())) {
        intactBytes -= r.rawSize();
      }
    }
    assertEquals(intactBytes, pass.bytes());
    // Paced: the pass took (on the injected clock) exactly its bytes at the rate, give or take a
    // nanosecond of rounding per chunk; and no single sleep exceeds one chunk's worth.
    long expected = (long) (intactBytes * 1e9 / rate);
    assertTrue(Math.abs(now[0] - expected) <= 20, "took " + now[0] + " ns, want " + expected);
    long largest = (long) (10_019 * 1e9 / rate) + 1;
    assertTrue(sleeps.stream().allMatch(n -> n <= largest), "bursts " + sleeps);
    for (ChunkId id : damaged) {
      assertFalse(store.contains(id));
    }
    assertEquals(damaged, quarantineReports.keySet());
    assertEquals(new ChunkScrubber.Stats(1, 20, intactBytes, 3), scrubber.stats());

    // A second pass finds nothing more: the corrupt chunks are gone from the store.
    ChunkScrubber.Pass again = scrubber.scrubOnce();
    assertEquals(List.of(), again.corrupt());
    assertEquals(17, again.checked());
  }

  @Test
  void aScrubberRefusesANonPositiveRate() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> new ChunkScrubber(store, 0, Duration.ZERO));
    assertTrue(e.getMessage().contains("0"), e.getMessage());
  }

  @Test
  void aCorruptRawChunkCanBeReplacedByPutStored() throws IOException {
    byte[] raw = TestChunks.random(21, 20_000);
    ChunkRef ref = store.put(raw, 0, raw.length);
    flipByte(chunkFile(ref.id()), 1);

    assertThrows(ChunkCorruptException.class, () -> store.read(ref.id()));
    store.putStored(ref, ByteBuffer.wrap(ChunkCodecs.encode(raw, 0, raw.length, 3)));

    assertArrayEquals(raw, store.read(ref.id()));
  }

  @Test
  void everyKindOfDamageIsCaught() throws IOException {
    List<String> damages = List.of("tag", "truncate", "extend", "swap", "empty-payload");
    for (int i = 0; i < damages.size(); i++) {
      byte[] raw = TestChunks.compressible(30 + i, 20_000);
      ChunkRef ref = store.put(raw, 0, raw.length);
      Path file = chunkFile(ref.id());
      byte[] bytes = Files.readAllBytes(file);
      switch (damages.get(i)) {
        case "tag" -> bytes[0] = 7;
        case "truncate" -> bytes = java.util.Arrays.copyOf(bytes, bytes.length - 5);
        case "extend" -> bytes = java.util.Arrays.copyOf(bytes, bytes.length + 5);
        case "swap" ->
            bytes = ChunkCodecs.encode(TestChunks.compressible(99, 20_000), 0, 20_000, 3);
        case "empty-payload" -> bytes = new byte[] {ChunkCodec.ZSTD.tag()};
        default -> throw new AssertionError();
      }
      Files.write(file, bytes);
      assertThrows(ChunkCorruptException.class, () -> store.read(ref.id()), damages.get(i));
      assertFalse(store.contains(ref.id()), damages.get(i));
    }
    assertEquals(damages.size(), store.stats().quarantined());
    assertEquals(damages.size(), quarantined().size());
  }

  @Test
  void concurrentReadersOfACorruptChunkQuarantineItOnce() throws Exception {
    byte[] raw = TestChunks.compressible(44, 100_000);
    ChunkRef ref = store.put(raw, 0, raw.length);
    flipByte(chunkFile(ref.id()), 10);
    int readers = 4;
    CyclicBarrier start = new CyclicBarrier(readers);
    ExecutorService pool = Executors.newFixedThreadPool(readers);
    try {
      List<Future<Class<?>>> outcomes = new ArrayList<>();
      for (int i = 0; i < readers; i++) {
        outcomes.add(
            pool.submit(
                () -> {
                  start.await(10, TimeUnit.SECONDS);
                  try {
                    store.read(ref.id());
                    return Void.class;
                  } catch (IOException e) {
                    return e.getClass();
                  }
                }));
      }
      for (Future<Class<?>> f : outcomes) {
        Class<?> outcome = f.get(30, TimeUnit.SECONDS);
        assertTrue(
            outcome == ChunkCorruptException.class || outcome == NoSuchFileException.class,
            outcome.toString());
      }
    } finally {
      pool.shutdownNow();
    }
    assertEquals(1, store.stats().quarantined());
    assertEquals(1, quarantined().size());
    store.put(raw, 0, raw.length);
    assertArrayEquals(raw, store.read(ref.id()));
  }

  @Test
  void anEmptyChunkFileIsQuarantinedAtOpen() throws IOException {
    ChunkRef ref = putCompressible(40);
    store.close();
    Files.write(chunkFile(ref.id()), new byte[0]);

    reopenAfterClose();

    assertFalse(store.contains(ref.id()));
    assertEquals(1, store.stats().quarantined());
    assertEquals(1, quarantined().size());
  }

  @Test
  void readStoredRefusesAnImpossibleSize() throws IOException {
    ChunkRef ref = putCompressible(41);
    Files.write(chunkFile(ref.id()), new byte[0]);

    assertThrows(ChunkCorruptException.class, () -> store.readStored(ref.id()));
    assertFalse(store.contains(ref.id()));
  }

  @Test
  void aChunkFileDeletedBehindTheStoresBackIsForgotten() throws IOException {
    ChunkRef ref = putCompressible(42);
    Files.delete(chunkFile(ref.id()));

    assertThrows(NoSuchFileException.class, () -> store.read(ref.id()));
    assertFalse(store.contains(ref.id()));
    assertEquals(new StoreStats(0, 0, 0, 0), store.stats());
  }

  @Test
  void aCorruptChunkQuarantinedTwiceKeepsBothCopies() throws IOException {
    byte[] raw = TestChunks.compressible(43, 20_000);
    ChunkRef ref = store.put(raw, 0, raw.length);
    for (int round = 0; round < 2; round++) {
      flipByte(chunkFile(ref.id()), 3);
      assertThrows(ChunkCorruptException.class, () -> store.read(ref.id()));
      store.put(raw, 0, raw.length);
    }
    reopen();
    flipByte(chunkFile(ref.id()), 3);
    assertThrows(ChunkCorruptException.class, () -> store.read(ref.id()));
    assertEquals(3, quarantined().size());
  }

  // ---------------------------------------------------------------------------------------------

  private void reopenAfterClose() throws IOException {
    store = FileChunkStore.open(dir.resolve("store"), options());
  }

  private List<String> quarantined() throws IOException {
    List<String> names = new ArrayList<>();
    try (Stream<Path> s = Files.list(dir.resolve("store/quarantine"))) {
      s.forEach(p -> names.add(p.getFileName().toString()));
    }
    names.sort(null);
    return names;
  }

  private static void flipByte(Path file, long position) throws IOException {
    try (RandomAccessFile f = new RandomAccessFile(file.toFile(), "rw")) {
      f.seek(position);
      int b = f.read();
      f.seek(position);
      f.write(b ^ 0x40);
    }
  }
}
