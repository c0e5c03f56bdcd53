package dev.ferry.snapshot.format;

import dev.ferry.snapshot.Sha256Hash;

/**
 * The root hash of a manifest: SHA-256 over its whole encoding except the root itself (see {@link
 * ManifestCodec}). It names a snapshot state: two manifests have equal roots exactly when they are
 * equal (barring SHA-256 collisions), and since every replica's manifest at the same log index is
 * byte-identical, comparing roots compares replicas' states.
 *
 * <p>Immutable value type; equality, hashing and ordering are by the 32 hash bytes (unsigned
 * lexicographic order), as {@link Sha256Hash} defines them.
 */
public final class ManifestRoot extends Sha256Hash implements Comparable<ManifestRoot> {
  private ManifestRoot(byte[] hash) {
    super(hash);
  }

  /**
   * Wraps 32 hash bytes (copied).
   *
   * @throws IllegalArgumentException if {@code hash} is not exactly 32 bytes
   */
  public static ManifestRoot fromBytes(byte[] hash) {
    return new ManifestRoot(checkLength(hash, "manifest root").clone());
  }

  /**
   * Parses 64 lower- or upper-case hex digits.
   *
   * @throws IllegalArgumentException if {@code hex} is not 64 hex digits
   */
  public static ManifestRoot fromHex(String hex) {
    return new ManifestRoot(parseHex(hex, "manifest root"));
  }

  /** Wraps bytes the caller hands over and never touches again. */
  static ManifestRoot wrap(byte[] hash) {
    return new ManifestRoot(hash);
  }

  @Override
  public int compareTo(ManifestRoot other) {
    return compareBytes(other);
  }
}
