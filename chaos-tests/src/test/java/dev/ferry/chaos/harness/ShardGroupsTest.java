package dev.ferry.chaos.harness;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

class ShardGroupsTest {
  @Test
  void votersThatStayKeepTheirPlaceInTheMapAndNewOnesTakeTheFreedPlaces() {
    assertEquals(
        List.of("n1", "n5", "n3"),
        ShardGroups.inPlace(List.of("n1", "n2", "n3"), List.of("n1", "n3", "n5")));
    assertEquals(
        List.of("n4", "n2", "n5"),
        ShardGroups.inPlace(List.of("n1", "n2", "n3"), List.of("n2", "n4", "n5")));
    assertEquals(
        List.of("n1", "n2", "n3"),
        ShardGroups.inPlace(List.of("n1", "n2", "n3"), List.of("n3", "n2", "n1")));
  }
}
