package dev.ferry.kv;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.kv.testing.ConcurrentClose;
import dev.ferry.raft.ClusterSecret;
import dev.ferry.raft.FerryNode;
import dev.ferry.raft.FerryServer;
import dev.ferry.raft.GroupSpec;
import dev.ferry.raft.admin.AddRequest;
import dev.ferry.raft.admin.AddResult;
import dev.ferry.raft.admin.AdminClient;
import dev.ferry.raft.admin.AdminException;
import dev.ferry.raft.admin.MembershipAdmin;
import dev.ferry.raft.admin.RemoveRequest;
import dev.ferry.raft.admin.RemoveResult;
import dev.ferry.shipping.PeerAddress;
import dev.ferry.testing.LocalCluster;
import dev.ferry.testing.TestNodes;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.ManagementFactory;
import java.lang.management.ThreadMXBean;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.condition.EnabledIfSystemProperty;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Several Raft groups per node ({@link FerryNode}): nodes n1..n3 host groups {@code g.r0..g.r2},
 * node n4 joins one of them at run time, groups are removed, and every group keeps its own state.
 *
 * <p>The tests share one cluster of n1..n3 (started by the first test that runs), in this order:
 * the first checks the groups as started; the restart and the thread count work on whatever groups
 * the nodes host by then. Each also passes alone. {@link #scale} measures on nodes of its own.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class NodeGroupsIT {
  private static final Logger LOG = LoggerFactory.getLogger(NodeGroupsIT.class);
  private static final Duration T = Duration.ofSeconds(60);
  private static final int GROUPS = 3;

  /** Keys written to each group: enough to read one back from every group (k7). */
  private static final int KEYS = 10;

  /** The class's folder (a @TempDir field would be a new one for each test). */
  private Path dir;

  private final ClusterSecret secret = ClusterSecret.random();
  private final Map<String, FerryNode> nodes = new LinkedHashMap<>();
  private final List<KvClient> clients = new ArrayList<>();

  /** Where the nodes started from now on keep their data. */
  private Path nodesDir;

  /** n1..n3, once the shared cluster runs. */
  private List<PeerAddress> voters;

  @BeforeAll
  void folder(@TempDir Path classDir) {
    dir = classDir;
  }

  @AfterAll
  void tearDown() throws Exception {
    closeAll();
  }

  private void closeAll() throws Exception {
    for (KvClient c : clients) {
      c.close();
    }
    clients.clear();
    ConcurrentClose.all(nodes.values());
    nodes.clear();
    voters = null;
  }

  /** The shared cluster's voters n1..n3, started (hosting {@code g.r0..g.r2}) if not yet. */
  private List<PeerAddress> voters() throws IOException {
    if (voters == null) {
      nodesDir = dir.resolve("shared");
      voters = startVoters(GROUPS);
    }
    for (PeerAddress p : voters) {
      assertTrue(nodes.containsKey(p.id()), p.id() + " is down: an earlier test failed mid-way");
    }
    return voters;
  }

  /** Raw Ratis properties every node started from now on gets. */
  private final Map<String, String> nodeProperties = new LinkedHashMap<>();

  private FerryNode.Builder node(PeerAddress self) {
    FerryNode.Builder b = TestNodes.builder(self, nodesDir.resolve(self.id()), secret);
    nodeProperties.forEach(b::property);
    return b;
  }

  /** Starts n1..n3, each hosting {@code g.r0..g.r<groups-1>}, all three members of each. */
  private List<PeerAddress> startVoters(int groups) throws IOException {
    List<PeerAddress> peers = new ArrayList<>();
    for (String id : List.of("n1", "n2", "n3")) {
      peers.add(TestNodes.address(id));
    }
    for (PeerAddress p : peers) {
      FerryNode.Builder b = node(p);
      for (int g = 0; g < groups; g++) {
        b.group(GroupSpec.of("g.r" + g, peers, new KvStateMachine()));
      }
      nodes.put(p.id(), b.build().start());
    }
    return peers;
  }

  private KvClient client(String group, List<PeerAddress> peers) {
    KvClient c = KvClient.connect(group, peers, T);
    clients.add(c);
    return c;
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  /** The replicas of {@code group} on the nodes hosting it. */
  private List<FerryServer> replicas(String group) {
    return nodes.values().stream().flatMap(n -> n.group(group).stream()).toList();
  }

  /** Waits until every replica of {@code group} applied the same index, then checks the digests. */
  private void assertSameDigest(String group) throws Exception {
    List<FerryServer> rs = replicas(group);
    LocalCluster.assertSameDigest(group, rs, T);
  }

  @Test
  @Order(1)
  void nodesHostManyGroupsAddAListenerAndRemoveGroups() throws Exception {
    List<PeerAddress> peers = voters();
    for (FerryNode n : nodes.values()) {
      assertEquals(
          List.of("g.r0", "g.r1", "g.r2"), List.copyOf(n.groups().keySet()), n.self().id());
    }

    // Writes to each group land in that group only.
    List<KvClient> groupClients = new ArrayList<>();
    for (int g = 0; g < GROUPS; g++) {
      KvClient c = client("g.r" + g, peers);
      groupClients.add(c);
      for (int k = 0; k < KEYS; k++) {
        c.put(bytes("r" + g + "-k" + k), bytes("v" + g + "-" + k));
      }
    }
    for (int g = 0; g < GROUPS; g++) {
      KvClient c = groupClients.get(g);
      for (int other = 0; other < GROUPS; other++) {
        byte[] v = c.get(bytes("r" + other + "-k7"));
        if (other == g) {
          assertArrayEquals(bytes("v" + g + "-7"), v);
        } else {
          assertNull(v, "g.r" + g + " holds no key of g.r" + other);
        }
      }
      assertSameDigest("g.r" + g);
    }

    // A request for a group the node does not host gets the "not here" answer.
    try (AdminClient a =
        AdminClient.connect(peers.get(0), AdminClient.groupId("g.r9"), secret, null, "test")) {
      AdminException e = assertThrows(AdminException.class, a::status);
      assertTrue(e.getMessage().contains("serves no group"), e.getMessage());
      assertTrue(e.getMessage().contains(AdminClient.groupId("g.r1")), e.getMessage());
    }

    // n4 joins g.r1 at run time as a listener, then through the digest-gated add.
    PeerAddress n4 = TestNodes.address("n4");
    FerryNode node4 = node(n4).build().start();
    nodes.put("n4", node4);
    List<PeerAddress> withN4 = new ArrayList<>(peers);
    withN4.add(n4);
    FerryServer joined =
        node4.addGroup(GroupSpec.of("g.r1", withN4, new KvStateMachine()).asListener());
    KvClient r1 = groupClients.get(1);
    MembershipAdmin admin =
        MembershipAdmin.builder(r1.raftClient(), r1.group()).secret(secret).build();
    AddResult added =
        admin.addMember(new AddRequest(n4, T)).get(T.toSeconds() + 30, TimeUnit.SECONDS);
    assertEquals("n4", added.nodeId());
    LocalCluster.await(
        T, () -> joined.health().member(), "n4 to be a voter of g.r1 in its own configuration");
    r1.put(bytes("after-join"), bytes("x"));
    assertSameDigest("g.r1");
    assertEquals(4, replicas("g.r1").size());
    assertTrue(node4.group("g.r0").isEmpty(), "n4 hosts only what it was given");

    // n3 is removed from g.r0: told so, its node drops the group and keeps its storage aside.
    KvClient r0 = groupClients.get(0);
    MembershipAdmin admin0 =
        MembershipAdmin.builder(r0.raftClient(), r0.group()).secret(secret).build();
    RemoveResult removed =
        admin0.removeMember(new RemoveRequest("n3", T)).get(T.toSeconds() + 30, TimeUnit.SECONDS);
    assertEquals(RemoveResult.Outcome.REMOVED_VOTER, removed.outcome());
    FerryNode node3 = nodes.get("n3");
    // The group leaves the node's map before its storage is moved: wait for both.
    LocalCluster.await(T, () -> node3.group("g.r0").isEmpty(), "n3 to drop g.r0");
    LocalCluster.await(
        T, () -> setAside(nodesDir.resolve("n3"), "g.r0"), "n3 to keep g.r0's storage aside");
    r0.put(bytes("after-remove"), bytes("y"));
    assertArrayEquals(bytes("y"), r0.get(bytes("after-remove")));
    assertSameDigest("g.r0");
    // Its other groups run on.
    groupClients.get(2).put(bytes("r2-after"), bytes("z"));
    assertSameDigest("g.r2");
    assertEquals(List.of("g.r1", "g.r2"), List.copyOf(node3.groups().keySet()));

    // n4 is removed from g.r1: a verified voter, its storage is kept aside too.
    RemoveResult out =
        admin.removeMember(new RemoveRequest("n4", T)).get(T.toSeconds() + 30, TimeUnit.SECONDS);
    assertEquals(RemoveResult.Outcome.REMOVED_VOTER, out.outcome());
    LocalCluster.await(T, () -> node4.group("g.r1").isEmpty(), "n4 to drop g.r1 when retired");
    LocalCluster.await(
        T, () -> setAside(nodesDir.resolve("n4"), "g.r1"), "n4 to keep g.r1's storage aside");
    assertThrows(
        IllegalArgumentException.class, () -> node4.removeGroup("g.r1", FerryNode.Removal.DELETE));
    r1.put(bytes("after-n4"), bytes("w"));
    assertSameDigest("g.r1");
  }

  @Test
  @Order(2)
  void aNodeRestartsWithItsGroupsAndRefusesGroupsItWasNotGiven() throws Exception {
    List<PeerAddress> peers = voters();
    // The node restarted leads none of its groups if one such exists: the writes after its
    // restart then need no new election.
    PeerAddress restarted =
        peers.stream()
            .filter(
                p -> nodes.get(p.id()).groups().values().stream().noneMatch(FerryServer::isLeader))
            .findFirst()
            .orElse(peers.get(1));
    String id = restarted.id();
    List<String> hosted = List.copyOf(nodes.get(id).groups().keySet());
    assertTrue(hosted.size() >= 2, id + " hosts several groups: " + hosted);
    for (String g : hosted) {
      client(g, peers).put(bytes("k"), bytes("v"));
    }
    nodes.remove(id).close();
    IllegalStateException refused =
        assertThrows(
            IllegalStateException.class,
            () ->
                node(restarted)
                    .group(GroupSpec.of(hosted.get(0), peers, new KvStateMachine()))
                    .build()
                    .start());
    assertTrue(refused.getMessage().contains(hosted.get(1)), refused.getMessage());
    FerryNode.Builder b = node(restarted);
    for (String g : hosted) {
      b.group(GroupSpec.of(g, peers, new KvStateMachine()));
    }
    FerryNode again = b.build().start();
    nodes.put(id, again);
    assertEquals(hosted, List.copyOf(again.groups().keySet()), id + " restarted with its groups");
    for (String g : hosted) {
      client(g, peers).put(bytes("k2"), bytes("v2"));
      assertSameDigest(g);
    }

    // A single-member group on one node, removed with its storage deleted.
    FerryServer solo =
        again.addGroup(GroupSpec.of("g.solo", List.of(restarted), new KvStateMachine()));
    KvClient s = client("g.solo", List.of(restarted));
    s.put(bytes("solo"), bytes("1"));
    assertTrue(solo.isLeader());
    again.removeGroup("g.solo", FerryNode.Removal.DELETE);
    assertFalse(Files.exists(nodesDir.resolve(id).resolve("groups").resolve("g.solo")));
    String gid = FerryServer.groupId("g.solo").getUuid().toString();
    assertFalse(Files.exists(nodesDir.resolve(id).resolve("raft").resolve(gid)));
    assertTrue(again.group("g.solo").isEmpty());
    LocalCluster.await(T, () -> again.health().ready(), id + " to be ready in every group");
  }

  /**
   * Threads per added group: the three voters in this JVM, {@value #MEASURED} more groups on each
   * ({@code g.t1..}), idle once each group has a leader. Logs the figure; fails if a group costs
   * more than {@value #MAX_THREADS_PER_REPLICA} threads per replica (a regression to threads per
   * group).
   */
  @Test
  @Order(3)
  void threadsPerGroup() throws Exception {
    List<PeerAddress> peers = voters();
    awaitLeaders("g.r0");
    int groupsBefore = nodes.get("n1").groups().size();
    int before = settledThreads();
    Map<String, Integer> namesBefore = threadNames();
    for (int g = 1; g <= MEASURED; g++) {
      for (PeerAddress p : peers) {
        nodes.get(p.id()).addGroup(GroupSpec.of("g.t" + g, peers, new KvStateMachine()));
      }
    }
    for (int g = 1; g <= MEASURED; g++) {
      awaitLeaders("g.t" + g);
    }
    for (int g = 1; g <= MEASURED; g++) {
      client("g.t" + g, peers).put(bytes("k"), bytes("v"));
    }
    int after = settledThreads();
    Map<String, Integer> added = threadNames();
    namesBefore.forEach((n, k) -> added.merge(n, -k, Integer::sum));
    added.values().removeIf(k -> k == 0);
    LOG.info("threads added, by name without digits: {}", added);
    double perReplica = (after - before) / (double) (MEASURED * peers.size());
    LOG.info(
        "threads: {} with {} groups on n1, {} with {} more on each voter (nodes in one JVM: {}):"
            + " {} threads per added group replica",
        before,
        groupsBefore,
        after,
        MEASURED,
        nodes.keySet(),
        String.format(java.util.Locale.ROOT, "%.1f", perReplica));
    assertTrue(
        perReplica <= MAX_THREADS_PER_REPLICA,
        "threads per group replica: " + perReplica + " (" + before + " -> " + after + ")");
  }

  /**
   * A measurement, not run by default ({@code -Dferry.scale.groups=N}): three nodes in this JVM
   * with N groups each (every group on all three), one write per group, then idle for 30 s. Logs
   * the time to add the groups, threads, heap after a full GC and the process CPU while idle.
   */
  @Test
  @Order(4)
  @EnabledIfSystemProperty(named = "ferry.scale.groups", matches = "[0-9]+")
  void scale() throws Exception {
    int n = Integer.parseInt(System.getProperty("ferry.scale.groups"));
    closeAll(); // the shared cluster's nodes would count in the figures
    nodesDir = dir.resolve("scale");
    // Each division allocates Ratis's log write buffer as direct memory (8 MiB by default): 128
    // groups on 3 nodes in one JVM ran out of direct memory with the defaults.
    nodeProperties.put("raft.server.log.write.buffer.size", "1032KB");
    nodeProperties.put("raft.server.log.appender.buffer.byte-limit", "1MB");
    List<PeerAddress> peers = startVoters(0);
    int before = settledThreads();
    long t0 = System.nanoTime();
    for (int g = 0; g < n; g++) {
      for (FerryNode node : nodes.values()) {
        node.addGroup(GroupSpec.of("g.r" + g, peers, new KvStateMachine()));
      }
    }
    for (int g = 0; g < n; g++) {
      awaitLeaders("g.r" + g);
      KvClient c = KvClient.connect("g.r" + g, peers, T);
      c.put(bytes("k"), bytes("v"));
      c.close();
    }
    long added = System.nanoTime() - t0;
    int threads = settledThreads();
    long cpu0 = processCpuNanos();
    long wall0 = System.nanoTime();
    long leaders0 = leaderChanges(n);
    LocalCluster.await(
        Duration.ofSeconds(40),
        () -> System.nanoTime() - wall0 >= Duration.ofSeconds(30).toNanos(),
        "30 s idle");
    double cores = (processCpuNanos() - cpu0) / (double) (System.nanoTime() - wall0);
    long leaderChanges = leaderChanges(n) - leaders0;
    System.gc();
    long heap = ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed();
    LOG.info(
        "scale: 3 nodes x {} groups in one JVM: added and written in {} s; threads {} -> {} ({}"
            + " per group replica); heap after GC {} MiB; idle CPU {} cores for the 3 nodes;"
            + " term changes while idle {}",
        n,
        added / 1_000_000_000,
        before,
        threads,
        String.format(java.util.Locale.ROOT, "%.1f", (threads - before) / (3.0 * n)),
        heap >> 20,
        String.format(java.util.Locale.ROOT, "%.3f", cores),
        leaderChanges);
  }

  private static long processCpuNanos() {
    return ProcessHandle.current().info().totalCpuDuration().orElseThrow().toNanos();
  }

  /** The sum over the groups' replicas of their current terms (a rise is an election). */
  private long leaderChanges(int groups) {
    long sum = 0;
    for (int g = 0; g < groups; g++) {
      for (FerryServer r : replicas("g.r" + g)) {
        try {
          sum += r.raftServer().getDivision(r.group().getGroupId()).getInfo().getCurrentTerm();
        } catch (IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      }
    }
    return sum;
  }

  private static final int MEASURED = 8;
  private static final int MAX_THREADS_PER_REPLICA = 40;

  private void awaitLeaders(String group) {
    LocalCluster.await(
        T, () -> replicas(group).stream().anyMatch(FerryServer::isLeader), "a leader of " + group);
  }

  /** The live threads by name with digits removed, sorted. */
  private static Map<String, Integer> threadNames() {
    Map<String, Integer> out = new java.util.TreeMap<>();
    for (Thread t : Thread.getAllStackTraces().keySet()) {
      out.merge(t.getName().replaceAll("[0-9]+", "#"), 1, Integer::sum);
    }
    return out;
  }

  /**
   * The live thread count once it has stayed the same for 2 s (idle pools time out); fails if it
   * never settles within two minutes.
   */
  private static int settledThreads() {
    ThreadMXBean threads = ManagementFactory.getThreadMXBean();
    int[] seen = {threads.getThreadCount()};
    long[] since = {System.nanoTime()};
    LocalCluster.await(
        Duration.ofMinutes(2),
        () -> {
          int now = threads.getThreadCount();
          if (now != seen[0]) {
            seen[0] = now;
            since[0] = System.nanoTime();
          }
          return System.nanoTime() - since[0] >= Duration.ofSeconds(2).toNanos();
        },
        "the thread count to stay the same for 2 s");
    return seen[0];
  }

  /**
   * Whether {@code group}'s storage has been moved out of the node's folders and into {@code
   * nodeDir/removed/}.
   */
  private static boolean setAside(Path nodeDir, String group) {
    Path removed = nodeDir.resolve("removed");
    String gid = FerryServer.groupId(group).getUuid().toString();
    if (!Files.isDirectory(removed)
        || Files.exists(nodeDir.resolve("groups").resolve(group))
        || Files.exists(nodeDir.resolve("raft").resolve(gid))) {
      return false;
    }
    try (Stream<Path> aside = Files.list(removed)) {
      return aside.anyMatch(p -> p.getFileName().toString().startsWith(group + "-"));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
