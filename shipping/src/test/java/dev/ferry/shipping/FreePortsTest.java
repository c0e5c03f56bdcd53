package dev.ferry.shipping;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class FreePortsTest {

  @Test
  void freePortsAreDistinctAndAvoidTheTakenOnes() throws Exception {
    int[] first = FreePorts.pick(3);
    assertEquals(3, java.util.Arrays.stream(first).distinct().count());
    java.util.Set<Integer> taken = new java.util.HashSet<>();
    for (int p : first) {
      taken.add(p);
    }
    for (int p : FreePorts.except(6, taken)) {
      assertTrue(!taken.contains(p) && p >= 20_000 && p < 32_000, "port " + p);
    }
  }
}
