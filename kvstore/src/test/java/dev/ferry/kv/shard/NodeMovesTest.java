package dev.ferry.kv.shard;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.kv.shard.NodeMoves.GroupProgress;
import dev.ferry.kv.shard.NodeMoves.Move;
import dev.ferry.kv.shard.NodeMoves.NodeProgress;
import dev.ferry.kv.shard.NodeMoves.State;
import dev.ferry.shipping.PeerAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** NodeMoves' planner, its progress arithmetic and a static map's layout afterwards. */
class NodeMovesTest {
  private static List<PeerAddress> nodes(int n) {
    List<PeerAddress> out = new ArrayList<>();
    for (int i = 1; i <= n; i++) {
      out.add(new PeerAddress("n" + i, "127.0.0.1", 9000 + 10 * i, 9001 + 10 * i));
    }
    return out;
  }

  /** Ranges (split at "b", "c", ...) with the given replicas, on {@code n} nodes, with zones. */
  private static ClusterLayout layout(
      int n, Map<String, String> zones, List<List<String>> replicas) {
    List<Range> ranges = new ArrayList<>();
    for (int i = 0; i < replicas.size(); i++) {
      byte[] start = i == 0 ? new byte[0] : key(i);
      byte[] end = i == replicas.size() - 1 ? null : key(i + 1);
      ranges.add(new Range(i, start, end, "c.r" + i, replicas.get(i)));
    }
    return new ClusterLayout("c", 4, replicas.get(0).size(), nodes(n), ranges, List.of(), zones);
  }

  private static byte[] key(int i) {
    return String.valueOf((char) ('a' + i)).getBytes(StandardCharsets.UTF_8);
  }

  /** Four ranges at replication 3 on n1..n4 (3 replicas each), further nodes empty. */
  private static ClusterLayout fourOnFour(int n, Map<String, String> zones) {
    return layout(
        n,
        zones,
        List.of(
            List.of("n1", "n2", "n3"),
            List.of("n2", "n3", "n4"),
            List.of("n3", "n4", "n1"),
            List.of("n4", "n1", "n2")));
  }

  @Test
  void aReplacementMovesEveryReplicaOfTheNodeToTheNewOneInRangeOrder() {
    ClusterLayout l = fourOnFour(5, Map.of());
    assertEquals(
        List.of(
            new Move(0, "c.r0", "n1", "n5"),
            new Move(2, "c.r2", "n1", "n5"),
            new Move(3, "c.r3", "n1", "n5")),
        NodeMoves.planReplace(l, "n1", "n5"));
    IllegalArgumentException holds =
        assertThrows(IllegalArgumentException.class, () -> NodeMoves.planReplace(l, "n1", "n2"));
    assertTrue(
        holds.getMessage().contains("n2 already holds a replica of range 0"), holds.getMessage());
    assertThrows(IllegalArgumentException.class, () -> NodeMoves.planReplace(l, "n1", "n1"));
    assertThrows(IllegalArgumentException.class, () -> NodeMoves.planReplace(l, "n9", "n5"));
    assertThrows(IllegalArgumentException.class, () -> NodeMoves.planReplace(l, "n1", "n9"));
    assertEquals(List.of(), NodeMoves.planReplace(l, "n5", "n1"), "n5 holds nothing");
  }

  @Test
  void aDrainPicksTheLeastLoadedNodesCountingTheMovesItPlanned() {
    // n5 and n6 hold nothing: they take turns (the first in node order on a tie).
    assertEquals(
        List.of(
            new Move(0, "c.r0", "n1", "n5"),
            new Move(2, "c.r2", "n1", "n6"),
            new Move(3, "c.r3", "n1", "n5")),
        NodeMoves.planDrain(fourOnFour(6, Map.of()), "n1", Set.of()));
    // One empty node takes all three (its load 0, 1, 2 stays below the others' 3).
    assertEquals(
        List.of("n5", "n5", "n5"),
        NodeMoves.planDrain(fourOnFour(5, Map.of()), "n1", Set.of()).stream()
            .map(Move::to)
            .toList());
    // Excluded, n5 is never picked: each range goes to the one node of n2..n4 it lacks.
    assertEquals(
        List.of("n4", "n2", "n3"),
        NodeMoves.planDrain(fourOnFour(5, Map.of()), "n1", Set.of("n5")).stream()
            .map(Move::to)
            .toList());
  }

  @Test
  void aDrainKeepsARangesReplicasInDistinctZonesWhenItCanEvenOnAMoreLoadedNode() {
    // Zones a: n1 n2, b: n3 n4, c: n5 n6. Range 0 on n1 (a), n3 (b), n5 (c); n4 holds 1 replica,
    // n2 and n6 hold 2: draining n5 must pick n6 (zone c), not n4, and draining n1 must pick n2
    // (the only other node in zone a), not n4.
    Map<String, String> zones =
        Map.of("n1", "a", "n2", "a", "n3", "b", "n4", "b", "n5", "c", "n6", "c");
    ClusterLayout l =
        layout(
            6,
            zones,
            List.of(
                List.of("n1", "n3", "n5"), List.of("n2", "n4", "n6"), List.of("n2", "n3", "n6")));
    assertEquals(List.of(new Move(0, "c.r0", "n5", "n6")), NodeMoves.planDrain(l, "n5", Set.of()));
    assertEquals(List.of(new Move(0, "c.r0", "n1", "n2")), NodeMoves.planDrain(l, "n1", Set.of()));
    // Without a node in a free zone, the least loaded node anywhere.
    assertEquals(
        List.of(new Move(0, "c.r0", "n1", "n4")), NodeMoves.planDrain(l, "n1", Set.of("n2")));
  }

  @Test
  void aReplacementThatWouldNarrowARangesZonesIsRefusedUnlessAllowed() {
    // Zones a: n1 n2, b: n3 n4, c: n5 n6. Range 0 on n1, n3, n5 (three zones); range 1 on n2, n4,
    // n6. Replacing n5 (zone c) by n2 (zone a, where range 0's n1 is) would leave range 0 in two
    // zones; by n6 (zone c) it keeps three.
    Map<String, String> zones =
        Map.of("n1", "a", "n2", "a", "n3", "b", "n4", "b", "n5", "c", "n6", "c");
    ClusterLayout l =
        layout(6, zones, List.of(List.of("n1", "n3", "n5"), List.of("n2", "n4", "n6")));
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> NodeMoves.planReplace(l, "n5", "n2"));
    assertTrue(e.getMessage().contains("range 0 (c.r0): 3 zones -> 2"), e.getMessage());
    assertTrue(e.getMessage().contains("--ignore-zones"), e.getMessage());
    assertEquals(
        List.of(new Move(0, "c.r0", "n5", "n2")), NodeMoves.planReplace(l, "n5", "n2", true));
    assertEquals(List.of(new Move(0, "c.r0", "n5", "n6")), NodeMoves.planReplace(l, "n5", "n6"));
    // A map without zone labels is not checked.
    assertEquals(
        List.of(new Move(0, "c.r0", "n5", "n2")),
        NodeMoves.planReplace(
            layout(6, Map.of(), List.of(List.of("n1", "n3", "n5"), List.of("n2", "n4", "n6"))),
            "n5",
            "n2"));
  }

  /** {@code l} with the metadata group on {@code meta}. */
  private static ClusterLayout withMeta(ClusterLayout l, List<String> meta) {
    return new ClusterLayout(
        l.cluster(), l.version(), l.replication(), l.nodes(), l.ranges(), meta, l.zones());
  }

  @Test
  void aMetaNodesReplacementMovesTheMetadataReplicaToTheNewNodeLast() {
    ClusterLayout l = withMeta(fourOnFour(5, Map.of()), List.of("n1", "n2", "n3"));
    assertEquals(
        List.of(
            new Move(0, "c.r0", "n1", "n5"),
            new Move(2, "c.r2", "n1", "n5"),
            new Move(3, "c.r3", "n1", "n5"),
            new Move(Move.META_RANGE, "c.meta", "n1", "n5")),
        NodeMoves.planReplace(l, "n1", "n5"));
    assertTrue(NodeMoves.planReplace(l, "n1", "n5").get(3).meta());
    // n4 holds no metadata replica: only its ranges move.
    assertTrue(NodeMoves.planReplace(l, "n4", "n5").stream().noneMatch(Move::meta));
    // A meta node holding none of the ranges: the metadata replica alone.
    ClusterLayout onlyMeta = withMeta(fourOnFour(6, Map.of()), List.of("n1", "n2", "n5"));
    assertEquals(
        List.of(new Move(Move.META_RANGE, "c.meta", "n5", "n6")),
        NodeMoves.planReplace(onlyMeta, "n5", "n6"));
    IllegalArgumentException both =
        assertThrows(
            IllegalArgumentException.class, () -> NodeMoves.planReplace(onlyMeta, "n5", "n1"));
    assertTrue(both.getMessage().contains("n1 is a metadata node already"), both.getMessage());
    // Done, the move goes into a static layout as into the map: the meta line names n6.
    assertEquals(
        List.of("n1", "n2", "n6"),
        NodeMoves.applied(onlyMeta, NodeMoves.planReplace(onlyMeta, "n5", "n6")).meta());
  }

  @Test
  void aMetaNodesDrainMovesTheMetadataReplicaLastToANodeNotOnTheMetaLine() {
    // Loads: n1 2, n2 0, n3 2, n4 3, n5 2. Draining n1 moves ranges 0 and 1 to n2 (the least
    // loaded); the metadata replica cannot go to n2 or n3 (meta nodes) and goes to n5 (2 < 3).
    ClusterLayout l =
        withMeta(
            layout(
                5,
                Map.of(),
                List.of(
                    List.of("n1", "n3", "n4"),
                    List.of("n1", "n4", "n5"),
                    List.of("n3", "n4", "n5"))),
            List.of("n1", "n2", "n3"));
    assertEquals(
        List.of(
            new Move(0, "c.r0", "n1", "n2"),
            new Move(1, "c.r1", "n1", "n2"),
            new Move(Move.META_RANGE, "c.meta", "n1", "n5")),
        NodeMoves.planDrain(l, "n1", Set.of()));
    // With zones, a node in a zone no other meta node is in first, even if more loaded: n2 is in
    // a, n3 and n5 in b, n4 in c.
    ClusterLayout zoned =
        new ClusterLayout(
            l.cluster(),
            l.version(),
            l.replication(),
            l.nodes(),
            l.ranges(),
            l.meta(),
            Map.of("n1", "a", "n2", "a", "n3", "b", "n4", "c", "n5", "b"));
    List<Move> plan = NodeMoves.planDrain(zoned, "n1", Set.of());
    assertEquals(new Move(Move.META_RANGE, "c.meta", "n1", "n4"), plan.get(plan.size() - 1));
    // Excluded or on the meta line, no node is left for the metadata replica.
    IllegalArgumentException none =
        assertThrows(
            IllegalArgumentException.class, () -> NodeMoves.planDrain(l, "n3", Set.of("n4", "n5")));
    assertTrue(none.getMessage().contains("metadata group"), none.getMessage());
  }

  @Test
  void aDrainWithNoCandidateLeftIsRefusedNamingTheRange() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class,
            () -> NodeMoves.planDrain(fourOnFour(4, Map.of()), "n1", Set.of("n4")));
    assertTrue(e.getMessage().contains("range 0"), e.getMessage());
  }

  @Test
  void theNodesProgressIsTheMeanOfItsGroupsAndItsEtaFollowsTheRateSoFar() {
    Move a = new Move(0, "c.r0", "n1", "n5");
    Move b = new Move(1, "c.r1", "n1", "n5");
    Move c = new Move(2, "c.r2", "n1", "n5");
    Move d = new Move(3, "c.r3", "n1", "n5");
    NodeProgress n =
        new NodeProgress(
            "n1",
            List.of(
                new GroupProgress(a, State.DONE, 400, 400, Optional.empty()),
                new GroupProgress(b, State.INSTALLING, 100, 400, Optional.empty()),
                GroupProgress.queued(c),
                GroupProgress.queued(d)),
            Duration.ofSeconds(10));
    assertEquals(1.25 / 4, n.fraction(), 1e-9);
    assertEquals(500, n.bytesDone());
    assertEquals(800, n.bytesTotal());
    assertEquals(1, n.done());
    assertEquals(1, n.ended());
    assertEquals(0, n.failed());
    // 10 s for 31.25 %: 22 s more.
    assertEquals(Optional.of(Duration.ofSeconds(22)), n.eta());
    assertEquals(
        Optional.empty(),
        new NodeProgress("n1", List.of(GroupProgress.queued(a)), Duration.ofSeconds(3)).eta());
    assertEquals(
        Optional.of(Duration.ZERO),
        new NodeProgress(
                "n1",
                List.of(new GroupProgress(a, State.FAILED, 0, 0, Optional.of("x"))),
                Duration.ofSeconds(3))
            .eta());
    assertThrows(
        IllegalArgumentException.class,
        () -> new GroupProgress(a, State.DONE, 0, 0, Optional.of("no failure for DONE")));
    assertThrows(
        IllegalArgumentException.class,
        () -> new GroupProgress(a, State.FAILED, 0, 0, Optional.empty()));
    assertEquals(0, new GroupProgress(a, State.INSTALLING, 0, 0, Optional.empty()).fraction());
  }

  @Test
  void aStaticMapGetsEveryDoneMoveAtOneVersionMore() {
    ClusterLayout l = fourOnFour(6, Map.of());
    List<Move> plan = NodeMoves.planDrain(l, "n1", Set.of());
    ClusterLayout after = NodeMoves.applied(l, List.of(plan.get(0), plan.get(2)));
    assertEquals(l.version() + 1, after.version());
    assertEquals(List.of("n5", "n2", "n3"), after.range(0).replicas());
    assertEquals(List.of("n3", "n4", "n1"), after.range(2).replicas(), "not done: unchanged");
    assertEquals(List.of("n4", "n5", "n2"), after.range(3).replicas());
    assertEquals(l, NodeMoves.applied(l, List.of()), "nothing done, nothing changes");
  }

  @Test
  void aNewNodeIsAddedToTheLayoutAndAKnownIdMustKeepItsAddress() {
    ClusterLayout l = fourOnFour(4, Map.of());
    PeerAddress n7 = new PeerAddress("n7", "127.0.0.1", 9070, 9071);
    ClusterLayout with = NodeMoves.withNode(l, n7);
    assertEquals(l.version() + 1, with.version());
    assertEquals(n7, with.node("n7"));
    assertEquals(l, NodeMoves.withNode(l, l.node("n2")));
    assertThrows(
        IllegalArgumentException.class,
        () -> NodeMoves.withNode(l, new PeerAddress("n2", "127.0.0.1", 1, 2)));
  }
}
