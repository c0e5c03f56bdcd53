package dev.ferry.bench.replace;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.ferry.bench.move.KeySpace;
import dev.ferry.kv.shard.ClusterLayout;
import dev.ferry.kv.shard.Range;
import dev.ferry.shipping.PeerAddress;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class NodeReplacementOptionsTest {
  @Test
  void defaultsAndOverrides() {
    NodeReplacementBenchmark.Options d = NodeReplacementBenchmark.parse(new String[0]);
    assertEquals(List.of(1, 6, 24, 96), d.groups());
    assertEquals(List.of("unshaped"), d.profiles());
    assertEquals(100_000_000L, d.rateBits());

    NodeReplacementBenchmark.Options o =
        NodeReplacementBenchmark.parse(
            new String[] {
              "--groups",
              "1,24",
              "--size",
              "64m",
              "--profile",
              "unshaped",
              "--profile",
              "shaped",
              "--rate-mbit",
              "50",
              "--parallel",
              "4"
            });
    assertEquals(List.of(1, 24), o.groups());
    assertEquals(64L << 20, o.sizeBytes());
    assertEquals(List.of("unshaped", "shaped"), o.profiles());
    assertEquals(50_000_000L, o.rateBits());
    assertEquals(4, o.parallel());
  }

  @Test
  void badArgumentsFailAtOnce() {
    assertThrows(
        IllegalArgumentException.class,
        () -> NodeReplacementBenchmark.parse(new String[] {"--groups", "0,6"}));
    assertThrows(
        IllegalArgumentException.class,
        () -> NodeReplacementBenchmark.parse(new String[] {"--profile", "fast"}));
    assertThrows(
        IllegalArgumentException.class,
        () -> NodeReplacementBenchmark.parse(new String[] {"--parallel", "0"}));
    assertThrows(
        IllegalArgumentException.class,
        () -> NodeReplacementBenchmark.parse(new String[] {"--size"}));
  }

  @Test
  void theLayoutPlacesEveryRangeOnTheSixAndTheReplacedNodeHoldsRangeZero() {
    List<PeerAddress> peers = new ArrayList<>();
    for (int i = 1; i <= 7; i++) {
      peers.add(new PeerAddress("n" + i, "127.0.0.1", 9000 + 2 * i, 9001 + 2 * i));
    }
    KeySpace keys = new KeySpace(10_000, 16);
    for (int g : List.of(1, 6, 24, 96)) {
      ClusterLayout l = NodeReplacementBenchmark.layout("c", peers, keys, g);
      assertEquals(7, l.nodes().size());
      assertEquals(g, l.ranges().size());
      // No meta line: NodeMoves.replace moves the ranges only, no metadata group.
      assertEquals(List.of(), l.meta());
      for (Range r : l.ranges()) {
        assertEquals(3, r.replicas().size());
        assertEquals(false, r.replicas().contains("n7"), r.toString());
      }
      String dead = NodeReplacementBenchmark.replaced(l);
      List<Range> moved = Replacement.affected(l, dead);
      assertEquals(true, moved.contains(l.range(0)));
      // Every node of the six holds ⌊3G/6⌋ or ⌈3G/6⌉ replicas.
      assertEquals((3 * g + 5) / 6, moved.size(), "G=" + g);
    }
  }
}
