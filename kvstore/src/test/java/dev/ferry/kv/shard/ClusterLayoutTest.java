package dev.ferry.kv.shard;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.shipping.PeerAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;

class ClusterLayoutTest {
  static final List<PeerAddress> NODES =
      List.of(
          PeerAddress.parse("n1=10.0.0.1:9000"),
          PeerAddress.parse("n2=10.0.0.2:9000"),
          PeerAddress.parse("n3=10.0.0.3:9000"),
          PeerAddress.parse("n4=10.0.0.4:9000:9100"));

  static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  static ClusterLayout fourRanges() {
    return ClusterLayout.create("ferry", NODES, List.of(b("g"), b("n"), b("t")), 3);
  }

  @Test
  void createMakesContiguousRangesNamedAfterTheCluster() {
    ClusterLayout l = fourRanges();
    assertEquals(4, l.ranges().size());
    assertEquals(1, l.version());
    assertArrayEquals(new byte[0], l.range(0).start());
    assertArrayEquals(b("g"), l.range(0).end());
    assertArrayEquals(b("g"), l.range(1).start());
    assertNull(l.range(3).end());
    for (Range r : l.ranges()) {
      assertEquals("ferry.r" + r.index(), r.group());
      assertEquals(3, r.replicas().size());
    }
  }

  @Test
  void aKeyGoesToTheRangeWhoseStartIsTheGreatestAtOrBelowIt() {
    ClusterLayout l = fourRanges();
    assertEquals(0, l.rangeFor(new byte[0]).index());
    assertEquals(0, l.rangeFor(b("a")).index());
    assertEquals(0, l.rangeFor(b("fzzzz")).index());
    assertEquals(1, l.rangeFor(b("g")).index(), "a split key starts its range");
    assertEquals(1, l.rangeFor(b("g\0")).index());
    assertEquals(2, l.rangeFor(b("n")).index());
    assertEquals(3, l.rangeFor(b("t")).index());
    assertEquals(3, l.rangeFor(b("zzz")).index());
  }

  @Test
  void keysCompareUnsigned() {
    ClusterLayout l =
        ClusterLayout.create("c", NODES, List.of(new byte[] {0x10}, new byte[] {(byte) 0x80}), 1);
    assertEquals(2, l.rangeFor(new byte[] {(byte) 0xff}).index(), "0xff is above 0x80");
    assertEquals(1, l.rangeFor(new byte[] {0x7f}).index());
    assertEquals(0, l.rangeFor(new byte[] {0x0f, (byte) 0xff}).index());
    for (int x = 0; x < 256; x++) {
      byte[] key = {(byte) x, 1};
      assertTrue(l.rangeFor(key).contains(key), "key " + x);
    }
  }

  @Test
  void rangesOverlappingAScanAreInKeyOrder() {
    ClusterLayout l = fourRanges();
    assertEquals(List.of(0, 1, 2, 3), indexes(l.rangesOverlapping(null, null)));
    assertEquals(List.of(1, 2), indexes(l.rangesOverlapping(b("g"), b("p"))));
    assertEquals(List.of(0), indexes(l.rangesOverlapping(null, b("g"))), "to is exclusive");
    assertEquals(List.of(0, 1), indexes(l.rangesOverlapping(null, b("g\0"))));
    assertEquals(List.of(3), indexes(l.rangesOverlapping(b("x"), null)));
    assertEquals(List.of(), indexes(l.rangesOverlapping(b("p"), b("p"))));
    assertEquals(List.of(), indexes(l.rangesOverlapping(b("q"), b("p"))));
  }

  private static List<Integer> indexes(List<Range> ranges) {
    return ranges.stream().map(Range::index).toList();
  }

  @Test
  void aBadLayoutIsRefusedNamingTheProblem() {
    List<String> r3 = List.of("n1", "n2", "n3");
    Range first = new Range(0, new byte[0], b("m"), "c.r0", r3);
    assertMessage(
        "range 1 starts at 'n' but range 0 ends at 'm'",
        () -> layout(first, new Range(1, b("n"), null, "c.r1", r3)));
    assertMessage(
        "range 0 must start at the empty key",
        () -> layout(new Range(0, b("a"), null, "c.r0", r3)));
    assertMessage("the last range (0) must be unbounded above", () -> layout(first));
    assertMessage(
        "range 1 has 2 replicas [n1, n2], the replication factor is 3",
        () -> layout(first, new Range(1, b("m"), null, "c.r1", List.of("n1", "n2"))));
    assertMessage(
        "range 1: unknown node n9",
        () -> layout(first, new Range(1, b("m"), null, "c.r1", List.of("n1", "n2", "n9"))));
    assertMessage(
        "range 1: group c.r0 holds another range too",
        () -> layout(first, new Range(1, b("m"), null, "c.r0", r3)));
    assertMessage(
        "range at position 1 has index 2",
        () -> layout(first, new Range(2, b("m"), null, "x", r3)));
    assertMessage("is not below its end", () -> new Range(0, b("b"), b("a"), "g", r3));
    assertMessage("names a node twice", () -> new Range(0, b(""), null, "g", List.of("n1", "n1")));
    assertMessage("replication must be 1..4", () -> ClusterLayout.create("c", NODES, List.of(), 5));
    assertMessage(
        "split keys must be strictly increasing",
        () -> ClusterLayout.create("c", NODES, List.of(b("b"), b("b")), 3));
    assertMessage(
        "split key 1 is empty", () -> ClusterLayout.create("c", NODES, List.of(new byte[0]), 3));
    assertMessage("cluster name must be", () -> ClusterLayout.create("a.b", NODES, List.of(), 3));
  }

  private static ClusterLayout layout(Range... ranges) {
    return new ClusterLayout("c", 1, 3, NODES, List.of(ranges));
  }

  static void assertMessage(String expected, org.junit.jupiter.api.function.Executable e) {
    IllegalArgumentException x = assertThrows(IllegalArgumentException.class, e);
    assertTrue(x.getMessage().contains(expected), x.getMessage());
  }

  @Test
  void aSampleSplitsIntoRangesOfAboutEquallyManyKeys() {
    List<byte[]> distinct = new ArrayList<>();
    Collection<byte[]> sample = new ArrayList<>();
    for (int i = 0; i < 1000; i++) {
      // skewed: most keys share a prefix; every key sampled twice
      byte[] key = b(String.format(Locale.ROOT, i < 900 ? "user%05d" : "item%05d", i));
      distinct.add(key);
      sample.add(key);
      sample.add(key.clone());
    }
    List<byte[]> splits = ClusterLayout.splitKeysFromSample(sample, 4);
    ClusterLayout l = ClusterLayout.create("c", NODES, splits, 3);
    int[] perRange = new int[4];
    for (byte[] k : distinct) {
      perRange[l.rangeFor(k).index()]++;
    }
    for (int n : perRange) {
      assertEquals(250, n, java.util.Arrays.toString(perRange));
    }
    assertMessage(
        "the sample has 1 distinct non-empty keys; 2 ranges need at least as many",
        () -> ClusterLayout.splitKeysFromSample(List.of(b("a"), b("a"), new byte[0]), 2));
  }

  @Test
  void aSingleGroupLayoutIsTheWholeKeySpaceInTheClustersOwnGroup() {
    ClusterLayout l = ClusterLayout.singleGroup("ferry", NODES.subList(0, 3));
    assertEquals(1, l.ranges().size());
    assertEquals("ferry", l.rangeFor(b("anything")).group());
    assertEquals(NODES.subList(0, 3), l.peers(l.range(0)));
  }

  @Test
  void rangesAreValuesComparedByContent() {
    assertEquals(fourRanges(), fourRanges());
    assertEquals(fourRanges().hashCode(), fourRanges().hashCode());
    byte[] start = b("a");
    Range r = new Range(1, start, null, "g", List.of("n1"));
    start[0] = 'z';
    assertArrayEquals(b("a"), r.start(), "the range copied its key");
  }
}
