package dev.ferry.snapshot.format;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.ChunkRef;
import dev.ferry.snapshot.StateDigest;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

class ManifestCodecTest {
  private static final ChunkId A = ChunkId.of("a".getBytes(StandardCharsets.UTF_8));
  private static final ChunkId B = ChunkId.of("b".getBytes(StandardCharsets.UTF_8));
  private static final StateDigest DIGEST =
      StateDigest.EMPTY.plus(StateDigest.elementHash(new byte[] {1, 2, 3}));

  /** Offset of the first body field. */
  private static final int BODY = ManifestCodec.HEADER_BYTES;

  /** Offset of the shard count. */
  private static final int SHARD_COUNT = BODY + 16;

  /**
   * The root of {@link #sample()}. It changes only when the format changes, and then {@link
   * ManifestCodec#VERSION} must change too.
   */
  private static final String SAMPLE_ROOT =
      "2736fa09a47bcc0be8c9d660a11a3ca3913eb36cfcd3eef59ef1c2aa822d61ac";

  private static Manifest sample() {
    ChunkRef a = new ChunkRef(A, 1000, 400);
    ChunkRef b = new ChunkRef(B, ChunkRef.MAX_CHUNK_SIZE, ChunkRef.MAX_STORED_SIZE);
    TreeMap<String, String> metadata = new TreeMap<>();
    metadata.put("kind", "kv");
    metadata.put("chunker", "fastcdc/64k-1m-4m");
    return new Manifest(
        7,
        42,
        List.of(
            new Shard("users", List.of(new Run(List.of(a, b)), new Run(List.of()))),
            new Shard("Ωμέγα", List.of())),
        List.of(a),
        DIGEST,
        metadata);
  }

  @Test
  void layoutIsAsDocumented() throws Exception {
    byte[] expected =
        new RawManifest()
            .i64(7)
            .i64(42)
            .u32(2)
            .str("users")
            .u32(2)
            .u32(2)
            .chunk(A, 1000, 400)
            .chunk(B, ChunkRef.MAX_CHUNK_SIZE, ChunkRef.MAX_STORED_SIZE)
            .u32(0)
            .str("Ωμέγα")
            .u32(0)
            .u32(1)
            .chunk(A, 1000, 400)
            .bytes(DIGEST.toBytes())
            .u32(2)
            .str("chunker")
            .str("fastcdc/64k-1m-4m")
            .str("kind")
            .str("kv")
            .seal();
    byte[] encoded = ManifestCodec.encode(sample());
    assertArrayEquals(expected, encoded);
    assertEquals(0x46, encoded[0]);
    assertEquals('M', encoded[3]);
    assertEquals(sample(), ManifestCodec.decode(encoded));
  }

  /** The worked example of docs/snapshot-format.md, computed there by an independent encoder. */
  @Test
  void documentedExampleEncodesAsPublished() throws Exception {
    String hex =
        "4652594d00010000007b000000000000000500000000000003e80000000100026b76000000010000000"
            + "12cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b982400000005000000"
            + "060000000000000000000000000000000000000000000000000000000000000000000000000000000"
            + "10003617070000464656d6ffd2d11849a1ce4c7c080449d61aadb8d1413521bd04ac8baf0522bc9"
            + "aa4ab7a4";
    Manifest example =
        new Manifest(
            5,
            1000,
            List.of(
                Shard.ofChunks(
                    "kv",
                    List.of(
                        new ChunkRef(ChunkId.of("hello".getBytes(StandardCharsets.UTF_8)), 5, 6)))),
            List.of(),
            StateDigest.EMPTY,
            new TreeMap<>(Map.of("app", "demo")));
    assertEquals(hex, java.util.HexFormat.of().formatHex(ManifestCodec.encode(example)));
    assertEquals(example, ManifestCodec.decode(java.util.HexFormat.of().parseHex(hex)));
    assertEquals(
        "fd2d11849a1ce4c7c080449d61aadb8d1413521bd04ac8baf0522bc9aa4ab7a4",
        ManifestCodec.rootHash(example).toHex());
  }

  @Test
  void rootIsPinned() {
    assertEquals(SAMPLE_ROOT, ManifestCodec.rootHash(sample()).toHex());
  }

  @Test
  void rootIsTheTrailingSha256OfEverythingBefore() throws Exception {
    byte[] encoded = ManifestCodec.encode(sample());
    byte[] tail = Arrays.copyOfRange(encoded, encoded.length - 32, encoded.length);
    MessageDigest sha = ChunkId.sha256();
    sha.update(encoded, 0, encoded.length - 32);
    assertArrayEquals(sha.digest(), tail);
    assertArrayEquals(tail, ManifestCodec.rootHash(sample()).toBytes());
    assertEquals(ManifestCodec.rootHash(sample()), ManifestCodec.rootOf(encoded));
  }

  @Test
  void emptyManifestIsSmallest() throws Exception {
    Manifest empty = new Manifest(0, 0, List.of(), List.of(), StateDigest.EMPTY);
    byte[] encoded = ManifestCodec.encode(empty);
    assertEquals(10 + 8 + 8 + 4 + 4 + 32 + 4 + 32, encoded.length);
    assertEquals(empty, ManifestCodec.decode(encoded));
  }

  @Test
  void metadataOrderDoesNotDependOnTheCallersComparator() {
    TreeMap<String, String> reversed = new TreeMap<>(Collections.reverseOrder());
    reversed.putAll(sample().metadata());
    Manifest m = sample();
    Manifest viaReversed =
        new Manifest(m.term(), m.index(), m.shards(), m.sessionChunks(), m.digest(), reversed);
    assertArrayEquals(ManifestCodec.encode(m), ManifestCodec.encode(viaReversed));
  }

  @Test
  void equalManifestsHaveEqualRootsAndSmallChangesChangeIt() {
    Manifest m = sample();
    ManifestRoot root = ManifestCodec.rootHash(m);
    assertEquals(root, ManifestCodec.rootHash(sample()));
    Manifest otherIndex =
        new Manifest(m.term(), m.index() + 1, m.shards(), m.sessionChunks(), m.digest());
    assertNotEquals(root, ManifestCodec.rootHash(otherIndex));
  }

  // ---- errors: each names the problem and its offset ----

  @Test
  void truncatedHeader() {
    assertError(new byte[0], 0, "truncated");
    assertError(new byte[] {'F', 'R'}, 2, "truncated");
    assertError(new byte[] {'F', 'R', 'Y', 'M', 0}, 5, "truncated");
  }

  @Test
  void unknownMagic() {
    byte[] encoded = ManifestCodec.encode(sample());
    encoded[3] = '2';
    assertError(encoded, 0, "unknown magic 0x46525932");
  }

  @Test
  void unknownVersion() {
    byte[] encoded = ManifestCodec.encode(sample());
    encoded[5] = 2;
    assertError(encoded, 4, "unsupported format version 2; this build reads version 1");
  }

  @Test
  void bodyLengthBeyondTheLimit() {
    byte[] encoded = ManifestCodec.encode(sample());
    ByteBuffer.wrap(encoded).putInt(6, 0x7fffffff);
    assertError(encoded, 6, "more than the limit of " + ManifestCodec.MAX_BYTES);
    ByteBuffer.wrap(encoded).putInt(6, -1);
    assertError(encoded, 6, "body length 4294967295");
  }

  @Test
  void truncatedOrTrailingBytes() {
    byte[] encoded = ManifestCodec.encode(sample());
    assertError(Arrays.copyOf(encoded, encoded.length - 1), encoded.length - 1, "truncated");
    assertError(Arrays.copyOf(encoded, encoded.length + 1), encoded.length, "1 trailing bytes");
  }

  @Test
  void rootMismatch() {
    byte[] encoded = ManifestCodec.encode(sample());
    encoded[BODY + 3] ^= 1;
    assertError(encoded, encoded.length - 32, "root hash mismatch");
  }

  @Test
  void negativeTermOrIndex() {
    assertError(new RawManifest().i64(-1).seal(), BODY, "term is negative");
    assertError(new RawManifest().i64(0).i64(Long.MIN_VALUE).seal(), BODY + 8, "index is negative");
  }

  @Test
  void shardCountChecksLimitAndRemainingBytesBeforeAllocating() {
    assertError(
        new RawManifest().i64(0).i64(0).u32(Manifest.MAX_SHARDS + 1L).seal(),
        SHARD_COUNT,
        "shard count 65537 exceeds the limit 65536");
    assertError(
        new RawManifest().i64(0).i64(0).u32(1000).repeat(0, 100).seal(),
        SHARD_COUNT,
        "shard count 1000 needs at least 6000 bytes but only 100 remain");
  }

  @Test
  void runAndChunkCountsCheckRemainingBytes() {
    RawManifest raw = new RawManifest().i64(0).i64(0).u32(1).str("s");
    int runCountAt = raw.offset();
    assertError(
        raw.u32(0x7fffffff).repeat(0, 64).seal(),
        runCountAt,
        "run count of shard 0 2147483647 needs at least");
    raw = new RawManifest().i64(0).i64(0).u32(1).str("s").u32(1);
    int chunkCountAt = raw.offset();
    assertError(
        raw.u32(0xffffffffL).repeat(0, 64).seal(),
        chunkCountAt,
        "chunk count of shard 0 run 0 4294967295 exceeds the limit 2147483647");
    raw = new RawManifest().i64(0).i64(0).u32(1).str("s").u32(1);
    assertError(
        raw.u32(0x7fffffff).repeat(0, 64).seal(),
        chunkCountAt,
        "chunk count of shard 0 run 0 2147483647 needs at least 85899345880 bytes");
    raw = new RawManifest().i64(0).i64(0).u32(0);
    int sessionAt = raw.offset();
    assertError(raw.u32(2).chunk(A, 1, 1).seal(), sessionAt, "chunk count of session table 2");
  }

  @Test
  void shardNameBounds() {
    RawManifest raw = new RawManifest().i64(0).i64(0).u32(1);
    int nameAt = raw.offset();
    assertError(
        raw.u16(Shard.MAX_NAME_BYTES + 1).repeat('x', 300).seal(),
        nameAt,
        "shard 0 name is 257 bytes, more than the limit 256");
    raw = new RawManifest().i64(0).i64(0).u32(1);
    assertError(
        raw.u16(200).repeat('x', 10).seal(),
        nameAt + 2,
        "shard 0 name needs 200 bytes but only 10 remain");
  }

  @Test
  void malformedUtf8IsRefused() {
    // an overlong NUL, an encoded surrogate, a lone continuation byte, a truncated sequence
    for (byte[] bad :
        List.of(
            new byte[] {(byte) 0xC0, (byte) 0x80},
            new byte[] {(byte) 0xED, (byte) 0xA0, (byte) 0x80},
            new byte[] {(byte) 0x80},
            new byte[] {(byte) 0xE2, (byte) 0x82})) {
      RawManifest raw = new RawManifest().i64(0).i64(0).u32(1);
      int bytesAt = raw.offset() + 2;
      assertError(
          raw.u16(bad.length).bytes(bad).u32(0).u32(0).bytes(DIGEST.toBytes()).u32(0).seal(),
          bytesAt,
          "shard 0 name is not well-formed UTF-8");
    }
  }

  @Test
  void duplicateShardNamesAreRefused() {
    RawManifest raw = new RawManifest().i64(0).i64(0).u32(2).str("s").u32(0);
    int secondAt = raw.offset();
    assertError(raw.str("s").u32(0).seal(), secondAt, "shard 1 repeats the name \"s\"");
  }

  @Test
  void chunkSizesAreChecked() {
    RawManifest raw = new RawManifest().i64(0).i64(0).u32(0).u32(1).bytes(A.toBytes());
    int rawAt = raw.offset();
    assertError(
        raw.u32(0).u32(1).bytes(DIGEST.toBytes()).u32(0).seal(),
        rawAt,
        "session table chunk 0 raw size 0 out of range");
    raw = new RawManifest().i64(0).i64(0).u32(0).u32(1).bytes(A.toBytes());
    assertError(
        raw.u32(ChunkRef.MAX_CHUNK_SIZE + 1L).u32(1).bytes(DIGEST.toBytes()).u32(0).seal(),
        rawAt,
        "raw size 16777217 out of range");
    raw = new RawManifest().i64(0).i64(0).u32(0).u32(1).bytes(A.toBytes()).u32(1);
    assertError(
        raw.u32(0xffffffffL).bytes(DIGEST.toBytes()).u32(0).seal(),
        rawAt + 4,
        "stored size 4294967295 out of range");
  }

  @Test
  void metadataMustBeStrictlyIncreasingAndBounded() {
    RawManifest raw =
        new RawManifest().i64(0).i64(0).u32(0).u32(0).bytes(DIGEST.toBytes()).u32(2).str("b");
    raw.str("1");
    int secondAt = raw.offset();
    assertError(raw.str("a").str("2").seal(), secondAt, "metadata key \"a\" does not follow \"b\"");

    raw = new RawManifest().i64(0).i64(0).u32(0).u32(0).bytes(DIGEST.toBytes()).u32(2);
    raw.str("k").str("1");
    secondAt = raw.offset();
    assertError(raw.str("k").str("2").seal(), secondAt, "metadata key \"k\" does not follow");

    raw = new RawManifest().i64(0).i64(0).u32(0).u32(0).bytes(DIGEST.toBytes());
    int countAt = raw.offset();
    assertError(
        raw.u32(Manifest.MAX_METADATA_ENTRIES + 1L).repeat(0, 4000).seal(),
        countAt,
        "metadata count 257 exceeds the limit 256");

    raw = new RawManifest().i64(0).i64(0).u32(0).u32(0).bytes(DIGEST.toBytes()).u32(1).str("k");
    int valueAt = raw.offset();
    assertError(
        raw.u16(Manifest.MAX_METADATA_VALUE_BYTES + 1).repeat('v', 20000).seal(),
        valueAt,
        "metadata value 0 is 16385 bytes, more than the limit 16384");
  }

  @Test
  void bytesAfterTheLastFieldAreRefused() {
    RawManifest raw = new RawManifest().i64(0).i64(0).u32(0).u32(0).bytes(DIGEST.toBytes()).u32(0);
    int endAt = raw.offset();
    assertError(raw.repeat(0, 3).seal(), endAt, "3 unread bytes at the end of the body");
  }

  @Test
  void theCallerMayLowerTheLimit() throws Exception {
    byte[] encoded = ManifestCodec.encode(sample());
    assertEquals(sample(), ManifestCodec.decode(encoded, encoded.length));
    assertError(
        () -> ManifestCodec.decode(encoded, encoded.length - 1),
        6,
        "more than the limit of " + (encoded.length - 1));
    assertThrows(IllegalArgumentException.class, () -> ManifestCodec.decode(encoded, 0));
    assertThrows(
        IllegalArgumentException.class,
        () -> ManifestCodec.decode(encoded, ManifestCodec.MAX_BYTES + 1));
  }

  @Test
  void rootOfRefusesInvalidBytes() {
    byte[] encoded = ManifestCodec.encode(sample());
    encoded[encoded.length - 1] ^= 1;
    assertThrows(ManifestFormatException.class, () -> ManifestCodec.rootOf(encoded));
  }

  // ---- streams ----

  @Test
  void readTakesExactlyOneManifestFromAStream() throws Exception {
    Manifest other = new Manifest(1, 2, List.of(), List.of(), StateDigest.EMPTY);
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ManifestCodec.write(sample(), out);
    ManifestCodec.write(other, out);
    out.write(99);
    InputStream in = new ByteArrayInputStream(out.toByteArray());
    assertEquals(sample(), ManifestCodec.read(in, ManifestCodec.MAX_BYTES));
    assertEquals(other, ManifestCodec.read(in, ManifestCodec.MAX_BYTES));
    assertEquals(99, in.read());
  }

  @Test
  void readFailsOnAShortStreamWithoutAllocatingWhatTheHeaderClaims() throws Exception {
    byte[] encoded = ManifestCodec.encode(sample());
    ByteBuffer.wrap(encoded).putInt(6, ManifestCodec.MAX_BYTES - 42);
    ManifestFormatException e =
        assertThrows(
            ManifestFormatException.class,
            () -> ManifestCodec.read(new ByteArrayInputStream(encoded), ManifestCodec.MAX_BYTES));
    assertTrue(e.getMessage().contains("stream ended after " + encoded.length), e.getMessage());
    assertEquals(encoded.length, e.offset());

    byte[] header = Arrays.copyOf(ManifestCodec.encode(sample()), 7);
    e =
        assertThrows(
            ManifestFormatException.class,
            () -> ManifestCodec.read(new ByteArrayInputStream(header), 1000));
    assertEquals(7, e.offset());
  }

  @Test
  void readPassesOnStreamErrors() {
    InputStream failing =
        new InputStream() {
          @Override
          public int read() throws IOException {
            throw new IOException("disk on fire");
          }
        };
    IOException e =
        assertThrows(IOException.class, () -> ManifestCodec.read(failing, ManifestCodec.MAX_BYTES));
    assertEquals("disk on fire", e.getMessage());
  }

  // ---- the size limit ----

  @Test
  void manifestsUpToTheLimitEncodeAndDecodeAndLargerOnesAreRefused() throws Exception {
    ChunkRef one = RandomManifests.chunk(new Random(1));
    int base = ManifestCodec.encode(bigManifest(one, 0, 0)).length;
    int chunks = (ManifestCodec.MAX_BYTES - base) / 40;
    int pad = (ManifestCodec.MAX_BYTES - base) % 40;
    Manifest largest = bigManifest(one, chunks, pad);
    byte[] encoded = ManifestCodec.encode(largest);
    assertEquals(ManifestCodec.MAX_BYTES, encoded.length);

    long start = System.nanoTime();
    Manifest decoded = ManifestCodec.decode(encoded);
    long millis = (System.nanoTime() - start) / 1_000_000;
    System.out.printf(
        Locale.ROOT,
        "decoded a %d MiB manifest of %d chunk refs in %d ms%n",
        encoded.length >> 20,
        chunks,
        millis);
    assertEquals(largest, decoded);

    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> ManifestCodec.encode(bigManifest(one, chunks, pad + 1)));
    assertTrue(e.getMessage().contains("" + (ManifestCodec.MAX_BYTES + 1)), e.getMessage());
  }

  private static Manifest bigManifest(ChunkRef chunk, int chunks, int pad) {
    List<ChunkRef> refs = new ArrayList<>(Collections.nCopies(chunks, chunk));
    return new Manifest(
        1,
        1,
        List.of(Shard.ofChunks("s", refs)),
        List.of(),
        StateDigest.EMPTY,
        new TreeMap<>(Map.of("k", "v".repeat(pad))));
  }

  // ---- helpers ----

  private static void assertError(byte[] encoded, long offset, String message) {
    assertError(() -> ManifestCodec.decode(encoded), offset, message);
  }

  private static void assertError(Decoding decoding, long offset, String message) {
    ManifestFormatException e = assertThrows(ManifestFormatException.class, decoding::run);
    assertTrue(
        e.getMessage().contains(message),
        () -> "message \"" + e.getMessage() + "\" lacks \"" + message + "\"");
    assertTrue(e.getMessage().startsWith("bad manifest at offset " + offset + ": "), e::getMessage);
    assertEquals(offset, e.offset(), e::getMessage);
  }

  private interface Decoding {
    void run() throws Exception;
  }
}
