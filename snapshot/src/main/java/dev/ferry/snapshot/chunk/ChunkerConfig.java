package dev.ferry.snapshot.chunk;

import dev.ferry.snapshot.ChunkRef;

/**
 * The size targets of the content-defined chunker.
 *
 * <p>Every replica must chunk with the same configuration, or their chunks will not match; the
 * configuration is therefore part of what a cluster agrees on, like the codec level.
 *
 * @param min the minimum chunk size in bytes: the first {@code min} bytes of a chunk are never
 *     hashed and never cut, so every chunk but the last of a stream holds more than {@code min}
 *     bytes; at least {@link #MIN_MIN}
 * @param avg the normalization point and target average size in bytes, a power of two, {@code min <
 *     avg}; cuts before it are 4× less likely and cuts after it 4× more likely than {@code 1/avg}
 *     per byte, which concentrates chunk sizes around it
 * @param max the maximum chunk size in bytes: a chunk that reaches it is cut there whatever its
 *     content; {@code avg < max <= ChunkRef.MAX_CHUNK_SIZE}
 */
public record ChunkerConfig(int min, int avg, int max) {
  /** Smallest accepted {@link #min}: the gear hash's window, 64 bytes. */
  public static final int MIN_MIN = 64;

  /** Smallest accepted {@link #avg}. */
  public static final int MIN_AVG = 256;

  /**
   * The default: 128 KiB / 256 KiB / 1 MiB. Chunks are large enough that per-chunk costs (a file, a
   * manifest entry, a request) vanish against the bytes, and small enough that a local edit
   * re-ships about 300 KiB. Measured on 64 MiB of random bytes: mean chunk 303 KiB (sd 72 KiB), no
   * chunk cut at the maximum, one chunk changed per small insertion or deletion (as with a 64 KiB
   * minimum). A minimum of half the average skips hashing ~40 % of the bytes: boundary finding over
   * 256 MiB of text took 95 ms against 119 ms with a 64 KiB minimum (JMH, {@code
   * ChunkingBenchmark}). Random-ish data never reaches the maximum; runs of one repeated byte are
   * cut at it.
   */
  public static final ChunkerConfig DEFAULT = new ChunkerConfig(128 << 10, 256 << 10, 1 << 20);

  /**
   * Validates the sizes.
   *
   * @throws IllegalArgumentException naming the offending value when a bound is violated
   */
  public ChunkerConfig {
    if (min < MIN_MIN) {
      throw new IllegalArgumentException("min must be at least " + MIN_MIN + ": " + min);
    }
    if (avg < MIN_AVG || Integer.bitCount(avg) != 1) {
      throw new IllegalArgumentException(
          "avg must be a power of two of at least " + MIN_AVG + ": " + avg);
    }
    if (min >= avg) {
      throw new IllegalArgumentException("min must be below avg: min=" + min + " avg=" + avg);
    }
    if (max <= avg) {
      throw new IllegalArgumentException("max must be above avg: avg=" + avg + " max=" + max);
    }
    if (max > ChunkRef.MAX_CHUNK_SIZE) {
      throw new IllegalArgumentException(
          "max must be at most " + ChunkRef.MAX_CHUNK_SIZE + ": " + max);
    }
  }

  /** log2 of {@link #avg}. */
  int avgBits() {
    return Integer.numberOfTrailingZeros(avg);
  }
}
