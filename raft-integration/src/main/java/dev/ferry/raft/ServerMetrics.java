package dev.ferry.raft;

import dev.ferry.raft.admin.MembershipAdmin;
import dev.ferry.shipping.chunks.ChunkServer;
import dev.ferry.shipping.chunks.ChunkServerStats;
import dev.ferry.shipping.install.InstallProgress;
import dev.ferry.shipping.install.MultiSourceInstaller;
import dev.ferry.shipping.install.TransferPriority;
import dev.ferry.shipping.install.TransferScheduler;
import dev.ferry.shipping.metrics.LabelledCounts;
import dev.ferry.shipping.metrics.NodeMetrics;
import dev.ferry.snapshot.store.StoreStats;
import dev.ferry.statemachine.RetentionHold;
import dev.ferry.statemachine.SnapshotStats;
import dev.ferry.statemachine.replica.Replica;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.function.DoubleSupplier;
import java.util.function.Function;
import java.util.function.LongSupplier;
import java.util.function.Supplier;
import java.util.function.ToLongFunction;
import org.apache.ratis.proto.RaftProtos.RaftPeerRole;
import org.apache.ratis.proto.RaftProtos.RoleInfoProto;
import org.apache.ratis.proto.RaftProtos.ServerRpcProto;
import org.apache.ratis.server.DivisionInfo;
import org.apache.ratis.server.RaftServer;

/**
 * Registers a node's statistics in its {@link NodeMetrics}, read at scrape time from where they are
 * kept: the Ratis division's info and log (role, term, indices, followers' match indices), the
 * state machine's snapshot statistics, the chunk store, the chunk service and the membership admin.
 * Series of a group (its Raft division, snapshots, chunk store, admin service, membership) carry
 * the label {@code group} (the cluster name); those of the node's chunk service only {@code node}.
 * A {@link FerryNode} registers each group's series in a registry of the group's own and the chunk
 * service's once in its own ({@link GroupMetrics} merges them). A figure that is not available yet
 * (no snapshot, admin not started, Raft server not running) is simply absent from the scrape.
 *
 * <p>To export a new statistic, add one line to the matching method (see {@link NodeMetrics}).
 */
final class ServerMetrics {
  private static final List<String> GROUP = List.of("group");
  private static final double NANOS = 1e9;

  private final NodeMetrics m;
  private final FerryServer ferry;
  private final String group;

  private ServerMetrics(NodeMetrics m, FerryServer ferry, String group) {
    this.m = m;
    this.ferry = ferry;
    this.group = group;
  }

  /**
   * Registers everything a {@link FerryServer} exports.
   *
   * @param chunkServer the chunk service, or {@code null} without one
   */
  static void register(
      NodeMetrics m, FerryServer ferry, String group, Replica sm, ChunkServer chunkServer) {
    ServerMetrics s = new ServerMetrics(m, ferry, group);
    s.raft(ferry);
    s.snapshots(sm);
    s.store(sm);
    if (chunkServer != null) {
      s.chunkService(chunkServer);
    }
    s.adminService(ferry);
    s.membership(ferry);
  }

  /**
   * Registers the metrics of a node's chunk service, shared by the groups of a {@link FerryNode}.
   */
  static void registerChunkService(NodeMetrics m, ChunkServer chunkServer) {
    new ServerMetrics(m, null, null).chunkService(chunkServer);
  }

  /**
   * Registers the metrics of a node's transfer scheduler ({@link TransferScheduler}), shared by the
   * installs of all its groups: installs running and queued per priority, the limits, the bytes in
   * flight, the decoded chunk bytes kept, and how many installs were admitted after how long a
   * wait.
   */
  static void registerTransferScheduler(NodeMetrics m, TransferScheduler scheduler) {
    List<String> stateAndPriority = List.of("state", "priority");
    m.gauges(
        "ferry_transfer_installs",
        "Snapshot installs of this node's groups running (state=active) or waiting for the node's"
            + " transfer scheduler (state=queued), per priority.",
        stateAndPriority,
        cb -> {
          TransferScheduler.Stats st = scheduler.stats();
          for (TransferPriority p : TransferPriority.values()) {
            cb.call(st.active().get(p), "active", p.label());
            cb.call(st.queued().get(p), "queued", p.label());
          }
        });
    m.gauge(
        "ferry_transfer_installs_max",
        "Installs the node runs at once (more wait in its queue); NaN: unlimited.",
        () -> unlimitedAsNaN(scheduler.stats().maxActiveInstalls(), Integer.MAX_VALUE));
    m.gauge(
        "ferry_transfer_bytes_in_flight",
        "Chunk bytes the node's installs requested and have not written yet.",
        () -> scheduler.stats().bytesInFlight());
    m.gauge(
        "ferry_transfer_bytes_budget",
        "The most chunk bytes the node's installs may have in flight; NaN: unlimited.",
        () -> unlimitedAsNaN(scheduler.stats().bytesBudget(), Long.MAX_VALUE));
    m.gauge(
        "ferry_transfer_decoded_bytes",
        "Decoded chunk bytes the node's installs keep until their shards load.",
        () -> scheduler.stats().decodedBytes());
    m.gauge(
        "ferry_transfer_decoded_bytes_budget",
        "The most decoded chunk bytes the node's installs may keep together; NaN: unlimited.",
        () -> unlimitedAsNaN(scheduler.stats().decodedBudget(), Long.MAX_VALUE));
    m.counters(
        "ferry_transfer_admitted_total",
        "Installs the node's transfer scheduler admitted, per priority.",
        List.of("priority"),
        cb -> scheduler.stats().admittedTotal().forEach((p, n) -> cb.call(n, p.label())));
    m.counters(
        "ferry_transfer_queue_wait_seconds_total",
        "Time the admitted installs waited in the node's queue, summed, per priority.",
        List.of("priority"),
        cb ->
            scheduler.stats().waitedNanosTotal().forEach((p, n) -> cb.call(n / NANOS, p.label())));
  }

  private static double unlimitedAsNaN(long value, long unlimited) {
    return value == unlimited ? Double.NaN : value;
  }

  // ---- Raft ------------------------------------------------------------------------------------

  private void raft(FerryServer ferry) {
    m.gauges(
        "ferry_raft_role",
        "1 for the node's current Raft role in the group, 0 for the others.",
        List.of("group", "role"),
        cb ->
            info()
                .ifPresent(
                    i -> {
                      for (RaftPeerRole r :
                          List.of(
                              RaftPeerRole.LEADER,
                              RaftPeerRole.FOLLOWER,
                              RaftPeerRole.CANDIDATE,
                              RaftPeerRole.LISTENER)) {
                        cb.call(
                            i.getCurrentRole() == r ? 1 : 0,
                            group,
                            r.name().toLowerCase(Locale.ROOT));
                      }
                    }));
    raftGauge(
        "ferry_raft_term", "The node's current Raft term.", d -> d.getInfo().getCurrentTerm());
    raftGauge(
        "ferry_raft_commit_index",
        "The highest log index the node knows committed.",
        d -> d.getRaftLog().getLastCommittedIndex());
    raftGauge(
        "ferry_raft_applied_index",
        "The highest log index the node's state machine applied.",
        d -> d.getInfo().getLastAppliedIndex());
    raftGauge(
        "ferry_raft_log_start_index",
        "The first index of the node's Raft log (entries before it were purged).",
        d -> d.getRaftLog().getStartIndex());
    raftGauge(
        "ferry_raft_log_last_index",
        "The last index in the node's Raft log.",
        d -> d.getRaftLog().getNextIndex() - 1);
    raftGauge(
        "ferry_raft_leader_known",
        "1 when the node knows a leader of the group (a candidate knows none), else 0.",
        d -> d.getInfo().isCandidate() || d.getInfo().getLeaderId() == null ? 0 : 1);
    m.gauges(
        "ferry_raft_follower_match_index",
        "On the leader: the highest log index known replicated on each follower and listener.",
        List.of("group", "follower"),
        cb -> followerMatchIndices().forEach(f -> cb.call(f.matchIndex(), group, f.id())));
    m.gauges(
        "ferry_node_ready",
        "1 when the node is ready (a voter that knows a leader and is not installing), else 0.",
        GROUP,
        cb -> cb.call(ferry.health().ready() ? 1 : 0, group));
    m.gauges(
        "ferry_node_installing",
        "1 while the node installs a snapshot (until the new state is swapped in), else 0.",
        GROUP,
        cb -> cb.call(ferry.replica().installing() ? 1 : 0, group));
    Supplier<Optional<InstallProgress>> current =
        () -> ferry.installer().flatMap(MultiSourceInstaller::currentInstall);
    m.gauges(
        "ferry_install_rate_bytes_per_second",
        "The current install's receive rate over the last ~5 s (stored bytes); absent when none"
            + " runs.",
        GROUP,
        cb -> current.get().ifPresent(i -> cb.call(i.smoothedBytesPerSecond(), group)));
    m.gauges(
        "ferry_install_eta_seconds",
        "The current install's estimated time left: bytes left / the rate over the last ~5 s +"
            + " the load time left; absent when none runs or no rate is measured yet.",
        GROUP,
        cb ->
            current
                .get()
                .flatMap(InstallProgress::eta)
                .ifPresent(eta -> cb.call(eta.toMillis() / 1000.0, group)));
  }

  private void raftGauge(String name, String help, ToLongFunction<RaftServer.Division> value) {
    m.gauges(
        name, help, GROUP, cb -> division().ifPresent(d -> cb.call(value.applyAsLong(d), group)));
  }

  private Optional<RaftServer.Division> division() {
    try {
      return Optional.of(ferry.division());
    } catch (IOException | RuntimeException e) {
      return Optional.empty(); // not started, or closed
    }
  }

  private Optional<DivisionInfo> info() {
    return division().map(RaftServer.Division::getInfo);
  }

  /** A follower's id and match index, as the leader knows them. */
  record FollowerIndex(String id, long matchIndex) {}

  /**
   * The followers' match indices when this node leads, else none. Ratis gives the ids (in the role
   * info) and the indices in two calls, both in the order of the leader's log appenders; when the
   * appenders changed in between (the counts differ) this scrape reports none.
   */
  List<FollowerIndex> followerMatchIndices() {
    Optional<DivisionInfo> i = info();
    if (i.isEmpty() || !i.get().isLeader()) {
      return List.of();
    }
    RoleInfoProto role = i.get().getRoleInfoProto();
    long[] match = i.get().getFollowerMatchIndices();
    if (!role.hasLeaderInfo() || match == null) {
      return List.of();
    }
    return pair(
        role.getLeaderInfo().getFollowerInfoList().stream()
            .map(ServerRpcProto::getId)
            .map(p -> p.getId().toStringUtf8())
            .toList(),
        match);
  }

  /** Pairs ids with indices, or none when the counts differ. */
  static List<FollowerIndex> pair(List<String> ids, long[] match) {
    if (ids.size() != match.length) {
      return List.of();
    }
    List<FollowerIndex> out = new ArrayList<>(ids.size());
    for (int k = 0; k < match.length; k++) {
      out.add(new FollowerIndex(ids.get(k), match[k]));
    }
    return out;
  }

  // ---- snapshots -------------------------------------------------------------------------------

  private void snapshots(Replica sm) {
    m.counters(
        "ferry_retention_holds_total",
        "Log-retention holds this replica recorded as placed (a new owner or floor).",
        GROUP,
        cb -> cb.call(sm.retentionHoldCounts().placed(), group));
    m.counters(
        "ferry_retention_hold_expiries_total",
        "Log-retention holds that expired on this replica, not renewed in time.",
        GROUP,
        cb -> cb.call(sm.retentionHoldCounts().expired(), group));
    m.gauges(
        "ferry_retention_hold_floor",
        "The lowest floor of the retention holds standing: the replica reports no snapshot above"
            + " it to Ratis; absent when none stands.",
        GROUP,
        cb ->
            sm.retentionHolds().stream()
                .mapToLong(RetentionHold::floor)
                .min()
                .ifPresent(f -> cb.call(f, group)));
    m.gauges(
        "ferry_retention_hold_log_bytes",
        "Log bytes the largest standing retention hold made the voters keep; absent when none"
            + " stands.",
        GROUP,
        cb ->
            sm.retentionHolds().stream()
                .mapToLong(RetentionHold::logBytes)
                .max()
                .ifPresent(b -> cb.call(b, group)));
    snapshotGauge(
        "ferry_snapshot_latest_index",
        "The log index of the node's newest durable snapshot.",
        sm,
        s -> s.latestIndex() < 0 ? null : (double) s.latestIndex());
    snapshotGauge(
        "ferry_snapshot_size_bytes",
        "The uncompressed size of the state in the node's newest durable snapshot.",
        sm,
        s -> s.latestIndex() < 0 ? null : (double) s.latestRawBytes());
    snapshotGauge(
        "ferry_snapshot_age_seconds",
        "Time since the node's newest durable snapshot became durable (captured or installed).",
        sm,
        s ->
            s.latestDurableAtMillis() < 0
                ? null
                : Math.max(0, System.currentTimeMillis() - s.latestDurableAtMillis()) / 1e3);
    m.counters(
        "ferry_snapshot_captures_total",
        "Snapshot captures that ended, by outcome (ok, failed).",
        List.of("group", "outcome"),
        cb -> {
          SnapshotStats s = sm.snapshotStats();
          cb.call(s.captures(), group, "ok");
          cb.call(s.captureFailures(), group, "failed");
        });
    m.counters(
        "ferry_snapshot_capture_seconds_total",
        "Time spent in completed snapshot captures.",
        GROUP,
        cb -> cb.call(sm.snapshotStats().captureNanos() / NANOS, group));
    m.counters(
        "ferry_snapshot_capture_written_bytes_total",
        "Bytes of state completed captures chunked and wrote (layered captures: the delta runs).",
        GROUP,
        cb -> cb.call(sm.snapshotStats().captureBytes(), group));
    snapshotGauge(
        "ferry_snapshot_capture_last_seconds",
        "Duration of the node's last completed capture.",
        sm,
        s -> s.captures() == 0 ? null : s.lastCaptureNanos() / NANOS);
    snapshotGauge(
        "ferry_snapshot_capture_last_written_bytes",
        "Bytes the node's last completed capture wrote.",
        sm,
        s -> s.captures() == 0 ? null : (double) s.lastCaptureBytes());
    snapshotGauge(
        "ferry_snapshot_captures_pending",
        "Captures queued or running on the node.",
        sm,
        s -> (double) s.pendingCaptures());
  }

  /** A group gauge from the snapshot statistics; {@code null} leaves the series out. */
  private void snapshotGauge(
      String name, String help, Replica sm, Function<SnapshotStats, Double> value) {
    m.gauges(
        name,
        help,
        GROUP,
        cb -> {
          Double v = value.apply(sm.snapshotStats());
          if (v != null) {
            cb.call(v, group);
          }
        });
  }

  // ---- chunk store (the group's) ---------------------------------------------------------------

  private void store(Replica sm) {
    storeGauge(
        "ferry_store_chunks", "Chunks (files) in the node's chunk store.", sm, StoreStats::chunks);
    storeGauge(
        "ferry_store_bytes",
        "Stored bytes of the chunks in the node's chunk store.",
        sm,
        StoreStats::storedBytes);
    storeGauge(
        "ferry_store_pins",
        "Leases (pins) held now on snapshots in the chunk store.",
        sm,
        StoreStats::pins);
    m.counters(
        "ferry_store_quarantined_chunks_total",
        "Chunks that failed verification in the store and were quarantined since it opened.",
        GROUP,
        cb -> storeStats(sm).ifPresent(s -> cb.call(s.quarantined(), group)));
    groupCounter(
        "ferry_store_repaired_chunks_total",
        "Quarantined chunks fetched again from peers (verified) since the node started.",
        () -> sm.chunkRepairs().repaired());
    groupCounter(
        "ferry_store_repair_failures_total",
        "Attempts to fetch quarantined chunks from peers that failed (retried with a backoff).",
        () -> sm.chunkRepairs().failedRepairs());
    groupGauge(
        "ferry_store_repair_pending_chunks",
        "Quarantined chunks a snapshot still needs that are not back yet.",
        () -> sm.chunkRepairs().pending());
    groupCounter(
        "ferry_store_scrubbed_bytes_total",
        "Uncompressed chunk bytes the background scrub re-read and re-hashed.",
        () -> sm.chunkRepairs().scrubbedBytes());
    groupCounter(
        "ferry_store_scrub_corrupt_chunks_total",
        "Chunks the background scrub found corrupt (then quarantined and fetched again).",
        () -> sm.chunkRepairs().scrubFoundCorrupt());
  }

  private void storeGauge(String name, String help, Replica sm, ToLongFunction<StoreStats> value) {
    m.gauges(
        name,
        help,
        GROUP,
        cb -> storeStats(sm).ifPresent(s -> cb.call(value.applyAsLong(s), group)));
  }

  private static Optional<StoreStats> storeStats(Replica sm) {
    try {
      return Optional.of(sm.chunkStore().stats());
    } catch (IllegalStateException e) {
      return Optional.empty(); // not initialized yet
    }
  }

  /** A counter of this group read from {@code value} at every scrape. */
  private void groupCounter(String name, String help, LongSupplier value) {
    m.counters(name, help, GROUP, cb -> cb.call(value.getAsLong(), group));
  }

  /** A gauge of this group read from {@code value} at every scrape. */
  private void groupGauge(String name, String help, DoubleSupplier value) {
    m.gauges(name, help, GROUP, cb -> cb.call(value.getAsDouble(), group));
  }

  // ---- chunk service (node-wide) ---------------------------------------------------------------

  private void chunkService(ChunkServer cs) {
    m.counters(
        "ferry_chunk_corrupt_reports_total",
        "Chunk ids peers reported corrupt after fetching them here (result=reported), and those"
            + " this node's re-verification found corrupt and quarantined (result=confirmed).",
        List.of("result"),
        cb -> {
          ChunkServer.CorruptReports r = cs.corruptReports();
          cb.call(r.reported(), "reported");
          cb.call(r.confirmed(), "confirmed");
        });
    chunkCounter(
        "ferry_chunk_connections_accepted_total",
        "Connections the chunk service accepted.",
        cs,
        ChunkServerStats::connectionsAccepted);
    chunkCounter(
        "ferry_chunk_connections_authenticated_total",
        "Chunk service connections whose peer proved the cluster secret.",
        cs,
        ChunkServerStats::connectionsAuthenticated);
    chunkCounter(
        "ferry_chunk_connections_refused_total",
        "Chunk service connections refused (TLS, secret, version, timeout or connection limit).",
        cs,
        ChunkServerStats::connectionsRefused);
    chunkCounter(
        "ferry_chunk_malformed_frames_total",
        "Chunk service connections closed for breaking the protocol.",
        cs,
        ChunkServerStats::malformedFrames);
    chunkCounter(
        "ferry_chunk_served_chunks_total",
        "Chunks the chunk service sent completely.",
        cs,
        ChunkServerStats::chunksServed);
    chunkCounter(
        "ferry_chunk_served_bytes_total",
        "Stored bytes of the chunks sent.",
        cs,
        ChunkServerStats::bytesServed);
    chunkCounter(
        "ferry_chunk_missing_chunks_total",
        "Chunks asked for that the store did not hold or could not read.",
        cs,
        ChunkServerStats::chunksMissing);
    m.gauge(
        "ferry_chunk_connections_open",
        "Chunk service connections open now.",
        () -> cs.stats().openConnections());
  }

  private void chunkCounter(
      String name, String help, ChunkServer cs, ToLongFunction<ChunkServerStats> value) {
    m.counter(name, help, () -> value.applyAsLong(cs.stats()));
  }

  // ---- admin service ---------------------------------------------------------------------------

  /**
   * Read at every scrape: the admin service (one per group) starts after the metrics are
   * registered. Its connections are the chunk service's (one service port): refused and malformed
   * ones count in the {@code ferry_chunk_*} counters.
   */
  private void adminService(FerryServer ferry) {
    groupCounter(
        "ferry_admin_requests_total",
        "Admin requests (status, add, remove, retire) the node's admin service answered.",
        () -> ferry.counters().adminServed());
  }

  // ---- membership ------------------------------------------------------------------------------

  private void membership(FerryServer ferry) {
    groupCounts(
        "ferry_membership_changes_total",
        "Membership changes this node's admin ran, by kind and outcome.",
        List.of("kind", "outcome"),
        () -> ferry.membership().map(MembershipAdmin::changes));
    groupCounts(
        "ferry_membership_checkpoints_total",
        "Digest checkpoints this node's admin checked while adding a member, by result.",
        List.of("result"),
        () -> ferry.membership().map(MembershipAdmin::checkpoints));
  }

  /**
   * A group counter with one series per entry of the counts, once they exist (the admin starts
   * after the metrics are registered).
   */
  private void groupCounts(
      String name,
      String help,
      List<String> labelNames,
      Supplier<Optional<LabelledCounts>> counts) {
    List<String> labels = new ArrayList<>(GROUP);
    labels.addAll(labelNames);
    m.counters(
        name,
        help,
        labels,
        cb ->
            counts
                .get()
                .ifPresent(
                    c ->
                        c.forEach(
                            (values, n) -> {
                              List<String> all = new ArrayList<>(labels.size());
                              all.add(group);
                              all.addAll(values);
                              cb.call(n, all.toArray(String[]::new));
                            })));
  }
}
