package dev.ferry.snapshot;

import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Objects;

/**
 * The name of a chunk: the SHA-256 of its <em>uncompressed</em> bytes.
 *
 * <p>Immutable value type; equality, hashing and ordering are by the 32 hash bytes (unsigned
 * lexicographic order). Because the name is computed over uncompressed bytes, the codec a chunk is
 * stored or shipped with never changes its name, so deduplication survives codec changes.
 */
public final class ChunkId implements Comparable<ChunkId> {
  /** Length in bytes of a chunk id. */
  public static final int LENGTH = 32;

  private static final HexFormat HEX = HexFormat.of();

  private final byte[] hash;
  private final int hashCode;

  private ChunkId(byte[] hash) {
    this.hash = hash;
    this.hashCode = Arrays.hashCode(hash);
  }

  /**
   * Wraps 32 hash bytes (copied).
   *
   * @throws IllegalArgumentException if {@code hash} is not exactly 32 bytes
   */
  public static ChunkId fromBytes(byte[] hash) {
    Objects.requireNonNull(hash, "hash");
    if (hash.length != LENGTH) {
      throw new IllegalArgumentException(
          "chunk id must be " + LENGTH + " bytes, got " + hash.length);
    }
    return new ChunkId(hash.clone());
  }

  /**
   * Parses 64 lower- or upper-case hex digits.
   *
   * @throws IllegalArgumentException if {@code hex} is not 64 hex digits
   */
  public static ChunkId fromHex(String hex) {
    Objects.requireNonNull(hex, "hex");
    if (hex.length() != LENGTH * 2) {
      throw new IllegalArgumentException("chunk id must be 64 hex digits: '" + hex + "'");
    }
    try {
      return new ChunkId(HEX.parseHex(hex));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("chunk id must be 64 hex digits: '" + hex + "'", e);
    }
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

  /** A copy of the 32 hash bytes. */
  public byte[] toBytes() {
    return hash.clone();
  }

  /** Writes the 32 hash bytes to {@code out}. */
  public void writeTo(ByteBuffer out) {
    out.put(hash);
  }

  /** 64 lower-case hex digits; also the chunk's file name in a store. */
  public String toHex() {
    return HEX.formatHex(hash);
  }

  /** True when {@code data[offset, offset+length)} hashes to this id. */
  public boolean matches(byte[] data, int offset, int length) {
    MessageDigest sha = sha256();
    sha.update(data, offset, length);
    return MessageDigest.isEqual(hash, sha.digest());
  }

  @Override
  public int compareTo(ChunkId other) {
    return Arrays.compareUnsigned(hash, other.hash);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ChunkId other && Arrays.equals(hash, other.hash);
  }

  @Override
  public int hashCode() {
    return hashCode;
  }

  /** The first 12 hex digits, enough to tell chunks apart in logs. */
  @Override
  public String toString() {
    return toHex().substring(0, 12);
  }
}
