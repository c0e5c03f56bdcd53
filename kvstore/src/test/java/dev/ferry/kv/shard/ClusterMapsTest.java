package dev.ferry.kv.shard;

import static dev.ferry.kv.shard.ClusterLayoutTest.fourRanges;
import static dev.ferry.kv.shard.MapStateMachineTest.replicated;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Opening maps, the static map's re-reading, and the reconciler's repair rule, without a cluster.
 */
class ClusterMapsTest {
  @TempDir Path dir;

  @Test
  void aFileWithAMetaLineOpensAReplicatedMapAndOneWithoutAStaticMap() throws IOException {
    Path staticFile = dir.resolve("static.map");
    fourRanges().write(staticFile);
    assertInstanceOf(
        StaticClusterMap.class, ClusterMaps.open(staticFile, Duration.ofSeconds(1), null));
    Path replicatedFile = dir.resolve("replicated.map");
    replicated(1).write(replicatedFile);
    try (ReplicatedClusterMap m =
        (ReplicatedClusterMap) ClusterMaps.open(replicatedFile, Duration.ofSeconds(1), null)) {
      assertEquals(replicated(1), m.current(), "the cache starts as the file's layout");
    }
    IllegalArgumentException noMeta =
        assertThrows(
            IllegalArgumentException.class,
            () -> ReplicatedClusterMap.connect(fourRanges(), Duration.ofSeconds(1), null));
    assertTrue(noMeta.getMessage().contains("no 'meta' line"), noMeta.getMessage());
  }

  @Test
  void theStaticMapPicksUpAFileRewrittenAtAHigherVersion() throws IOException {
    Path file = dir.resolve("shop.map");
    ClusterLayout v1 = fourRanges();
    v1.write(file);
    StaticClusterMap map = StaticClusterMap.read(file);
    assertEquals(v1, map.refresh(1), "unchanged file: same layout");

    ClusterLayout v2 = v1.withReplicaMoved(0, v1.range(0).replicas().get(0), spare(v1, 0));
    v2.write(file);
    Files.setLastModifiedTime(file, FileTime.fromMillis(System.currentTimeMillis() + 5_000));
    assertEquals(v1, map.current(), "current() does not touch the file");
    assertEquals(v2, map.refresh(1));
    assertEquals(v2, map.current());

    v1.write(file);
    Files.setLastModifiedTime(file, FileTime.fromMillis(System.currentTimeMillis() + 10_000));
    assertEquals(v2, map.refresh(2), "a file at a lower version does not take the map back");

    Files.delete(file);
    assertThrows(java.io.UncheckedIOException.class, () -> map.refresh(2));
    assertEquals(v2, map.current());
    assertEquals(v1, StaticClusterMap.of(v1).refresh(1));
  }

  private static String spare(ClusterLayout l, int range) {
    return l.nodes().stream()
        .map(n -> n.id())
        .filter(n -> !l.range(range).replicas().contains(n))
        .findFirst()
        .orElseThrow();
  }

  @Test
  void theReconcilerRecordsASettledGroupsVotersInTheFreedPlaces() {
    ClusterLayout l = fourRanges();
    Range r = l.range(0);
    List<String> map = r.replicas();
    String spare = spare(l, 0);
    assertEquals(Optional.empty(), MapReconciler.repair(l, r, map), "agreeing: nothing");
    assertEquals(
        Optional.empty(),
        MapReconciler.repair(l, r, List.of(map.get(2), map.get(0), map.get(1))),
        "the same set in another order: nothing");
    List<String> moved = List.of(map.get(0), map.get(2), spare);
    assertEquals(
        Optional.of(List.of(map.get(0), spare, map.get(2))),
        MapReconciler.repair(l, r, moved),
        "the new voter takes the place of the one that left");
    assertEquals(
        Optional.empty(),
        MapReconciler.repair(l, r, List.of(map.get(0), map.get(1), map.get(2), spare)),
        "four voters (a move between its add and its remove): later");
    assertEquals(
        Optional.empty(),
        MapReconciler.repair(l, r, List.of(map.get(0), map.get(1), "n9")),
        "a voter the map does not know: not recorded");
    ClusterLayout repaired = l.withReplicas(0, List.of(map.get(0), spare, map.get(2)));
    assertEquals(l.version() + 1, repaired.version());
    assertThrows(
        IllegalArgumentException.class,
        () -> l.withReplicas(0, List.of(map.get(0), map.get(0), spare)));
  }

  @Test
  void theReconcilerRecordsTheMetadataGroupsSettledVotersOnTheMetaLine() {
    ClusterLayout l = replicated(3);
    String spare = "n4";
    assertEquals(
        Optional.empty(), MapReconciler.repairMeta(l, List.of("n3", "n1", "n2")), "agreeing");
    assertEquals(
        Optional.of(List.of("n1", spare, "n3")),
        MapReconciler.repairMeta(l, List.of("n1", "n3", spare)),
        "a meta move done and not recorded: the new voter in the old one's place");
    assertEquals(
        Optional.empty(),
        MapReconciler.repairMeta(l, List.of("n1", "n2", "n3", spare)),
        "four voters (a meta move between its add and its remove): later");
    assertEquals(
        Optional.empty(),
        MapReconciler.repairMeta(l, List.of("n1", "n2", "n9")),
        "a voter the map does not know: not recorded");
    ClusterLayout repaired = l.withMeta(List.of("n1", spare, "n3"));
    assertEquals(4, repaired.version());
    assertEquals(List.of("n1", spare, "n3"), repaired.meta());
    assertEquals(repaired, l.withMetaMoved("n2", spare), "the same as the move recorded");
    assertThrows(IllegalArgumentException.class, () -> l.withMeta(List.of("n1", "n1", "n3")));
    assertThrows(IllegalArgumentException.class, () -> l.withMetaMoved("n4", "n1"));
    assertThrows(IllegalArgumentException.class, () -> fourRanges().withMeta(List.of("n1")));
  }
}
