package dev.ferry.bench.recovery;

import com.codahale.metrics.Meter;
import com.codahale.metrics.MetricRegistry;
import dev.ferry.kv.KvClient;
import dev.ferry.kv.KvStateMachine;
import dev.ferry.raft.FerryServer;
import dev.ferry.raft.admin.AddRequest;
import dev.ferry.raft.admin.AddResult;
import dev.ferry.raft.admin.MembershipAdmin;
import dev.ferry.raft.admin.RemoveRequest;
import dev.ferry.shipping.PeerAddress;
import dev.ferry.shipping.install.InstallReport;
import dev.ferry.shipping.install.Shipping;
import dev.ferry.shipping.metrics.InstallMetrics;
import dev.ferry.snapshot.format.Manifest;
import dev.ferry.snapshot.format.ManifestCodec;
import dev.ferry.statemachine.DigestAt;
import dev.ferry.statemachine.RecoveryTimeline;
import dev.ferry.statemachine.StateLoader;
import dev.ferry.statemachine.StateMachineConfig;
import dev.ferry.statemachine.internal.SnapshotCatalog;
import dev.ferry.statemachine.replica.Replica;
import dev.ferry.testing.LocalCluster;
import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.apache.ratis.protocol.RaftPeerId;

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
  private final StateMachineConfig config;
  private final List<PeerAddress> members;
  private int joins;
  private int version;

  private FerryBench(
      LocalCluster cluster, StateGenerator gen, Duration timeout, StateMachineConfig config) {
    this.cluster = cluster;
    this.config = config;
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
    // Up to 3 tries: the fixture's free ports are free when picked, not when the nodes bind them
    // (another process on a shared machine may take one in between).
    for (int attempt = 1; ; attempt++) {
      try {
        return new FerryBench(
            LocalCluster.start(dir, 3, config, KvStateMachine::new), gen, timeout, config);
      } catch (IOException | RuntimeException e) {
        if (attempt == 3) {
          throw e;
        }
        System.out.println("[recovery] Ferry cluster did not start (" + e + "); retrying");
        RecoveryBenchmark.deleteTree(dir);
      }
    }
  }

  /** Loads the whole state, captures a snapshot on every node and purges the leader's log. */
  void load() throws IOException {
    try (KvClient c = client()) {
      BatchLoader.load(gen, BatchLoader.all(gen), 0, BatchLoader.BATCH, c::putAll);
      capture(Set.of());
      purgePast(c, 0, 0, 0, Set.of());
    }
  }

  /** Stored bytes of the leader's latest snapshot and its raw bytes. */
  long[] snapshotSize() {
    Manifest m = cluster.replica(cluster.leader(timeout)).latestManifest().orElseThrow();
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
      Replica sm = j.replica();
      LocalCluster.await(
          timeout,
          () -> add.isCompletedExceptionally() || sm.appliedIndex() >= commit,
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
        RecoveryBenchmark.deleteTree(cluster.dataDir(jid));
      }
    }
  }

  /**
   * A delta catch-up: stops a follower, rewrites keys {@code keys} (indexes into the generator)
   * with new values, captures and purges so the follower needs a snapshot, restarts it (in this
   * JVM: a new {@code FerryServer} on the same data directory, so no JVM start is included) and
   * measures until it has applied the leader's commit index of the restart. The phases of the
   * restart go into the measurement's extra figures ({@code phase.*}): from the state machine's
   * {@link RecoveryTimeline}, else (a stamp missing) from what can be observed from outside.
   */
  Measurement delta(String id, String label, int[] keys) throws IOException {
    cluster.setShipping(Shipping.AUTO);
    cluster.setInstallSources(Integer.MAX_VALUE);
    String f = originalFollower();
    long stoppedAt = cluster.applied(f);
    cluster.stop(f);
    version++;
    // At least ~100 log entries, more than the log preservation buffer of the cluster's nodes.
    int batch = Math.max(1, Math.min(BatchLoader.BATCH, keys.length / 100));
    try (KvClient c = client()) {
      BatchLoader.load(gen, keys, version, batch, c::putAll);
      capture(Set.of());
      purgePast(c, stoppedAt, keys[0], version, Set.of());
    }
    String leader = cluster.leader(timeout);
    long commit = commitIndex(leader);
    long t0 = System.nanoTime();
    cluster.start(f);
    long started = System.nanoTime();
    InstallWatch watch = new InstallWatch(cluster.installer(f), null);
    long caught = awaitNanos(() -> cluster.applied(f) >= commit, f + " to catch up");
    watch.stop();
    double seconds = (caught - t0) / 1e9;
    InstallReport report = cluster.installer(f).lastReport();
    if (report == null || !report.success() || report.index() <= stoppedAt) {
      throw new IllegalStateException(f + " caught up without a new install: " + report);
    }
    Map<String, Object> extra = new LinkedHashMap<>();
    restartPhases(extra, cluster.replica(f), t0, started, watch, report, caught);
    return deltaMeasurement(id, label, keys, seconds, report, extra);
  }

  /**
   * Scenario delta1: cuts a follower off ({@link Partition}: Raft traffic only, the node keeps
   * running), rewrites keys {@code keys}, captures and purges the leader's log past it, heals, and
   * measures from the heal until the follower has applied the leader's commit index of the heal;
   * the time from the heal to the install notification is in the extra figures ({@code
   * notificationSeconds}).
   */
  Measurement partitionDelta(String id, String label, int[] keys) throws IOException {
    String f = originalFollower();
    long cutAt = cluster.applied(f);
    InstallReport before = cluster.installer(f).lastReport();
    RecoveryTimeline tlBefore = cluster.replica(f).timeline();
    version++;
    long commit =
        Partition.isolateDuring(
            f,
            () -> {
              int batch = Math.max(1, Math.min(BatchLoader.BATCH, keys.length / 100));
              try (KvClient c = client()) {
                BatchLoader.load(gen, keys, version, batch, c::putAll);
                capture(Set.of(f));
                purgePast(c, cutAt, keys[0], version, Set.of(f));
              }
              return commitIndex(cluster.leader(timeout));
            });
    InstallWatch watch = new InstallWatch(cluster.installer(f), before);
    long t0 = System.nanoTime();
    Partition.heal();
    long caught = awaitNanos(() -> cluster.applied(f) >= commit, f + " to catch up after the heal");
    watch.stop();
    InstallReport report = cluster.installer(f).lastReport();
    if (report == null || report == before || !report.success() || report.index() <= cutAt) {
      throw new IllegalStateException(f + " caught up without a new install: " + report);
    }
    long notified = watch.notifiedAt(report);
    String from = "observed";
    RecoveryTimeline tl = cluster.replica(f).timeline();
    if (tl.installRequested() >= t0 && tl.installRequested() != tlBefore.installRequested()) {
      notified = tl.installRequested();
      from = "timeline";
    }
    Map<String, Object> extra = new LinkedHashMap<>();
    extra.put("notificationSeconds", (notified - t0) / 1e9);
    extra.put("notificationToCaughtUpSeconds", (caught - notified) / 1e9);
    extra.put("notificationFrom", from);
    extra.put("commitIndexAtHeal", commit);
    return deltaMeasurement(id, label, keys, (caught - t0) / 1e9, report, extra);
  }

  private Measurement deltaMeasurement(
      String id,
      String label,
      int[] keys,
      double seconds,
      InstallReport report,
      Map<String, Object> phases)
      throws IOException {
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
    extra.putAll(phases);
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

  /**
   * The phases of a restart into {@code extra}: from the state machine's {@link RecoveryTimeline}
   * ({@code phasesFrom=timeline}), else from what the benchmark sees ({@code phasesFrom=observed}:
   * the start call's return, the install seen starting, its report).
   */
  private static void restartPhases(
      Map<String, Object> extra,
      Replica replica,
      long t0,
      long started,
      InstallWatch watch,
      InstallReport report,
      long caught) {
    RecoveryTimeline t = replica.timeline();
    if (t.initializeStarted() >= t0
        && t.localLoadDone() >= t.initializeStarted()
        && t.firstLeaderContact() >= t.localLoadDone()
        && t.installRequested() >= t0
        && t.installDone() >= t.installRequested()
        && t.reloaded() >= t.installDone()) {
      extra.put("phasesFrom", "timeline");
      extra.put("phase.startToInitialize", (t.initializeStarted() - t0) / 1e9);
      extra.put("phase.localLoad", (t.localLoadDone() - t.initializeStarted()) / 1e9);
      extra.put("phase.firstLeaderContact", (t.firstLeaderContact() - t.localLoadDone()) / 1e9);
      extra.put(
          "phase.contactToNotification", (t.installRequested() - t.firstLeaderContact()) / 1e9);
      extra.put("phase.install", (t.installDone() - t.installRequested()) / 1e9);
      extra.put("phase.reload", (t.reloaded() - t.installDone()) / 1e9);
      extra.put("phase.logReplay", (caught - t.reloaded()) / 1e9);
      // total − (start→initialize + local load + first contact)
      extra.put("targetSeconds", (caught - t.firstLeaderContact()) / 1e9);
    } else {
      long notified = watch.notifiedAt(report);
      long installed =
          watch.reportedAt() >= 0 ? watch.reportedAt() : notified + report.duration().toNanos();
      extra.put("phasesFrom", "observed");
      extra.put("phase.startCall", (started - t0) / 1e9);
      extra.put("phase.startReturnedToNotification", (notified - started) / 1e9);
      extra.put("phase.install", report.duration().toNanos() / 1e9);
      extra.put("phase.reloadAndLogReplay", Math.max(0, caught - installed) / 1e9);
      // Without the timeline the first contact is not visible: from the notification instead.
      extra.put("targetSeconds", (caught - notified) / 1e9);
    }
  }

  /** Measured local load of a restart, and the single-threaded reference load. */
  record Restart(Measurement load, Measurement reference) {}

  /**
   * Scenario restart: stops a follower, loads its latest snapshot from its chunk store on one
   * thread (the reference), restarts it with its log intact (no install needed) and measures its
   * local load: from {@code initialize} entered to its own latest snapshot loaded ({@link
   * RecoveryTimeline}; without those stamps, the start call, which includes that and the Raft
   * server's start).
   */
  Restart restart(String id, String label) throws IOException {
    String f = originalFollower();
    cluster.stop(f);
    Path smDir = stateMachineDir(cluster.dataDir(f));
    // A collection before each of the two loads, so neither pays for the garbage of what ran
    // before it (the stopped node's state, earlier installs): seen to slow the first by 2×.
    System.gc();
    long[] first = singleThreadedLoad(smDir, false);
    System.gc();
    long[] second = singleThreadedLoad(smDir, false);
    System.gc();
    long[] hashing = singleThreadedLoad(smDir, true);
    System.gc();
    long[] ref = first[0] <= second[0] ? first : second;
    System.out.printf(
        java.util.Locale.ROOT,
        "[recovery] single-threaded load: %.2f s, then %.2f s; with every chunk hashed again (the"
            + " restart before issue 11): %.2f s%n",
        first[0] / 1e9,
        second[0] / 1e9,
        hashing[0] / 1e9);
    double refSeconds = ref[0] / 1e9;
    long commit = commitIndex(cluster.leader(timeout));
    long t0 = System.nanoTime();
    cluster.start(f);
    long started = System.nanoTime();
    long caught = awaitNanos(() -> cluster.applied(f) >= commit, f + " to catch up");
    InstallReport report = cluster.installer(f).lastReport();
    if (report != null) {
      throw new IllegalStateException(
          f + " installed a snapshot on a restart with its log: " + report);
    }
    RecoveryTimeline t = cluster.replica(f).timeline();
    double load;
    String from;
    if (t.initializeStarted() >= t0 && t.localLoadDone() > t.initializeStarted()) {
      load = (t.localLoadDone() - t.initializeStarted()) / 1e9;
      from = "timeline (initialize entered → snapshot loaded)";
    } else {
      load = (started - t0) / 1e9;
      from = "start call (includes the Raft server's start)";
    }
    Map<String, Object> extra = new LinkedHashMap<>();
    extra.put("loadFrom", from);
    extra.put("restartToCaughtUpSeconds", (caught - t0) / 1e9);
    extra.put("singleThreadedSeconds", refSeconds);
    extra.put("timesSingleThreaded", refSeconds / load);
    extra.put("singleThreadedHashingSeconds", hashing[0] / 1e9);
    extra.put("timesSingleThreadedHashing", hashing[0] / 1e9 / load);
    // The snapshot's raw bytes include records that later runs of a shard shadow and the
    // benchmark's
    // padding writes; the rate is over the state's bytes, as everywhere else.
    extra.put("snapshotRawBytes", ref[1]);
    long state = gen.rawBytes();
    Measurement m = new Measurement(id, label, load, -1, state, Map.of(), extra, List.of());
    Measurement r =
        new Measurement(
            id + ".single-thread",
            "restart. the same snapshot loaded on one thread (SnapshotCatalog.loadShard, shard by"
                + " shard, chunks not hashed again: the same work)",
            refSeconds,
            -1,
            state,
            Map.of(),
            Map.of("shards", ref[2], "snapshotRawBytes", ref[1]),
            List.of());
    return new Restart(m, r);
  }

  /**
   * Loads the latest snapshot under a stopped node's state machine directory shard by shard on this
   * thread into a fresh {@code KvStateMachine} loader: with {@code hashChunks} false the same work
   * as a restart's load (which checks the state digest, not each chunk's hash), with it true what a
   * restart did before issue 11 (every chunk hashed again). Benchmark-only use of the core's {@code
   * internal} {@link SnapshotCatalog}: a reference for the restart's load rate, nothing else.
   *
   * @return {nanoseconds, raw bytes, shards}
   */
  private long[] singleThreadedLoad(Path smDir, boolean hashChunks) throws IOException {
    KvStateMachine sm = new KvStateMachine();
    StateLoader loader = sm.newLoader();
    try (SnapshotCatalog catalog = SnapshotCatalog.open(smDir, sm.layout(), config)) {
      Manifest m = catalog.latest().orElseThrow(() -> new IOException("no snapshot in " + smDir));
      long t0 = System.nanoTime();
      for (int shard = 0; shard < m.shards().size(); shard++) {
        catalog.loadShard(m, shard, loader, hashChunks);
      }
      long nanos = System.nanoTime() - t0;
      loader.abort();
      return new long[] {nanos, m.rawBytes(), m.shards().size()};
    }
  }

  /** The directory holding a node's {@code manifests} and {@code chunks}. */
  private static Path stateMachineDir(Path dataDir) throws IOException {
    try (java.util.stream.Stream<Path> s = java.nio.file.Files.walk(dataDir)) {
      return s.filter(p -> p.getFileName().toString().equals("manifests"))
          .filter(java.nio.file.Files::isDirectory)
          .map(Path::getParent)
          .filter(p -> java.nio.file.Files.isDirectory(p.resolve("chunks")))
          .findFirst()
          .orElseThrow(() -> new IOException("no snapshot catalog under " + dataDir));
    }
  }

  /** A running original node that is not the leader (LocalCluster restarts only those). */
  private String originalFollower() {
    String leader = cluster.leader(timeout);
    return cluster.peers().stream()
        .map(PeerAddress::id)
        .filter(n -> !n.equals(leader) && cluster.running().contains(n))
        .findFirst()
        .orElseThrow();
  }

  /** Polls {@code ok} every millisecond; returns the {@code nanoTime} it first held. */
  private long awaitNanos(java.util.function.BooleanSupplier ok, String what) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      long now = System.nanoTime();
      if (ok.getAsBoolean()) {
        return now;
      }
      if (now > deadline) {
        throw new IllegalStateException("timed out after " + timeout + " waiting for " + what);
      }
      try {
        Thread.sleep(1);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted waiting for " + what, e);
      }
    }
  }

  /**
   * Watches an installer on its own thread (every millisecond) for a new install: when one is first
   * seen in progress, and when its report (other than {@code before}) first appears.
   */
  private static final class InstallWatch {
    private final dev.ferry.shipping.install.MultiSourceInstaller installer;
    private final InstallReport before;
    private final Thread thread;
    private volatile boolean running = true;
    private volatile long seenRunning = -1;
    private volatile long seenReport = -1;

    InstallWatch(dev.ferry.shipping.install.MultiSourceInstaller installer, InstallReport before) {
      this.installer = installer;
      this.before = before;
      this.thread = new Thread(this::run, "bench-install-watch");
      thread.setDaemon(true);
      thread.start();
    }

    private void run() {
      while (running && seenReport < 0) {
        long now = System.nanoTime();
        if (seenRunning < 0 && installer.currentInstall().isPresent()) {
          seenRunning = now;
        }
        InstallReport r = installer.lastReport();
        if (r != null && r != before) {
          seenReport = now;
        }
        try {
          Thread.sleep(1);
        } catch (InterruptedException e) {
          return;
        }
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

    /**
     * When the install that produced {@code report} started (nanoTime): its report's appearance
     * less its duration (the installer's own clock, from the notification's hand-over); failing
     * that, when it was first seen in progress.
     */
    long notifiedAt(InstallReport report) {
      if (seenReport >= 0) {
        return seenReport - report.duration().toNanos();
      }
      return seenRunning >= 0 ? seenRunning : System.nanoTime() - report.duration().toNanos();
    }

    /** When the install's report appeared (nanoTime), or -1. */
    long reportedAt() {
      return seenReport;
    }
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

  /**
   * Captures through the log (sent to the leader) and waits until every running node but {@code
   * except} (a cut-off one) has it.
   */
  private void capture(Set<String> except) throws IOException {
    long index;
    try (KvClient c = client()) {
      index = c.ferryClient().captureSnapshot();
    }
    for (String id : cluster.running()) {
      if (except.contains(id)) {
        continue;
      }
      LocalCluster.await(
          timeout,
          () -> cluster.replica(id).latestManifest().map(Manifest::index).orElse(-1L) >= index,
          id + " to capture at " + index);
    }
  }

  /**
   * Purges the leader's log past {@code index}. Where the log is too short for that (the nodes keep
   * a buffer of entries), rewrites key {@code padKey} with the value it already has at {@code
   * version} (more log, same state) and captures again, until it is.
   */
  private void purgePast(KvClient c, long index, int padKey, int version, Set<String> except)
      throws IOException {
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
      capture(except);
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
