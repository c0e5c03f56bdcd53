package dev.ferry.bench.recovery;

import com.codahale.metrics.Meter;
import com.codahale.metrics.MetricRegistry;
import dev.ferry.kv.KvClient;
import dev.ferry.kv.KvStateMachine;
import dev.ferry.kv.testing.LocalCluster;
import dev.ferry.raft.FerryServer;
import dev.ferry.raft.PeerAddress;
import dev.ferry.raft.admin.AddRequest;
import dev.ferry.raft.admin.AddResult;
import dev.ferry.raft.admin.MembershipAdmin;
import dev.ferry.raft.admin.RemoveRequest;
import dev.ferry.raft.install.InstallReport;
import dev.ferry.raft.install.Shipping;
import dev.ferry.raft.metrics.InstallMetrics;
import dev.ferry.snapshot.format.Manifest;
import dev.ferry.snapshot.format.ManifestCodec;
import dev.ferry.statemachine.CommandCodec;
import dev.ferry.statemachine.DigestAt;
import dev.ferry.statemachine.StateMachineConfig;
import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;

/**
 * Scenarios (b), (c), (e) and (f): a 3-node in-JVM Ferry cluster ({@link LocalCluster}: real Ratis
 * servers over gRPC and chunk services over TCP, on loopback, each with its own data directory)
 * holding the generated state, joined by empty nodes and caught up by stopped followers.
 *
 * <p>The store captures snapshots only when told to (one full capture after the load, then one
 * after each batch of updates), so the measured installs are not disturbed by background captures.
 * Not thread-safe: one scenario at a time.
 */
final class FerryBench implements Closeable {
  private static final long SAMPLE_MILLIS = 50;

  private final LocalCluster cluster;
  private final StateGenerator gen;
  private final Duration timeout;
  private final List<PeerAddress> members;
  private int joins;
  private int version;

  private FerryBench(LocalCluster cluster, StateGenerator gen, Duration timeout) {
    this.cluster = cluster;
    this.gen = gen;
    this.timeout = timeout;
    this.members = new ArrayList<>(cluster.peers());
  }

  /** A client that knows every member, kept joiners included (caller closes). */
  private KvClient client() {
    return KvClient.connect(cluster.clusterName(), members, timeout);
  }

  /** Starts three nodes. */
  static FerryBench start(Path dir, StateGenerator gen, Duration timeout) throws IOException {
    StateMachineConfig config = StateMachineConfig.defaults().withCaptureEvery(1L << 50, 1L << 60);
    return new FerryBench(LocalCluster.start(dir, 3, config), gen, timeout);
  }

  /** Loads the whole state, captures a snapshot on every node and purges the leader's log. */
  void load() throws IOException {
    try (KvClient c = client()) {
      BatchLoader.load(gen, BatchLoader.all(gen), 0, BatchLoader.BATCH, c::putAll);
      capture();
      purgePast(c, 0, 0, 0);
    }
  }

  /** Stored bytes of the leader's latest snapshot and its raw bytes. */
  long[] snapshotSize() {
    Manifest m = cluster.stateMachine(cluster.leader(timeout)).latestManifest().orElseThrow();
    long stored = 0;
    java.util.Set<dev.ferry.snapshot.ChunkId> seen = new java.util.HashSet<>();
    for (dev.ferry.snapshot.ChunkRef r : m.allChunks()) {
      if (seen.add(r.id())) {
        stored += r.storedSize();
      }
    }
    return new long[] {stored, m.rawBytes(), ManifestCodec.encode(m).length};
  }

  /** Sets every running source's chunk send rate (bytes/s, 0: unlimited). */
  void setSendRate(long bytesPerSecond) {
    for (String id : cluster.running()) {
      cluster.server(id).chunkServer().orElseThrow().setSendRateLimit(bytesPerSecond);
    }
  }

  /** A cold join: the time to caught up, and to verified voter. */
  record Join(Measurement caughtUp, Measurement voter) {}

  /**
   * Adds an empty node with {@link MembershipAdmin#addMember}, then (unless {@code keep}) removes
   * it again. Measures from the call until the node has applied the leader's commit index of the
   * start ("caught up", the same point as Ratis's scenario) and until the call completes (verified
   * voter). A kept node stays a voter and serves later installs.
   */
  Join coldJoin(String id, String label, Shipping shipping, int maxSources, boolean keep)
      throws IOException {
    cluster.setShipping(shipping);
    cluster.setInstallSources(maxSources);
    String jid = "j" + (++joins);
    FerryServer j = cluster.startListener(jid, KvStateMachine::new, List.copyOf(members));
    boolean kept = false;
    try (KvClient c = client()) {
      String leader = cluster.leader(timeout);
      long commit = commitIndex(leader);
      Sampler sampler = new Sampler(j.metrics());
      MembershipAdmin admin = MembershipAdmin.create(c.raftClient(), c.group());
      long t0 = System.nanoTime();
      sampler.start(t0);
      CompletableFuture<AddResult> add = admin.addMember(new AddRequest(j.self(), timeout));
      KvStateMachine sm = (KvStateMachine) j.stateMachine();
      LocalCluster.await(
          timeout,
          () -> add.isCompletedExceptionally() || sm.getLastAppliedTermIndex().getIndex() >= commit,
          jid + " to catch up");
      double caught = (System.nanoTime() - t0) / 1e9;
      AddResult result = get(add);
      double voter = (System.nanoTime() - t0) / 1e9;
      sampler.stop();
      InstallReport report = j.installer().orElseThrow().lastReport();
      if (report == null || !report.success()) {
        throw new IllegalStateException(jid + " did not install: " + report);
      }
      if (keep) {
        kept = true;
        members.add(j.self());
      } else {
        get(admin.removeMember(new RemoveRequest(jid, timeout)));
      }
      long raw = gen.rawBytes();
      Map<String, Object> extra = new LinkedHashMap<>();
      extra.put("shipping", shipping.name());
      extra.put("sources", report.bytesPerSource().size());
      extra.put("installSeconds", report.duration().toNanos() / 1e9);
      extra.put("firstShardSeconds", report.firstShard().toNanos() / 1e9);
      extra.put("finalizeSeconds", report.finalizing().toNanos() / 1e9);
      extra.put("listenerAddedSeconds", result.listenerAdded().toNanos() / 1e9);
      extra.put("verifySeconds", result.verifiedIn().toNanos() / 1e9);
      extra.put("promoteSeconds", result.promoted().toNanos() / 1e9);
      extra.put("voterSeconds", voter);
      extra.put("commitIndexAtStart", commit);
      extra.put("digest", result.verified().digest().toString());
      Map<String, Long> per = new LinkedHashMap<>(new java.util.TreeMap<>(report.bytesPerSource()));
      List<long[]> progress = sampler.samples(List.copyOf(per.keySet()));
      Measurement m1 =
          new Measurement(id, label, caught, report.bytesFetched(), raw, per, extra, progress);
      Measurement m2 =
          new Measurement(
              id + ".voter",
              label.replace("to caught up", "to verified voter"),
              voter,
              report.bytesFetched(),
              raw,
              per,
              extra,
              List.of());
      return new Join(m1, m2);
    } finally {
      if (!kept) {
        cluster.stop(jid);
        cluster.wipe(jid);
      }
    }
  }

  /**
   * A delta catch-up: stops a follower, rewrites keys {@code keys} (indexes into the generator)
   * with new values, captures and purges so the follower needs a snapshot, restarts it and measures
   * until it has applied the leader's commit index of the restart.
   */
  Measurement delta(String id, String label, int[] keys) throws IOException {
    cluster.setShipping(Shipping.AUTO);
    cluster.setInstallSources(Integer.MAX_VALUE);
    String leaderAtStart = cluster.leader(timeout);
    // One of the original nodes (LocalCluster restarts only those).
    String f =
        cluster.peers().stream()
            .map(p -> p.id())
            .filter(n -> !n.equals(leaderAtStart))
            .findFirst()
            .orElseThrow();
    long stoppedAt = cluster.applied(f);
    cluster.stop(f);
    version++;
    // At least ~100 log entries, more than the log preservation buffer of the cluster's nodes.
    int batch = Math.max(1, Math.min(BatchLoader.BATCH, keys.length / 100));
    try (KvClient c = client()) {
      BatchLoader.load(gen, keys, version, batch, c::putAll);
      capture();
      purgePast(c, stoppedAt, keys[0], version);
    }
    String leader = cluster.leader(timeout);
    long commit = commitIndex(leader);
    long t0 = System.nanoTime();
    cluster.start(f);
    LocalCluster.await(timeout, () -> cluster.applied(f) >= commit, f + " to catch up");
    double seconds = (System.nanoTime() - t0) / 1e9;
    InstallReport report = cluster.installer(f).lastReport();
    if (report == null || !report.success() || report.index() <= stoppedAt) {
      throw new IllegalStateException(f + " caught up without a new install: " + report);
    }
    DigestAt digest = converged();
    long[] snap = snapshotSize();
    long changedRaw = (long) keys.length * StateGenerator.ENTRY_BYTES;
    Map<String, Object> extra = new LinkedHashMap<>();
    extra.put("changedKeys", keys.length);
    extra.put("manifestBytes", snap[2]);
    extra.put("bytesHeld", report.bytesHeld());
    extra.put("bytesWanted", report.bytesWanted());
    extra.put(
        "fetchedOverChangedPlusManifest", report.bytesFetched() / (double) (changedRaw + snap[2]));
    extra.put("installSeconds", report.duration().toNanos() / 1e9);
    extra.put("digest", digest.digest().toString());
    return new Measurement(
        id,
        label,
        seconds,
        report.bytesFetched(),
        changedRaw,
        new LinkedHashMap<>(new java.util.TreeMap<>(report.bytesPerSource())),
        extra,
        List.of());
  }

  /** Every running replica records the same digest at a new checkpoint. */
  private DigestAt converged() throws IOException {
    try (KvClient c = client()) {
      long id = System.nanoTime();
      DigestAt expected = c.checkpoint(id);
      for (String r : cluster.running()) {
        DigestAt d = c.checkpointOn(r, id, expected.index());
        if (!expected.equals(d)) {
          throw new IllegalStateException(r + " digest " + d + " != " + expected);
        }
      }
      return expected;
    }
  }

  /** Captures through the log (sent to the leader) and waits until every running node has it. */
  private void capture() throws IOException {
    long index;
    try (KvClient c = client()) {
      RaftClientReply r =
          c.raftClient()
              .io()
              .send(Message.valueOf(ByteString.copyFrom(CommandCodec.captureCommand())));
      index = r.getLogIndex();
    }
    for (String id : cluster.running()) {
      LocalCluster.await(
          timeout,
          () -> cluster.stateMachine(id).latestManifest().map(Manifest::index).orElse(-1L) >= index,
          id + " to capture at " + index);
    }
  }

  /**
   * Purges the leader's log past {@code index}. Where the log is too short for that (the nodes keep
   * a buffer of entries), rewrites key {@code padKey} with the value it already has at {@code
   * version} (more log, same state) and captures again, until it is.
   */
  private void purgePast(KvClient c, long index, int padKey, int version) throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!snapshotAndPurgePast(index)) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("the leader did not purge past " + index);
      }
      // 64 entries of 16 KiB: past the nodes' 50-entry buffer and a 1 MB log segment.
      List<byte[][]> pad = new ArrayList<>();
      for (int i = 0; i < 16; i++) {
        pad.add(new byte[][] {gen.key(padKey), gen.value(padKey, version)});
      }
      for (int i = 0; i < 64; i++) {
        c.putAll(pad);
      }
      capture();
    }
  }

  /** Asks the leader's Ratis to purge to its latest snapshot; true if its log now starts later. */
  private boolean snapshotAndPurgePast(long index) throws IOException {
    String leader = cluster.leader(timeout);
    try (KvClient c = client()) {
      c.raftClient()
          .getSnapshotManagementApi(RaftPeerId.valueOf(leader))
          .create(true, timeout.toMillis());
    }
    long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(500);
    while (System.nanoTime() < deadline) {
      if (cluster.logStart(leader) > index + 1) {
        return true;
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException(e);
      }
    }
    return false;
  }

  private long commitIndex(String id) throws IOException {
    FerryServer s = cluster.server(id);
    return s.raftServer().getDivision(s.group().getGroupId()).getRaftLog().getLastCommittedIndex();
  }

  private <T> T get(CompletableFuture<T> f) throws IOException {
    try {
      return f.get(timeout.toMillis() + 10_000, TimeUnit.MILLISECONDS);
    } catch (ExecutionException e) {
      throw new IOException(e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException(e);
    } catch (TimeoutException e) {
      throw new IOException("timed out", e);
    }
  }

  @Override
  public void close() throws IOException {
    cluster.close();
  }

  /**
   * Samples a joining node's per-source byte meters ({@code ferry.install.bytes.source.<id>},
   * recorded by {@link InstallMetrics} as chunks arrive) every {@value #SAMPLE_MILLIS} ms on its
   * own thread.
   */
  private static final class Sampler {
    private static final String PREFIX = InstallMetrics.PREFIX + "bytes.source.";
    private final MetricRegistry registry;
    private final List<Map<String, Long>> samples = new ArrayList<>();
    private final List<Long> times = new ArrayList<>();
    private volatile boolean running = true;
    private Thread thread;

    Sampler(MetricRegistry registry) {
      this.registry = registry;
    }

    void start(long t0) {
      thread =
          new Thread(
              () -> {
                while (running) {
                  sample(t0);
                  try {
                    Thread.sleep(SAMPLE_MILLIS);
                  } catch (InterruptedException e) {
                    return;
                  }
                }
                sample(t0);
              },
              "bench-sampler");
      thread.setDaemon(true);
      thread.start();
    }

    private void sample(long t0) {
      Map<String, Long> now = new LinkedHashMap<>();
      for (Map.Entry<String, Meter> e : registry.getMeters().entrySet()) {
        if (e.getKey().startsWith(PREFIX)) {
          now.put(e.getKey().substring(PREFIX.length()), e.getValue().getCount());
        }
      }
      synchronized (samples) {
        times.add((System.nanoTime() - t0) / 1_000_000);
        samples.add(now);
      }
    }

    void stop() {
      running = false;
      try {
        thread.join(5_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }

    /** {@code [millis, bytes of sources[0], bytes of sources[1], ...]} per sample. */
    List<long[]> samples(List<String> sources) {
      List<long[]> out = new ArrayList<>();
      synchronized (samples) {
        for (int i = 0; i < samples.size(); i++) {
          long[] row = new long[1 + sources.size()];
          row[0] = times.get(i);
          for (int s = 0; s < sources.size(); s++) {
            row[1 + s] = samples.get(i).getOrDefault(sources.get(s), 0L);
          }
          out.add(row);
        }
      }
      return out;
    }
  }
}
