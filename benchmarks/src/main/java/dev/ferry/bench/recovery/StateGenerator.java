package dev.ferry.bench.recovery;

import dev.ferry.bench.BenchData;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The key-value state every recovery scenario starts from: seeded, deterministic, text-like.
 *
 * <p>{@code rawBytes} of state means {@code rawBytes / 1024} entries of exactly 1024 bytes of key
 * plus value (so "1 GiB of state" is 1,048,576 keys):
 *
 * <ul>
 *   <li><b>Key</b> {@code i} (21 bytes): the common prefix {@code "user:"} and sixteen hex digits
 *       of a seeded 64-bit bijective hash of {@code i} (so keys are unique, look like real user
 *       ids, and share their first five bytes, as real keys do; a hash-partitioned shard layout
 *       still spreads them over every shard, a layout that splits on the first byte does not). Keys
 *       sort in hash order, not in {@code i} order, so "a contiguous key range" is a run of the
 *       sorted keys.
 *   <li><b>Value</b> of key {@code i} at version {@code v} (1003 bytes): {@code "v<v>|"} then a
 *       slice of a 32 MiB pool of {@link BenchData#textLike} text (JSON-ish records over a skewed
 *       4096-word vocabulary, numbers and random tokens), starting at an offset hashed from {@code
 *       (i, v)}. zstd level 3 compresses such values about 3:1; an update (a new version) is a
 *       different slice, as incompressible against the old value as a real rewrite.
 * </ul>
 *
 * The same {@code (rawBytes, seed)} always gives the same bytes. Thread-safe (immutable after
 * construction).
 */
final class StateGenerator {
  /** Bytes of one key plus its value. */
  static final int ENTRY_BYTES = 1024;

  static final int KEY_BYTES = 21;

  /** The prefix every key shares. */
  private static final byte[] KEY_PREFIX = "user:".getBytes(StandardCharsets.US_ASCII);

  private static final int POOL_BYTES = 32 << 20;
  private static final byte[] HEX = "0123456789abcdef".getBytes(StandardCharsets.US_ASCII);

  private final int keys;
  private final long seed;
  private final byte[] pool;

  StateGenerator(long rawBytes, long seed) {
    if (rawBytes < ENTRY_BYTES * 64L || rawBytes / ENTRY_BYTES > Integer.MAX_VALUE) {
      throw new IllegalArgumentException("state size out of range: " + rawBytes);
    }
    this.keys = Math.toIntExact(rawBytes / ENTRY_BYTES);
    this.seed = seed;
    this.pool = BenchData.textLike(POOL_BYTES, seed);
  }

  /** Number of keys. */
  int keys() {
    return keys;
  }

  /** Raw bytes of the whole state (keys × {@link #ENTRY_BYTES}). */
  long rawBytes() {
    return (long) keys * ENTRY_BYTES;
  }

  /** Key {@code i} ({@code 0 <= i < keys()}): {@code "user:"} and 16 hex digits. */
  byte[] key(int i) {
    // Multiplying by an odd constant, xor with the seed and mix are each one-to-one on 64-bit
    // values, and all 16 hex digits are kept: distinct i give distinct keys.
    long h = mix(seed ^ (i * 0x9E3779B97F4A7C15L));
    byte[] k = new byte[KEY_BYTES];
    System.arraycopy(KEY_PREFIX, 0, k, 0, KEY_PREFIX.length);
    for (int j = KEY_BYTES - 1; j >= KEY_PREFIX.length; j--) {
      k[j] = HEX[(int) (h & 15)];
      h >>>= 4;
    }
    return k;
  }

  /** The value of key {@code i} at {@code version} (0 for the initial load). */
  byte[] value(int i, int version) {
    byte[] v = new byte[ENTRY_BYTES - KEY_BYTES];
    byte[] prefix = ("v" + version + "|").getBytes(StandardCharsets.US_ASCII);
    System.arraycopy(prefix, 0, v, 0, prefix.length);
    int len = v.length - prefix.length;
    long h = mix(seed + 31L * i + 0x632BE59BD9B4E019L * (version + 1));
    int offset = (int) Long.remainderUnsigned(h, POOL_BYTES - len);
    System.arraycopy(pool, offset, v, prefix.length, len);
    return v;
  }

  /** All keys, sorted in unsigned byte order (the order of the state and of key ranges). */
  int[] sortedIndexes() {
    Integer[] order = new Integer[keys];
    byte[][] ks = new byte[keys][];
    for (int i = 0; i < keys; i++) {
      order[i] = i;
      ks[i] = key(i);
    }
    Arrays.sort(order, (a, b) -> Arrays.compareUnsigned(ks[a], ks[b]));
    int[] out = new int[keys];
    for (int i = 0; i < keys; i++) {
      out[i] = order[i];
    }
    return out;
  }

  private static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }
}
