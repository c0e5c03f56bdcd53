package dev.ferry.snapshot;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Objects;

/**
 * An additive multiset hash of a state: the lane-wise sum, modulo 2<sup>64</sup>, of the SHA-256 of
 * every element (e.g. every key/value pair and every session). Adding and removing elements in any
 * order gives the same digest, so it can be maintained incrementally on apply and compared between
 * replicas at the same log index.
 *
 * <p>It detects divergence and corruption; it is not a defence against forgery (chunk hashes are).
 * Immutable value type.
 */
public final class StateDigest {
  /** Encoded length in bytes: four 64-bit lanes. */
  public static final int LENGTH = 32;

  private static final int LANES = LENGTH / Long.BYTES;

  /** The digest of the empty state. */
  public static final StateDigest EMPTY = new StateDigest(new long[LANES]);

  private final long[] lanes;

  private StateDigest(long[] lanes) {
    this.lanes = lanes;
  }

  /**
   * Decodes 32 bytes (little-endian lanes).
   *
   * @throws IllegalArgumentException if {@code bytes} is not 32 bytes long
   */
  public static StateDigest fromBytes(byte[] bytes) {
    Objects.requireNonNull(bytes, "bytes");
    if (bytes.length != LENGTH) {
      throw new IllegalArgumentException(
          "state digest must be " + LENGTH + " bytes, got " + bytes.length);
    }
    ByteBuffer in = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
    long[] lanes = new long[LANES];
    for (int i = 0; i < LANES; i++) {
      lanes[i] = in.getLong();
    }
    return new StateDigest(lanes);
  }

  /** The hash of one element, ready to {@link #plus} or {@link #minus}. */
  public static byte[] elementHash(byte[] element) {
    return ChunkId.sha256().digest(element);
  }

  /** The digest with one element (given by its 32-byte SHA-256) added. */
  public StateDigest plus(byte[] elementSha256) {
    return combine(elementSha256, 1);
  }

  /** The digest with one element (given by its 32-byte SHA-256) removed. */
  public StateDigest minus(byte[] elementSha256) {
    return combine(elementSha256, -1);
  }

  /** The digest of the union of the two multisets. */
  public StateDigest plus(StateDigest other) {
    long[] sum = lanes.clone();
    for (int i = 0; i < LANES; i++) {
      sum[i] += other.lanes[i];
    }
    return new StateDigest(sum);
  }

  /** The digest with every element of {@code other} removed (multiset difference). */
  public StateDigest minus(StateDigest other) {
    long[] diff = lanes.clone();
    for (int i = 0; i < LANES; i++) {
      diff[i] -= other.lanes[i];
    }
    return new StateDigest(diff);
  }

  private StateDigest combine(byte[] elementSha256, int sign) {
    if (elementSha256.length != LENGTH) {
      throw new IllegalArgumentException("element hash must be 32 bytes: " + elementSha256.length);
    }
    ByteBuffer in = ByteBuffer.wrap(elementSha256).order(ByteOrder.LITTLE_ENDIAN);
    long[] sum = lanes.clone();
    for (int i = 0; i < LANES; i++) {
      sum[i] += sign * in.getLong();
    }
    return new StateDigest(sum);
  }

  /** The 32-byte encoding (little-endian lanes). */
  public byte[] toBytes() {
    ByteBuffer out = ByteBuffer.allocate(LENGTH).order(ByteOrder.LITTLE_ENDIAN);
    for (long lane : lanes) {
      out.putLong(lane);
    }
    return out.array();
  }

  /** 64 hex digits. */
  public String toHex() {
    return HexFormat.of().formatHex(toBytes());
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof StateDigest other && MessageDigest.isEqual(toBytes(), other.toBytes());
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(lanes);
  }

  @Override
  public String toString() {
    return toHex().substring(0, 16);
  }
}
