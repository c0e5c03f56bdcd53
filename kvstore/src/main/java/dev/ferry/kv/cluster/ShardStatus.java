package dev.ferry.kv.cluster;

import dev.ferry.kv.shard.ClusterLayout;
import dev.ferry.kv.shard.Range;
import dev.ferry.raft.ClusterSecret;
import dev.ferry.raft.admin.AdminClient;
import dev.ferry.raft.admin.NodeStatus;
import dev.ferry.shipping.PeerAddress;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.locks.LockSupport;

/**
 * What the nodes of a sharded cluster report about its ranges, as opposed to what its map says:
 * each range's group as its leader sees it (voters, listeners, pending change) and the groups each
 * node hosts. For the demo's layout tables and the process tests' checks.
 *
 * <p>Asks over the nodes' admin service (the cluster secret, no TLS); every call blocks on the
 * network. Stateless; thread-safe.
 */
public final class ShardStatus {
  private static final String CLIENT_ID = "ferry-shard-status";
  private static final Duration POLL = Duration.ofMillis(100);

  private ShardStatus() {}

  /**
   * One range's group as its leader reports it.
   *
   * @param range the range (as the layout asked about it gives it)
   * @param leader the node id of the group's leader
   * @param leaderStatus the leader's whole status (members, pending change, indexes)
   */
  public record GroupView(Range range, String leader, NodeStatus leaderStatus) {
    public GroupView {
      Objects.requireNonNull(range, "range");
      Objects.requireNonNull(leader, "leader");
      Objects.requireNonNull(leaderStatus, "leaderStatus");
    }

    /** The group's voters, sorted. */
    public List<String> voters() {
      return leaderStatus.members().stream()
          .filter(NodeStatus.Member::voter)
          .map(NodeStatus.Member::id)
          .sorted()
          .toList();
    }

    /** The group's non-voting members (listeners), sorted. */
    public List<String> listeners() {
      return leaderStatus.members().stream()
          .filter(m -> !m.voter())
          .map(NodeStatus.Member::id)
          .sorted()
          .toList();
    }
  }

  /**
   * The group of {@code range} as its leader reports it, asking every node of {@code layout} (a
   * replica not in the map, e.g. during a move, is found too); waits up to {@code timeout} for a
   * leader to answer.
   *
   * @throws IOException if no node reports being the group's leader within {@code timeout} (with
   *     what the nodes answered)
   */
  public static GroupView group(
      ClusterLayout layout, Range range, ClusterSecret secret, Duration timeout)
      throws IOException {
    String gid = AdminClient.groupId(range.group());
    long deadline = System.nanoTime() + timeout.toNanos();
    Map<String, String> answers = new LinkedHashMap<>();
    while (true) {
      for (PeerAddress p : layout.nodes()) {
        try (AdminClient c = AdminClient.connect(p, gid, secret, null, CLIENT_ID)) {
          NodeStatus s = c.status();
          if (s.role().equals("LEADER")) {
            return new GroupView(range, s.id(), s);
          }
          answers.put(p.id(), s.role());
        } catch (IOException | RuntimeException e) {
          answers.put(p.id(), String.valueOf(e.getMessage()));
        }
      }
      if (System.nanoTime() > deadline) {
        throw new IOException(
            "no leader of " + range.group() + " answered within " + timeout + ": " + answers);
      }
      LockSupport.parkNanos(POLL.toNanos());
    }
  }

  /** {@link #group} of every range of {@code layout}, in range order. */
  public static List<GroupView> groups(ClusterLayout layout, ClusterSecret secret, Duration timeout)
      throws IOException {
    List<GroupView> out = new ArrayList<>();
    for (Range r : layout.ranges()) {
      out.add(group(layout, r, secret, timeout));
    }
    return out;
  }

  /**
   * The names of the groups node {@code node} hosts now, sorted (its node-level admin request).
   *
   * @throws IOException if the node cannot be reached
   */
  public static List<String> hostedGroups(PeerAddress node, ClusterSecret secret)
      throws IOException {
    try (AdminClient c = AdminClient.connectNode(node, secret, null, CLIENT_ID)) {
      return c.hostedGroups();
    }
  }
}
