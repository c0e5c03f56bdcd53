package dev.ferry.snapshot.transfer;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;

import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.ChunkRef;
import dev.ferry.snapshot.codec.ChunkCodecs;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The verification step on its own: good bytes give their content, anything else is corrupt. */
class ChunkVerifierTest {
  private static final byte[] RAW =
      "lorem ipsum dolor sit amet, ".repeat(200).getBytes(StandardCharsets.UTF_8);
  private static final byte[] STORED =
      ChunkCodecs.encode(RAW, 0, RAW.length, ChunkCodecs.DEFAULT_LEVEL);
  private static final ChunkRef REF = new ChunkRef(ChunkId.of(RAW), RAW.length, STORED.length);

  @Test
  void aGoodCompressedChunkYieldsExactlyItsContentWithoutMovingTheBuffer() {
    ByteBuffer in = ByteBuffer.wrap(STORED).asReadOnlyBuffer();
    ChunkVerifier.Verified v = assertInstanceOf(ChunkVerifier.Verified.class, verify(in));
    assertArrayEquals(RAW, v.raw());
    assertSame(in, v.stored());
    assertEquals(0, in.position());
    assertEquals(STORED.length, v.storedBytes());
  }

  @Test
  void aGoodRawChunkYieldsItsContent() {
    byte[] raw = new byte[1000];
    new java.util.SplittableRandom(3).nextBytes(raw);
    byte[] stored = ChunkCodecs.encode(raw, 0, raw.length, ChunkCodecs.DEFAULT_LEVEL);
    ChunkRef ref = new ChunkRef(ChunkId.of(raw), raw.length, stored.length);
    ChunkVerifier.Result r = ChunkVerifier.verify(ref, ByteBuffer.wrap(stored));
    assertArrayEquals(raw, assertInstanceOf(ChunkVerifier.Verified.class, r).raw());
  }

  @Test
  void aFlippedBitIsCorrupt() {
    for (int at : new int[] {1, STORED.length / 2, STORED.length - 1}) {
      byte[] b = STORED.clone();
      b[at] ^= 1;
      ChunkVerifier.Corrupt c =
          assertInstanceOf(ChunkVerifier.Corrupt.class, verify(ByteBuffer.wrap(b)));
      assertEquals(REF, c.ref());
      assertEquals(STORED.length, c.storedBytes());
    }
  }

  @Test
  void truncatedOrEmptyBytesAreCorrupt() {
    assertInstanceOf(
        ChunkVerifier.Corrupt.class,
        verify(ByteBuffer.wrap(Arrays.copyOf(STORED, STORED.length - 3))));
    assertInstanceOf(ChunkVerifier.Corrupt.class, verify(ByteBuffer.wrap(STORED, 0, 1)));
    assertInstanceOf(ChunkVerifier.Corrupt.class, verify(ByteBuffer.allocate(0)));
  }

  @Test
  void anotherChunksBytesAreCorrupt() {
    byte[] other = Arrays.copyOf(RAW, RAW.length);
    other[7] = 'X';
    byte[] stored = ChunkCodecs.encode(other, 0, other.length, ChunkCodecs.DEFAULT_LEVEL);
    ChunkVerifier.Corrupt c =
        assertInstanceOf(ChunkVerifier.Corrupt.class, verify(ByteBuffer.wrap(stored)));
    assertEquals("SHA-256 does not match", c.reason());
  }

  @Test
  void aChunkOfAnotherSizeIsCorrupt() {
    ChunkRef longer = new ChunkRef(REF.id(), RAW.length + 1, STORED.length);
    assertInstanceOf(
        ChunkVerifier.Corrupt.class, ChunkVerifier.verify(longer, ByteBuffer.wrap(STORED)));
  }

  private static ChunkVerifier.Result verify(ByteBuffer stored) {
    return ChunkVerifier.verify(REF, stored);
  }
}
