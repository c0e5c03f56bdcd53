package dev.ferry.kv.shard;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.kv.KvClient;
import dev.ferry.kv.cli.FerryCli;
import dev.ferry.kv.testing.ConcurrentClose;
import dev.ferry.kv.testing.LocalCluster;
import dev.ferry.shipping.PeerAddress;
import dev.ferry.statemachine.StateMachineConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * A sharded store of three ranges, each range's group a {@link LocalCluster} of its own two nodes
 * (named {@code shop.r<i>}, as a multi-group node will host them): {@link RoutingKvClient} and
 * {@code ferry kv --map} route each key to its range's group, scans cross ranges in key order, and
 * every key is stored in its own range's group only. The tests share the groups (they stop no
 * node); each starts from an empty store.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RoutingIT {
  private static final Duration T = Duration.ofSeconds(60);
  private static final List<String> SPLITS = List.of("h", "p");

  private final List<LocalCluster> groups = new ArrayList<>();
  private ClusterLayout layout;
  private Path mapFile;

  @BeforeAll
  void start(@TempDir Path dir) throws IOException {
    Map<String, List<String>> members = new java.util.LinkedHashMap<>();
    List<Range> ranges = new ArrayList<>();
    for (int i = 0; i <= SPLITS.size(); i++) {
      String group = ClusterLayout.groupName("shop", i);
      List<String> ids = List.of("r" + i + "a", "r" + i + "b");
      members.put(group, ids);
      byte[] start = i == 0 ? new byte[0] : b(SPLITS.get(i - 1));
      byte[] end = i == SPLITS.size() ? null : b(SPLITS.get(i));
      ranges.add(new Range(i, start, end, group, ids));
    }
    groups.addAll(LocalCluster.startGroups(dir, members, StateMachineConfig.defaults()));
    List<PeerAddress> nodes = new ArrayList<>();
    groups.forEach(c -> nodes.addAll(c.peers()));
    layout = new ClusterLayout("shop", 1, 2, nodes, ranges);
    mapFile = dir.resolve("shop.map");
    layout.write(mapFile);
  }

  @AfterAll
  void stop() throws Exception {
    ConcurrentClose.all(groups);
  }

  /** Deletes what an earlier test wrote, so that every test starts from an empty store. */
  @BeforeEach
  void empty() throws IOException {
    try (RoutingKvClient c = RoutingKvClient.connect(StaticClusterMap.of(layout), T)) {
      for (byte[] k : c.scan(null, null, 10_000).keySet()) {
        c.delete(k);
      }
      assertEquals(List.of(), keys(c.scan(null, null, 10_000)), "an empty store");
    }
  }

  private static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static String s(byte[] b) {
    return new String(b, StandardCharsets.UTF_8);
  }

  @Test
  void keysAreRoutedToTheirRangesGroupAndScansCrossRanges() throws IOException {
    TreeMap<String, String> expected = new TreeMap<>();
    try (RoutingKvClient c = RoutingKvClient.connect(StaticClusterMap.read(mapFile), T)) {
      List<byte[][]> batch = new ArrayList<>();
      for (char letter = 'a'; letter <= 'z'; letter++) {
        for (int i = 0; i < 8; i++) {
          String k = letter + "-" + i;
          expected.put(k, "v" + k);
          if (i % 2 == 0) {
            assertFalse(c.put(b(k), b("v" + k)), k + " was new");
          } else {
            batch.add(new byte[][] {b(k), b("v" + k)});
          }
        }
      }
      c.putAll(batch); // one command per range
      // the edges of the ranges: a split key starts its range
      for (String k : List.of("g~", "h", "o\u00ff", "p")) {
        c.put(b(k), b("edge " + k));
        expected.put(k, "edge " + k);
      }
      assertTrue(c.delete(b("q-0")));
      expected.remove("q-0");
      assertTrue(c.compareAndSet(b("c-0"), b("vc-0"), b("swapped")).success());
      expected.put("c-0", "swapped");
      assertEquals(5, c.increment(b("counter"), 5));

      for (Map.Entry<String, String> e : expected.entrySet()) {
        assertEquals(e.getValue(), s(c.get(b(e.getKey()))), e.getKey());
      }
      assertNull(c.get(b("q-0")));

      expected.put("counter", null); // its value is 8 binary bytes
      Map<byte[], byte[]> all = c.scan(null, null, 10_000);
      assertEquals(new ArrayList<>(expected.keySet()), keys(all), "the whole store in key order");
      Map<byte[], byte[]> middle = c.scan(b("f"), b("r"), 10_000);
      assertEquals(
          new ArrayList<>(expected.subMap("f", "r").keySet()), keys(middle), "[f, r): 3 ranges");
      Map<byte[], byte[]> limited = c.scan(b("g"), null, 12);
      assertEquals(
          expected.tailMap("g").keySet().stream().limit(12).toList(),
          keys(limited),
          "a limit that ends in the second range");

      // a stale read goes to the named replica of the key's group, and only there
      String replica = layout.rangeFor(b("x-1")).replicas().get(1);
      assertEquals("vx-1", s(c.getStale(b("x-1"), replica)));
      assertThrows(IllegalArgumentException.class, () -> c.getStale(b("x-1"), "r0a"));
    }
    for (int i = 0; i < groups.size(); i++) {
      assertGroupHoldsExactly(i, expected);
    }
    aReadThatFindsNoGroupWhereTheMapSaysRefreshesTheMap();
  }

  /**
   * A layout (version 1) that places range 1 on the nodes of range 0, which do not host its group:
   * a read routed by it gets "not here" from every one of them at once, the map is refreshed
   * (version 2: the right nodes) and the read runs again there; a write routed by it reached no
   * replica (every node answered "not here"), so it is sent again by version 2 and applied there.
   */
  private void aReadThatFindsNoGroupWhereTheMapSaysRefreshesTheMap() throws IOException {
    ClusterLayout wrong = SwitchingMap.moved(layout, 1, 1, layout.range(0).replicas());
    ClusterLayout right = SwitchingMap.moved(layout, 2, 1, layout.range(1).replicas());
    SwitchingMap map = new SwitchingMap(wrong, right);
    try (RoutingKvClient c = RoutingKvClient.connect(map, Duration.ofSeconds(3))) {
      assertArrayEquals(b("vm-1"), c.get(b("m-1")));
      assertEquals(1, map.refreshes.get());
    }
    map = new SwitchingMap(wrong, right);
    try (RoutingKvClient c = RoutingKvClient.connect(map, Duration.ofSeconds(3))) {
      assertTrue(c.put(b("m-1"), b("again")), "sent again to the right group");
      assertEquals(1, map.refreshes.get());
      assertArrayEquals(b("again"), c.get(b("m-1")));
    }
  }

  /** Group {@code i}, read directly: exactly the expected keys of its range, nothing else. */
  private void assertGroupHoldsExactly(int i, TreeMap<String, String> expected) throws IOException {
    Range r = layout.range(i);
    List<String> mine = expected.keySet().stream().filter(k -> r.contains(b(k))).toList();
    assertFalse(mine.isEmpty(), "the test writes to every range");
    try (KvClient direct = groups.get(i).client(T)) {
      assertEquals(mine, keys(direct.scan(null, null, 10_000)), r.group() + " holds its keys only");
    }
  }

  @Test
  void theKvCommandRoutesWithAMapAndScansAreInUnsignedByteOrder() throws IOException {
    String map = mapFile.toString();
    assertEquals(0, FerryCli.run("kv", "put", "--map", map, "melon", "green"));
    assertEquals(0, FerryCli.run("kv", "put", "--map", map, "apple", "red"));
    assertEquals(0, FerryCli.run("kv", "get", "--map", map, "melon"));
    assertEquals(1, FerryCli.run("kv", "get", "--map", map, "absent"), "absent: exit 1");
    assertEquals(0, FerryCli.run("kv", "scan", "--map", map));
    try (KvClient r1 = groups.get(1).client(T);
        KvClient r0 = groups.get(0).client(T)) {
      assertArrayEquals(b("green"), r1.get(b("melon")));
      assertNull(r0.get(b("melon")));
      assertArrayEquals(b("red"), r0.get(b("apple")));
      assertEquals(List.of("melon"), keys(r1.scan(null, null, 100)));
    }
    try (RoutingKvClient c = RoutingKvClient.connect(StaticClusterMap.of(layout), T)) {
      byte[] high = {(byte) 0xc3, 1};
      c.put(high, b("high"));
      c.put(b("z"), b("z"));
      List<byte[]> order = new ArrayList<>(c.scan(null, null, 100).keySet());
      assertEquals(List.of("apple", "melon", "z"), keys(c.scan(null, b("zz"), 100)));
      assertEquals(4, order.size());
      assertTrue(Arrays.equals(high, order.get(3)), "0xc3 sorts after 'z', in the last range");
      assertEquals(2, layout.rangeFor(high).index());
    }
  }

  private static List<String> keys(Map<byte[], byte[]> rows) {
    List<String> out = new ArrayList<>();
    rows.keySet().forEach(k -> out.add(s(k)));
    return out;
  }
}
