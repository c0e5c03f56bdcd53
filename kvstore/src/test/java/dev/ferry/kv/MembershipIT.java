package dev.ferry.kv;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.kv.admin.AddRequest;
import dev.ferry.kv.admin.AddResult;
import dev.ferry.kv.admin.MemberDigestMismatchException;
import dev.ferry.kv.admin.MembershipAdmin;
import dev.ferry.kv.admin.MembershipConflictException;
import dev.ferry.kv.admin.MembershipTimeoutException;
import dev.ferry.kv.admin.RemoveRequest;
import dev.ferry.kv.admin.RemoveResult;
import dev.ferry.kv.testing.LocalCluster;
import dev.ferry.raft.FerryServer;
import dev.ferry.raft.install.InstallReport;
import dev.ferry.statemachine.DigestAt;
import dev.ferry.statemachine.StateMachineConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.apache.ratis.proto.RaftProtos.RaftPeerRole;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.server.RaftConfiguration;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Membership changes with the digest gate, on an in-process cluster of real Ratis nodes. */
class MembershipIT {
  private static final Duration T = Duration.ofSeconds(60);
  private static final int KEYS = 6_000;
  private static final byte[] POISON = "poison".getBytes(StandardCharsets.UTF_8);

  @TempDir Path dir;
  private LocalCluster cluster;

  @AfterEach
  void tearDown() throws Exception {
    if (cluster != null) {
      cluster.close();
    }
  }

  private void start() throws IOException {
    cluster =
        LocalCluster.start(dir, 3, StateMachineConfig.defaults().withCaptureEvery(200, 1L << 40));
  }

  /** {@link #KEYS} keys of random 1 KiB values, 20 per command: some 300 log entries. */
  private static void load(KvClient c) throws IOException {
    Random rnd = new Random(1);
    List<byte[][]> batch = new ArrayList<>();
    for (int i = 0; i < KEYS; i++) {
      byte[] v = new byte[1024];
      rnd.nextBytes(v);
      batch.add(new byte[][] {String.format("key-%06d", i).getBytes(StandardCharsets.UTF_8), v});
      if (batch.size() == 20) {
        c.putAll(batch);
        batch = new ArrayList<>();
      }
    }
  }

  /** The configuration as the current leader holds it. */
  private RaftConfiguration conf() throws IOException {
    FerryServer s = cluster.server(cluster.leader(T));
    return s.raftServer().getDivision(s.group().getGroupId()).getRaftConf();
  }

  private static Set<String> ids(java.util.Collection<RaftPeer> peers) {
    return peers.stream().map(p -> p.getId().toString()).collect(Collectors.toSet());
  }

  private static <T> T get(CompletableFuture<T> f) throws Exception {
    return f.get(T.toSeconds() + 30, TimeUnit.SECONDS);
  }

  @Test
  void aFourthNodeJoinsAsAVoterWithTheVotersDigest() throws Exception {
    start();
    try (KvClient c = cluster.client(T)) {
      load(c);
      FerryServer n4 = cluster.startListener("n4", KvStateMachine::new);
      MembershipAdmin admin = MembershipAdmin.create(c);
      AddResult r = get(admin.addMember(new AddRequest(n4.self(), T)));

      RaftConfiguration conf = conf();
      assertEquals(Set.of("n1", "n2", "n3", "n4"), ids(conf.getCurrentPeers()), "voters");
      assertTrue(conf.getCurrentPeers(RaftPeerRole.LISTENER).isEmpty(), "no listener left");
      assertTrue(conf.getPreviousPeers().isEmpty(), "the change committed");
      for (String id : List.of("n1", "n2", "n3", "n4")) {
        DigestAt d = cluster.stateMachine(id).checkpoint(r.checkpointId()).orElseThrow();
        assertEquals(r.verified(), d, id + " recorded the verified digest");
      }
      assertEquals(KEYS + 1, cluster.stateMachine("n4").size(), "n4 holds every key");
      assertTrue(r.total().compareTo(T) < 0, "within the deadline: " + r);
      InstallReport install = n4.installer().orElseThrow().lastReport();
      System.out.println("add: " + r + "\ninstall: " + install);

      // The new voter takes part: a write commits and reaches it.
      c.put("after".getBytes(StandardCharsets.UTF_8), new byte[] {1});
      DigestAt after = c.checkpoint(r.checkpointId() + 1);
      assertEquals(after, c.checkpointOn("n4", r.checkpointId() + 1, after.index()));
    }
  }

  @Test
  void aNodeWithCorruptStateIsRefusedAndRemoved() throws Exception {
    start();
    try (KvClient c = cluster.client(T)) {
      load(c);
      FerryServer n4 =
          cluster.startListener("n4", cfg -> KvStateMachine.corruptingForTest(cfg, POISON));
      // Written after every snapshot so far: n4 applies it from the log, after its install, and
      // stores a wrong value.
      c.put(POISON, new byte[] {42});
      MembershipAdmin admin = MembershipAdmin.create(c);
      ExecutionException e =
          assertThrows(
              ExecutionException.class, () -> get(admin.addMember(new AddRequest(n4.self(), T))));
      MemberDigestMismatchException m =
          assertInstanceOf(MemberDigestMismatchException.class, e.getCause());
      assertEquals("n4", m.nodeId());
      assertNotEquals(m.expected(), m.actual());
      assertTrue(m.getMessage().contains(m.expected().toHex()), m.getMessage());
      assertTrue(m.getMessage().contains(m.actual().toHex()), m.getMessage());
      assertTrue(m.getMessage().contains("index " + m.index()), m.getMessage());

      RaftConfiguration conf = conf();
      assertEquals(Set.of("n1", "n2", "n3"), ids(conf.getCurrentPeers()), "voters unchanged");
      assertTrue(conf.getCurrentPeers(RaftPeerRole.LISTENER).isEmpty(), "n4 removed");
      assertArrayEquals(new byte[] {42}, c.get(POISON), "the cluster itself is intact");
    }
  }

  @Test
  void removeAFollowerThenTheLeader() throws Exception {
    start();
    try (KvClient c = cluster.client(T)) {
      MembershipAdmin admin = MembershipAdmin.create(c);
      String leader = cluster.leader(T);
      String follower =
          cluster.running().stream().filter(id -> !id.equals(leader)).findFirst().orElseThrow();

      RemoveResult r1 = get(admin.removeMember(new RemoveRequest(follower, T)));
      assertEquals(RemoveResult.Outcome.REMOVED_VOTER, r1.outcome());
      assertFalse(r1.leadershipTransferred());
      assertFalse(ids(conf().getCurrentPeers()).contains(follower));
      assertEquals(2, conf().getCurrentPeers().size());
      cluster.stop(follower);
      c.put("k1".getBytes(StandardCharsets.UTF_8), new byte[] {1});

      String leaderNow = cluster.leader(T);
      RemoveResult r2 = get(admin.removeMember(new RemoveRequest(leaderNow, T)));
      assertEquals(RemoveResult.Outcome.REMOVED_VOTER, r2.outcome());
      assertTrue(r2.leadershipTransferred(), "leadership moved first: " + r2);
      assertNotEquals(leaderNow, r2.leaderAfter());
      cluster.stop(leaderNow);
      assertEquals(Set.of(r2.leaderAfter()), ids(conf().getCurrentPeers()));
      assertEquals(r2.leaderAfter(), cluster.leader(T));

      c.put("k2".getBytes(StandardCharsets.UTF_8), new byte[] {2});
      assertArrayEquals(new byte[] {2}, c.get("k2".getBytes(StandardCharsets.UTF_8)));

      RemoveResult r3 = get(admin.removeMember(new RemoveRequest(follower, T)));
      assertEquals(RemoveResult.Outcome.NOT_A_MEMBER, r3.outcome(), "already gone");
      ExecutionException last =
          assertThrows(
              ExecutionException.class,
              () -> get(admin.removeMember(new RemoveRequest(r2.leaderAfter(), T))));
      assertInstanceOf(IllegalArgumentException.class, last.getCause(), "the only voter stays");
    }
  }

  @Test
  void aNodeThatNeverCatchesUpTimesOutAndIsRemoved() throws Exception {
    StateMachineConfig d = StateMachineConfig.defaults();
    // Ratis's staging timeout is the install deadline: 4 s, so the staged add of a dead node fails
    // in Ratis too, and the rollback can then commit.
    cluster =
        LocalCluster.start(
            dir,
            3,
            new StateMachineConfig(
                200,
                1L << 40,
                d.sessionIdleEntries(),
                d.maxOutstandingPerSession(),
                d.maxRunsPerShard(),
                d.retainSnapshots(),
                d.zstdLevel(),
                d.captureBytesPerSecond(),
                Duration.ofSeconds(4)));
    try (KvClient c = cluster.client(T)) {
      FerryServer n4 = cluster.startListener("n4", KvStateMachine::new);
      cluster.stop("n4"); // Never answers: it cannot install nor catch up.
      MembershipAdmin admin = MembershipAdmin.create(c);
      long t0 = System.nanoTime();
      ExecutionException e =
          assertThrows(
              ExecutionException.class,
              () -> get(admin.addMember(new AddRequest(n4.self(), Duration.ofSeconds(3)))));
      assertInstanceOf(MembershipTimeoutException.class, e.getCause());
      assertEquals(0, e.getCause().getSuppressed().length, "the rollback succeeded");
      RaftConfiguration conf = conf();
      assertEquals(Set.of("n1", "n2", "n3"), ids(conf.getCurrentPeers()));
      assertTrue(conf.getCurrentPeers(RaftPeerRole.LISTENER).isEmpty(), "n4 removed");
      System.out.println(
          "timeout path took " + (System.nanoTime() - t0) / 1_000_000 + " ms: " + e.getCause());
      c.put("k".getBytes(StandardCharsets.UTF_8), new byte[] {1});
    }
  }

  @Test
  void aSecondConcurrentChangeIsRefused() throws Exception {
    start();
    try (KvClient c = cluster.client(T)) {
      load(c);
      FerryServer n4 = cluster.startListener("n4", KvStateMachine::new);
      FerryServer n5 = cluster.startListener("n5", KvStateMachine::new);
      MembershipAdmin admin = MembershipAdmin.create(c);
      CompletableFuture<AddResult> first = admin.addMember(new AddRequest(n4.self(), T));
      CompletableFuture<AddResult> second = admin.addMember(new AddRequest(n5.self(), T));
      CompletableFuture<RemoveResult> third = admin.removeMember(new RemoveRequest("n1", T));
      for (CompletableFuture<?> refused : List.of(second, third)) {
        assertTrue(refused.isCompletedExceptionally(), "refused at once");
        ExecutionException e = assertThrows(ExecutionException.class, () -> get(refused));
        assertInstanceOf(MembershipConflictException.class, e.getCause());
        assertTrue(e.getCause().getMessage().contains("add n4"), e.getCause().getMessage());
      }
      get(first);
      assertEquals(Set.of("n1", "n2", "n3", "n4"), ids(conf().getCurrentPeers()));
      // Once the first is done, the next change is accepted.
      get(admin.addMember(new AddRequest(n5.self(), T)));
      assertEquals(Set.of("n1", "n2", "n3", "n4", "n5"), ids(conf().getCurrentPeers()));
    }
  }
}
