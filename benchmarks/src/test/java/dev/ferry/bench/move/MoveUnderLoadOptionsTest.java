package dev.ferry.bench.move;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

class MoveUnderLoadOptionsTest {
  @Test
  void theDefaultsAreTheIssuesShape() {
    MoveUnderLoadBenchmark.Options o = MoveUnderLoadBenchmark.parse(new String[0]);
    assertEquals(4, o.nodes());
    assertEquals(8, o.ranges());
    assertEquals(256L << 20, o.sizeBytes());
    assertEquals(1024, o.valueBytes());
    assertEquals(16, o.clients());
    assertEquals(4, o.movedRange());
    assertEquals("2g", o.heap());
    assertEquals(Path.of("move-results", "work"), o.work());
  }

  @Test
  void argumentsAreParsedAndCheckedAtOnce() {
    MoveUnderLoadBenchmark.Options o =
        MoveUnderLoadBenchmark.parse(
            new String[] {
              "--size",
              "2M",
              "--ranges",
              "2",
              "--range",
              "1",
              "--from",
              "leader",
              "--server-arg",
              "--chunk-send-rate",
              "--server-arg",
              "1000000"
            });
    assertEquals(2L << 20, o.sizeBytes());
    assertEquals(1, o.movedRange());
    assertTrue(o.fromLeader());
    assertEquals(List.of("--chunk-send-rate", "1000000"), o.serverArgs());
    assertEquals(5L << 30, MoveUnderLoadBenchmark.bytes("5g"));
    assertEquals(700, MoveUnderLoadBenchmark.bytes("700"));
    assertThrows(IllegalArgumentException.class, () -> parse("--nodes", "3"));
    assertThrows(IllegalArgumentException.class, () -> parse("--range", "8"));
    assertThrows(IllegalArgumentException.class, () -> parse("--from", "n2"));
    assertThrows(IllegalArgumentException.class, () -> parse("--size"));
    assertThrows(IllegalArgumentException.class, () -> parse("--bogus", "1"));
    assertThrows(IllegalArgumentException.class, () -> MoveUnderLoadBenchmark.bytes("0m"));
  }

  private static MoveUnderLoadBenchmark.Options parse(String... args) {
    return MoveUnderLoadBenchmark.parse(args);
  }

  @Test
  void theKeySpaceSplitsIntoRangesOfEqualCountsInByteOrder() {
    KeySpace k = new KeySpace(10, 100);
    List<byte[]> splits = k.splitKeys(3);
    assertEquals(2, splits.size());
    assertArrayEquals("k0000000003".getBytes(StandardCharsets.US_ASCII), splits.get(0));
    assertArrayEquals("k0000000006".getBytes(StandardCharsets.US_ASCII), splits.get(1));
    assertTrue(Arrays.compareUnsigned(k.key(9), k.key(10)) < 0);
    assertEquals(3 * (KeySpace.KEY_BYTES + 100), k.stateBytesOf(0, 3));
    assertEquals(4 * (KeySpace.KEY_BYTES + 100), k.stateBytesOf(2, 3));
    assertEquals(1000, KeySpace.ofSize(1000 * (KeySpace.KEY_BYTES + 1024L), 1024).keys());
    assertEquals(100, k.value(new java.util.SplittableRandom(1)).length);
    assertThrows(IllegalArgumentException.class, () -> k.splitKeys(11));
  }
}
