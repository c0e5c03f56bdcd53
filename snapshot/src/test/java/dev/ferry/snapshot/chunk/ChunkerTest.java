package dev.ferry.snapshot.chunk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.snapshot.ChunkId;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

class ChunkerTest {
  private static final ChunkerConfig SMALL = new ChunkerConfig(256, 1024, 4096);

  static byte[] randomBytes(long seed, int n) {
    byte[] data = new byte[n];
    new Random(seed).nextBytes(data);
    return data;
  }

  /** Feeds {@code data} in pieces whose sizes come from {@code sizes}, then closes. */
  interface Splitter {
    int next(int remaining);
  }

  static ChunkRecorder chunkInPieces(ChunkerConfig config, byte[] data, Splitter sizes)
      throws IOException {
    ChunkRecorder recorder = new ChunkRecorder(data);
    try (Chunker chunker = Chunker.hashing(config, recorder)) {
      int off = 0;
      while (off < data.length) {
        int n = Math.min(data.length - off, Math.max(1, sizes.next(data.length - off)));
        chunker.write(data, off, n);
        off += n;
      }
      assertEquals(data.length, chunker.bytesWritten());
    }
    assertEquals(data.length, recorder.total(), "chunks cover the input");
    return recorder;
  }

  static ChunkRecorder chunkWhole(ChunkerConfig config, byte[] data) throws IOException {
    return chunkInPieces(config, data, remaining -> remaining);
  }

  static void assertSizesRespectConfig(List<ChunkRecorder.Cut> cuts, ChunkerConfig config) {
    for (int i = 0; i < cuts.size(); i++) {
      int length = cuts.get(i).length();
      assertTrue(length <= config.max(), "chunk " + i + " above max: " + length);
      if (i < cuts.size() - 1) {
        assertTrue(length > config.min(), "chunk " + i + " not above min: " + length);
      } else {
        assertTrue(length >= 1, "last chunk empty");
      }
    }
  }

  @Property(tries = 60, seed = "20260101")
  void matchesTheReferenceRuleWhateverTheWriteSizes(
      @ForAll long seed,
      @ForAll @IntRange(min = 0, max = 3) int configIndex,
      @ForAll @IntRange(min = 0, max = 200_000) int length)
      throws IOException {
    ChunkerConfig[] configs = {
      new ChunkerConfig(64, 256, 512),
      new ChunkerConfig(100, 256, 257),
      SMALL,
      new ChunkerConfig(2048, 4096, 65536),
    };
    ChunkerConfig config = configs[configIndex];
    byte[] data = randomBytes(seed, length);
    Random sizes = new Random(seed ^ 0x5DEECE66DL);
    ChunkRecorder recorder = chunkInPieces(config, data, r -> 1 + sizes.nextInt(3 * config.avg()));
    assertEquals(ReferenceChunker.ends(data, config), recorder.ends());
    assertSizesRespectConfig(recorder.cuts(), config);
  }

  @Test
  void boundariesDoNotDependOnHowTheStreamIsFed() throws IOException {
    byte[] data = randomBytes(11, 1 << 20);
    List<ChunkRecorder.Cut> whole = chunkWhole(SMALL, data).cuts();
    assertTrue(whole.size() > 500, "enough chunks to mean something: " + whole.size());

    assertEquals(whole, chunkInPieces(SMALL, data, r -> 1).cuts(), "1-byte writes");
    assertEquals(whole, chunkInPieces(SMALL, data, r -> 7).cuts(), "7-byte writes");
    Random random = new Random(12);
    assertEquals(
        whole, chunkInPieces(SMALL, data, r -> 1 + random.nextInt(10_000)).cuts(), "random writes");

    ChunkRecorder single = new ChunkRecorder(data);
    try (Chunker chunker = Chunker.hashing(SMALL, single)) {
      for (byte b : data) {
        chunker.write(b);
      }
    }
    assertEquals(whole, single.cuts(), "write(int)");

    ChunkRecorder streamed = new ChunkRecorder(data);
    try (Chunker chunker = Chunker.hashing(SMALL, streamed)) {
      assertEquals(data.length, chunker.transferFrom(new TricklingStream(data, 13)));
    }
    assertEquals(whole, streamed.cuts(), "transferFrom with short reads");
  }

  @Test
  void defaultConfigMatchesTheReferenceAndIsStableAcrossFeeding() throws IOException {
    byte[] data = randomBytes(21, 8 << 20);
    ChunkRecorder whole = chunkWhole(ChunkerConfig.DEFAULT, data);
    assertEquals(ReferenceChunker.ends(data, ChunkerConfig.DEFAULT), whole.ends());
    assertSizesRespectConfig(whole.cuts(), ChunkerConfig.DEFAULT);
    Random random = new Random(22);
    assertEquals(
        whole.cuts(),
        chunkInPieces(ChunkerConfig.DEFAULT, data, r -> 1 + random.nextInt(300_000)).cuts());
    ChunkRecorder streamed = new ChunkRecorder(data);
    try (Chunker chunker = Chunker.hashing(ChunkerConfig.DEFAULT, streamed)) {
      chunker.transferFrom(new ByteArrayInputStream(data));
    }
    assertEquals(whole.cuts(), streamed.cuts());
  }

  /**
   * Boundaries are part of the chunk format: a fixed input must keep its chunking across versions.
   */
  @Test
  void boundariesOfAFixedInputAreFrozen() throws IOException {
    byte[] data = randomBytes(0x46657272, 8 << 20);
    ChunkRecorder recorder = chunkWhole(ChunkerConfig.DEFAULT, data);
    MessageDigest sha = ChunkId.sha256();
    for (ChunkRecorder.Cut cut : recorder.cuts()) {
      sha.update(cut.id().toBytes());
    }
    assertEquals(GOLDEN_COUNT, recorder.cuts().size());
    assertEquals(GOLDEN_FIRST_END, recorder.ends().get(0));
    assertEquals(GOLDEN_IDS, HexFormat.of().formatHex(sha.digest()));
  }

  private static final int GOLDEN_COUNT = 28;
  private static final long GOLDEN_FIRST_END = 270_566;
  private static final String GOLDEN_IDS =
      "cb5953777345d21132ba53b19bc95c481722ef0afcd298b5ca4776cedb886cdb";

  @Test
  void aRunOfOneByteValueIsCutAtMax() throws IOException {
    byte[] zeros = new byte[10 * SMALL.max() + 5];
    List<ChunkRecorder.Cut> cuts = chunkWhole(SMALL, zeros).cuts();
    assertEquals(11, cuts.size());
    for (int i = 0; i < 10; i++) {
      assertEquals(SMALL.max(), cuts.get(i).length());
      assertEquals(cuts.get(0).id(), cuts.get(i).id());
    }
    assertEquals(5, cuts.get(10).length());
  }

  @Test
  void shortAndEmptyStreams() throws IOException {
    assertEquals(List.of(), chunkWhole(SMALL, new byte[0]).cuts());
    byte[] tiny = randomBytes(3, 10);
    List<ChunkRecorder.Cut> cuts = chunkWhole(SMALL, tiny).cuts();
    assertEquals(List.of(new ChunkRecorder.Cut(0, 10, ChunkId.of(tiny))), cuts);
    assertEquals(1, chunkWhole(SMALL, randomBytes(4, SMALL.min() + 1)).cuts().size());
  }

  /**
   * Edit locality, the reason for content-defined chunking: inserting or deleting 1..16 bytes in
   * the middle of 64 MiB changes at most 3 chunks (as multisets of ids), with the default config.
   */
  @Test
  void aSmallEditInTheMiddleChangesAtMostThreeChunks() throws IOException {
    int size = 64 << 20;
    byte[] data = randomBytes(31, size);
    List<ChunkId> before = ids(chunkWhole(ChunkerConfig.DEFAULT, data).cuts());
    Random random = new Random(32);
    for (int trial = 0; trial < 4; trial++) {
      int at = size / 4 + random.nextInt(size / 2);
      int n = 1 + random.nextInt(16);
      byte[] edited;
      if (trial % 2 == 0) {
        edited = new byte[size + n];
        System.arraycopy(data, 0, edited, 0, at);
        for (int i = 0; i < n; i++) {
          edited[at + i] = (byte) random.nextInt();
        }
        System.arraycopy(data, at, edited, at + n, size - at);
      } else {
        edited = new byte[size - n];
        System.arraycopy(data, 0, edited, 0, at);
        System.arraycopy(data, at + n, edited, at, size - at - n);
      }
      ChunkRecorder after = chunkWhole(ChunkerConfig.DEFAULT, edited);
      assertSizesRespectConfig(after.cuts(), ChunkerConfig.DEFAULT);
      List<ChunkId> afterIds = ids(after.cuts());
      String edit = (trial % 2 == 0 ? "insert " : "delete ") + n + " bytes at " + at;
      int removed = multisetMinus(before, afterIds).size();
      int added = multisetMinus(afterIds, before).size();
      assertTrue(removed >= 1 && removed <= 3, edit + ": chunks lost " + removed);
      assertTrue(added >= 1 && added <= 3, edit + ": chunks new " + added);
    }
  }

  private static List<ChunkId> ids(List<ChunkRecorder.Cut> cuts) {
    return cuts.stream().map(ChunkRecorder.Cut::id).toList();
  }

  /** {@code a} minus {@code b}, as multisets. */
  private static List<ChunkId> multisetMinus(List<ChunkId> a, List<ChunkId> b) {
    List<ChunkId> rest = new ArrayList<>(a);
    for (ChunkId id : b) {
      rest.remove(id);
    }
    return rest;
  }

  @Test
  void aFailingSinkBreaksTheChunker() throws IOException {
    IOException boom = new IOException("boom");
    int[] calls = {0};
    Chunker chunker =
        new Chunker(
            SMALL,
            (offset, bytes, from, length) -> {
              calls[0]++;
              throw boom;
            });
    byte[] data = randomBytes(5, 64 << 10);
    assertSame(boom, assertThrows(IOException.class, () -> chunker.write(data, 0, data.length)));
    IOException later = assertThrows(IOException.class, () -> chunker.write(data, 0, 10));
    assertTrue(later.getMessage().contains("broken"), later.getMessage());
    chunker.close();
    assertEquals(1, calls[0], "a broken chunker emits nothing more, not even on close");
  }

  @Test
  void aClosedChunkerRefusesWrites() throws IOException {
    Chunker chunker = new Chunker(SMALL, (offset, bytes, from, length) -> {});
    chunker.write(new byte[10], 0, 10);
    chunker.close();
    chunker.close();
    IOException e = assertThrows(IOException.class, () -> chunker.write(1));
    assertTrue(e.getMessage().contains("closed"), e.getMessage());
    assertThrows(IndexOutOfBoundsException.class, () -> chunker.write(new byte[4], 3, 2));
  }

  /** Returns at most {@code step} bytes per read, like a slow socket. */
  static final class TricklingStream extends InputStream {
    private final byte[] data;
    private final int step;
    private int pos;

    TricklingStream(byte[] data, int step) {
      this.data = data;
      this.step = step;
    }

    @Override
    public int read() {
      return pos < data.length ? data[pos++] & 0xff : -1;
    }

    @Override
    public int read(byte[] b, int off, int len) {
      if (pos == data.length) {
        return -1;
      }
      int n = Math.min(Math.min(len, step), data.length - pos);
      System.arraycopy(data, pos, b, off, n);
      pos += n;
      return n;
    }
  }
}
