package dev.ferry.kv;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.kv.testing.ConcurrentClose;
import dev.ferry.raft.ClusterSecret;
import dev.ferry.raft.FerryNode;
import dev.ferry.raft.FerryServer;
import dev.ferry.raft.GroupSpec;
import dev.ferry.shipping.PeerAddress;
import dev.ferry.testing.TestNodes;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.apache.ratis.protocol.RaftGroupId;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node hosting several groups answers "starting", not "not here", for a group it hosts but has
 * not added to its Raft server yet, and clients retry it instead of taking their map for stale.
 *
 * <p>The window is held open deterministically: n1 starts alone on fresh storage as a voter of
 * three groups whose other voters (n2, n3) are down, so each group waits for its peers' word before
 * its division is added ({@code VoterGuard}) while n1's Raft port is open; the test checks n1's
 * Raft server still has none of the groups when the calls have ended. n1 then restarts from its
 * group records alone, its peers still down, and is answered "starting" again. Then n2 and n3
 * start, every group serves, and n1 restarts once more, from stored groups (which Ratis opens
 * before its port opens).
 */
class StartingNodeIT {
  private static final Duration T = Duration.ofSeconds(60);
  private static final List<String> GROUPS = List.of("s.r0", "s.r1", "s.r2");

  @TempDir Path dir;

  private final ClusterSecret secret = ClusterSecret.random();
  private final Map<String, FerryNode> nodes = new LinkedHashMap<>();
  private final List<KvClient> clients = new ArrayList<>();

  @AfterEach
  void tearDown() throws Exception {
    for (KvClient c : clients) {
      c.close();
    }
    ConcurrentClose.all(nodes.values());
  }

  private FerryNode.Builder node(PeerAddress self) {
    return TestNodes.builder(self, dir.resolve(self.id()), secret)
        .stateMachines(g -> new KvStateMachine());
  }

  private FerryNode startWithGroups(PeerAddress self, List<PeerAddress> peers) throws IOException {
    FerryNode.Builder b = node(self);
    for (String g : GROUPS) {
      b.group(GroupSpec.of(g, peers, new KvStateMachine()));
    }
    FerryNode n = b.build().start();
    nodes.put(self.id(), n);
    return n;
  }

  private KvClient client(String group, List<PeerAddress> peers, Duration timeout) {
    KvClient c = KvClient.connect(group, peers, timeout);
    clients.add(c);
    return c;
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static Set<RaftGroupId> added(FerryNode n) {
    Set<RaftGroupId> ids = new HashSet<>();
    n.raftServer().getGroupIds().forEach(ids::add);
    return ids;
  }

  private static boolean mentions(Throwable e, String text) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (String.valueOf(t.getMessage()).contains(text)) {
        return true;
      }
      if (t.getCause() == t) {
        break;
      }
    }
    return false;
  }

  /**
   * Asks only {@code self} (with "not here" from every peer a client would fail at once) for each
   * group: the call times out answered "starting", and no group was added meanwhile.
   */
  private void assertAnsweredStarting(FerryNode node, PeerAddress self) throws IOException {
    for (String g : GROUPS) {
      KvClient c = client(g, List.of(self), Duration.ofSeconds(3));
      KvTimeoutException e = assertThrows(KvTimeoutException.class, () -> c.get(bytes("k")));
      assertFalse(e instanceof KvNotHereException, g + ": answered \"not here\": " + e);
      assertTrue(mentions(e, "starting group"), g + ": the starting answer is the cause: " + e);
    }
    // The window held for every call: no group's division was added meanwhile.
    Set<RaftGroupId> added = added(node);
    for (String g : GROUPS) {
      assertFalse(added.contains(FerryServer.groupId(g)), g + " was added during the calls");
    }
  }

  @Test
  void aGroupTheNodeIsStillAddingIsAnsweredStartingAndServedOnceAdded() throws Exception {
    List<PeerAddress> peers =
        List.of(TestNodes.address("n1"), TestNodes.address("n2"), TestNodes.address("n3"));
    PeerAddress n1 = peers.get(0);
    FerryNode node1 = startWithGroups(n1, peers);
    assertEquals(GROUPS, List.copyOf(node1.groups().keySet()), "hosted, also while starting");

    assertAnsweredStarting(node1, n1);

    // n1 restarts from its group records alone (none given), its peers still down: the recorded
    // groups come back, still waiting for their peers' word, and are answered "starting" again.
    nodes.remove("n1").close();
    node1 = node(n1).build().start();
    nodes.put("n1", node1);
    assertEquals(GROUPS, List.copyOf(node1.groups().keySet()), "the recorded groups came back");
    assertAnsweredStarting(node1, n1);

    // The peers start: every group is added on every node and serves.
    startWithGroups(peers.get(1), peers);
    startWithGroups(peers.get(2), peers);
    for (String g : GROUPS) {
      KvClient c = client(g, peers, T);
      c.put(bytes("k-" + g), bytes("v-" + g));
      assertArrayEquals(bytes("v-" + g), c.get(bytes("k-" + g)));
    }

    // n1 restarts from its group records (none given; Ratis opens the stored groups before its
    // Raft port opens) and every group serves again.
    nodes.remove("n1").close();
    FerryNode again = node(n1).build().start();
    nodes.put("n1", again);
    assertEquals(GROUPS, List.copyOf(again.groups().keySet()));
    for (String g : GROUPS) {
      KvClient c = client(g, peers, T);
      assertArrayEquals(bytes("v-" + g), c.get(bytes("k-" + g)));
    }
  }
}
