package dev.ferry.bench;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.snapshot.chunk.ChunkerConfig;
import org.junit.jupiter.api.Test;
import org.openjdk.jmh.annotations.Param;

class BenchDataTest {

  @Test
  void isDeterministicAndTextLike() {
    byte[] a = BenchData.textLike(1 << 20, BenchData.SEED);
    assertArrayEquals(a, BenchData.textLike(1 << 20, BenchData.SEED));
    for (byte b : a) {
      assertTrue(b == '\n' || (b >= 32 && b < 127), "printable ASCII");
    }
  }

  @Test
  void chunkingBenchmarkDefaultsToTheDefaultConfig() throws NoSuchFieldException {
    ChunkerConfig c = ChunkerConfig.DEFAULT;
    assertEquals(c.min() >> 10, defaultParam("minKiB"));
    assertEquals(c.avg() >> 10, defaultParam("avgKiB"));
    assertEquals(c.max() >> 10, defaultParam("maxKiB"));
  }

  private static int defaultParam(String field) throws NoSuchFieldException {
    Param param = ChunkingBenchmark.class.getField(field).getAnnotation(Param.class);
    return Integer.parseInt(param.value()[0]);
  }

  @Test
  void isSemiCompressibleAndChunksCoverIt() {
    byte[] data = BenchData.textLike(8 << 20, BenchData.SEED);
    int[] bounds = BenchData.chunkBounds(data, ChunkerConfig.DEFAULT);
    long covered = 0;
    for (int i = 0; i < bounds.length; i += 2) {
      assertEquals(covered, bounds[i]);
      covered += bounds[i + 1];
    }
    assertEquals(data.length, covered);
    double ratio = (double) data.length / ZstdBenchmark.storedBytes(data, bounds, 3);
    assertTrue(ratio > 1.5 && ratio < 8, "zstd -3 ratio " + ratio);
  }
}
