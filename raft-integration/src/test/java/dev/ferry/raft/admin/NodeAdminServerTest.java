package dev.ferry.raft.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.raft.ClusterSecret;
import dev.ferry.shipping.PeerAddress;
import dev.ferry.shipping.chunks.ChunkServer;
import dev.ferry.shipping.install.TransferPriority;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The node-level admin requests: host a group, list the groups; the reserved id; bad input. */
class NodeAdminServerTest {
  private static final Pattern NAME = Pattern.compile("[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}");
  private final ClusterSecret secret = ClusterSecret.random();
  private final Map<String, List<PeerAddress>> hosted = new TreeMap<>();
  private final List<String> calls = new ArrayList<>();
  private final Map<String, TransferPriority> priorities = new TreeMap<>();
  private ChunkServer chunks;
  private ExecutorService pool;
  private NodeAdminServer server;
  private PeerAddress address;

  /** A node that hosts what it is asked to, checking names as FerryNode does. */
  private final class Hosts implements NodeAdminServer.Host {
    @Override
    public synchronized List<String> groups() {
      return List.copyOf(hosted.keySet());
    }

    @Override
    public synchronized boolean host(
        String name, List<PeerAddress> peers, TransferPriority priority) throws IOException {
      calls.add(name);
      priorities.put(name, priority);
      if (!NAME.matcher(name).matches()) {
        throw new IllegalArgumentException("a group name is 1-100 characters: '" + name + "'");
      }
      return hosted.putIfAbsent(name, peers) == null;
    }
  }

  @BeforeEach
  void start() throws IOException {
    chunks =
        ChunkServer.builder()
            .nodeId("n1")
            .bind("127.0.0.1", 0)
            .secret(secret.bytes())
            .build()
            .start();
    int port = chunks.localAddress().getPort();
    address = new PeerAddress("n1", "127.0.0.1", port == 1 ? 3 : 1, port);
    pool = AdminServer.newBlockingPool("n1");
    server = NodeAdminServer.serve(chunks, new Hosts(), pool);
  }

  @AfterEach
  void stop() {
    server.close();
    chunks.close();
    pool.shutdownNow();
  }

  @Test
  void hostsGroupsOnceAndListsThem() throws IOException {
    List<PeerAddress> peers =
        List.of(address, new PeerAddress("n2", "127.0.0.1", 5, 6), PeerAddress.parse("n3=h:7:8"));
    try (AdminClient c = AdminClient.connectNode(address, secret, null, "t")) {
      assertEquals(List.of(), c.hostedGroups());
      assertTrue(c.hostGroup("kv.r1", peers));
      assertFalse(c.hostGroup("kv.r1", peers), "already hosted");
      assertTrue(c.hostGroup("kv.r0", peers));
      assertEquals(List.of("kv.r0", "kv.r1"), c.hostedGroups());
    }
    assertEquals(peers, hosted.get("kv.r1"));
  }

  /** A HOST request may name the install's priority; one that does not is a catch-up. */
  @Test
  void aHostRequestCarriesTheInstallsPriority() throws IOException {
    List<PeerAddress> peers = List.of(address, new PeerAddress("n2", "127.0.0.1", 5, 6));
    try (AdminClient c = AdminClient.connectNode(address, secret, null, "t")) {
      assertTrue(c.hostGroup("kv.r1", peers));
      assertTrue(c.hostGroup("kv.r2", peers, TransferPriority.REBALANCE));
      assertTrue(c.hostGroup("kv.r3", peers, TransferPriority.REPAIR));
    }
    assertEquals(
        Map.of(
            "kv.r1", TransferPriority.CATCH_UP,
            "kv.r2", TransferPriority.REBALANCE,
            "kv.r3", TransferPriority.REPAIR),
        priorities);
  }

  @Test
  void badRequestsGetClearErrorsAndPickNoPath() throws IOException {
    try (AdminClient c = AdminClient.connectNode(address, secret, null, "t")) {
      IllegalArgumentException name =
          assertThrows(
              IllegalArgumentException.class, () -> c.hostGroup("../etc", List.of(address)));
      assertTrue(name.getMessage().contains("group name"), name.getMessage());
      IllegalArgumentException none =
          assertThrows(IllegalArgumentException.class, () -> c.hostGroup("g", List.of()));
      assertTrue(none.getMessage().contains("no peers"), none.getMessage());
      List<PeerAddress> many = new ArrayList<>();
      for (int i = 0; i <= NodeAdminServer.MAX_PEERS; i++) {
        many.add(new PeerAddress("p" + i, "h", 1, 2));
      }
      IllegalArgumentException tooMany =
          assertThrows(IllegalArgumentException.class, () -> c.hostGroup("g", many));
      assertTrue(tooMany.getMessage().contains("at most"), tooMany.getMessage());
      assertEquals(List.of(), c.hostedGroups(), "the connection stays usable after errors");
    }
    // A group's request sent to the node-level id is malformed there: its connection is closed.
    try (AdminClient c = AdminClient.connectNode(address, secret, null, "t")) {
      assertThrows(AdminException.class, c::status);
    }
    assertEquals(1, chunks.stats().malformedFrames());
    assertEquals(List.of("../etc"), calls, "only well-formed requests reach the node");
    assertTrue(hosted.isEmpty());
  }

  @Test
  void theReservedIdIsNoGroupId() {
    assertFalse(NodeAdminServer.isUuid(NodeAdminServer.NODE_ID));
    assertTrue(NodeAdminServer.isUuid(AdminClient.groupId("node")));
    assertThrows(
        IllegalArgumentException.class,
        () ->
            AdminServer.serve(
                chunks,
                NodeAdminServer.NODE_ID,
                new AdminServer.Node() {
                  @Override
                  public NodeStatus status() {
                    throw new UnsupportedOperationException();
                  }

                  @Override
                  public java.util.concurrent.CompletableFuture<AddResult> add(
                      AddRequest request, java.util.function.Consumer<AddProgress> p) {
                    throw new UnsupportedOperationException();
                  }

                  @Override
                  public java.util.concurrent.CompletableFuture<RemoveResult> remove(
                      RemoveRequest request) {
                    throw new UnsupportedOperationException();
                  }

                  @Override
                  public void retire(String reason, boolean wipe) {}
                }));
  }
}
