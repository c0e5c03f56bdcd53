package dev.ferry.kv.shard;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Spreads the replicas of {@code n} ranges over the nodes (m nodes, replication r), keeping each
 * range's replicas in as many zones as possible.
 *
 * <p>Greedy, range by range: the first replica goes to a node with the fewest first replicas (then
 * the fewest replicas), each further replica to a node with the fewest replicas (then the fewest
 * replicas per node in its zone, then the most first replicas, leaving the nodes short of first
 * replicas free for the coming ones); ties go to the node next in a rotation that starts at the
 * range's index. With zone labels a further replica is chosen only among the unused nodes of the
 * zones that hold the fewest of the range's replicas so far (among zones with a node left): a
 * range's replicas are in distinct zones when there are at least r zones, and otherwise in all
 * zones, no zone getting a second replica before every zone has one (nor a third before every zone
 * with a node left has two, and so on). A node without a label is a zone of its own, so a map
 * without labels (or with a distinct label per node) is placed exactly as it was before zones.
 *
 * <p>What holds (PlacementTest): every node is first replica of ⌊n/m⌋ or ⌈n/m⌉ ranges, with zones
 * or not (the first replica ignores zones). Without labels every node holds ⌊n·r/m⌋ or ⌈n·r/m⌉
 * replicas (checked for every m ≤ 16, r ≤ m, n ≤ 100). With labels:
 *
 * <ul>
 *   <li>the nodes of one zone hold replica counts at most 1 apart (checked for every way to cut m ≤
 *       8 nodes into zones, r ≤ m, n ≤ 80, nodes listed zone by zone, round-robin over the zones,
 *       or shuffled; and, once while writing this, for m ≤ 12, n ≤ 100);
 *   <li>when every zone has the same number of nodes, every node holds ⌊n·r/m⌋ or ⌈n·r/m⌉ replicas
 *       if the nodes are listed zone by zone or round-robin over the zones, and at most one replica
 *       outside that bound in any order (e.g. 4 zones of 3 in some orders, r = 2);
 *   <li>when zones differ in size the node bound cannot hold in general (a zone of one node next to
 *       one of three, r = 2: that node holds a replica of every range).
 * </ul>
 *
 * Deterministic: the same inputs give the same layout.
 */
final class Placement {
  private Placement() {}

  /**
   * The replicas of each range, as node ids, without zone labels.
   *
   * @throws IllegalArgumentException if {@code replication} is not 1..nodes.size() or {@code ranges
   *     < 1}
   */
  static List<List<String>> place(int ranges, List<String> nodes, int replication) {
    return place(ranges, nodes, Map.of(), replication);
  }

  /**
   * The replicas of each range, as node ids, in as many zones as possible.
   *
   * @param zones a node id's zone label; a node not in it is a zone of its own (labels of ids that
   *     are not nodes are ignored)
   * @throws IllegalArgumentException if {@code replication} is not 1..nodes.size() or {@code ranges
   *     < 1}
   */
  static List<List<String>> place(
      int ranges, List<String> nodes, Map<String, String> zones, int replication) {
    int m = nodes.size();
    if (ranges < 1) {
      throw new IllegalArgumentException("ranges must be >= 1: " + ranges);
    }
    if (replication < 1 || replication > m) {
      throw new IllegalArgumentException(
          "replication must be 1.." + m + " (the number of nodes): " + replication);
    }
    int[] zone = zoneIndexes(nodes, zones);
    int zoneCount = 0;
    for (int z : zone) {
      zoneCount = Math.max(zoneCount, z + 1);
    }
    int[] zoneSize = new int[zoneCount];
    for (int z : zone) {
      zoneSize[z]++;
    }
    int[] zoneTotals = new int[zoneCount];
    int[] firsts = new int[m];
    int[] totals = new int[m];
    List<List<String>> out = new ArrayList<>(ranges);
    for (int i = 0; i < ranges; i++) {
      boolean[] used = new boolean[m];
      int[] inZone = new int[zoneCount];
      List<String> replicas = new ArrayList<>(replication);
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
      take(first, used, totals, replicas, nodes);
      inZone[zone[first]]++;
      zoneTotals[zone[first]]++;
      while (replicas.size() < replication) {
        // The fewest replicas of this range in a zone that still has an unused node.
        int fewest = Integer.MAX_VALUE;
        for (int k = 0; k < m; k++) {
          if (!used[k]) {
            fewest = Math.min(fewest, inZone[zone[k]]);
          }
        }
        int best = -1;
        for (int j = 0; j < m; j++) {
          int k = (i + j) % m;
          if (used[k] || inZone[zone[k]] != fewest) {
            continue;
          }
          if (best < 0 || totals[k] < totals[best]) {
            best = k;
          } else if (totals[k] == totals[best]) {
            int byZone = compareZoneLoad(k, best, zone, zoneTotals, zoneSize);
            if (byZone < 0 || (byZone == 0 && firsts[k] > firsts[best])) {
              best = k;
            }
          }
        }
        take(best, used, totals, replicas, nodes);
        inZone[zone[best]]++;
        zoneTotals[zone[best]]++;
      }
      out.add(List.copyOf(replicas));
    }
    return List.copyOf(out);
  }

  /** Each node's zone as 0, 1, 2, ...: equal labels share one, an unlabelled node has its own. */
  private static int[] zoneIndexes(List<String> nodes, Map<String, String> zones) {
    Map<String, Integer> byLabel = new HashMap<>();
    int[] zone = new int[nodes.size()];
    int next = 0;
    for (int k = 0; k < nodes.size(); k++) {
      String label = zones.get(nodes.get(k));
      if (label == null) {
        zone[k] = next++;
      } else {
        Integer z = byLabel.putIfAbsent(label, next);
        zone[k] = z == null ? next++ : z;
      }
    }
    return zone;
  }

  /**
   * Compares the replicas per node of node {@code a}'s zone and node {@code b}'s zone (negative if
   * {@code a}'s is lower). Two nodes of one zone, or of zones of one node each, compare as their
   * zones' totals do, so this changes nothing without labels.
   */
  private static int compareZoneLoad(int a, int b, int[] zone, int[] zoneTotals, int[] zoneSize) {
    return Long.compare(
        (long) zoneTotals[zone[a]] * zoneSize[zone[b]],
        (long) zoneTotals[zone[b]] * zoneSize[zone[a]]);
  }

  private static void take(
      int k, boolean[] used, int[] totals, List<String> replicas, List<String> nodes) {
    used[k] = true;
    totals[k]++;
    replicas.add(nodes.get(k));
  }
}
