package dev.ferry.kv;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.client.internal.RaftTransport;
import dev.ferry.kv.testing.LocalCluster;
import dev.ferry.kv.testing.RatisHooks;
import dev.ferry.raft.FerryServer;
import dev.ferry.raft.RaftPeers;
import dev.ferry.raft.admin.AddRequest;
import dev.ferry.statemachine.StateMachineConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.proto.RaftProtos.AppendEntriesRequestProto;
import org.apache.ratis.proto.RaftProtos.LogEntryProto;
import org.apache.ratis.proto.RaftProtos.RaftConfigurationProto;
import org.apache.ratis.proto.RaftProtos.RaftPeerRole;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.protocol.SetConfigurationRequest;
import org.apache.ratis.server.DivisionInfo;
import org.apache.ratis.server.RaftConfiguration;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.util.CodeInjectionForTesting;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A leader elected on a joint configuration that drops a listener replicates to that listener after
 * the new configuration applies (Ratis 3.3.0; found by the multi-raft chaos runs, seeds 1917 and
 * 2006): the node looks staged for ever and a later add of it never finishes. The leader steps down
 * once that follower has been silent for two staging timeouts, and the next leader starts from the
 * configuration as it is. The state is built exactly: listener n4 is removed while the followers
 * refuse the change's second configuration (Ratis's test hook on the follower's append handler), so
 * they hold the joint one; then the leader and n4 stop. Real three-node cluster in this JVM.
 */
class LeftoverFollowerIT {
  private static final Duration T = Duration.ofSeconds(120);

  @TempDir Path dir;
  private LocalCluster cluster;

  @AfterEach
  void close() throws Exception {
    RatisHooks.clear();
    if (cluster != null) {
      cluster.close();
    }
  }

  @Test
  void aLeaderThatReplicatesToADroppedListenerStepsDownAndTheNextOneDoesNot() throws Exception {
    // A 5 s staging timeout: the leader steps down after 10 s of silence instead of 30 s.
    cluster =
        LocalCluster.start(
            dir,
            3,
            StateMachineConfig.defaults(),
            0,
            null,
            c -> c.setStagingTimeout(Duration.ofSeconds(5)));
    try (KvClient c = cluster.client(T)) {
      for (int i = 0; i < 10; i++) {
        c.put(("k" + i).getBytes(StandardCharsets.UTF_8), new byte[] {(byte) i});
      }
      // n4 joins through the digest gate, then becomes a listener.
      FerryServer n4 = cluster.startListener("n4", KvStateMachine::new);
      admin().addMember(new AddRequest(n4.self(), T), p -> {}).get(T.toSeconds(), TimeUnit.SECONDS);
      admin().demoteToListener(n4.self(), T);
      LocalCluster.await(T, this::everyVoterHasN4AsListener, "every voter to list n4 as listener");
      String leader = cluster.leader(T);
      List<RaftPeer> voters =
          List.copyOf(division(cluster.server(leader)).getRaftConf().getCurrentPeers());

      // The followers refuse the configuration without n4 (and so everything after it).
      AtomicBoolean hold = new AtomicBoolean(true);
      AtomicLong refused = new AtomicLong();
      CodeInjectionForTesting.put(
          RatisHooks.APPEND_ENTRIES,
          (local, remote, args) -> {
            if (hold.get()
                && !"n4".equals(String.valueOf(local))
                && args.length > 1
                && args[1] instanceof AppendEntriesRequestProto r
                && r.getEntriesList().stream().anyMatch(LeftoverFollowerIT::dropsN4)) {
              refused.incrementAndGet();
              throw new IllegalStateException("LeftoverFollowerIT: holding back the new conf");
            }
            return false;
          });
      CompletableFuture<Void> removing =
          CompletableFuture.runAsync(
              () -> {
                try (RaftClient raft =
                    RaftTransport.newRaftClient(
                        cluster.server(leader).group(), RaftPeerId.valueOf(leader), null)) {
                  raft.admin()
                      .setConfiguration(
                          SetConfigurationRequest.Arguments.newBuilder()
                              .setServersInNewConf(voters)
                              .setListenersInNewConf(List.of())
                              .build());
                } catch (IOException e) {
                  // expected: its leader stops before the change completes
                }
              });
      LocalCluster.await(
          T, () -> followersHoldTheJointConf(leader), "the followers to hold the joint conf");
      LocalCluster.await(T, () -> refused.get() > 0, "the new configuration to be held back");
      cluster.stop(leader);
      cluster.stop("n4");
      hold.set(false);
      removing.get(T.toSeconds(), TimeUnit.SECONDS);

      // The next leader, elected on the joint configuration, replicates to n4 (Ratis's leftover).
      LocalCluster.await(T, this::aLeaderReplicatesToUnnamedN4, "a leader replicating to n4");
      long term = leaderDivision().getInfo().getCurrentTerm();
      // It steps down; the leader after it has no appender to n4.
      LocalCluster.await(
          T,
          () -> {
            try {
              return leaderDivision().getInfo().getCurrentTerm() > term
                  && !aLeaderReplicatesToUnnamedN4();
            } catch (IOException | RuntimeException e) {
              return false;
            }
          },
          "the leader to step down and the next one to leave n4 alone");

      // The group's configuration changes as usual: a new node joins through the gate.
      FerryServer n5 = cluster.startListener("n5", KvStateMachine::new);
      admin().addMember(new AddRequest(n5.self(), T), p -> {}).get(T.toSeconds(), TimeUnit.SECONDS);
      RaftConfiguration after = leaderDivision().getRaftConf();
      assertTrue(
          after.getCurrentPeers().stream().anyMatch(p -> p.getId().toString().equals("n5")),
          "n5 votes: " + after);
    }
  }

  private dev.ferry.raft.admin.MembershipAdmin admin() {
    return cluster.server(cluster.leader(T)).membership().orElseThrow();
  }

  /** The new configuration of the removal: stable, without n4. */
  private static boolean dropsN4(LogEntryProto e) {
    if (!e.hasConfigurationEntry()) {
      return false;
    }
    RaftConfigurationProto conf = e.getConfigurationEntry();
    return conf.getOldPeersCount() == 0
        && conf.getOldListenersCount() == 0
        && conf.getListenersList().stream().noneMatch(p -> p.getId().toStringUtf8().equals("n4"));
  }

  private boolean everyVoterHasN4AsListener() {
    for (String id : List.of("n1", "n2", "n3")) {
      try {
        if (division(cluster.server(id))
            .getRaftConf()
            .getCurrentPeers(RaftPeerRole.LISTENER)
            .stream()
            .noneMatch(p -> p.getId().toString().equals("n4"))) {
          return false;
        }
      } catch (IOException e) {
        return false;
      }
    }
    return true;
  }

  private boolean followersHoldTheJointConf(String leader) {
    for (String id : List.of("n1", "n2", "n3")) {
      try {
        if (!id.equals(leader)
            && division(cluster.server(id))
                .getRaftConf()
                .getPreviousPeers(RaftPeerRole.LISTENER)
                .isEmpty()) {
          return false;
        }
      } catch (IOException e) {
        return false;
      }
    }
    return true;
  }

  /**
   * Whether the leader lists n4 as a follower while its configuration (stable) does not name it.
   */
  private boolean aLeaderReplicatesToUnnamedN4() {
    try {
      RaftServer.Division d = leaderDivision();
      DivisionInfo info = d.getInfo();
      RaftConfiguration conf = d.getRaftConf();
      boolean named =
          conf.getAllPeers(RaftPeerRole.FOLLOWER).stream()
                  .anyMatch(p -> p.getId().toString().equals("n4"))
              || conf.getAllPeers(RaftPeerRole.LISTENER).stream()
                  .anyMatch(p -> p.getId().toString().equals("n4"));
      return info.isLeader()
          && !named
          && RaftPeers.lastAnswered(info.getRoleInfoProto()).containsKey("n4");
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  private RaftServer.Division leaderDivision() throws IOException {
    return division(cluster.server(cluster.leader(T)));
  }

  private static RaftServer.Division division(FerryServer s) throws IOException {
    return s.raftServer().getDivision(s.group().getGroupId());
  }
}
