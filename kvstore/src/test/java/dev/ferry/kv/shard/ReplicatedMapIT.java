package dev.ferry.kv.shard;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.kv.KvStateMachine;
import dev.ferry.raft.ClusterSecret;
import dev.ferry.raft.FerryNode;
import dev.ferry.raft.GroupSpec;
import dev.ferry.raft.admin.AdminClient;
import dev.ferry.raft.admin.NodeStatus;
import dev.ferry.raft.admin.ReplicaMover;
import dev.ferry.raft.admin.ReplicaMover.MoveRequest;
import dev.ferry.shipping.PeerAddress;
import dev.ferry.testing.LocalCluster;
import dev.ferry.testing.TestNodes;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The replicated cluster map on in-JVM {@link FerryNode}s: the metadata group on n1..n3 (seeded by
 * their {@link MetadataService}s), two ranges at replication 1 on n4 and n5 (so that a client's
 * stale peers of a moved range host nothing any more), a move recorded with {@link
 * ClusterMaps#recordMove}, a move left for the reconciler to record, a client created before the
 * moves following them (a read and a write answered "not here" by every peer the client knew go to
 * the newer layout at once, far within the client's long deadline), a dead metadata node replaced
 * by {@link NodeMoves#replace} (the metadata group's replica moves and the meta line follows; the
 * new node hosts the group again after a restart), and the metadata group's quorum lost while data
 * writes go on (a client whose cache is older than a move cannot learn of it then: documented in
 * docs/scale-out.md).
 */
class ReplicatedMapIT {
  private static final Duration T = Duration.ofSeconds(60);

  /**
   * Far below the stale client's deadline ({@link #T}) and generous for a busy machine: a call that
   * got "not here" from every peer ends at once, so the refresh and the second try come long before
   * the deadline; a call that waited for its deadline could not finish within it.
   */
  private static final Duration PROMPTLY = Duration.ofSeconds(30);

  @TempDir Path dir;
  private final ClusterSecret secret = ClusterSecret.random();
  private final Map<String, FerryNode> nodes = new LinkedHashMap<>();
  private final List<AutoCloseable> closeables = new ArrayList<>();

  @AfterEach
  void tearDown() throws Exception {
    for (int i = closeables.size() - 1; i >= 0; i--) {
      closeables.get(i).close();
    }
    for (FerryNode n : nodes.values()) {
      n.close();
    }
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private <T extends AutoCloseable> T closing(T c) {
    closeables.add(c);
    return c;
  }

  @Test
  void movesUpdateTheMapStaleClientsFollowAndDataOutlivesTheMetadataQuorum() throws Exception {
    List<PeerAddress> addresses = new ArrayList<>();
    for (String id : List.of("n1", "n2", "n3", "n4", "n5")) {
      addresses.add(TestNodes.address(id));
    }
    ClusterLayout file =
        new ClusterLayout(
            "rm",
            1,
            1,
            addresses,
            List.of(
                new Range(0, new byte[0], bytes("m"), "rm.r0", List.of("n4")),
                new Range(1, bytes("m"), null, "rm.r1", List.of("n5"))),
            List.of("n1", "n2", "n3"),
            Map.of("n4", "a", "n5", "b"));
    for (PeerAddress p : addresses) {
      nodes.put(p.id(), startNode(p, file, true));
    }
    for (String id : file.meta()) {
      closing(MetadataService.start(nodes.get(id), file, secret, null, Duration.ofMillis(300)));
    }
    ReplicatedClusterMap map =
        closing(ReplicatedClusterMap.connect(file, Duration.ofSeconds(3), null));
    LocalCluster.await(T, () -> version(map) >= 1, "the metadata group seeded");
    assertEquals(file.withVersion(1), map.read().layout());

    // A client made now, its map cached at version 1, writes to both ranges.
    ReplicatedClusterMap staleMap =
        closing(ReplicatedClusterMap.connect(file, Duration.ofSeconds(3), null));
    RoutingKvClient stale = closing(RoutingKvClient.connect(staleMap, T));
    stale.put(bytes("apple"), bytes("1"));
    stale.put(bytes("zebra"), bytes("2"));

    // Move range 0 from n4 to n5 and record it: version 2.
    ReplicaMover mover = ReplicaMover.builder(secret).build();
    move(mover, file, "rm.r0", "n4", "n5");
    Path descriptor = dir.resolve("rm.map");
    file.write(descriptor);
    ClusterLayout moved = ClusterMaps.recordMove(descriptor, 0, "n4", "n5", null).orElseThrow();
    assertEquals(2, moved.version());
    assertEquals(List.of("n5"), map.read().layout().range(0).replicas());
    assertEquals(moved, ClusterMaps.recordMove(map, 0, "n4", "n5"), "recorded once");

    // The stale client still routes range 0 to n4, which answers "not here" (its only peer of the
    // range): the read fails at once, the client refreshes its map and reads again on the newer
    // layout, long before its 60 s deadline.
    assertEquals(1, staleMap.current().version());
    assertArrayEquals(
        bytes("1"), assertTimeoutPreemptively(PROMPTLY, () -> stale.get(bytes("apple"))));
    assertEquals(2, staleMap.current().version(), "the stale client's map followed the move");

    // Move range 1 from n5 to n4 without recording it: the reconciler on the metadata group's
    // leader finds the group's configuration and records it.
    move(mover, file, "rm.r1", "n5", "n4");
    LocalCluster.await(
        T, () -> replicas(map, 1).equals(List.of("n4")), "the reconciler recorded range 1 on n4");
    assertEquals(3, version(map));

    // The stale client (range 1 still on n5 in its cache, version 2) writes to range 1: n5 answers
    // "not here" at once; the write reached no replica, so it is sent again on the newer layout.
    assertEquals(2, staleMap.current().version());
    assertTrue(assertTimeoutPreemptively(PROMPTLY, () -> stale.put(bytes("zebra"), bytes("5"))));
    assertEquals(3, staleMap.current().version(), "the stale client's map followed the move");
    assertArrayEquals(bytes("5"), stale.get(bytes("zebra")));

    // n3, a metadata node holding no range, dies and is replaced by n4: the plan is the metadata
    // group's own move, which gives the group its third replica back on n4 and the map's meta
    // line names n4 (version 4).
    nodes.remove("n3").close();
    NodeMoves.Result replaced =
        NodeMoves.replace(
            map,
            "n3",
            file.node("n4"),
            NodeMoves.Options.of(secret).withDeadline(T),
            NodeMoves.Listener.NONE);
    assertEquals(List.of(), replaced.failed(), "the metadata replica moved");
    assertEquals(1, replaced.groups().size());
    assertEquals(List.of("n1", "n2", "n4"), map.read().layout().meta());
    assertEquals(4, version(map));
    assertEquals(List.of("n1", "n2", "n4"), replaced.layout().meta());
    LocalCluster.await(
        T,
        () -> metaVoters(file.node("n1")).equals(Set.of("n1", "n2", "n4")),
        "the metadata group's voters are n1, n2, n4");
    // A client that knows the group by the old meta line (n1, n2, and the dead n3) reaches it.
    ReplicatedClusterMap oldLine =
        closing(ReplicatedClusterMap.connect(file, Duration.ofSeconds(3), null));
    assertEquals(4, oldLine.read().version());
    // n4 restarts from its storage: it hosts the metadata group again, as its data group.
    nodes.remove("n4").close();
    nodes.put("n4", startNode(file.node("n4"), file, false));
    assertTrue(nodes.get("n4").group("rm.meta").isPresent(), "n4 hosts rm.meta after a restart");
    assertTrue(nodes.get("n4").group("rm.r1").isPresent(), "n4 hosts rm.r1 after a restart");
    LocalCluster.await(
        T,
        () -> metaVoters(file.node("n4")).equals(Set.of("n1", "n2", "n4")),
        "n4 answers for the metadata group after its restart");
    assertEquals(4, version(map));

    // The metadata group loses its quorum: data writes still go through, routed by the cache.
    nodes.remove("n1").close();
    nodes.remove("n2").close();
    RoutingKvClient fresh = closing(RoutingKvClient.connect(map, Duration.ofSeconds(10)));
    assertTrue(fresh.put(bytes("apple"), bytes("3")));
    assertTrue(fresh.put(bytes("zebra"), bytes("4")));
    assertArrayEquals(bytes("3"), fresh.get(bytes("apple")));
    assertArrayEquals(bytes("4"), fresh.get(bytes("zebra")));
    assertArrayEquals(bytes("3"), stale.get(bytes("apple")), "range 0 did not move again");
    assertEquals(4, map.refresh(4).version(), "an unreachable metadata group keeps the cache");
    ClusterLayout current = map.current();
    assertThrows(
        IOException.class,
        () -> map.compareAndSet(4, current.withReplicaMoved(0, "n5", "n4")),
        "no map change without the metadata group's quorum");
  }

  /**
   * Starts the node {@code p}: with the groups {@code file} puts on it when {@code fromMap} (a
   * first start), else with those of its storage (a restart).
   */
  private FerryNode startNode(PeerAddress p, ClusterLayout file, boolean fromMap)
      throws IOException {
    FerryNode.Builder b =
        FerryNode.builder()
            .self(p)
            .dataDir(dir.resolve(p.id()))
            .clusterSecret(secret)
            .jmx(false)
            .electionTimeout(Duration.ofMillis(1000), Duration.ofMillis(2000))
            .stateMachines(g -> g.endsWith(".meta") ? new MapStateMachine() : new KvStateMachine());
    if (fromMap) {
      for (Range r : file.ranges()) {
        if (r.replicas().contains(p.id())) {
          b.group(GroupSpec.of(r.group(), file.peers(r), new KvStateMachine()));
        }
      }
      if (MetadataService.hosts(file, p.id())) {
        b.group(MetadataService.groupSpec(file));
      }
    }
    return b.build().start();
  }

  /** The voters of the metadata group {@code rm.meta} as node {@code p} reports them. */
  private Set<String> metaVoters(PeerAddress p) {
    try (AdminClient a =
        AdminClient.connect(p, AdminClient.groupId("rm.meta"), secret, null, "it")) {
      return a.status().members().stream()
          .filter(NodeStatus.Member::voter)
          .map(NodeStatus.Member::id)
          .collect(Collectors.toSet());
    } catch (IOException | RuntimeException e) {
      return Set.of();
    }
  }

  /**
   * Moves {@code group}'s replica; the mover knows both nodes as members (at replication 1 the
   * source is the only member before the move, and no member after it).
   */
  private static void move(
      ReplicaMover mover, ClusterLayout l, String group, String from, String to)
      throws IOException {
    mover.move(
        new MoveRequest(group, List.of(l.node(from), l.node(to)), from, l.node(to), T),
        ReplicaMover.Listener.NONE);
  }

  private static long version(ReplicatedClusterMap map) {
    try {
      return map.read().version();
    } catch (IOException e) {
      return -1;
    }
  }

  private static List<String> replicas(ReplicatedClusterMap map, int range) {
    try {
      ClusterLayout l = map.read().layout();
      return l == null ? List.of() : l.range(range).replicas();
    } catch (IOException e) {
      return List.of();
    }
  }
}
