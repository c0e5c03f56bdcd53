package dev.ferry.snapshot.chunk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.snapshot.ChunkRef;
import org.junit.jupiter.api.Test;

class ChunkerConfigTest {

  private static void assertRejected(int min, int avg, int max, String mentions) {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> new ChunkerConfig(min, avg, max));
    assertTrue(e.getMessage().contains(mentions), e.getMessage());
  }

  @Test
  void defaultIsValidAndWithinTheFormat() {
    ChunkerConfig c = ChunkerConfig.DEFAULT;
    assertEquals(new ChunkerConfig(128 << 10, 256 << 10, 1 << 20), c);
    assertTrue(c.max() <= ChunkRef.MAX_CHUNK_SIZE);
    assertEquals(18, c.avgBits());
  }

  @Test
  void acceptsTheExtremes() {
    assertEquals(8, new ChunkerConfig(64, 256, 257).avgBits());
    new ChunkerConfig(
        ChunkRef.MAX_CHUNK_SIZE / 4, ChunkRef.MAX_CHUNK_SIZE / 2, ChunkRef.MAX_CHUNK_SIZE);
  }

  @Test
  void rejectsBadSizesNamingTheValue() {
    assertRejected(63, 256, 1024, "63");
    assertRejected(0, 256, 1024, "min");
    assertRejected(-1, 256, 1024, "-1");
    assertRejected(64, 128, 1024, "128");
    assertRejected(64, 1000, 4096, "1000");
    assertRejected(64, 0, 4096, "avg");
    assertRejected(256, 256, 4096, "min must be below avg");
    assertRejected(4096, 1024, 8192, "4096");
    assertRejected(64, 1024, 1024, "max must be above avg");
    assertRejected(64, 1024, 512, "512");
    assertRejected(
        64, 1024, ChunkRef.MAX_CHUNK_SIZE + 1, String.valueOf(ChunkRef.MAX_CHUNK_SIZE + 1));
    assertRejected(64, 1 << 30, Integer.MAX_VALUE, "max");
  }
}
