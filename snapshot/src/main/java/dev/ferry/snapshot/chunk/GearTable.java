package dev.ferry.snapshot.chunk;

/**
 * The fixed gear table of the chunker: 256 pseudo-random 64-bit values, one per byte value.
 *
 * <p>Every replica must cut identical boundaries, so the table is part of the chunk format: entry
 * {@code i} is the {@code (i+1)}-th output of SplitMix64 (Steele, Lea and Flood, 2014) started from
 * {@link #SEED}:
 *
 * <pre>{@code
 * state += 0x9E3779B97F4A7C15L;
 * z = state;
 * z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
 * z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
 * entry = z ^ (z >>> 31);
 * }</pre>
 *
 * Changing the seed or the generator changes every chunk boundary, and thus every chunk id.
 */
final class GearTable {
  /** The seed: the ASCII bytes of "FerryCDC", big-endian. */
  static final long SEED = 0x4665727279434443L;

  /** {@code GEAR[b]} is the gear value of byte value {@code b} (0..255). */
  static final long[] GEAR = new long[256];

  /** {@code GEAR_SHIFTED[b] == GEAR[b] << 1}, for scanning two bytes per step. */
  static final long[] GEAR_SHIFTED = new long[256];

  static {
    long state = SEED;
    for (int i = 0; i < 256; i++) {
      state += 0x9E3779B97F4A7C15L;
      long z = state;
      z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
      z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
      GEAR[i] = z ^ (z >>> 31);
      GEAR_SHIFTED[i] = GEAR[i] << 1;
    }
  }

  private GearTable() {}
}
