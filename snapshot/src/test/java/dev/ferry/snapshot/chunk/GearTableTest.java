package dev.ferry.snapshot.chunk;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Arrays;
import java.util.Locale;
import org.junit.jupiter.api.Test;

class GearTableTest {

  /** SplitMix64 as published (Steele, Lea, Flood 2014), independent of {@link GearTable}. */
  private static long[] splitMix64(long seed, int n) {
    long[] out = new long[n];
    long x = seed;
    for (int i = 0; i < n; i++) {
      x += 0x9E3779B97F4A7C15L;
      long z = x;
      z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
      z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
      out[i] = z ^ (z >>> 31);
    }
    return out;
  }

  @Test
  void tableIsSplitMix64FromTheDocumentedSeed() {
    assertEquals(0x4665727279434443L, GearTable.SEED, "seed is 'FerryCDC'");
    assertEquals(Arrays.toString(splitMix64(GearTable.SEED, 256)), Arrays.toString(GearTable.GEAR));
    for (int i = 0; i < 256; i++) {
      assertEquals(GearTable.GEAR[i] << 1, GearTable.GEAR_SHIFTED[i]);
    }
  }

  @Test
  void splitMix64MatchesItsPublishedOutput() {
    // Reference values of SplitMix64 seeded with 0 (as in the Java SplittableRandom / Vigna's C).
    long[] out = splitMix64(0, 2);
    assertEquals(0xE220A8397B1DCDAFL, out[0]);
    assertEquals(0x6E789E6AA1B965F4L, out[1]);
  }

  @Test
  void tableIsFrozen() {
    // The chunk format depends on these values; a change here changes every chunk id.
    assertEquals(256, Arrays.stream(GearTable.GEAR).distinct().count());
    assertEquals(
        GOLDEN_FIRST,
        String.format(Locale.ROOT, "%016x %016x", GearTable.GEAR[0], GearTable.GEAR[1]));
  }

  private static final String GOLDEN_FIRST = "d4991979ae5435ea 145fab3f8a925558";
}
