package dev.ferry.snapshot;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * The name of a chunk: the SHA-256 of its <em>uncompressed</em> bytes.
 *
 * <p>Immutable value type; equality, hashing and ordering are by the 32 hash bytes (unsigned
 * lexicographic order), as {@link Sha256Hash} defines them; its {@code toHex()} is also the chunk's
 * file name in a store. Because the name is computed over uncompressed bytes, the codec a chunk is
 * stored or shipped with never changes its name, so deduplication survives codec changes.
 */
public final class ChunkId extends Sha256Hash implements Comparable<ChunkId> {
  private ChunkId(byte[] hash) {
    super(hash);
  }

  /**
   * Wraps 32 hash bytes (copied).
   *
   * @throws IllegalArgumentException if {@code hash} is not exactly 32 bytes
   */
  public static ChunkId fromBytes(byte[] hash) {
    return new ChunkId(checkLength(hash, "chunk id").clone());
  }

  /**
   * Parses 64 lower- or upper-case hex digits.
   *
   * @throws IllegalArgumentException if {@code hex} is not 64 hex digits
   */
  public static ChunkId fromHex(String hex) {
    return new ChunkId(parseHex(hex, "chunk id"));
  }

  /** Computes the id of {@code data[offset, offset+length)}. */
  public static ChunkId of(byte[] data, int offset, int length) {
    MessageDigest sha = sha256();
    sha.update(data, offset, length);
    return new ChunkId(sha.digest());
  }

  /** Computes the id of all of {@code data}. */
  public static ChunkId of(byte[] data) {
    return of(data, 0, data.length);
  }

  /** Computes the id of the remaining bytes of {@code data}, without moving its position. */
  public static ChunkId of(ByteBuffer data) {
    MessageDigest sha = sha256();
    sha.update(data.duplicate());
    return new ChunkId(sha.digest());
  }

  /** A fresh SHA-256 digest; the JDK always provides one. */
  public static MessageDigest sha256() {
    try {
      return MessageDigest.getInstance("SHA-256");
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("SHA-256 is required by every JDK", e);
    }
  }

  /** True when {@code data[offset, offset+length)} hashes to this id. */
  public boolean matches(byte[] data, int offset, int length) {
    MessageDigest sha = sha256();
    sha.update(data, offset, length);
    return equalsBytes(sha.digest(), 0);
  }

  @Override
  public int compareTo(ChunkId other) {
    return compareBytes(other);
  }
}
