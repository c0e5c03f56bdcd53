package dev.ferry.kv.shard;

import java.util.ArrayList;
import java.util.List;

/**
 * Spreads the replicas of {@code n} ranges over the nodes: every node gets ⌊n·r/m⌋ or ⌈n·r/m⌉
 * replicas and ⌊n/m⌋ or ⌈n/m⌉ first replicas (m nodes, replication r).
 *
 * <p>Greedy, range by range: the first replica goes to a node with the fewest first replicas (then
 * the fewest replicas), each further replica to a node with the fewest replicas (then the most
 * first replicas, leaving the nodes short of first replicas free for the coming ones); ties go to
 * the node next in a rotation that starts at the range's index. Deterministic: the same inputs give
 * the same layout. PlacementTest checks the bounds for every m ≤ 16, r ≤ m, n ≤ 100.
 */
final class Placement {
  private Placement() {}

  /**
   * The replicas of each range, as node ids.
   *
   * @throws IllegalArgumentException if {@code replication} is not 1..nodes.size() or {@code ranges
   *     < 1}
   */
  static List<List<String>> place(int ranges, List<String> nodes, int replication) {
    int m = nodes.size();
    if (ranges < 1) {
      throw new IllegalArgumentException("ranges must be >= 1: " + ranges);
    }
    if (replication < 1 || replication > m) {
      throw new IllegalArgumentException(
          "replication must be 1.." + m + " (the number of nodes): " + replication);
    }
    int[] firsts = new int[m];
    int[] totals = new int[m];
    List<List<String>> out = new ArrayList<>(ranges);
    for (int i = 0; i < ranges; i++) {
      boolean[] used = new boolean[m];
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
      while (replicas.size() < replication) {
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
        take(best, used, totals, replicas, nodes);
      }
      out.add(List.copyOf(replicas));
    }
    return List.copyOf(out);
  }

  private static void take(
      int k, boolean[] used, int[] totals, List<String> replicas, List<String> nodes) {
    used[k] = true;
    totals[k]++;
    replicas.add(nodes.get(k));
  }
}
