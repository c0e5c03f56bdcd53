package dev.ferry.snapshot;

import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Objects;

/**
 * A SHA-256 hash held as a value: the 32 bytes behind {@link ChunkId} and {@link
 * dev.ferry.snapshot.format.ManifestRoot}, which differ only in what they name.
 *
 * <p>Immutable. Equality and hashing are by class and bytes, so a chunk id never equals a manifest
 * root with the same bytes; subclasses order by the bytes (unsigned lexicographic order) with
 * {@link #compareBytes}. Its only subclasses are {@code ChunkId} and {@code ManifestRoot} (an
 * architecture rule holds this); it is not meant to be extended elsewhere.
 */
public abstract class Sha256Hash {
  /** Length in bytes of a SHA-256 hash. */
  public static final int LENGTH = 32;

  private static final HexFormat HEX = HexFormat.of();

  private final byte[] hash;
  private final int hashCode;

  /**
   * Takes {@code hash}, which the caller hands over and never touches again.
   *
   * @throws IllegalArgumentException if {@code hash} is not exactly 32 bytes
   */
  protected Sha256Hash(byte[] hash) {
    this.hash = checkLength(hash, "hash");
    this.hashCode = Arrays.hashCode(hash);
  }

  /**
   * Returns {@code hash} if it is 32 bytes long.
   *
   * @param what names the value in the exception's message, e.g. {@code "chunk id"}
   * @throws IllegalArgumentException if it is not
   */
  protected static byte[] checkLength(byte[] hash, String what) {
    Objects.requireNonNull(hash, what);
    if (hash.length != LENGTH) {
      throw new IllegalArgumentException(
          what + " must be " + LENGTH + " bytes, got " + hash.length);
    }
    return hash;
  }

  /**
   * Parses 64 lower- or upper-case hex digits into 32 fresh bytes.
   *
   * @param what names the value in the exception's message, e.g. {@code "chunk id"}
   * @throws IllegalArgumentException if {@code hex} is not 64 hex digits
   */
  protected static byte[] parseHex(String hex, String what) {
    Objects.requireNonNull(hex, "hex");
    if (hex.length() != LENGTH * 2) {
      throw new IllegalArgumentException(what + " must be 64 hex digits: '" + hex + "'");
    }
    try {
      return HEX.parseHex(hex);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException(what + " must be 64 hex digits: '" + hex + "'", e);
    }
  }

  /** A copy of the 32 hash bytes. */
  public final byte[] toBytes() {
    return hash.clone();
  }

  /** Writes the 32 hash bytes to {@code out}. */
  public final void writeTo(ByteBuffer out) {
    out.put(hash);
  }

  /** True when {@code bytes[offset, offset+32)} are these hash bytes. */
  public final boolean equalsBytes(byte[] bytes, int offset) {
    return Arrays.equals(hash, 0, LENGTH, bytes, offset, offset + LENGTH);
  }

  /** 64 lower-case hex digits. */
  public final String toHex() {
    return HEX.formatHex(hash);
  }

  /** Compares the hash bytes as unsigned, in lexicographic order. */
  protected final int compareBytes(Sha256Hash other) {
    return Arrays.compareUnsigned(hash, other.hash);
  }

  /** Whether {@code o} is of the same class with the same bytes. */
  @Override
  public final boolean equals(Object o) {
    return o != null && o.getClass() == getClass() && Arrays.equals(hash, ((Sha256Hash) o).hash);
  }

  @Override
  public final int hashCode() {
    return hashCode;
  }

  /** The first 12 hex digits, enough to tell hashes apart in logs. */
  @Override
  public final String toString() {
    return toHex().substring(0, 12);
  }
}
