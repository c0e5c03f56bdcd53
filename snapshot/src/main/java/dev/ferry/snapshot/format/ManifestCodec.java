package dev.ferry.snapshot.format;

import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.ChunkRef;
import dev.ferry.snapshot.StateDigest;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.Supplier;

/**
 * The binary form of a {@link Manifest}, and its {@link ManifestRoot root hash}.
 *
 * <p>Layout, version 1. All integers are big-endian; {@code u16}/{@code u32} are unsigned, {@code
 * i64} is signed and must be {@code >= 0}; a {@code str} is a {@code u16} byte length followed by
 * that many bytes of well-formed UTF-8; a {@code chunk} is a 32-byte {@link ChunkId}, a {@code u32}
 * raw size ({@code 1..}{@link ChunkRef#MAX_CHUNK_SIZE}) and a {@code u32} stored size ({@code 1..}
 * {@link ChunkRef#MAX_STORED_SIZE}), 40 bytes in all.
 *
 * <pre>
 * header   magic          4 bytes  "FRYM" (0x46 0x52 0x59 0x4D)
 *          version        u16      1
 *          body length    u32      B; the whole manifest is 10 + B + 32 bytes
 * body     term           i64
 *          index          i64
 *          shard count    u32      at most {@link Manifest#MAX_SHARDS}
 *          per shard:     name     str, at most {@link Shard#MAX_NAME_BYTES} bytes, unique
 *                         run count u32
 *                         per run: chunk count u32, then that many chunk
 *          session count  u32, then that many chunk
 *          state digest   32 bytes ({@link StateDigest#toBytes()})
 *          metadata count u32      at most {@link Manifest#MAX_METADATA_ENTRIES}
 *          per entry:     key      str, at most {@link Manifest#MAX_METADATA_KEY_BYTES} bytes,
 *                                  strictly increasing in {@link String#compareTo} order
 *                         value    str, at most {@link Manifest#MAX_METADATA_VALUE_BYTES} bytes
 * root                    32 bytes SHA-256 of header and body (every byte before it)
 * </pre>
 *
 * <p>Guarantees:
 *
 * <ul>
 *   <li><b>Deterministic and canonical.</b> Equal manifests encode to identical bytes, and the
 *       decoder accepts exactly one encoding of each manifest (no slack in lengths, orderings,
 *       UTF-8 or trailing bytes), so equal roots mean equal manifests and vice versa.
 *   <li><b>Strict and bounded decoding.</b> A manifest is at most {@link #MAX_BYTES} bytes (or a
 *       smaller limit the caller gives). Every length and count is checked against both its bound
 *       and the bytes that remain <em>before</em> anything is allocated for it, so the decoded
 *       objects take a small constant multiple of the input's size whatever the input claims. Any
 *       bad input, whatever it is, fails with a {@link ManifestFormatException} naming the problem
 *       and its offset; decoding never throws anything else for bad input.
 *   <li><b>Versioned.</b> A different magic or version is refused with a clear message. A change to
 *       the layout or its rules increments {@link #VERSION}; the magic never changes.
 * </ul>
 *
 * <p>Thread-safe; no state. Nothing here blocks except {@link #read} and {@link #write} on their
 * stream.
 */
public final class ManifestCodec {
  /** The first four bytes of every manifest: ASCII "FRYM". */
  public static final int MAGIC = 0x4652_594D;

  /** The format version this class writes and reads. */
  public static final int VERSION = 1;

  /** Bytes before the body: magic, version, body length. */
  public static final int HEADER_BYTES = 4 + 2 + 4;

  /** The largest encoded manifest the format allows, and the default decoding limit: 64 MiB. */
  public static final int MAX_BYTES = 64 << 20;

  private static final int CHUNK_BYTES = ChunkId.LENGTH + 4 + 4;
  private static final int MIN_SHARD_BYTES = 2 + 4;
  private static final int MIN_RUN_BYTES = 4;
  private static final int MIN_ENTRY_BYTES = 2 + 2;
  private static final int MAX_BODY_BYTES = MAX_BYTES - HEADER_BYTES - ManifestRoot.LENGTH;

  private ManifestCodec() {}

  /**
   * Encodes a manifest.
   *
   * @return a fresh array holding the complete encoding, root hash included
   * @throws IllegalArgumentException if the encoding would exceed {@link #MAX_BYTES}
   */
  public static byte[] encode(Manifest manifest) {
    Objects.requireNonNull(manifest, "manifest");
    List<byte[]> names = new ArrayList<>(manifest.shards().size());
    long size = HEADER_BYTES + 8 + 8 + 4;
    for (Shard shard : manifest.shards()) {
      byte[] name = Utf8.encode(shard.name(), "shard name");
      names.add(name);
      size += 2 + name.length + 4;
      for (Run run : shard.runs()) {
        size += 4 + (long) CHUNK_BYTES * run.chunks().size();
      }
    }
    size += 4 + (long) CHUNK_BYTES * manifest.sessionChunks().size();
    size += StateDigest.LENGTH + 4;
    List<byte[]> metadata = new ArrayList<>(2 * manifest.metadata().size());
    for (Map.Entry<String, String> e : manifest.metadata().entrySet()) {
      byte[] key = Utf8.encode(e.getKey(), "metadata key");
      byte[] value = Utf8.encode(e.getValue(), "metadata value");
      metadata.add(key);
      metadata.add(value);
      size += 2 + key.length + 2 + value.length;
    }
    size += ManifestRoot.LENGTH;
    if (size > MAX_BYTES) {
      throw new IllegalArgumentException(
          "manifest would encode to " + size + " bytes, more than the limit of " + MAX_BYTES);
    }

    ByteBuffer out = ByteBuffer.allocate((int) size);
    out.putInt(MAGIC);
    out.putShort((short) VERSION);
    out.putInt((int) size - HEADER_BYTES - ManifestRoot.LENGTH);
    out.putLong(manifest.term());
    out.putLong(manifest.index());
    out.putInt(manifest.shards().size());
    for (int i = 0; i < manifest.shards().size(); i++) {
      Shard shard = manifest.shards().get(i);
      putString(out, names.get(i));
      out.putInt(shard.runs().size());
      for (Run run : shard.runs()) {
        putChunks(out, run.chunks());
      }
    }
    putChunks(out, manifest.sessionChunks());
    out.put(manifest.digest().toBytes());
    out.putInt(manifest.metadata().size());
    for (byte[] s : metadata) {
      putString(out, s);
    }
    MessageDigest sha = ChunkId.sha256();
    sha.update(out.array(), 0, out.position());
    out.put(sha.digest());
    return out.array();
  }

  /** Writes {@link #encode(Manifest) the encoding} of {@code manifest} to {@code out}. */
  public static void write(Manifest manifest, OutputStream out) throws IOException {
    out.write(encode(manifest));
  }

  /**
   * The root hash of a manifest: the last 32 bytes of its encoding. Equal manifests have equal
   * roots; different manifests have different roots (barring SHA-256 collisions).
   *
   * @throws IllegalArgumentException if the manifest would exceed {@link #MAX_BYTES}
   */
  public static ManifestRoot rootHash(Manifest manifest) {
    byte[] encoded = encode(manifest);
    return ManifestRoot.wrap(
        Arrays.copyOfRange(encoded, encoded.length - ManifestRoot.LENGTH, encoded.length));
  }

  /**
   * The root hash of an encoded manifest, after validating the encoding exactly as {@link
   * #decode(byte[])} does (a root read from invalid bytes would name nothing).
   *
   * @throws ManifestFormatException if {@code encoded} is not a valid manifest
   */
  public static ManifestRoot rootOf(byte[] encoded) throws ManifestFormatException {
    decode(encoded);
    return ManifestRoot.wrap(
        Arrays.copyOfRange(encoded, encoded.length - ManifestRoot.LENGTH, encoded.length));
  }

  /**
   * Decodes a manifest of at most {@link #MAX_BYTES} bytes.
   *
   * @throws ManifestFormatException if {@code encoded} is not exactly one valid manifest
   */
  public static Manifest decode(byte[] encoded) throws ManifestFormatException {
    return decode(encoded, MAX_BYTES);
  }

  /**
   * Decodes a manifest of at most {@code maxBytes} bytes. The array is not modified or retained.
   *
   * @param maxBytes the largest encoding accepted, {@code 1..MAX_BYTES}
   * @throws ManifestFormatException if {@code encoded} is not exactly one valid manifest of at most
   *     {@code maxBytes} bytes: wrong magic or version, truncated, trailing bytes, a size, count or
   *     string out of bounds or malformed, or a root hash that does not match
   * @throws IllegalArgumentException if {@code maxBytes} is out of range
   */
  public static Manifest decode(byte[] encoded, int maxBytes) throws ManifestFormatException {
    Objects.requireNonNull(encoded, "encoded");
    checkLimit(maxBytes);
    int bodyLength = checkHeader(encoded, encoded.length, maxBytes);
    int rootAt = HEADER_BYTES + bodyLength;
    int total = rootAt + ManifestRoot.LENGTH;
    if (encoded.length < total) {
      throw new ManifestFormatException(
          "truncated: the header declares "
              + total
              + " bytes in all but only "
              + encoded.length
              + " are present",
          encoded.length);
    }
    if (encoded.length > total) {
      throw new ManifestFormatException(
          (encoded.length - total) + " trailing bytes after the root hash", total);
    }
    MessageDigest sha = ChunkId.sha256();
    sha.update(encoded, 0, rootAt);
    byte[] computed = sha.digest();
    if (!Arrays.equals(computed, 0, ManifestRoot.LENGTH, encoded, rootAt, total)) {
      throw new ManifestFormatException(
          "root hash mismatch: the content hashes to "
              + HexFormat.of().formatHex(computed)
              + " but the recorded root is "
              + HexFormat.of().formatHex(encoded, rootAt, total),
          rootAt);
    }
    return parseBody(new Reader(encoded, HEADER_BYTES, rootAt));
  }

  /**
   * Reads exactly one manifest from {@code in}, leaving the stream just after it. Memory grows with
   * the bytes actually received, never beyond {@code maxBytes}, whatever the header claims.
   *
   * @param maxBytes the largest encoding accepted, {@code 1..MAX_BYTES}
   * @throws ManifestFormatException if the bytes are not a valid manifest of at most {@code
   *     maxBytes} bytes, or the stream ends early
   * @throws IOException if reading the stream fails
   * @throws IllegalArgumentException if {@code maxBytes} is out of range
   */
  public static Manifest read(InputStream in, int maxBytes) throws IOException {
    Objects.requireNonNull(in, "in");
    checkLimit(maxBytes);
    byte[] header = in.readNBytes(HEADER_BYTES);
    int bodyLength = checkHeader(header, header.length, maxBytes);
    int rest = bodyLength + ManifestRoot.LENGTH;
    byte[] tail = in.readNBytes(rest);
    if (tail.length < rest) {
      throw new ManifestFormatException(
          "stream ended after "
              + (HEADER_BYTES + tail.length)
              + " of the "
              + (HEADER_BYTES + rest)
              + " bytes the header declares",
          HEADER_BYTES + tail.length);
    }
    byte[] all = Arrays.copyOf(header, HEADER_BYTES + rest);
    System.arraycopy(tail, 0, all, HEADER_BYTES, rest);
    return decode(all, maxBytes);
  }

  private static void checkLimit(int maxBytes) {
    if (maxBytes <= 0 || maxBytes > MAX_BYTES) {
      throw new IllegalArgumentException(
          "maxBytes out of range (1.." + MAX_BYTES + "): " + maxBytes);
    }
  }

  /**
   * Validates magic, version and body length in {@code bytes[0, available)}; returns the body
   * length.
   */
  private static int checkHeader(byte[] bytes, int available, int maxBytes)
      throws ManifestFormatException {
    if (available < 4) {
      throw new ManifestFormatException(
          "truncated: " + available + " bytes, a manifest header is " + HEADER_BYTES, available);
    }
    int magic = ByteBuffer.wrap(bytes, 0, 4).getInt();
    if (magic != MAGIC) {
      throw new ManifestFormatException(
          String.format(
              Locale.ROOT,
              "unknown magic 0x%08X, expected 0x%08X (\"FRYM\"); not a Ferry manifest",
              magic,
              MAGIC),
          0);
    }
    if (available < HEADER_BYTES) {
      throw new ManifestFormatException(
          "truncated: " + available + " bytes, a manifest header is " + HEADER_BYTES, available);
    }
    ByteBuffer header = ByteBuffer.wrap(bytes, 4, HEADER_BYTES - 4);
    int version = Short.toUnsignedInt(header.getShort());
    if (version != VERSION) {
      throw new ManifestFormatException(
          "unsupported format version " + version + "; this build reads version " + VERSION, 4);
    }
    long bodyLength = Integer.toUnsignedLong(header.getInt());
    long limit = Math.min(MAX_BODY_BYTES, (long) maxBytes - HEADER_BYTES - ManifestRoot.LENGTH);
    if (bodyLength > limit) {
      throw new ManifestFormatException(
          "body length "
              + bodyLength
              + " makes the manifest "
              + (bodyLength + HEADER_BYTES + ManifestRoot.LENGTH)
              + " bytes, more than the limit of "
              + maxBytes,
          6);
    }
    return (int) bodyLength;
  }

  private static Manifest parseBody(Reader r) throws ManifestFormatException {
    try {
      long term = r.i64("term");
      long index = r.i64("index");
      int shardCount = r.count(() -> "shard count", Manifest.MAX_SHARDS, MIN_SHARD_BYTES);
      List<Shard> shards = new ArrayList<>(shardCount);
      Set<String> names = new HashSet<>();
      for (int s = 0; s < shardCount; s++) {
        int si = s;
        int nameAt = r.pos;
        String name = r.string(() -> "shard " + si + " name", Shard.MAX_NAME_BYTES);
        if (!names.add(name)) {
          throw new ManifestFormatException(
              "shard " + s + " repeats the name " + Utf8.quote(name), nameAt);
        }
        int runCount = r.count(() -> "run count of shard " + si, Integer.MAX_VALUE, MIN_RUN_BYTES);
        List<Run> runs = new ArrayList<>(runCount);
        for (int j = 0; j < runCount; j++) {
          int rj = j;
          runs.add(new Run(r.chunks(() -> "shard " + si + " run " + rj)));
        }
        shards.add(new Shard(name, runs));
      }
      List<ChunkRef> sessionChunks = r.chunks(() -> "session table");
      StateDigest digest = StateDigest.fromBytes(r.bytes(StateDigest.LENGTH, "state digest"));
      int entries = r.count(() -> "metadata count", Manifest.MAX_METADATA_ENTRIES, MIN_ENTRY_BYTES);
      TreeMap<String, String> metadata = new TreeMap<>();
      String previous = null;
      for (int e = 0; e < entries; e++) {
        int ei = e;
        int keyAt = r.pos;
        String key = r.string(() -> "metadata key " + ei, Manifest.MAX_METADATA_KEY_BYTES);
        if (previous != null && key.compareTo(previous) <= 0) {
          throw new ManifestFormatException(
              "metadata key "
                  + Utf8.quote(key)
                  + " does not follow "
                  + Utf8.quote(previous)
                  + " (keys must be unique and in increasing order)",
              keyAt);
        }
        String value = r.string(() -> "metadata value " + ei, Manifest.MAX_METADATA_VALUE_BYTES);
        metadata.put(key, value);
        previous = key;
      }
      if (r.pos != r.end) {
        throw new ManifestFormatException(
            (r.end - r.pos) + " unread bytes at the end of the body", r.pos);
      }
      return new Manifest(term, index, shards, sessionChunks, digest, metadata);
    } catch (IllegalArgumentException e) {
      // Every bound is checked above; this only guards invariants added to the value types later.
      throw new ManifestFormatException("invalid manifest: " + e.getMessage(), r.pos, e);
    }
  }

  private static void putString(ByteBuffer out, byte[] utf8) {
    out.putShort((short) utf8.length);
    out.put(utf8);
  }

  private static void putChunks(ByteBuffer out, List<ChunkRef> chunks) {
    out.putInt(chunks.size());
    for (ChunkRef c : chunks) {
      c.id().writeTo(out);
      out.putInt(c.rawSize());
      out.putInt(c.storedSize());
    }
  }

  /** A cursor over {@code bytes[pos, end)} that checks every read against what remains. */
  private static final class Reader {
    final byte[] bytes;
    final int end;
    int pos;

    Reader(byte[] bytes, int pos, int end) {
      this.bytes = bytes;
      this.pos = pos;
      this.end = end;
    }

    private void need(int n, Supplier<String> what) throws ManifestFormatException {
      if (end - pos < n) {
        throw new ManifestFormatException(
            what.get() + " needs " + n + " bytes but only " + (end - pos) + " remain in the body",
            pos);
      }
    }

    private int u16(Supplier<String> what) throws ManifestFormatException {
      need(2, what);
      int v = ((bytes[pos] & 0xff) << 8) | (bytes[pos + 1] & 0xff);
      pos += 2;
      return v;
    }

    private long u32(Supplier<String> what) throws ManifestFormatException {
      need(4, what);
      long v =
          ((long) (bytes[pos] & 0xff) << 24)
              | ((bytes[pos + 1] & 0xff) << 16)
              | ((bytes[pos + 2] & 0xff) << 8)
              | (bytes[pos + 3] & 0xff);
      pos += 4;
      return v;
    }

    long i64(String what) throws ManifestFormatException {
      need(8, () -> what);
      long v = 0;
      for (int i = 0; i < 8; i++) {
        v = (v << 8) | (bytes[pos + i] & 0xff);
      }
      if (v < 0) {
        throw new ManifestFormatException(what + " is negative: " + v, pos);
      }
      pos += 8;
      return v;
    }

    byte[] bytes(int n, String what) throws ManifestFormatException {
      need(n, () -> what);
      byte[] out = Arrays.copyOfRange(bytes, pos, pos + n);
      pos += n;
      return out;
    }

    /**
     * Reads a count of items that each take at least {@code minEach} bytes, and checks it against
     * {@code max} and against the bytes that remain, so that nothing is allocated for items that
     * cannot be there.
     */
    int count(Supplier<String> what, int max, int minEach) throws ManifestFormatException {
      int at = pos;
      long n = u32(what);
      if (n > max) {
        throw new ManifestFormatException(what.get() + " " + n + " exceeds the limit " + max, at);
      }
      if (n * minEach > end - pos) {
        throw new ManifestFormatException(
            what.get()
                + " "
                + n
                + " needs at least "
                + (n * minEach)
                + " bytes but only "
                + (end - pos)
                + " remain in the body",
            at);
      }
      return (int) n;
    }

    String string(Supplier<String> what, int maxBytes) throws ManifestFormatException {
      int at = pos;
      int n = u16(what);
      if (n > maxBytes) {
        throw new ManifestFormatException(
            what.get() + " is " + n + " bytes, more than the limit " + maxBytes, at);
      }
      need(n, what);
      try {
        String s = Utf8.decode(bytes, pos, n);
        pos += n;
        return s;
      } catch (CharacterCodingException e) {
        throw new ManifestFormatException(what.get() + " is not well-formed UTF-8", pos, e);
      }
    }

    List<ChunkRef> chunks(Supplier<String> what) throws ManifestFormatException {
      int n = count(() -> "chunk count of " + what.get(), Integer.MAX_VALUE, CHUNK_BYTES);
      List<ChunkRef> chunks = new ArrayList<>(n);
      for (int i = 0; i < n; i++) {
        ChunkId id = ChunkId.fromBytes(Arrays.copyOfRange(bytes, pos, pos + ChunkId.LENGTH));
        pos += ChunkId.LENGTH;
        int ci = i;
        int rawAt = pos;
        long raw = u32(() -> what.get() + " chunk " + ci + " raw size");
        if (raw < 1 || raw > ChunkRef.MAX_CHUNK_SIZE) {
          throw new ManifestFormatException(
              what.get()
                  + " chunk "
                  + i
                  + " raw size "
                  + raw
                  + " out of range (1.."
                  + ChunkRef.MAX_CHUNK_SIZE
                  + ")",
              rawAt);
        }
        int storedAt = pos;
        long stored = u32(() -> what.get() + " chunk " + ci + " stored size");
        if (stored < 1 || stored > ChunkRef.MAX_STORED_SIZE) {
          throw new ManifestFormatException(
              what.get()
                  + " chunk "
                  + i
                  + " stored size "
                  + stored
                  + " out of range (1.."
                  + ChunkRef.MAX_STORED_SIZE
                  + ")",
              storedAt);
        }
        chunks.add(new ChunkRef(id, (int) raw, (int) stored));
      }
      return chunks;
    }
  }
}
