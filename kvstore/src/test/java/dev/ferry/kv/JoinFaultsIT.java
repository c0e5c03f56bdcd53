package dev.ferry.kv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.kv.testing.LocalCluster;
import dev.ferry.raft.FerryServer;
import dev.ferry.raft.RaftPeers;
import dev.ferry.raft.admin.AddProgress;
import dev.ferry.raft.admin.AddRequest;
import dev.ferry.raft.admin.AddResult;
import dev.ferry.raft.admin.AdminClient;
import dev.ferry.raft.admin.MembershipAdmin;
import dev.ferry.raft.admin.MembershipTimeoutException;
import dev.ferry.statemachine.StateMachineConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Collectors;
import org.apache.ratis.proto.RaftProtos.RaftPeerRole;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.SetConfigurationRequest;
import org.apache.ratis.server.RaftConfiguration;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Fault paths of a join (issue 16, findings 1, 3 and 5): a joiner restarted mid-install, an add
 * whose node goes away mid-install, a joiner dropped while it could not be told.
 */
class JoinFaultsIT {
  private static final Duration T = Duration.ofSeconds(60);
  private static final List<String> VOTERS = List.of("n1", "n2", "n3");

  @TempDir Path dir;
  @AutoClose private LocalCluster cluster;

  private KvClient start() throws IOException {
    cluster =
        LocalCluster.start(dir, 3, StateMachineConfig.defaults().withCaptureEvery(200, 1L << 40));
    return cluster.client(T);
  }

  /** Some 6 MiB: 6,000 keys of random 1 KiB values, 20 per command. */
  private static void load(KvClient c) throws IOException {
    LocalCluster.putRandom(c, "key-", 6_000, 20, 1);
  }

  /** Limits every voter's chunk service to {@code bytesPerSecond} (0: unlimited), from now on. */
  private void sendRate(long bytesPerSecond) {
    for (String id : VOTERS) {
      cluster.server(id).chunkServer().orElseThrow().setSendRateLimit(bytesPerSecond);
    }
  }

  private MembershipAdmin admin(KvClient c) {
    return MembershipAdmin.builder(c.raftClient(), c.group()).secret(cluster.secret()).build();
  }

  private RaftConfiguration conf() throws IOException {
    FerryServer s = cluster.server(cluster.leader(T));
    return s.raftServer().getDivision(s.group().getGroupId()).getRaftConf();
  }

  private static Set<String> ids(java.util.Collection<RaftPeer> peers) {
    return peers.stream().map(p -> p.getId().toString()).collect(Collectors.toSet());
  }

  /** A future that completes once an add reports that {@code bytes} of its install were done. */
  private static CompletableFuture<Void> installed(
      long bytes, List<Consumer<AddProgress>> listeners) {
    CompletableFuture<Void> f = new CompletableFuture<>();
    listeners.add(
        p -> {
          if (p.install().map(i -> i.bytesDone() >= bytes).orElse(false)) {
            f.complete(null);
          }
        });
    return f;
  }

  /**
   * Finding 1: the joiner stores the leader's configuration from before the add when it answers the
   * install notification; restarted mid-install (RECOVER), Ratis did not find it there and left it
   * STARTING for good, so the add waited in "verifying" until its deadline. Now it restarts as a
   * listener of its group, resumes its install, and the add completes.
   */
  @Test
  void aJoinerRestartedMidInstallResumesAndTheAddCompletes() throws Exception {
    try (KvClient c = start()) {
      load(c);
      sendRate(256 << 10);
      FerryServer n4 = cluster.startListener("n4", KvStateMachine::new);
      List<Consumer<AddProgress>> listeners = new ArrayList<>();
      CompletableFuture<Void> midInstall = installed(1 << 20, listeners);
      CompletableFuture<AddResult> add =
          admin(c)
              .addMember(new AddRequest(n4.self(), T), p -> listeners.forEach(l -> l.accept(p)));
      midInstall.get(T.toSeconds(), TimeUnit.SECONDS);
      cluster.stop("n4");
      sendRate(0);
      FerryServer again = cluster.restartListener("n4", KvStateMachine::new);

      AddResult r = add.get(T.toSeconds(), TimeUnit.SECONDS);
      assertEquals("n4", r.nodeId());
      assertEquals(Set.of("n1", "n2", "n3", "n4"), ids(conf().getCurrentPeers()));
      LocalCluster.await(
          T,
          () -> again.replica().lastCheckpoint().map(d -> d.equals(r.verified())).orElse(false),
          "the restarted n4 to hold the verified digest");
    }
  }

  /**
   * Finding 3: Ratis staged a node for as long as the install deadline (10 min) after it stopped
   * answering, so the failed add could not undo itself and every later change was refused. Now the
   * staging ends seconds after the node went away: the leader's status shows it staged meanwhile,
   * the failed add undoes itself, and the next add goes through.
   */
  @Test
  void anAddWhoseNodeGoesAwayMidInstallEndsItsStagingAndTheNextAddGoesThrough() throws Exception {
    try (KvClient c = start()) {
      load(c);
      sendRate(256 << 10);
      FerryServer n4 = cluster.startListener("n4", KvStateMachine::new);
      List<Consumer<AddProgress>> listeners = new ArrayList<>();
      CompletableFuture<Void> midInstall = installed(1, listeners);
      MembershipAdmin admin = admin(c);
      CompletableFuture<AddResult> add =
          admin.addMember(
              new AddRequest(n4.self(), Duration.ofSeconds(8)),
              p -> listeners.forEach(l -> l.accept(p)));
      midInstall.get(T.toSeconds(), TimeUnit.SECONDS);
      cluster.stop("n4");
      FerryServer leader = cluster.server(cluster.leader(T));
      try (AdminClient a =
          AdminClient.connect(
              leader.self(),
              AdminClient.groupId(cluster.clusterName()),
              cluster.secret(),
              null,
              "test")) {
        List<String> staged = a.status().staged();
        assertTrue(
            staged.size() == 1 && staged.get(0).startsWith("n4 (last answered "),
            "the leader reports n4 staged: " + staged);
      }

      ExecutionException e =
          assertThrows(ExecutionException.class, () -> add.get(T.toSeconds(), TimeUnit.SECONDS));
      assertInstanceOf(MembershipTimeoutException.class, e.getCause());
      assertTrue(
          e.getCause().getMessage().contains("the leader stages n4 (last answered"),
          e.getCause().getMessage());
      assertTrue(conf().getCurrentPeers(RaftPeerRole.LISTENER).isEmpty(), "n4 removed");

      sendRate(0);
      FerryServer n5 = cluster.startListener("n5", KvStateMachine::new);
      AddResult r =
          admin.addMember(new AddRequest(n5.self(), T)).get(T.toSeconds(), TimeUnit.SECONDS);
      assertEquals("n5", r.nodeId());
    }
  }

  /**
   * Finding 5: a joiner that was dropped from the configuration while it could not be told (here:
   * removed by a plain Ratis configuration change, as an undo whose RETIRE did not reach a paused
   * node) ran on forever outside the cluster. Now it finds out, confirms with the leader, says so,
   * stops and wipes its never-verified state.
   */
  @Test
  void aJoinerDroppedWithoutBeingToldStopsAndWipesItsState() throws Exception {
    try (KvClient c = start()) {
      load(c);
      FerryServer n4 = cluster.startListener("n4", KvStateMachine::new);
      RaftConfiguration before = conf();
      List<RaftPeer> voters = new ArrayList<>(before.getCurrentPeers(RaftPeerRole.FOLLOWER));
      RaftPeer listener = RaftPeers.toRaftPeer(n4.self(), RaftPeerRole.LISTENER);
      setConf(c, voters, List.of(), voters, List.of(listener));
      assertEquals(Set.of("n4"), ids(conf().getCurrentPeers(RaftPeerRole.LISTENER)));
      long index = cluster.applied(cluster.leader(T));
      LocalCluster.await(T, () -> cluster.applied("n4") >= index, "n4 to catch up as listener");

      setConf(c, voters, List.of(listener), voters, List.of());
      String why = n4.retired().get(T.toSeconds(), TimeUnit.SECONDS);
      assertTrue(why.contains("not in the cluster's configuration"), why);
      assertTrue(why.contains("never verified"), why);
      try (var files = Files.list(cluster.dataDir("n4"))) {
        assertEquals(List.of(), files.toList(), "n4 wiped its unverified state");
      }
    }
  }

  /**
   * Changes the configuration with a plain Ratis compare-and-set, sent again until the leader has
   * the new one (a staged change outlasts the client's retries).
   */
  private void setConf(
      KvClient c,
      List<RaftPeer> voters,
      List<RaftPeer> listeners,
      List<RaftPeer> newVoters,
      List<RaftPeer> newListeners)
      throws IOException {
    SetConfigurationRequest.Arguments change =
        SetConfigurationRequest.Arguments.newBuilder()
            .setMode(SetConfigurationRequest.Mode.COMPARE_AND_SET)
            .setServersInCurrentConf(voters)
            .setListenersInCurrentConf(listeners)
            .setServersInNewConf(newVoters)
            .setListenersInNewConf(newListeners)
            .build();
    LocalCluster.await(
        T,
        () -> {
          try {
            RaftConfiguration now = conf();
            if (ids(now.getCurrentPeers(RaftPeerRole.LISTENER)).equals(ids(newListeners))) {
              return true;
            }
            c.raftClient().admin().setConfiguration(change);
          } catch (IOException | RuntimeException e) {
            // Refused while Ratis stages the change or times out the request: asked again.
          }
          return false;
        },
        "the configuration change to " + newListeners);
  }
}
