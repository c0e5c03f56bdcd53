package dev.ferry.kv.shard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

class PlacementTest {

  @Test
  void everyNodeGetsTheFloorOrCeilingOfReplicasAndOfFirstReplicas() {
    for (int m = 1; m <= 16; m++) {
      List<String> nodes = new ArrayList<>();
      for (int i = 1; i <= m; i++) {
        nodes.add("n" + i);
      }
      for (int r = 1; r <= m; r++) {
        for (int n = 1; n <= 100; n++) {
          check(n, nodes, r);
        }
      }
    }
  }

  private static void check(int n, List<String> nodes, int r) {
    List<List<String>> placed = Placement.place(n, nodes, r);
    String what = n + " ranges, " + nodes.size() + " nodes, replication " + r;
    assertEquals(n, placed.size(), what);
    Map<String, Integer> totals = new HashMap<>();
    Map<String, Integer> firsts = new HashMap<>();
    for (List<String> replicas : placed) {
      assertEquals(r, new HashSet<>(replicas).size(), what + ": distinct replicas " + replicas);
      firsts.merge(replicas.get(0), 1, Integer::sum);
      replicas.forEach(x -> totals.merge(x, 1, Integer::sum));
    }
    int m = nodes.size();
    for (String node : nodes) {
      int t = totals.getOrDefault(node, 0);
      int f = firsts.getOrDefault(node, 0);
      assertTrue(t == n * r / m || t == (n * r + m - 1) / m, what + ": " + node + " has " + t);
      assertTrue(f == n / m || f == (n + m - 1) / m, what + ": " + node + " is first " + f);
    }
  }

  @Test
  void theSameInputsGiveTheSamePlacement() {
    List<String> nodes = List.of("a", "b", "c", "d", "e");
    assertEquals(Placement.place(17, nodes, 3), Placement.place(17, nodes, 3));
  }

  @Test
  void withoutLabelsOrWithOneLabelPerNodeThePlacementIsTheOneBeforeZones() {
    for (int m = 1; m <= 16; m++) {
      List<String> nodes = new ArrayList<>();
      Map<String, String> ownZones = new HashMap<>();
      for (int i = 1; i <= m; i++) {
        nodes.add("n" + i);
        ownZones.put("n" + i, "z" + i);
      }
      for (int r = 1; r <= m; r++) {
        for (int n = 1; n <= 100; n++) {
          List<List<String>> before = placeBeforeZones(n, nodes, r);
          String what = n + " ranges, " + m + " nodes, replication " + r;
          assertEquals(before, Placement.place(n, nodes, r), what);
          assertEquals(before, Placement.place(n, nodes, Map.of(), r), what);
          assertEquals(before, Placement.place(n, nodes, ownZones, r), what + ", a zone each");
        }
      }
    }
  }

  @Test
  void eachRangeIsInAsManyZonesAsPossibleAndEachZoneStaysEven() {
    for (int m = 1; m <= 8; m++) {
      for (List<Integer> sizes : zoneSizes(m, m)) {
        for (String order : List.of("zone by zone", "round-robin", "shuffled")) {
          Map<String, String> zones = new HashMap<>();
          List<String> nodes = nodesInZones(sizes, order, zones);
          for (int r = 1; r <= m; r++) {
            for (int n = 1; n <= 80; n++) {
              checkZones(n, nodes, zones, sizes, r, order);
            }
          }
        }
      }
    }
  }

  @Test
  void unlabelledNodesAreZonesOfTheirOwn() {
    // a and b share zone x; c and d have no label: 3 zones, so replication 3 uses all of them.
    List<String> nodes = List.of("a", "b", "c", "d");
    List<List<String>> placed = Placement.place(20, nodes, Map.of("a", "x", "b", "x"), 3);
    for (List<String> replicas : placed) {
      assertTrue(replicas.contains("c") && replicas.contains("d"), replicas.toString());
    }
  }

  @Test
  void zonesOfUnequalSizeFillTheSmallZone() {
    // One node alone in its zone next to a zone of three, replication 2: every range has one
    // replica on the lone node, which is why the balance bound cannot hold for unequal zones.
    List<String> nodes = List.of("a1", "b1", "b2", "b3");
    Map<String, String> zones = Map.of("a1", "a", "b1", "b", "b2", "b", "b3", "b");
    List<List<String>> placed = Placement.place(12, nodes, zones, 2);
    Map<String, Integer> totals = new HashMap<>();
    placed.forEach(p -> p.forEach(x -> totals.merge(x, 1, Integer::sum)));
    assertEquals(Map.of("a1", 12, "b1", 4, "b2", 4, "b3", 4), totals);
  }

  private static void checkZones(
      int n, List<String> nodes, Map<String, String> zones, List<Integer> sizes, int r, String o) {
    int m = nodes.size();
    String what = n + " ranges, zones " + sizes + " " + o + " " + nodes + ", replication " + r;
    List<List<String>> placed = Placement.place(n, nodes, zones, r);
    assertEquals(n, placed.size(), what);
    Map<String, Integer> totals = new HashMap<>();
    Map<String, Integer> firsts = new HashMap<>();
    for (List<String> replicas : placed) {
      assertEquals(r, new HashSet<>(replicas).size(), what + ": distinct replicas " + replicas);
      firsts.merge(replicas.get(0), 1, Integer::sum);
      replicas.forEach(x -> totals.merge(x, 1, Integer::sum));
      Map<String, Integer> inZone = new HashMap<>();
      replicas.forEach(x -> inZone.merge(zones.get(x), 1, Integer::sum));
      if (sizes.size() >= r) {
        assertEquals(r, inZone.size(), what + ": distinct zones " + replicas);
      } else {
        assertEquals(sizes.size(), inZone.size(), what + ": every zone " + replicas);
      }
      // No zone has two more than a zone that still had a node free.
      int most = inZone.values().stream().max(Integer::compare).orElseThrow();
      for (int z = 0; z < sizes.size(); z++) {
        int c = inZone.getOrDefault("z" + z, 0);
        assertTrue(c == sizes.get(z) || most <= c + 1, what + ": zone z" + z + " in " + replicas);
      }
    }
    boolean equalZones = sizes.stream().distinct().count() == 1;
    for (String node : nodes) {
      int f = firsts.getOrDefault(node, 0);
      assertTrue(f == n / m || f == (n + m - 1) / m, what + ": " + node + " is first " + f);
      int t = totals.getOrDefault(node, 0);
      if (equalZones) {
        int low = n * r / m;
        int high = (n * r + m - 1) / m;
        if (o.equals("shuffled")) {
          low--;
          high++;
        }
        assertTrue(low <= t && t <= high, what + ": " + node + " has " + t);
      }
      for (String other : nodes) {
        if (zones.get(node).equals(zones.get(other))) {
          int d = t - totals.getOrDefault(other, 0);
          assertTrue(-1 <= d && d <= 1, what + ": " + node + " " + t + ", " + other + " in zone");
        }
      }
    }
  }

  /** Node ids n1..nm, zone z0 of sizes[0] nodes, z1 of sizes[1], ..., listed in the given order. */
  private static List<String> nodesInZones(
      List<Integer> sizes, String order, Map<String, String> zones) {
    List<Integer> zoneOfEach = new ArrayList<>();
    if (order.equals("round-robin")) {
      int[] left = sizes.stream().mapToInt(Integer::intValue).toArray();
      for (int placed = 0, m = sum(sizes); placed < m; ) {
        for (int z = 0; z < left.length; z++) {
          if (left[z] > 0) {
            left[z]--;
            zoneOfEach.add(z);
            placed++;
          }
        }
      }
    } else {
      for (int z = 0; z < sizes.size(); z++) {
        for (int i = 0; i < sizes.get(z); i++) {
          zoneOfEach.add(z);
        }
      }
      if (order.equals("shuffled")) {
        Collections.shuffle(zoneOfEach, new Random(31L * sizes.hashCode() + sizes.size()));
      }
    }
    List<String> nodes = new ArrayList<>();
    for (int z : zoneOfEach) {
      String id = "n" + (nodes.size() + 1);
      nodes.add(id);
      zones.put(id, "z" + z);
    }
    return nodes;
  }

  private static int sum(List<Integer> xs) {
    return xs.stream().mapToInt(Integer::intValue).sum();
  }

  /** Every way to cut m nodes into zones: the partitions of m, parts at most max, largest first. */
  private static List<List<Integer>> zoneSizes(int m, int max) {
    List<List<Integer>> out = new ArrayList<>();
    if (m == 0) {
      out.add(List.of());
      return out;
    }
    for (int s = Math.min(m, max); s >= 1; s--) {
      for (List<Integer> rest : zoneSizes(m - s, s)) {
        List<Integer> l = new ArrayList<>();
        l.add(s);
        l.addAll(rest);
        out.add(l);
      }
    }
    return out;
  }

  /** The placement as it was before zone labels (a reference model: the output must not change). */
  private static List<List<String>> placeBeforeZones(int ranges, List<String> nodes, int r) {
    int m = nodes.size();
    int[] firsts = new int[m];
    int[] totals = new int[m];
    List<List<String>> out = new ArrayList<>();
    for (int i = 0; i < ranges; i++) {
      boolean[] used = new boolean[m];
      List<String> replicas = new ArrayList<>();
      int first = -1;
      for (int j = 0; j < m; j++) {
        int k = (i + j) % m;
        if (first < 0
            || firsts[k] < firsts[first]
            || (firsts[k] == firsts[first] && totals[k] < totals[first])) {
          first = k;
        }
      }
      firsts[first]++;
      used[first] = true;
      totals[first]++;
      replicas.add(nodes.get(first));
      while (replicas.size() < r) {
        int best = -1;
        for (int j = 0; j < m; j++) {
          int k = (i + j) % m;
          if (!used[k]
              && (best < 0
                  || totals[k] < totals[best]
                  || (totals[k] == totals[best] && firsts[k] > firsts[best]))) {
            best = k;
          }
        }
        used[best] = true;
        totals[best]++;
        replicas.add(nodes.get(best));
      }
      out.add(List.copyOf(replicas));
    }
    return out;
  }
}
