package dev.ferry.kv.shard;

import static dev.ferry.kv.shard.ClusterLayoutTest.NODES;
import static dev.ferry.kv.shard.ClusterLayoutTest.assertMessage;
import static dev.ferry.kv.shard.ClusterLayoutTest.fourRanges;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.statemachine.ApplyContext;
import dev.ferry.statemachine.StateLoader;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class MapStateMachineTest {
  private final MapStateMachine sm = new MapStateMachine();
  private long index;

  /** Four ranges on NODES, meta on the first three, n1 and n2 in zone a: version {@code v}. */
  static ClusterLayout replicated(long v) {
    ClusterLayout l = fourRanges();
    return new ClusterLayout(
            l.cluster(),
            1,
            l.replication(),
            l.nodes(),
            l.ranges(),
            List.of("n1", "n2", "n3"),
            Map.of("n1", "a", "n2", "a"))
        .withVersion(v);
  }

  private MapCodec.SetReply set(long expected, ClusterLayout layout) {
    return set(expected, layout.format());
  }

  private MapCodec.SetReply set(long expected, String descriptor) {
    long i = ++index;
    ApplyContext ctx =
        new ApplyContext() {
          @Override
          public long index() {
            return i;
          }

          @Override
          public long term() {
            return 1;
          }

          @Override
          public void changed(byte[] key, byte[] oldValue, byte[] newValue) {}
        };
    return MapCodec.decodeSetReply(sm.apply(MapCodec.setIfVersion(expected, descriptor), ctx));
  }

  private MapCodec.ReadReply read(MapStateMachine m) {
    return MapCodec.decodeReadReply(m.query(MapCodec.read()));
  }

  @Test
  void anEmptyMapIsVersionZero() {
    assertEquals(new MapCodec.ReadReply(0, ""), read(sm));
  }

  @Test
  void theFirstWriteExpectsZeroAndEachNextOneVersionPlusOne() {
    assertEquals(MapCodec.Outcome.APPLIED, set(0, replicated(1)).outcome());
    MapCodec.SetReply second = set(1, replicated(2));
    assertEquals(MapCodec.Outcome.APPLIED, second.outcome());
    assertEquals(2, second.version());
    MapCodec.ReadReply r = read(sm);
    assertEquals(2, r.version());
    assertEquals(replicated(2), ClusterLayout.parse(r.descriptor(), "t"));
  }

  @Test
  void aStaleExpectedVersionConflictsAndNamesTheCurrentOne() {
    set(0, replicated(1));
    set(1, replicated(2));
    MapCodec.SetReply again = set(0, replicated(1));
    assertEquals(new MapCodec.SetReply(MapCodec.Outcome.CONFLICT, 2, ""), again);
    assertEquals(MapCodec.Outcome.CONFLICT, set(1, replicated(2)).outcome());
    assertEquals(MapCodec.Outcome.CONFLICT, set(5, replicated(6)).outcome());
    assertEquals(2, read(sm).version());
  }

  @Test
  void badLayoutsAreRefusedAndChangeNothing() {
    set(0, replicated(1));
    MapCodec.SetReply skip = set(1, replicated(3));
    assertEquals(MapCodec.Outcome.INVALID, skip.outcome());
    assertTrue(skip.problem().contains("its version is 3, not 2"), skip.problem());
    ClusterLayout noMeta = fourRanges().withVersion(2);
    assertTrue(set(1, noMeta).problem().contains("no meta line"));
    ClusterLayout other =
        ClusterLayout.parse(replicated(2).format().replace("cluster ferry", "cluster other"), "t");
    assertTrue(set(1, other).problem().contains("of cluster other, not ferry"));
    MapCodec.SetReply garbage = set(1, "format ferry-cluster-map 1\ncluster x\n");
    assertEquals(MapCodec.Outcome.INVALID, garbage.outcome());
    assertTrue(garbage.problem().contains("no 'version' line"), garbage.problem());
    assertEquals(1, read(sm).version());
    assertEquals(replicated(1), ClusterLayout.parse(read(sm).descriptor(), "t"));
  }

  @Test
  void aMalformedCommandOrQueryFailsAtOnce() {
    assertThrows(IllegalArgumentException.class, () -> sm.apply(new byte[] {9}, null));
    assertThrows(IllegalArgumentException.class, () -> sm.query(new byte[] {2}));
    assertEquals(0, read(sm).version());
  }

  @Test
  void aSnapshotRoundTrips() throws IOException {
    set(0, replicated(1));
    set(1, replicated(2));
    List<StateLoader.Record> records = new ArrayList<>();
    sm.view().writeShard(0, (k, v) -> records.add(new StateLoader.Record(k, v)));
    MapStateMachine restored = new MapStateMachine();
    StateLoader loader = restored.newLoader();
    loader.loadShard(0, records.iterator());
    loader.commit();
    assertEquals(read(sm), read(restored));

    List<StateLoader.Record> empty = new ArrayList<>();
    new MapStateMachine().view().writeShard(0, (k, v) -> empty.add(new StateLoader.Record(k, v)));
    StateLoader emptyLoader = restored.newLoader();
    emptyLoader.loadShard(0, empty.iterator());
    emptyLoader.commit();
    assertEquals(0, read(restored).version());
  }

  @Test
  void metaAndZonesRoundTripThroughTheDescriptor() {
    ClusterLayout l = replicated(4);
    String text = l.format();
    assertTrue(text.contains("node n1=") && text.contains(" zone=a\n"), text);
    assertTrue(text.contains("\nmeta n1,n2,n3\n"), text);
    assertEquals(l, ClusterLayout.parse(text, "t"));
    assertEquals(List.of("n1", "n2", "n3"), l.metaPeers().stream().map(p -> p.id()).toList());
    assertEquals(NODES.size(), l.nodes().size());
  }

  @Test
  void badMetaAndZoneLinesNameTheProblem() {
    String text = replicated(1).format();
    assertMessage(
        "3 or 5 nodes, not 2",
        () -> ClusterLayout.parse(text.replace("meta n1,n2,n3", "meta n1,n2"), "t"));
    assertMessage(
        "appears twice in meta",
        () -> ClusterLayout.parse(text.replace("meta n1,n2,n3", "meta n1,n2,n2"), "t"));
    assertMessage(
        "meta: unknown node n9",
        () -> ClusterLayout.parse(text.replace("meta n1,n2,n3", "meta n1,n2,n9"), "t"));
    assertMessage(
        "a second 'meta' line",
        () ->
            ClusterLayout.parse(
                text.replace("meta n1,n2,n3", "meta n1,n2,n3\nmeta n1,n2,n3"), "t"));
    assertMessage(
        "zone must be", () -> ClusterLayout.parse(text.replace("zone=a", "zone=a/b"), "t"));
    assertMessage(
        "expected 'node ID=HOST", () -> ClusterLayout.parse(text.replace("zone=a", "rack=a"), "t"));
  }
}
