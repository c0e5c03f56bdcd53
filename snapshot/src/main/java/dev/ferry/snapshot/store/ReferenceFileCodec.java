package dev.ferry.snapshot.store;

import dev.ferry.snapshot.ChunkId;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Collection;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.zip.CRC32C;

/**
 * The binary form of the files that make references durable. Both end with a CRC32C of everything
 * before it, so a torn or bit-rotted file is refused rather than read as fewer references.
 *
 * <pre>
 * refs file:  "FRF1" | keyLen u8 | key (ASCII) | count i32 | count x 32-byte id | crc32c i32
 * pin file:   "FPN1" | leaseId i64 | expiresAt seconds i64 | nanos i32
 *             | keyLen u8 | key (ASCII) | count i32 | count x 32-byte id | crc32c i32
 * </pre>
 *
 * Ids are written in ascending order, so equal reference sets give equal files.
 */
final class ReferenceFileCodec {
  private static final int REFS_MAGIC = 0x46524631; // "FRF1"
  private static final int PIN_MAGIC = 0x46504e31; // "FPN1"

  /** Largest reference file read: 16 Mi ids, far beyond any real manifest. */
  static final long MAX_FILE_BYTES = 16L * 1024 * 1024 * ChunkId.LENGTH;

  /** A durable pin: the lease and the chunk set it holds. */
  record Pin(long leaseId, String key, Instant expiresAt, Set<ChunkId> ids) {
    Pin {
      Objects.requireNonNull(key, "key");
      Objects.requireNonNull(expiresAt, "expiresAt");
      ids = Set.copyOf(ids);
    }

    Lease lease() {
      return new Lease(leaseId, key, expiresAt);
    }
  }

  private ReferenceFileCodec() {}

  static ByteBuffer encodeRefs(String key, Collection<ChunkId> ids) {
    byte[] k = key.getBytes(StandardCharsets.US_ASCII);
    ByteBuffer out = ByteBuffer.allocate(4 + 1 + k.length + 4 + ids.size() * ChunkId.LENGTH + 4);
    out.putInt(REFS_MAGIC);
    putKeyAndIds(out, k, ids);
    return finish(out);
  }

  static Set<ChunkId> decodeRefs(Path file, String expectedKey) throws IOException {
    ByteBuffer in = readChecked(file, REFS_MAGIC);
    String key = getKey(file, in);
    if (!key.equals(expectedKey)) {
      throw corrupt(file, "holds key '" + key + "', its name says '" + expectedKey + "'");
    }
    return getIds(file, in);
  }

  static ByteBuffer encodePin(Pin pin) {
    byte[] k = pin.key().getBytes(StandardCharsets.US_ASCII);
    ByteBuffer out =
        ByteBuffer.allocate(
            4 + 8 + 8 + 4 + 1 + k.length + 4 + pin.ids().size() * ChunkId.LENGTH + 4);
    out.putInt(PIN_MAGIC);
    out.putLong(pin.leaseId());
    out.putLong(pin.expiresAt().getEpochSecond());
    out.putInt(pin.expiresAt().getNano());
    putKeyAndIds(out, k, pin.ids());
    return finish(out);
  }

  static Pin decodePin(Path file, long expectedLeaseId) throws IOException {
    ByteBuffer in = readChecked(file, PIN_MAGIC);
    if (in.remaining() < 8 + 8 + 4) {
      throw corrupt(file, "truncated");
    }
    long leaseId = in.getLong();
    long seconds = in.getLong();
    int nanos = in.getInt();
    if (leaseId != expectedLeaseId) {
      throw corrupt(file, "holds lease " + leaseId + ", its name says " + expectedLeaseId);
    }
    Instant expiresAt;
    try {
      expiresAt = Instant.ofEpochSecond(seconds, nanos);
    } catch (java.time.DateTimeException | ArithmeticException e) {
      throw corrupt(file, "bad expiry " + seconds + "s " + nanos + "ns");
    }
    String key = getKey(file, in);
    return new Pin(leaseId, key, expiresAt, getIds(file, in));
  }

  private static void putKeyAndIds(ByteBuffer out, byte[] key, Collection<ChunkId> ids) {
    out.put((byte) key.length);
    out.put(key);
    out.putInt(ids.size());
    for (ChunkId id : new TreeSet<>(ids)) {
      id.writeTo(out);
    }
  }

  private static ByteBuffer finish(ByteBuffer out) {
    CRC32C crc = new CRC32C();
    crc.update(out.array(), 0, out.position());
    out.putInt((int) crc.getValue());
    return out.flip();
  }

  /** Reads a whole file, checks its size bound, CRC and magic; returns the body after the magic. */
  private static ByteBuffer readChecked(Path file, int magic) throws IOException {
    long size = Files.size(file);
    if (size < 8 || size > MAX_FILE_BYTES) {
      throw corrupt(file, "size " + size + " out of range");
    }
    byte[] bytes = Files.readAllBytes(file);
    ByteBuffer in = ByteBuffer.wrap(bytes);
    int body = bytes.length - 4;
    CRC32C crc = new CRC32C();
    crc.update(bytes, 0, body);
    if ((int) crc.getValue() != in.getInt(body)) {
      throw corrupt(file, "checksum mismatch");
    }
    in.limit(body);
    if (in.getInt() != magic) {
      throw corrupt(file, "bad magic");
    }
    return in;
  }

  private static String getKey(Path file, ByteBuffer in) throws IOException {
    if (!in.hasRemaining()) {
      throw corrupt(file, "truncated");
    }
    int len = in.get() & 0xff;
    if (in.remaining() < len) {
      throw corrupt(file, "truncated key");
    }
    byte[] k = new byte[len];
    in.get(k);
    return new String(k, StandardCharsets.US_ASCII);
  }

  private static Set<ChunkId> getIds(Path file, ByteBuffer in) throws IOException {
    if (in.remaining() < 4) {
      throw corrupt(file, "truncated");
    }
    int count = in.getInt();
    if (count < 0 || (long) count * ChunkId.LENGTH != in.remaining()) {
      throw corrupt(file, "id count " + count + " does not fit " + in.remaining() + " bytes");
    }
    Set<ChunkId> ids = new TreeSet<>();
    byte[] id = new byte[ChunkId.LENGTH];
    for (int i = 0; i < count; i++) {
      in.get(id);
      ids.add(ChunkId.fromBytes(id));
    }
    return Set.copyOf(ids);
  }

  private static IOException corrupt(Path file, String why) {
    return new IOException("reference file " + file + " is corrupt: " + why);
  }
}
