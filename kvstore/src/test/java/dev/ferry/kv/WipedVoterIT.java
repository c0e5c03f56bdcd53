package dev.ferry.kv;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.kv.testing.LocalCluster;
import dev.ferry.raft.FerryServer;
import dev.ferry.raft.admin.PeerIdentity;
import dev.ferry.statemachine.DigestAt;
import dev.ferry.statemachine.StateMachineConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import org.apache.ratis.proto.RaftProtos.RaftPeerRole;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.protocol.SetConfigurationRequest;
import org.apache.ratis.server.RaftConfiguration;
import org.apache.ratis.server.RaftServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A voter whose storage was wiped and that restarts under its old id must not vote until it has
 * been re-added through the digest gate (docs/membership.md, "A voter that lost its disk").
 */
class WipedVoterIT {
  private static final Duration T = Duration.ofSeconds(90);

  @TempDir Path dir;
  private LocalCluster cluster;

  @AfterEach
  void tearDown() throws IOException {
    if (cluster != null) {
      cluster.close();
    }
  }

  private void start() throws IOException {
    cluster =
        LocalCluster.start(dir, 3, StateMachineConfig.defaults().withCaptureEvery(200, 1L << 40));
  }

  private static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void aWipedVoterIsDemotedThenReaddedThroughTheDigestGate() throws Exception {
    start();
    try (KvClient c = cluster.client(T)) {
      for (int i = 0; i < 300; i++) {
        c.put(b("k" + i), b("v" + i));
      }
    }
    awaitIdentitiesLearned();
    String leader = cluster.leader(T);
    String wiped = cluster.follower(T);
    String oldStorage = cluster.server(wiped).storageId();
    cluster.stop(wiped);
    cluster.wipe(wiped);

    FerryServer restarted = cluster.start(wiped);
    // Its Raft server is built only once the leader no longer counts it as a voter.
    restarted.raftServer();
    assertNotEquals(
        Optional.of(PeerIdentity.MemberRole.VOTER),
        roleIn(leaderConf(), wiped),
        "the wiped node's Raft server started while the leader still counted it as a voter");
    assertTrue(restarted.rejoining(), "the wiped node runs as a listener until re-added");
    assertNotEquals(oldStorage, restarted.storageId());

    LocalCluster.await(
        T,
        () ->
            !restarted.rejoining()
                && roleIn(leaderConf(), wiped).equals(Optional.of(PeerIdentity.MemberRole.VOTER)),
        wiped + " re-added as a voter");
    try (KvClient c = cluster.client(T)) {
      c.put(b("after"), b("readd"));
      assertArrayEquals(b("v7"), c.getStale(b("k7"), wiped));
    }
    awaitSameDigest(List.of(cluster.leader(T), wiped));
    // Its peers learn its new identity once it is a voter again.
    LocalCluster.await(
        T,
        () -> cluster.recordedIdentity(leader, wiped).equals(Optional.of(restarted.storageId())),
        leader + " records the new storage identity of " + wiped);
  }

  /**
   * A quiet cluster: nothing written after the wipe (but what the rejoin itself writes), no capture
   * before it, and the leader's log still holds everything the wiped node had acknowledged: it is
   * sent the log (or a baseline to install) and re-added all the same.
   */
  @Test
  void aWipedVoterInAQuietClusterIsSentTheLogAndReadded() throws Exception {
    start();
    try (KvClient c = cluster.client(T)) {
      for (int i = 0; i < 20; i++) {
        c.put(b("k" + i), b("v" + i));
      }
    }
    awaitIdentitiesLearned();
    String wiped = cluster.follower(T);
    long acknowledged = cluster.replica(wiped).digest().join().index();
    cluster.stop(wiped);
    cluster.wipe(wiped);

    FerryServer restarted = cluster.start(wiped);
    restarted.raftServer();
    assertTrue(restarted.rejoining(), "the wiped node runs as a listener until re-added");
    long logStart = leaderDivision().getRaftLog().getStartIndex();
    assertTrue(
        logStart <= acknowledged,
        "the leader's log starts at " + logStart + ", past what the wiped node acknowledged");

    LocalCluster.await(
        T,
        () ->
            !restarted.rejoining()
                && roleIn(leaderConf(), wiped).equals(Optional.of(PeerIdentity.MemberRole.VOTER)),
        wiped + " re-added as a voter");
    awaitSameDigest(List.of(cluster.leader(T), wiped));
    try (KvClient c = cluster.clientOf(wiped, T)) {
      assertArrayEquals(b("v7"), c.getStale(b("k7"), wiped));
    }
  }

  /**
   * A wiped node the configuration has as a listener that had caught up (a rejoining node wiped
   * again; here moved to the listeners by hand): the leader's replication to it had matched its
   * whole log, so in a quiet cluster the leader only sent it heartbeats, which the empty node
   * refuses, without ever going back below the old match index. Taken out of the configuration and
   * added back as a listener, it is sent the log like any joiner.
   */
  @Test
  void aWipedNodeThatHadCaughtUpAsAListenerIsReaddedInAQuietCluster() throws Exception {
    start();
    String wiped;
    try (KvClient c = cluster.client(T)) {
      for (int i = 0; i < 20; i++) {
        c.put(b("k" + i), b("v" + i));
      }
      awaitIdentitiesLearned();
      wiped = cluster.follower(T);
      moveToListeners(c, wiped);
    }
    LocalCluster.await(
        T,
        () -> cluster.applied(wiped) >= leaderDivision().getRaftLog().getLastCommittedIndex(),
        wiped + " caught up as a listener");
    cluster.stop(wiped);
    cluster.wipe(wiped);

    FerryServer restarted = cluster.start(wiped);
    restarted.raftServer();
    assertTrue(restarted.rejoining(), "the wiped node runs as a listener until re-added");
    LocalCluster.await(
        T,
        () ->
            !restarted.rejoining()
                && roleIn(leaderConf(), wiped).equals(Optional.of(PeerIdentity.MemberRole.VOTER)),
        wiped + " re-added as a voter");
    awaitSameDigest(List.of(cluster.leader(T), wiped));
    try (KvClient c = cluster.clientOf(wiped, T)) {
      assertArrayEquals(b("v7"), c.getStale(b("k7"), wiped));
    }
  }

  /** Moves voter {@code id} to the listeners with a plain Ratis compare-and-set. */
  private void moveToListeners(KvClient c, String id) {
    RaftConfiguration conf = leaderConf();
    List<RaftPeer> voters = List.copyOf(conf.getCurrentPeers(RaftPeerRole.FOLLOWER));
    RaftPeer node =
        voters.stream().filter(p -> p.getId().toString().equals(id)).findFirst().orElseThrow();
    SetConfigurationRequest.Arguments change =
        SetConfigurationRequest.Arguments.newBuilder()
            .setMode(SetConfigurationRequest.Mode.COMPARE_AND_SET)
            .setServersInCurrentConf(voters)
            .setListenersInCurrentConf(List.of())
            .setServersInNewConf(voters.stream().filter(p -> p != node).toList())
            .setListenersInNewConf(
                List.of(RaftPeer.newBuilder(node).setStartupRole(RaftPeerRole.LISTENER).build()))
            .build();
    LocalCluster.await(
        T,
        () -> {
          if (roleIn(leaderConf(), id).equals(Optional.of(PeerIdentity.MemberRole.LISTENER))) {
            return true;
          }
          try {
            c.raftClient().admin().setConfiguration(change);
          } catch (IOException | RuntimeException e) {
            // Refused while Ratis finishes a change or times out the request: asked again.
          }
          return false;
        },
        id + " moved to the listeners");
  }

  /**
   * The hazard itself: an entry acknowledged by the leader and the node then wiped, not by the
   * stale follower; the leader stops; the stale follower must not win an election with the wiped
   * node's vote, so the entry survives once the old leader is back.
   */
  @Test
  void aStaleFollowerCannotWinWithTheWipedVotersVote() throws Exception {
    start();
    awaitIdentitiesLearned();
    String leader = cluster.leader(T);
    List<String> followers = cluster.running().stream().filter(id -> !id.equals(leader)).toList();
    String stale = followers.get(0);
    String wiped = followers.get(1);
    cluster.stop(stale);
    try (KvClient c = cluster.client(T)) {
      assertFalse(c.put(b("acknowledged"), b("by the leader and the wiped node")), "a new key");
    }
    cluster.stop(wiped);
    cluster.wipe(wiped);
    cluster.stop(leader);
    cluster.start(stale);
    FerryServer w = cluster.start(wiped);

    // Without the guard the stale follower wins within a few election timeouts (1.5-3 s) with the
    // empty node's vote; with it, nobody may lead until the old leader is back.
    long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(12);
    while (System.nanoTime() < end) {
      assertFalse(cluster.server(stale).isLeader(), stale + " lacks a committed entry but leads");
      assertFalse(w.isLeader(), wiped + " leads on an empty log");
      Thread.sleep(50);
    }
    assertTrue(w.rejoining(), wiped + " knows it was wiped");

    cluster.start(leader);
    try (KvClient c = cluster.client(T)) {
      assertArrayEquals(b("by the leader and the wiped node"), c.get(b("acknowledged")));
    }
    LocalCluster.await(
        T,
        () ->
            !w.rejoining()
                && roleIn(leaderConf(), wiped).equals(Optional.of(PeerIdentity.MemberRole.VOTER)),
        wiped + " re-added as a voter");
    try (KvClient c = cluster.clientOf(wiped, T)) {
      assertArrayEquals(
          b("by the leader and the wiped node"), c.getStale(b("acknowledged"), wiped));
    }
  }

  /** Waits until every running node recorded every other's storage identity. */
  private void awaitIdentitiesLearned() {
    for (String id : cluster.running()) {
      cluster.awaitStorageIdentityKnown(id, T);
    }
  }

  private RaftConfiguration leaderConf() {
    return leaderDivision().getRaftConf();
  }

  private RaftServer.Division leaderDivision() {
    try {
      FerryServer s = cluster.server(cluster.leader(T));
      return s.raftServer().getDivision(s.group().getGroupId());
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  private static Optional<PeerIdentity.MemberRole> roleIn(RaftConfiguration conf, String id) {
    RaftPeerId p = RaftPeerId.valueOf(id);
    if (conf.getCurrentPeers(RaftPeerRole.FOLLOWER).stream().anyMatch(r -> r.getId().equals(p))) {
      return Optional.of(PeerIdentity.MemberRole.VOTER);
    }
    if (conf.getCurrentPeers(RaftPeerRole.LISTENER).stream().anyMatch(r -> r.getId().equals(p))) {
      return Optional.of(PeerIdentity.MemberRole.LISTENER);
    }
    return Optional.empty();
  }

  private void awaitSameDigest(List<String> ids) {
    LocalCluster.await(
        T,
        () -> {
          DigestAt first = null;
          for (String id : ids) {
            DigestAt d = cluster.replica(id).digest().join();
            if (first == null) {
              first = d;
            } else if (d.index() != first.index() || !d.digest().equals(first.digest())) {
              return false;
            }
          }
          return true;
        },
        "the same digest on " + ids);
  }
}
