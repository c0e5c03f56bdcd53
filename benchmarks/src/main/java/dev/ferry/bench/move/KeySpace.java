package dev.ferry.bench.move;

import dev.ferry.bench.BenchData;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;

/**
 * The benchmark's keys and values: keys {@code k0000000000 … k<keys-1>} (zero-padded, so byte order
 * is numeric order), split into ranges of equal key counts; values are {@code valueBytes} slices at
 * random offsets of a pool of text-like data ({@link BenchData#textLike}), so that chunk
 * compression sees realistic content. Immutable; thread-safe (a caller brings its own random).
 */
public final class KeySpace {
  /** Bytes of one key ({@code k} and 10 digits). */
  public static final int KEY_BYTES = 11;

  private static final int POOL_BYTES = 4 << 20;

  private final long keys;
  private final int valueBytes;
  private final byte[] pool;

  /** {@code keys} keys with values of {@code valueBytes}. */
  public KeySpace(long keys, int valueBytes) {
    if (keys < 1 || keys > 9_999_999_999L) {
      throw new IllegalArgumentException("keys must be in 1..9999999999: " + keys);
    }
    if (valueBytes < 1 || valueBytes > POOL_BYTES / 2) {
      throw new IllegalArgumentException("value size must be in 1.." + POOL_BYTES / 2);
    }
    this.keys = keys;
    this.valueBytes = valueBytes;
    this.pool = BenchData.textLike(POOL_BYTES, BenchData.SEED);
  }

  /** The key space that holds about {@code stateBytes} of keys and values. */
  public static KeySpace ofSize(long stateBytes, int valueBytes) {
    return new KeySpace(Math.max(1, stateBytes / (KEY_BYTES + valueBytes)), valueBytes);
  }

  /** The number of keys. */
  public long keys() {
    return keys;
  }

  /** The bytes of one value. */
  public int valueBytes() {
    return valueBytes;
  }

  /** Key {@code i}. */
  public byte[] key(long i) {
    return String.format(Locale.ROOT, "k%010d", i).getBytes(StandardCharsets.US_ASCII);
  }

  /** The first key index of range {@code r} of {@code ranges} (r = ranges: one past the last). */
  public long firstOf(int r, int ranges) {
    return keys * r / ranges;
  }

  /** The {@code ranges - 1} split keys: range {@code r > 0} starts at key {@link #firstOf}. */
  public List<byte[]> splitKeys(int ranges) {
    if (ranges < 1 || ranges > keys) {
      throw new IllegalArgumentException(
          "ranges must be in 1.." + keys + " (the keys of the state): " + ranges);
    }
    List<byte[]> out = new ArrayList<>();
    for (int r = 1; r < ranges; r++) {
      out.add(key(firstOf(r, ranges)));
    }
    return out;
  }

  /** Key and value bytes of range {@code r} of {@code ranges} once every key is written. */
  public long stateBytesOf(int r, int ranges) {
    return (firstOf(r + 1, ranges) - firstOf(r, ranges)) * (KEY_BYTES + valueBytes);
  }

  /** A value: a slice of the pool at a random offset. */
  public byte[] value(SplittableRandom random) {
    int at = random.nextInt(pool.length - valueBytes);
    return java.util.Arrays.copyOfRange(pool, at, at + valueBytes);
  }
}
