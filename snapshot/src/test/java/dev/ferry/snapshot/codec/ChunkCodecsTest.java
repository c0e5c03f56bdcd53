package dev.ferry.snapshot.codec;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import com.github.luben.zstd.Zstd;
import dev.ferry.snapshot.ChunkRef;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ChunkCodecsTest {
  private static final int RAW_ONLY = Integer.MIN_VALUE;

  // ---------------------------------------------------------------------------------------------
  // Round trips and the codec choice

  @ParameterizedTest
  @ValueSource(ints = {-5, 1, 3})
  void compressibleChunksRoundTripThroughZstd(int level) throws CodecException {
    byte[] raw = text(1, 100_000);
    byte[] stored = ChunkCodecs.encode(raw, 0, raw.length, level);

    assertEquals(ChunkCodec.ZSTD.tag(), stored[0]);
    assertTrue(stored.length < raw.length / 2, "stored " + stored.length);
    assertEquals(ChunkCodec.ZSTD, ChunkCodecs.codecOf(ByteBuffer.wrap(stored)));
    assertEquals(raw.length, ChunkCodecs.rawSizeOf(ByteBuffer.wrap(stored)));
    assertArrayEquals(raw, ChunkCodecs.decode(ByteBuffer.wrap(stored), raw.length));
  }

  @ParameterizedTest
  @ValueSource(ints = {-5, 1, 3})
  void incompressibleChunksFallBackToRaw(int level) throws CodecException {
    byte[] raw = random(2, 100_000);
    byte[] stored = ChunkCodecs.encode(raw, 0, raw.length, level);

    assertEquals(ChunkCodec.RAW.tag(), stored[0]);
    assertEquals(raw.length + 1, stored.length);
    assertArrayEquals(raw, Arrays.copyOfRange(stored, 1, stored.length));
    assertEquals(raw.length, ChunkCodecs.rawSizeOf(ByteBuffer.wrap(stored)));
    assertArrayEquals(raw, ChunkCodecs.decode(ByteBuffer.wrap(stored), raw.length));
  }

  @Test
  void aSavingBelowFivePercentIsStoredRaw() throws CodecException {
    // Random bytes where every 1000-byte block repeats 50 earlier bytes: zstd saves about 3 %.
    Random r = new Random(3);
    byte[] raw = new byte[200_000];
    r.nextBytes(raw);
    for (int block = 1000; block + 1000 <= raw.length; block += 1000) {
      System.arraycopy(raw, r.nextInt(block - 50), raw, block, 50);
    }
    long zstd = Zstd.compress(raw, 3).length;
    assertTrue(
        zstd < raw.length && zstd > raw.length * (1 - ChunkCodecs.MIN_SAVING), "zstd " + zstd);

    byte[] stored = ChunkCodecs.encode(raw, 0, raw.length, 3);

    assertEquals(ChunkCodec.RAW.tag(), stored[0]);
    assertArrayEquals(raw, ChunkCodecs.decode(ByteBuffer.wrap(stored), raw.length));
  }

  @Test
  void aSavingAboveFivePercentIsStoredZstd() throws CodecException {
    // A 128-symbol alphabet saves about 12 %.
    Random r = new Random(4);
    byte[] raw = new byte[200_000];
    for (int i = 0; i < raw.length; i++) {
      raw[i] = (byte) r.nextInt(128);
    }
    byte[] stored = ChunkCodecs.encode(raw, 0, raw.length, 3);

    assertEquals(ChunkCodec.ZSTD.tag(), stored[0]);
    assertTrue(stored.length <= raw.length * (1 - ChunkCodecs.MIN_SAVING) + 1);
    assertArrayEquals(raw, ChunkCodecs.decode(ByteBuffer.wrap(stored), raw.length));
  }

  @Test
  void rawOnlyNeverCompresses() throws CodecException {
    byte[] raw = text(5, 10_000);
    byte[] stored = ChunkCodecs.encode(raw, 0, raw.length, RAW_ONLY);
    assertEquals(ChunkCodec.RAW.tag(), stored[0]);
    assertArrayEquals(raw, ChunkCodecs.decode(ByteBuffer.wrap(stored), raw.length));
  }

  @Test
  void encodeTakesTheGivenRangeAndIsDeterministic() throws CodecException {
    byte[] raw = text(6, 50_000);
    byte[] a = ChunkCodecs.encode(raw, 1000, 20_000, 3);
    byte[] b = ChunkCodecs.encode(raw.clone(), 1000, 20_000, 3);

    assertArrayEquals(a, b);
    assertArrayEquals(
        Arrays.copyOfRange(raw, 1000, 21_000), ChunkCodecs.decode(ByteBuffer.wrap(a), 20_000));
  }

  @Test
  void decodeReadsTheRemainingBytesWithoutMovingTheBuffer() throws CodecException {
    byte[] raw = text(7, 30_000);
    byte[] stored = ChunkCodecs.encode(raw, 0, raw.length, 3);
    ByteBuffer buf = ByteBuffer.allocateDirect(stored.length + 20);
    buf.position(7);
    buf.put(stored);
    buf.position(7).limit(7 + stored.length);

    assertArrayEquals(raw, ChunkCodecs.decode(buf, raw.length));
    assertEquals(raw.length, ChunkCodecs.rawSizeOf(buf));
    assertEquals(7, buf.position());
  }

  @Test
  void decodeReadsAHeapBufferInsideALargerArray() throws CodecException {
    byte[] raw = text(8, 30_000);
    byte[] stored = ChunkCodecs.encode(raw, 0, raw.length, 3);
    byte[] big = new byte[stored.length + 100];
    Arrays.fill(big, (byte) 0x5a);
    System.arraycopy(stored, 0, big, 60, stored.length);
    ByteBuffer slice = ByteBuffer.wrap(big, 10, stored.length + 60).slice(); // arrayOffset 10
    slice.position(50).limit(50 + stored.length);

    assertArrayEquals(raw, ChunkCodecs.decode(slice, raw.length));
    assertEquals(50, slice.position());
    assertArrayEquals(raw, ChunkCodecs.decode(slice.asReadOnlyBuffer(), raw.length));
  }

  @Test
  void failedDecodesDoNotSpoilLaterOnesOnAnyThread() throws Exception {
    byte[][] raws = new byte[8][];
    byte[][] stored = new byte[8][];
    for (int i = 0; i < raws.length; i++) {
      raws[i] = text(20 + i, 10_000 + 1000 * i);
      stored[i] = ChunkCodecs.encode(raws[i], 0, raws[i].length, 3);
    }
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<Integer>> done = new ArrayList<>();
      for (int t = 0; t < 4; t++) {
        long seed = t;
        done.add(
            pool.submit(
                () -> {
                  Random r = rng(seed);
                  int good = 0;
                  for (int k = 0; k < 400; k++) {
                    int i = r.nextInt(raws.length);
                    if (r.nextBoolean()) {
                      byte[] bad = stored[i].clone();
                      bad[bad.length / 2] ^= (byte) 0xff;
                      bad[bad.length - 1] ^= (byte) 0xff;
                      try {
                        ChunkCodecs.decode(ByteBuffer.wrap(bad), raws[i].length);
                      } catch (CodecException expected) {
                        // a damaged frame fails, and its context is dropped
                      }
                    } else {
                      assertArrayEquals(
                          raws[i], ChunkCodecs.decode(ByteBuffer.wrap(stored[i]), raws[i].length));
                      good++;
                    }
                  }
                  return good;
                }));
      }
      int good = 0;
      for (Future<Integer> f : done) {
        good += f.get();
      }
      assertTrue(good > 0);
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void encodeRejectsBadArguments() {
    byte[] raw = new byte[10];
    assertThrows(IllegalArgumentException.class, () -> ChunkCodecs.encode(raw, 0, 0, 3));
    assertThrows(IllegalArgumentException.class, () -> ChunkCodecs.encode(raw, 5, 6, 3));
    assertThrows(IllegalArgumentException.class, () -> ChunkCodecs.encode(raw, -1, 2, 3));
    assertThrows(
        IllegalArgumentException.class,
        () -> ChunkCodecs.encode(raw, 0, 10, Zstd.maxCompressionLevel() + 1));
    assertThrows(
        IllegalArgumentException.class,
        () -> ChunkCodecs.encode(raw, 0, 10, Zstd.minCompressionLevel() - 1));
  }

  @Property(tries = 200, seed = "42")
  void anyChunkRoundTrips(
      @ForAll @Size(min = 1, max = 5000) byte[] raw, @ForAll @IntRange(min = -7, max = 9) int level)
      throws CodecException {
    byte[] stored = ChunkCodecs.encode(raw, 0, raw.length, level);
    assertTrue(stored.length <= raw.length + 1);
    assertEquals(raw.length, ChunkCodecs.rawSizeOf(ByteBuffer.wrap(stored)));
    assertArrayEquals(raw, ChunkCodecs.decode(ByteBuffer.wrap(stored), raw.length));
  }

  // ---------------------------------------------------------------------------------------------
  // Refusals

  @Test
  void aRawChunkOfTheWrongSizeIsRefused() {
    byte[] stored = ChunkCodecs.encode(random(8, 1000), 0, 1000, RAW_ONLY);
    assertThrows(CodecException.class, () -> ChunkCodecs.decode(ByteBuffer.wrap(stored), 999));
    assertThrows(CodecException.class, () -> ChunkCodecs.decode(ByteBuffer.wrap(stored), 1001));
  }

  @Test
  void rawSizeOutOfRangeIsRefused() {
    ByteBuffer stored = ByteBuffer.wrap(ChunkCodecs.encode(text(9, 1000), 0, 1000, 3));
    for (int rawSize : new int[] {0, -1, ChunkRef.MAX_CHUNK_SIZE + 1, Integer.MAX_VALUE}) {
      assertThrows(CodecException.class, () -> ChunkCodecs.decode(stored, rawSize));
    }
    ByteBuffer empty = ByteBuffer.wrap(new byte[] {ChunkCodec.RAW.tag()});
    assertThrows(CodecException.class, () -> ChunkCodecs.rawSizeOf(empty));
  }

  @Test
  void unknownTagsAreRefused() {
    byte[] raw = text(10, 1000);
    for (int tag = 2; tag < 256; tag++) {
      byte[] stored = ChunkCodecs.encode(raw, 0, raw.length, 3);
      stored[0] = (byte) tag;
      CodecException e =
          assertThrows(
              CodecException.class, () -> ChunkCodecs.decode(ByteBuffer.wrap(stored), 1000));
      assertTrue(e.getMessage().contains("unknown chunk codec tag " + tag), e.getMessage());
      assertThrows(CodecException.class, () -> ChunkCodecs.rawSizeOf(ByteBuffer.wrap(stored)));
      assertThrows(CodecException.class, () -> ChunkCodecs.codecOf(ByteBuffer.wrap(stored)));
    }
    assertThrows(CodecException.class, () -> ChunkCodecs.codecOf(ByteBuffer.allocate(0)));
    assertThrows(CodecException.class, () -> ChunkCodecs.decode(ByteBuffer.allocate(0), 10));
  }

  @Test
  void handMadeFramesAreWellFormed() throws CodecException {
    // The refusal tests below rely on this frame builder producing frames zstd accepts.
    byte[] content = text(11, 500);
    byte[] stored = zstdStored(frame(content.length, content));
    assertEquals(content.length, ChunkCodecs.rawSizeOf(ByteBuffer.wrap(stored)));
    assertArrayEquals(content, ChunkCodecs.decode(ByteBuffer.wrap(stored), content.length));
  }

  @Test
  void aFrameClaimingMoreThanTheRawSizeIsRefusedBeforeAllocating() {
    byte[] content = text(12, 100);
    // Claims 1 TiB: never allocated, since the claim must equal the expected raw size.
    byte[] huge = zstdStored(frame(1L << 40, content));
    CodecException e =
        assertThrows(CodecException.class, () -> ChunkCodecs.decode(ByteBuffer.wrap(huge), 100));
    assertTrue(e.getMessage().contains("claims"), e.getMessage());
    assertThrows(CodecException.class, () -> ChunkCodecs.rawSizeOf(ByteBuffer.wrap(huge)));

    byte[] real = ChunkCodecs.encode(text(13, 10_000), 0, 10_000, 3);
    assertThrows(CodecException.class, () -> ChunkCodecs.decode(ByteBuffer.wrap(real), 9_999));
    assertThrows(CodecException.class, () -> ChunkCodecs.decode(ByteBuffer.wrap(real), 10_001));
  }

  @Test
  void aFrameProducingMoreThanItClaimsIsRefused() {
    byte[] content = text(14, 200);
    byte[] stored = zstdStored(frame(100, content));
    assertThrows(CodecException.class, () -> ChunkCodecs.decode(ByteBuffer.wrap(stored), 100));
  }

  @Test
  void aFrameProducingLessThanItClaimsIsRefused() {
    byte[] content = text(15, 100);
    byte[] stored = zstdStored(frame(200, content));
    assertThrows(CodecException.class, () -> ChunkCodecs.decode(ByteBuffer.wrap(stored), 200));
  }

  @Test
  void aSecondFrameAfterTheClaimedContentIsRefused() {
    byte[] first = text(16, 100);
    byte[] second = text(17, 50);
    byte[] both = concat(frame(100, first), frame(50, second));
    assertThrows(
        CodecException.class, () -> ChunkCodecs.decode(ByteBuffer.wrap(zstdStored(both)), 100));
  }

  @Test
  void aFrameWithoutAContentSizeIsRefused() {
    byte[] content = text(18, 100);
    // Descriptor 0x00: no single segment, no content size; window descriptor 0x00 (1 KiB).
    ByteBuffer f =
        ByteBuffer.allocate(4 + 1 + 1 + 3 + content.length).order(ByteOrder.LITTLE_ENDIAN);
    f.putInt(0xFD2FB528).put((byte) 0).put((byte) 0);
    putRawBlockHeader(f, content.length);
    f.put(content);
    byte[] stored = zstdStored(f.array());
    assertThrows(CodecException.class, () -> ChunkCodecs.decode(ByteBuffer.wrap(stored), 100));
    assertThrows(CodecException.class, () -> ChunkCodecs.rawSizeOf(ByteBuffer.wrap(stored)));
  }

  @Test
  void anEmptyZstdPayloadIsACodecException() {
    // zstd-jni throws ArrayIndexOutOfBoundsException on an empty frame; the codec must not leak it.
    ByteBuffer stored = ByteBuffer.wrap(new byte[] {ChunkCodec.ZSTD.tag()});
    assertThrows(CodecException.class, () -> ChunkCodecs.decode(stored, 10));
    assertThrows(CodecException.class, () -> ChunkCodecs.rawSizeOf(stored));
  }

  /**
   * Truncated, bit-flipped, spliced and random payloads either decode to exactly the expected size
   * or fail with {@link CodecException}; never any other exception.
   */
  @Test
  void damagedInputOnlyEverFailsWithCodecException() {
    int cases = 0;
    for (long seed = 0; seed < 40; seed++) {
      Random r = rng(seed);
      int length = 1 + r.nextInt(20_000);
      byte[] raw = seed % 3 == 0 ? random(seed, length) : text(seed, length);
      byte[] stored = ChunkCodecs.encode(raw, 0, raw.length, seed % 2 == 0 ? 3 : -5);
      for (int i = 0; i < 50; i++) {
        byte[] damaged = damage(stored, r);
        int rawSize = r.nextInt(4) == 0 ? 1 + r.nextInt(2 * length) : length;
        assertOnlyCodecException(damaged, rawSize, seed);
        cases++;
      }
    }
    for (long seed = 0; seed < 500; seed++) {
      Random r = rng(seed);
      byte[] garbage = new byte[r.nextInt(4) == 0 ? r.nextInt(3) : r.nextInt(64)];
      r.nextBytes(garbage);
      if (garbage.length > 0) {
        garbage[0] = (byte) r.nextInt(3);
      }
      if (garbage.length > 5 && r.nextBoolean()) {
        // A zstd magic number, so the frame parser gets further.
        ByteBuffer.wrap(garbage, 1, 4).order(ByteOrder.LITTLE_ENDIAN).putInt(0xFD2FB528);
      }
      assertOnlyCodecException(garbage, 1 + r.nextInt(1000), seed);
      cases++;
    }
    assertEquals(40 * 50 + 500, cases);
  }

  private static void assertOnlyCodecException(byte[] stored, int rawSize, long seed) {
    try {
      byte[] out = ChunkCodecs.decode(ByteBuffer.wrap(stored), rawSize);
      assertEquals(rawSize, out.length, "seed " + seed);
    } catch (CodecException e) {
      // expected for most damage
    } catch (RuntimeException e) {
      fail("seed " + seed + ": decode threw " + e + " for " + stored.length + " bytes", e);
    }
    try {
      int size = ChunkCodecs.rawSizeOf(ByteBuffer.wrap(stored));
      assertTrue(size > 0 && size <= ChunkRef.MAX_CHUNK_SIZE, "seed " + seed + ": size " + size);
    } catch (CodecException e) {
      // expected for most damage
    } catch (RuntimeException e) {
      fail("seed " + seed + ": rawSizeOf threw " + e + " for " + stored.length + " bytes", e);
    }
  }

  private static byte[] damage(byte[] stored, Random r) {
    byte[] d;
    switch (r.nextInt(5)) {
      case 0 -> d = Arrays.copyOf(stored, r.nextInt(stored.length)); // truncate (maybe to empty)
      case 1 -> {
        d = stored.clone();
        int flips = 1 + r.nextInt(4);
        for (int i = 0; i < flips; i++) {
          d[r.nextInt(d.length)] ^= (byte) (1 << r.nextInt(8));
        }
      }
      case 2 -> {
        d = stored.clone();
        int from = 1 + r.nextInt(Math.max(1, d.length - 1));
        for (int i = from; i < d.length; i++) {
          d[i] = (byte) r.nextInt(256); // random tail
        }
      }
      case 3 -> {
        byte[] extra = new byte[1 + r.nextInt(100)];
        r.nextBytes(extra);
        d = concat(stored, extra); // trailing garbage
      }
      default -> {
        d = stored.clone();
        if (d.length > 12) {
          // Damage the frame header, where the sizes live.
          d[1 + r.nextInt(12)] = (byte) r.nextInt(256);
        }
      }
    }
    return d;
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers

  /**
   * A zstd frame with an 8-byte content-size field claiming {@code claimed} bytes and one raw block
   * holding {@code content} (zstd format, RFC 8878 section 3.1.1).
   */
  private static byte[] frame(long claimed, byte[] content) {
    ByteBuffer f =
        ByteBuffer.allocate(4 + 1 + 8 + 3 + content.length).order(ByteOrder.LITTLE_ENDIAN);
    f.putInt(0xFD2FB528); // magic
    f.put((byte) 0xE0); // FCS field 8 bytes, single segment, no checksum, no dictionary
    f.putLong(claimed);
    putRawBlockHeader(f, content.length);
    f.put(content);
    return f.array();
  }

  /** A last raw block of {@code size} bytes. */
  private static void putRawBlockHeader(ByteBuffer f, int size) {
    int header = (size << 3) | 1;
    f.put((byte) header).put((byte) (header >>> 8)).put((byte) (header >>> 16));
  }

  private static byte[] zstdStored(byte[] frame) {
    byte[] stored = new byte[frame.length + 1];
    stored[0] = ChunkCodec.ZSTD.tag();
    System.arraycopy(frame, 0, stored, 1, frame.length);
    return stored;
  }

  /** A generator per seed; consecutive seeds are spread so their first draws are unrelated. */
  private static Random rng(long seed) {
    return new Random(seed * 0x9E3779B97F4A7C15L + 0x632BE59BD9B4E019L);
  }

  private static byte[] concat(byte[] a, byte[] b) {
    byte[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }

  private static byte[] random(long seed, int length) {
    byte[] b = new byte[length];
    new Random(seed).nextBytes(b);
    return b;
  }

  private static byte[] text(long seed, int length) {
    Random r = new Random(seed);
    StringBuilder sb = new StringBuilder(length + 32);
    while (sb.length() < length) {
      sb.append("user")
          .append(r.nextInt(500))
          .append(":balance=")
          .append(r.nextInt(90))
          .append('\n');
    }
    return Arrays.copyOf(sb.toString().getBytes(StandardCharsets.US_ASCII), length);
  }
}
