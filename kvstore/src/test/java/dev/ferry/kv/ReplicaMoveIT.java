package dev.ferry.kv;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.client.internal.RaftTransport;
import dev.ferry.kv.shard.ClusterLayout;
import dev.ferry.kv.shard.ClusterMap;
import dev.ferry.kv.shard.Range;
import dev.ferry.kv.shard.RoutingKvClient;
import dev.ferry.raft.ClusterSecret;
import dev.ferry.raft.FerryNode;
import dev.ferry.raft.FerryServer;
import dev.ferry.raft.GroupSpec;
import dev.ferry.raft.RaftPeers;
import dev.ferry.raft.admin.AddProgress;
import dev.ferry.raft.admin.AdminClient;
import dev.ferry.raft.admin.MembershipAdmin;
import dev.ferry.raft.admin.MembershipTimeoutException;
import dev.ferry.raft.admin.NodeStatus;
import dev.ferry.raft.admin.ReplicaMover;
import dev.ferry.raft.admin.ReplicaMover.Listener;
import dev.ferry.raft.admin.ReplicaMover.MoveRequest;
import dev.ferry.raft.admin.ReplicaMover.MoveResult;
import dev.ferry.shipping.PeerAddress;
import dev.ferry.testing.LocalCluster;
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
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.proto.RaftProtos.RaftPeerRole;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.server.RaftConfiguration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Replica moves ({@link ReplicaMover}) between {@link FerryNode}s: four nodes, four ranges at
 * replication 3 (each node holds three), one range's replica moved to the node that holds none of
 * it while clients write across all ranges; a move whose mover stops waiting, which the group's
 * leader finishes by itself; and a move whose source is stopped mid-install.
 */
class ReplicaMoveIT {
  private static final Logger LOG = LoggerFactory.getLogger(ReplicaMoveIT.class);
  private static final Duration T = Duration.ofSeconds(60);
  private static final int WRITERS = 16;
  private static final int RANGE = 1;

  @TempDir Path dir;
  private final ClusterSecret secret = ClusterSecret.random();
  private final Map<String, FerryNode> nodes = new LinkedHashMap<>();
  private final List<AutoCloseable> closeables = new ArrayList<>();
  private ClusterLayout layout;

  @AfterEach
  void tearDown() throws Exception {
    for (AutoCloseable c : closeables) {
      c.close();
    }
    for (FerryNode n : nodes.values()) {
      n.close();
    }
  }

  /** A map the test changes after a move (the static map of a descriptor does not). */
  private final class MovingMap implements ClusterMap {
    private final AtomicReference<ClusterLayout> now = new AtomicReference<>();

    @Override
    public ClusterLayout current() {
      return now.get();
    }

    @Override
    public ClusterLayout refresh(long staleVersion) {
      return now.get();
    }
  }

  private final MovingMap map = new MovingMap();

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  /** Starts n1..n4 hosting ranges {@code m.r0..m.r3} (split at k1, k2, k3), three replicas each. */
  private void startCluster() throws IOException {
    startCluster(0);
  }

  /** As {@link #startCluster()}, every node sending chunks at {@code sendRate} bytes/s (0: any). */
  private void startCluster(long sendRate) throws IOException {
    List<PeerAddress> addresses = new ArrayList<>();
    for (String id : List.of("n1", "n2", "n3", "n4")) {
      addresses.add(TestNodes.address(id));
    }
    layout =
        ClusterLayout.create("m", addresses, List.of(bytes("k1"), bytes("k2"), bytes("k3")), 3);
    map.now.set(layout);
    for (PeerAddress p : addresses) {
      nodes.put(p.id(), startNode(p, true, sendRate));
    }
  }

  private FerryNode startNode(PeerAddress p, boolean fromLayout) throws IOException {
    return startNode(p, fromLayout, 0);
  }

  private FerryNode startNode(PeerAddress p, boolean fromLayout, long sendRate) throws IOException {
    FerryNode.Builder b =
        TestNodes.builder(p, dir.resolve(p.id()), secret).stateMachines(g -> new KvStateMachine());
    if (sendRate > 0) {
      b.chunkSendRate(sendRate);
    }
    if (fromLayout) {
      for (Range r : layout.ranges()) {
        if (r.replicas().contains(p.id())) {
          b.group(GroupSpec.of(r.group(), layout.peers(r), new KvStateMachine()));
        }
      }
    }
    return b.build().start();
  }

  private RoutingKvClient client() {
    RoutingKvClient c = RoutingKvClient.connect(map, T);
    closeables.add(c);
    return c;
  }

  /** The node of range {@link #RANGE} that holds none of its replicas. */
  private String spareNode() {
    Set<String> ids = new TreeSet<>(nodes.keySet());
    ids.removeAll(layout.range(RANGE).replicas());
    assertEquals(1, ids.size(), ids.toString());
    return ids.iterator().next();
  }

  private List<FerryServer> replicas(String group) {
    return nodes.values().stream().flatMap(n -> n.group(group).stream()).toList();
  }

  /** The voters of {@code group} per its leader's configuration (the fewer of old and new). */
  private int leaderVoters(String group) {
    for (FerryNode n : nodes.values()) {
      var g = n.group(group);
      if (g.isPresent() && g.get().isLeader()) {
        try {
          RaftConfiguration c =
              n.raftServer().getDivision(FerryServer.groupId(group)).getRaftConf();
          int now = c.getCurrentPeers().size();
          int before = c.getPreviousPeers().size();
          return before == 0 ? now : Math.min(now, before);
        } catch (IOException | RuntimeException e) {
          return -1; // the division went away meanwhile: no sample
        }
      }
    }
    return -1;
  }

  /** The id of {@code group}'s leader, waiting for one. */
  private String leaderOf(String group) {
    AtomicReference<String> leader = new AtomicReference<>();
    LocalCluster.await(
        T,
        () -> {
          nodes.forEach(
              (id, n) -> {
                if (n.group(group).map(FerryServer::isLeader).orElse(false)) {
                  leader.set(id);
                }
              });
          return leader.get() != null;
        },
        "a leader of " + group);
    return leader.get();
  }

  /** The group's voters, sorted, as its leader's admin service reports them, no change pending. */
  private List<String> settledVoters(String group) throws IOException {
    AtomicReference<List<String>> voters = new AtomicReference<>();
    LocalCluster.await(
        T,
        () -> {
          voters.set(votersIfSettled(group).orElse(null));
          return voters.get() != null;
        },
        "a leader of " + group + " with no pending change");
    return voters.get();
  }

  /** The group's voters, sorted, if its leader answers and has no change pending. */
  private java.util.Optional<List<String>> votersIfSettled(String group) {
    for (FerryNode n : nodes.values()) {
      if (n.group(group).map(FerryServer::isLeader).orElse(false)) {
        try (AdminClient a =
            AdminClient.connect(n.self(), AdminClient.groupId(group), secret, null, "t")) {
          NodeStatus s = a.status();
          if (s.pending().isEmpty()) {
            return java.util.Optional.of(
                s.members().stream()
                    .filter(NodeStatus.Member::voter)
                    .map(NodeStatus.Member::id)
                    .sorted()
                    .toList());
          }
        } catch (IOException | RuntimeException e) {
          return java.util.Optional.empty();
        }
      }
    }
    return java.util.Optional.empty();
  }

  /** Waits until {@code group}'s voters applied the same index, then checks their digests. */
  private void assertSameDigest(String group, List<String> voters) throws Exception {
    List<FerryServer> rs =
        voters.stream().map(id -> nodes.get(id).group(group).orElseThrow()).toList();
    LocalCluster.assertSameDigest(group, rs, T);
  }

  /**
   * The voters of a move's group once no change is pending: as before (the move was undone before
   * its verification), or moved. Never both the source and the target: a verified move is finished
   * by the group's leader.
   */
  private static void assertUndoneOrFinished(
      List<String> voters, List<String> before, String from, String to) {
    Set<String> undone = new HashSet<>(before);
    Set<String> done = new HashSet<>(before);
    done.add(to);
    done.remove(from);
    Set<String> now = new HashSet<>(voters);
    assertEquals(voters.size(), now.size(), voters.toString());
    assertTrue(
        now.equals(undone) || now.equals(done),
        "undone or finished: " + voters + " (before: " + before + ")");
  }

  private MoveRequest request(String from, String to, Duration deadline) {
    Range r = layout.range(RANGE);
    return new MoveRequest(r.group(), layout.peers(r), from, layout.node(to), deadline);
  }

  private ReplicaMover mover() {
    return ReplicaMover.builder(secret).build();
  }

  /** Fills range {@link #RANGE} (keys {@code k1...}) with {@code keys} values of {@code size}. */
  private static void fill(RoutingKvClient c, int keys, int size) throws IOException {
    fill(c, keys, size, false);
  }

  /**
   * As {@link #fill(RoutingKvClient, int, int)}; {@code random} values do not compress, so an
   * install ships about as many bytes as they hold.
   */
  private static void fill(RoutingKvClient c, int keys, int size, boolean random)
      throws IOException {
    java.util.SplittableRandom rnd = new java.util.SplittableRandom(7);
    List<byte[][]> batch = new ArrayList<>();
    for (int i = 0; i < keys; i++) {
      byte[] value = new byte[size];
      if (random) {
        rnd.nextBytes(value);
      }
      batch.add(new byte[][] {bytes("k1-fill-" + i), value});
      if (batch.size() == 200) {
        c.putAll(batch);
        batch.clear();
      }
    }
    if (!batch.isEmpty()) {
      c.putAll(batch);
    }
  }

  @Test
  void aReplicaMovesUnderLoadAndTheRangeKeepsThreeVoters() throws Exception {
    startCluster();
    RoutingKvClient c = client();
    fill(c, 2_000, 512);
    String group = layout.range(RANGE).group();
    String from = layout.range(RANGE).replicas().get(1);
    String to = spareNode();

    // Writers: each puts its own keys, spread over the four ranges, and records what was acked.
    Map<String, String> acked = new ConcurrentHashMap<>();
    AtomicBoolean stop = new AtomicBoolean();
    AtomicInteger failed = new AtomicInteger();
    ExecutorService pool = Executors.newFixedThreadPool(WRITERS + 1);
    List<Future<?>> writers = new ArrayList<>();
    for (int w = 0; w < WRITERS; w++) {
      int id = w;
      writers.add(
          pool.submit(
              () -> {
                for (int n = 0; !stop.get(); n++) {
                  String key = "k" + (n % 4) + "-w" + id + "-" + n;
                  try {
                    c.put(bytes(key), bytes("v" + n));
                    acked.put(key, "v" + n);
                  } catch (IOException | RuntimeException e) {
                    failed.incrementAndGet();
                  }
                }
                return null;
              }));
    }
    // The range's voters, sampled from its leader throughout the move.
    AtomicInteger fewest = new AtomicInteger(Integer.MAX_VALUE);
    AtomicLong samples = new AtomicLong();
    Future<?> sampler =
        pool.submit(
            () -> {
              while (!stop.get()) {
                int v = leaderVoters(group);
                if (v >= 0) {
                  fewest.accumulateAndGet(v, Math::min);
                  samples.incrementAndGet();
                }
                Thread.sleep(20);
              }
              return null;
            });
    LocalCluster.await(T, () -> acked.size() > 200, "the writers to get going");

    List<String> steps = new ArrayList<>();
    List<AddProgress> progress = new java.util.concurrent.CopyOnWriteArrayList<>();
    MoveResult moved =
        mover()
            .move(
                request(from, to, T),
                new ReplicaMover.Listener() {
                  @Override
                  public void step(String line) {
                    steps.add(line);
                  }

                  @Override
                  public void progress(AddProgress p) {
                    progress.add(p);
                  }
                });
    layout = layout.withReplicaMoved(RANGE, from, to);
    map.now.set(layout);
    int ackedAtMove = acked.size();
    LocalCluster.await(T, () -> acked.size() > ackedAtMove + 200, "writes after the move");
    stop.set(true);
    for (Future<?> f : writers) {
      f.get(T.toSeconds(), TimeUnit.SECONDS);
    }
    sampler.get(T.toSeconds(), TimeUnit.SECONDS);
    pool.shutdown();
    LOG.info(
        "move {} -> {} of {} in {} ms: {}; {} writes acked, {} failed, {} voter samples",
        from,
        to,
        group,
        moved.took().toMillis(),
        steps,
        acked.size(),
        failed.get(),
        samples.get());

    List<String> expected = new ArrayList<>(layout.range(RANGE).replicas());
    expected.sort(null);
    assertEquals(expected, moved.voters());
    assertTrue(moved.added().isPresent(), "the move added " + to);
    assertTrue(moved.removed().isPresent(), "the move removed " + from);
    assertEquals(moved.added().get().replaced(), moved.removed(), "one change did both");
    List<AddProgress.Phase> phases = progress.stream().map(AddProgress::phase).distinct().toList();
    LOG.info(
        "progress: phases {}, installs {}",
        phases,
        progress.stream()
            .flatMap(p -> p.install().stream())
            .map(i -> i.bytesDone() + "/" + i.bytesWanted())
            .toList());
    assertTrue(
        phases.containsAll(
            List.of(
                AddProgress.Phase.INSTALLING, AddProgress.Phase.REMOVING, AddProgress.Phase.DONE)),
        phases.toString());
    assertEquals(expected, settledVoters(group));
    assertTrue(samples.get() > 10, "voters sampled during the move: " + samples.get());
    assertEquals(3, fewest.get(), "the fewest voters " + group + " had during the move");
    LocalCluster.await(T, () -> nodes.get(from).group(group).isEmpty(), from + " to drop " + group);
    assertSameDigest(group, expected);
    for (Map.Entry<String, String> e : acked.entrySet()) {
      assertArrayEquals(bytes(e.getValue()), c.get(bytes(e.getKey())), e.getKey());
    }

    // The target gets the group back when it restarts, and the source does not.
    nodes.remove(to).close();
    nodes.put(to, startNode(layout.node(to), false));
    nodes.remove(from).close();
    nodes.put(from, startNode(layout.node(from), false));
    assertTrue(nodes.get(to).group(group).isPresent(), to + " hosts " + group + " again");
    assertFalse(nodes.get(from).group(group).isPresent(), from + " no longer hosts " + group);
    c.put(bytes("k1-after-restart"), bytes("x"));
    assertSameDigest(group, expected);
    adminAimedAtTheLeftNodeReachesTheGroup(group, from, expected);

    // Running the finished move again changes nothing.
    MoveResult again = mover().move(request(from, to, T), ReplicaMover.Listener.NONE);
    assertTrue(again.added().isEmpty() && again.removed().isEmpty(), again.toString());
    assertEquals(expected, again.voters());
  }

  /**
   * A membership admin whose Raft client aims at {@code left}, a node that left {@code group} (it
   * answers "not here"), reaches the group through the next node once that answer came: Ratis's
   * client alone would ask {@code left} again at every attempt, as a new leader's membership
   * recovery did until its deadline (chaos multi-raft seeds 1905 and 1915).
   */
  private void adminAimedAtTheLeftNodeReachesTheGroup(
      String group, String left, List<String> voters) throws Exception {
    RaftGroup now = nodes.get(voters.get(0)).group(group).orElseThrow().group();
    List<RaftPeer> peers = new ArrayList<>();
    peers.add(RaftPeers.toRaftPeer(layout.node(left), RaftPeerRole.FOLLOWER));
    now.getPeers().stream().filter(p -> !p.getId().toString().equals(left)).forEach(peers::add);
    RaftGroup g = RaftGroup.valueOf(now.getGroupId(), peers);
    try (RaftClient aimed = RaftTransport.newRaftClient(g, RaftPeerId.valueOf(left), null);
        MembershipAdmin admin = MembershipAdmin.builder(aimed, g).secret(secret).build()) {
      IOException notHere = assertThrows(IOException.class, admin::pending, "asked " + left);
      assertTrue(
          String.valueOf(notHere.getMessage()).contains("not here")
              || String.valueOf(notHere).contains("not found"),
          notHere.toString());
      assertNull(admin.pending(), "the next attempt goes past " + left + ": nothing pending");
    }
  }

  /**
   * The mover stops waiting after 1 s (as if it was interrupted, or its process died): the move
   * goes on at the group's leader, which finishes it by itself; a second run changes nothing.
   */
  @Test
  void aMoveWhoseMoverStopsWaitingIsFinishedByTheGroupsLeader() throws Exception {
    startCluster();
    RoutingKvClient c = client();
    fill(c, 2_000, 4096);
    String group = layout.range(RANGE).group();
    String from = layout.range(RANGE).replicas().get(0);
    String to = spareNode();
    Set<String> done = new HashSet<>(layout.range(RANGE).replicas());
    done.remove(from);
    done.add(to);
    List<String> expected = new ArrayList<>(done);
    expected.sort(null);

    String outcome;
    try {
      mover().move(request(from, to, T).waitingAtMost(Duration.ofSeconds(1)), Listener.NONE);
      outcome = "finished within its wait";
    } catch (MembershipTimeoutException e) {
      outcome = e.getMessage();
      assertTrue(outcome.contains("goes on at the group's leader"), outcome);
    }
    LOG.info("a move waited for 1 s: {}", outcome);
    // The leader may not have recorded the move yet when the mover stopped waiting.
    LocalCluster.await(
        T,
        () -> votersIfSettled(group).map(expected::equals).orElse(false),
        "the leader to finish the move to " + expected + " by itself");
    LocalCluster.await(T, () -> nodes.get(from).group(group).isEmpty(), from + " to drop " + group);
    layout = layout.withReplicaMoved(RANGE, from, to);
    map.now.set(layout);
    c.put(bytes("k1-after"), bytes("y"));
    assertArrayEquals(bytes("y"), c.get(bytes("k1-after")));
    assertSameDigest(group, expected);
    MoveResult again = mover().move(request(from, to, T), Listener.NONE);
    assertTrue(again.added().isEmpty() && again.removed().isEmpty(), again.toString());
  }

  @Test
  void theSourceKilledMidMoveLeavesTheGroupConsistentAndTheMoveCompletes() throws Exception {
    startCluster();
    RoutingKvClient c = client();
    fill(c, 1_000, 4096);
    String group = layout.range(RANGE).group();
    // A follower: the add then goes on without it (a leader's death undoes an unverified add, which
    // MembershipIT and ShardedProcessIT cover).
    String leader = leaderOf(group);
    String from =
        layout.range(RANGE).replicas().stream().filter(id -> !id.equals(leader)).findFirst().get();
    String to = spareNode();
    Set<String> done = new HashSet<>(layout.range(RANGE).replicas());
    done.remove(from);
    done.add(to);
    List<String> expected = new ArrayList<>(done);
    expected.sort(null);

    ExecutorService pool = Executors.newSingleThreadExecutor();
    Future<MoveResult> first = pool.submit(() -> mover().move(request(from, to, T), Listener.NONE));
    FerryNode target = nodes.get(to);
    LocalCluster.await(T, () -> target.group(group).isPresent(), to + " to host " + group);
    AtomicBoolean installing = new AtomicBoolean();
    LocalCluster.await(
        Duration.ofSeconds(10),
        () -> {
          var g = target.group(group);
          installing.set(g.isPresent() && g.get().health().installing());
          return installing.get() || first.isDone();
        },
        to + " to install or the move to end");
    nodes.remove(from).close();
    String outcome;
    MoveResult result = null;
    try {
      result = first.get(T.toSeconds() + 30, TimeUnit.SECONDS);
      outcome = "finished: " + result.voters();
    } catch (java.util.concurrent.ExecutionException e) {
      outcome = "failed: " + e.getCause();
    }
    pool.shutdown();
    LOG.info(
        "source {} killed {}; first run {}", from, installing.get() ? "mid-install" : "", outcome);
    List<String> before = new ArrayList<>(layout.range(RANGE).replicas());
    assertUndoneOrFinished(settledVoters(group), before, from, to);
    if (result == null) {
      // Leadership moved to the source before it was killed, and the next leader undid the add.
      result = mover().move(request(from, to, T), ReplicaMover.Listener.NONE);
    }
    assertEquals(expected, result.voters());
    assertEquals(expected, settledVoters(group));
    c.put(bytes("k1-after-kill"), bytes("z"));
    assertArrayEquals(bytes("z"), c.get(bytes("k1-after-kill")));
    assertSameDigest(group, expected);
    // The source comes back: it is out of the group, so it drops its copy by itself.
    nodes.put(from, startNode(layout.node(from), false));
    LocalCluster.await(
        T,
        () -> nodes.get(from).group(group).isEmpty(),
        from + " to drop " + group + " on its own");
  }
}
