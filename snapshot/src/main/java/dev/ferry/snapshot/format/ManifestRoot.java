package dev.ferry.snapshot.format;

import java.util.Arrays;
import java.util.HexFormat;
import java.util.Objects;

/**
 * The root hash of a manifest: SHA-256 over its whole encoding except the root itself (see {@link
 * ManifestCodec}). It names a snapshot state: two manifests have equal roots exactly when they are
 * equal (barring SHA-256 collisions), and since every replica's manifest at the same log index is
 * byte-identical, comparing roots compares replicas' states.
 *
 * <p>Immutable value type; equality, hashing and ordering are by the 32 hash bytes (unsigned
 * lexicographic order).
 */
public final class ManifestRoot implements Comparable<ManifestRoot> {
  /** Length in bytes of a root hash. */
  public static final int LENGTH = 32;

  private static final HexFormat HEX = HexFormat.of();

  private final byte[] hash;
  private final int hashCode;

  private ManifestRoot(byte[] hash) {
    this.hash = hash;
    this.hashCode = Arrays.hashCode(hash);
  }

  /**
   * Wraps 32 hash bytes (copied).
   *
   * @throws IllegalArgumentException if {@code hash} is not exactly 32 bytes
   */
  public static ManifestRoot fromBytes(byte[] hash) {
    Objects.requireNonNull(hash, "hash");
    if (hash.length != LENGTH) {
      throw new IllegalArgumentException(
          "manifest root must be " + LENGTH + " bytes, got " + hash.length);
    }
    return new ManifestRoot(hash.clone());
  }

  /**
   * Parses 64 lower- or upper-case hex digits.
   *
   * @throws IllegalArgumentException if {@code hex} is not 64 hex digits
   */
  public static ManifestRoot fromHex(String hex) {
    Objects.requireNonNull(hex, "hex");
    if (hex.length() != LENGTH * 2) {
      throw new IllegalArgumentException("manifest root must be 64 hex digits: '" + hex + "'");
    }
    try {
      return new ManifestRoot(HEX.parseHex(hex));
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("manifest root must be 64 hex digits: '" + hex + "'", e);
    }
  }

  /** Wraps bytes the caller hands over and never touches again. */
  static ManifestRoot wrap(byte[] hash) {
    return new ManifestRoot(hash);
  }

  /** True when {@code bytes[offset, offset+32)} equals this root. */
  boolean equalsBytes(byte[] bytes, int offset) {
    return Arrays.equals(hash, 0, LENGTH, bytes, offset, offset + LENGTH);
  }

  /** A copy of the 32 hash bytes. */
  public byte[] toBytes() {
    return hash.clone();
  }

  /** 64 lower-case hex digits. */
  public String toHex() {
    return HEX.formatHex(hash);
  }

  @Override
  public int compareTo(ManifestRoot other) {
    return Arrays.compareUnsigned(hash, other.hash);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ManifestRoot other && Arrays.equals(hash, other.hash);
  }

  @Override
  public int hashCode() {
    return hashCode;
  }

  /** The first 12 hex digits, enough to tell snapshots apart in logs. */
  @Override
  public String toString() {
    return toHex().substring(0, 12);
  }
}
