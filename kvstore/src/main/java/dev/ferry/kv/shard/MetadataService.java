package dev.ferry.kv.shard;

import dev.ferry.raft.ClusterSecret;
import dev.ferry.raft.FerryNode;
import dev.ferry.raft.FerryServer;
import dev.ferry.raft.GroupSpec;
import dev.ferry.raft.TlsFiles;
import dev.ferry.raft.admin.AdminClient;
import dev.ferry.raft.admin.AdminException;
import dev.ferry.raft.admin.NodeStatus;
import dev.ferry.shipping.PeerAddress;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A node's part in its cluster's metadata group ({@code <cluster>.meta}), for the nodes a
 * descriptor's {@code meta} line names: the group's spec to host at the first start ({@link
 * #groupSpec}), and, once the node runs, rounds that seed the group with the descriptor's layout
 * and, on the group's leader, run the {@link MapReconciler} every period.
 *
 * <p>Concurrency: {@link #start} and {@link #close} by the node's owner. The period is kept by the
 * node's shared scheduler ({@link FerryNode#scheduler()}), whose task only hands the round to this
 * service's round runner and returns: a round blocks on the network (reads and compare-and-sets of
 * the metadata group, admin requests to every group), so it runs on one daemon thread of the
 * service's own, which exists only while a round runs (it ends after 10 s idle). At most one round
 * runs at a time: a tick that finds the previous round still running is skipped.
 */
public final class MetadataService implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(MetadataService.class);

  /** The reconciler's period when {@code ferry server --map} runs it. */
  public static final Duration DEFAULT_PERIOD = Duration.ofSeconds(5);

  private final ReplicatedClusterMap map;
  private final ThreadPoolExecutor rounds;
  private final ScheduledFuture<?> ticks;

  private MetadataService(
      ReplicatedClusterMap map, ThreadPoolExecutor rounds, ScheduledFuture<?> ticks) {
    this.map = map;
    this.rounds = rounds;
    this.ticks = ticks;
  }

  /** Whether node {@code nodeId} hosts {@code layout}'s metadata group (is on its meta line). */
  public static boolean hosts(ClusterLayout layout, String nodeId) {
    return layout.meta().contains(nodeId);
  }

  /** The metadata group's spec: a new {@link MapStateMachine} on the layout's meta nodes. */
  public static GroupSpec groupSpec(ClusterLayout layout) {
    if (!layout.replicated()) {
      throw new IllegalArgumentException("the map of " + layout.cluster() + " has no meta line");
    }
    return GroupSpec.of(
        ClusterLayout.metaGroupName(layout.cluster()), layout.metaPeers(), new MapStateMachine());
  }

  /**
   * Starts seeding and reconciling on {@code node} (which hosts, or will host, the metadata group):
   * a round at once and every {@code period}. Does not block.
   *
   * @param seed the descriptor's layout
   * @param secret the cluster secret (the reconciler asks groups' admin services for their voters)
   * @param tls the node's TLS files, or null for a cluster without TLS
   */
  public static MetadataService start(
      FerryNode node, ClusterLayout seed, ClusterSecret secret, TlsFiles tls, Duration period) {
    Objects.requireNonNull(node, "node");
    Objects.requireNonNull(secret, "secret");
    if (period.isNegative() || period.isZero()) {
      throw new IllegalArgumentException("period must be positive: " + period);
    }
    String metaGroup = ClusterLayout.metaGroupName(seed.cluster());
    ReplicatedClusterMap map =
        ReplicatedClusterMap.connect(seed, ReplicatedClusterMap.DEFAULT_READ_DEADLINE, tls);
    MapReconciler reconciler =
        new MapReconciler(
            map,
            seed,
            () -> node.group(metaGroup).map(FerryServer::isLeader).orElse(false),
            (l, r) -> voters(l, r, secret, tls, node.self().id()),
            l -> metaVoters(l, node.self(), secret, tls));
    // One thread at most, none while idle; a round handed over while one runs is refused.
    ThreadPoolExecutor rounds =
        new ThreadPoolExecutor(
            0,
            1,
            10,
            TimeUnit.SECONDS,
            new SynchronousQueue<>(),
            task -> {
              Thread t = new Thread(task, "ferry-map-" + node.self().id());
              t.setDaemon(true);
              return t;
            });
    Runnable round =
        () -> {
          try {
            reconciler.runOnce();
          } catch (RuntimeException e) {
            LOG.warn("cluster map round failed", e);
          }
        };
    ScheduledFuture<?> ticks =
        node.scheduler()
            .scheduleWithFixedDelay(
                () -> handOver(rounds, round), 0, period.toMillis(), TimeUnit.MILLISECONDS);
    return new MetadataService(map, rounds, ticks);
  }

  /** Runs on the node's shared scheduler: starts {@code round} unless one is still running. */
  private static void handOver(ThreadPoolExecutor rounds, Runnable round) {
    try {
      rounds.execute(round);
    } catch (RejectedExecutionException e) {
      LOG.debug("cluster map round skipped: the last one is still running or the service closed");
    }
  }

  /** The replicated map this service's rounds use (its cache follows the metadata group). */
  public ReplicatedClusterMap map() {
    return map;
  }

  /**
   * A group's voters as its leader reports them through its admin service: asks the map's replicas
   * of the range in turn, then the map's other nodes (the replicas may all have moved away),
   * following a follower's pointer to the leader once; empty while a change is pending or if none
   * answers.
   */
  static Optional<List<String>> voters(
      ClusterLayout l, Range r, ClusterSecret secret, TlsFiles tls, String clientId)
      throws IOException {
    List<PeerAddress> asked = new ArrayList<>(l.peers(r));
    l.nodes().stream().filter(n -> !r.replicas().contains(n.id())).forEach(asked::add);
    return voters(r.group(), asked, secret, tls, clientId);
  }

  /**
   * The metadata group's own voters as its leader reports them, asking this node ({@code self},
   * which leads it when the reconciler asks) first, then the layout's meta nodes; empty while a
   * change is pending or if none answers.
   */
  static Optional<List<String>> metaVoters(
      ClusterLayout l, PeerAddress self, ClusterSecret secret, TlsFiles tls) throws IOException {
    List<PeerAddress> asked = new ArrayList<>(List.of(self));
    l.metaPeers().stream().filter(p -> !p.id().equals(self.id())).forEach(asked::add);
    return voters(ClusterLayout.metaGroupName(l.cluster()), asked, secret, tls, self.id());
  }

  /** {@code group}'s voters by its leader, asking the nodes {@code asked} in turn. */
  private static Optional<List<String>> voters(
      String group, List<PeerAddress> asked, ClusterSecret secret, TlsFiles tls, String clientId)
      throws IOException {
    String groupId = AdminClient.groupId(group);
    Exception last = null;
    for (PeerAddress p : asked) {
      try {
        NodeStatus st = status(p, groupId, secret, tls, clientId);
        Optional<String> leaderId = st.leader();
        if (!st.role().equals("LEADER") && leaderId.isPresent()) {
          Optional<NodeStatus.Member> leader =
              st.members().stream().filter(m -> m.id().equals(leaderId.get())).findFirst();
          if (leader.isEmpty()) {
            continue;
          }
          st = status(PeerAddress.parse(leader.get().address()), groupId, secret, tls, clientId);
        }
        if (!st.role().equals("LEADER") || st.pending().isPresent() || !st.staged().isEmpty()) {
          return Optional.empty();
        }
        return Optional.of(
            st.members().stream()
                .filter(NodeStatus.Member::voter)
                .map(NodeStatus.Member::id)
                .sorted()
                .toList());
      } catch (IOException | AdminException e) {
        // Not reachable, or does not host the group (UNKNOWN_GROUP): ask the next node.
        last = e;
      }
    }
    if (last != null) {
      throw new IOException("no node answered with " + group + "'s configuration", last);
    }
    return Optional.empty();
  }

  private static NodeStatus status(
      PeerAddress p, String groupId, ClusterSecret secret, TlsFiles tls, String clientId)
      throws IOException {
    try (AdminClient a = AdminClient.connect(p, groupId, secret, tls, "map-" + clientId)) {
      return a.status();
    }
  }

  /**
   * Stops the rounds (a running one is interrupted, and waited for up to 5 s) and closes the map's
   * client. Idempotent.
   */
  @Override
  public void close() {
    ticks.cancel(false);
    rounds.shutdownNow();
    try {
      rounds.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    map.close();
  }
}
