package dev.ferry.kv.shard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
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
}
