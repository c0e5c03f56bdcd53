package dev.ferry.raft;

import dev.ferry.shipping.PeerAddress;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import org.apache.ratis.proto.RaftProtos.RaftPeerRole;
import org.apache.ratis.proto.RaftProtos.RoleInfoProto;
import org.apache.ratis.proto.RaftProtos.ServerRpcProto;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftPeer;

/**
 * A {@link PeerAddress} as it travels in the Raft configuration: the encoding ({@link #toRaftPeer})
 * next to its decoder ({@link #fromRaftPeer}), for the server, membership and clients alike.
 * Stateless; both methods may be called from any thread.
 */
public final class RaftPeers {
  private RaftPeers() {}

  /**
   * The peers a leader's role {@code role} lists as followers that its configuration does not name
   * ({@code named} is false): the nodes Ratis stages for a configuration change that has not
   * committed yet, each as {@code id (last answered N ms ago)}. Empty for a role other than leader.
   */
  public static List<String> staged(RoleInfoProto role, Predicate<String> named) {
    List<String> out = new ArrayList<>();
    lastAnswered(role)
        .forEach(
            (id, ms) -> {
              if (!named.test(id)) {
                out.add(id + " (last answered " + ms + " ms ago)");
              }
            });
    return List.copyOf(out);
  }

  /**
   * How long ago, in milliseconds, each follower a leader's role {@code role} lists last answered
   * it (an append or a heartbeat: Ratis's {@code FollowerInfo.getLastRpcResponseTime}), by id, in
   * the role's order. Empty for a role other than leader.
   */
  public static Map<String, Long> lastAnswered(RoleInfoProto role) {
    Map<String, Long> out = new LinkedHashMap<>();
    for (ServerRpcProto f : role.getLeaderInfo().getFollowerInfoList()) {
      out.put(f.getId().getId().toStringUtf8(), f.getLastRpcElapsedTimeMs());
    }
    return Collections.unmodifiableMap(out);
  }

  /**
   * The Raft group of cluster {@code clusterName} ({@link FerryServer#groupId}) with {@code peers}
   * as followers: what a client of the cluster talks to.
   */
  public static RaftGroup group(String clusterName, List<PeerAddress> peers) {
    List<RaftPeer> raftPeers = new ArrayList<>();
    for (PeerAddress p : peers) {
      raftPeers.add(toRaftPeer(p, RaftPeerRole.FOLLOWER));
    }
    return RaftGroup.valueOf(FerryServer.groupId(clusterName), raftPeers);
  }

  /**
   * Converts a peer to Ratis's form, with a startup role. The service (chunk) port travels in the
   * Raft configuration as the peer's (otherwise unused) data-stream address, {@code
   * host:chunkPort}, so every member knows where to fetch chunks from, members added later included
   * ({@link #fromRaftPeer} reads it back).
   */
  public static RaftPeer toRaftPeer(PeerAddress p, RaftPeerRole role) {
    return RaftPeer.newBuilder()
        .setId(p.id())
        .setAddress(p.raftAddress())
        .setDataStreamAddress(p.host() + ":" + p.chunkPort())
        .setStartupRole(role)
        .build();
  }

  /**
   * The address of a peer as it travels in the Raft configuration ({@link #toRaftPeer}): Raft
   * address {@code host:raftPort}, data-stream address {@code host:chunkPort} (or, written by an
   * older node, {@code host:chunkPort:adminPort}: the admin port is ignored).
   *
   * @throws IllegalArgumentException if the addresses are malformed
   */
  public static PeerAddress fromRaftPeer(RaftPeer p) {
    String id = p.getId().toString();
    String raft = p.getAddress();
    String chunk = p.getDataStreamAddress();
    if (raft == null || raft.lastIndexOf(':') < 1) {
      throw new IllegalArgumentException("peer " + id + ": bad Raft address " + raft);
    }
    String host = raft.substring(0, raft.lastIndexOf(':'));
    int raftPort = number(id, raft.substring(raft.lastIndexOf(':') + 1));
    if (chunk == null || chunk.isEmpty()) {
      return PeerAddress.of(id, host, raftPort);
    }
    String[] parts = chunk.substring(host.length()).split(":");
    if (!chunk.startsWith(host + ":") || parts.length < 2 || parts.length > 3) {
      throw new IllegalArgumentException("peer " + id + ": bad chunk address " + chunk);
    }
    int chunkPort = number(id, parts[1]);
    if (parts.length == 3) {
      number(id, parts[2]); // still well-formed
      PeerAddress.ignoredAdminPort(id + "=" + raft + ":" + chunkPort + ":" + parts[2]);
    }
    return new PeerAddress(id, host, raftPort, chunkPort);
  }

  private static int number(String id, String text) {
    try {
      return Integer.parseInt(text);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException("peer " + id + ": bad port '" + text + "'", e);
    }
  }
}
