package dev.ferry.statemachine.replica;

import dev.ferry.snapshot.format.Manifest;
import dev.ferry.snapshot.store.ChunkStore;
import dev.ferry.statemachine.CommandCodec;
import dev.ferry.statemachine.DigestAt;
import dev.ferry.statemachine.LoadReport;
import dev.ferry.statemachine.MembershipChange;
import dev.ferry.statemachine.RecoveryTimeline;
import dev.ferry.statemachine.ShardLayout;
import dev.ferry.statemachine.SnapshotStats;
import dev.ferry.statemachine.StateMachine;
import dev.ferry.statemachine.StateMachineConfig;
import dev.ferry.statemachine.internal.RetryBackoff;
import dev.ferry.statemachine.internal.SnapshotCatalog;
import dev.ferry.statemachine.internal.StagedLoad;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The replica engine that runs a user's {@link StateMachine} on one node: idempotent apply under
 * client sessions, the state digest, checkpoints and membership records ({@link ApplyCore}),
 * capture scheduling ({@link CapturePolicy}) and capture, the durable snapshots, restart loads and
 * install staging ({@link Staging}), queries, and what the node reports about all of this.
 *
 * <p><b>The server's SPI, not for users.</b> A user implements {@link StateMachine}; the server
 * builds a replica around it and a Raft adapter (in the {@code raft-integration} module) that maps
 * the Raft library's callbacks onto the methods here. The replica knows no Raft library: the
 * adapter hands it log entries as (term, index, bytes) and serves as its {@link Host}.
 *
 * <p><b>Concurrency.</b> {@link #open}, {@link #apply}, {@link #appliedUpTo} and {@link
 * #swapInStaged} are called by the Raft layer on its apply thread (or while nothing applies); every
 * other method is thread-safe and never blocks unless it says so. Captures run on a capture thread,
 * loads on a pool of one thread per core, digests of state machines that do not report changes and
 * the completion of futures on a background pool: never on the caller's thread.
 */
public final class Replica implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(Replica.class);

  /** What the replica needs from the Raft layer it runs in. */
  public interface Host {
    /** Whether this node is the leader now. Called on the apply thread; must not block long. */
    boolean isLeader();

    /**
     * Proposes {@code command} as a log entry (as a client write to this node). Must return at
     * once; the future fails if the proposal was not accepted.
     */
    CompletableFuture<?> submit(byte[] command);
  }

  /** A host before {@link #open}: not a leader, proposes nothing. */
  private static final Host DETACHED =
      new Host() {
        @Override
        public boolean isLeader() {
          return false;
        }

        @Override
        public CompletableFuture<?> submit(byte[] command) {
          return CompletableFuture.failedFuture(new IllegalStateException("not open"));
        }
      };

  private final StateMachine sm;
  private final ShardLayout layout;
  private final StateMachineConfig config;
  private final Installer installer;
  private final String name;
  private final ApplyCore core;
  private final CapturePolicy policy;
  private volatile Host host = DETACHED;
  private volatile SnapshotCatalog catalog;
  private volatile Staging staging;

  private volatile long appliedIndex = -1;
  private final TreeMap<Long, List<CompletableFuture<Void>>> appliedWaiters = new TreeMap<>();

  private final AtomicLong pendingCaptures = new AtomicLong();
  private final AtomicLong captures = new AtomicLong();
  private final AtomicLong captureFailures = new AtomicLong();
  private final AtomicLong captureNanos = new AtomicLong();
  private final AtomicLong captureBytes = new AtomicLong();
  private volatile long lastCaptureNanos;
  private volatile long lastCaptureBytes;
  private volatile Throwable lastCaptureFailure;

  private final AtomicLong initializeStarted = new AtomicLong(-1);
  private final AtomicLong localLoadDone = new AtomicLong(-1);
  private final AtomicLong firstLeaderContact = new AtomicLong(-1);
  private final AtomicLong installRequested = new AtomicLong(-1);
  private final AtomicLong installDone = new AtomicLong(-1);
  private final AtomicLong reloaded = new AtomicLong(-1);
  private volatile boolean installing;

  /**
   * The Raft layer asks again at once after a failed install (about 20 times a second): failed
   * attempts are spaced 0.25 s, 0.5 s, 1 s … up to a minute apart (a transient failure, such as
   * peers still capturing the baseline, costs a quarter second), and only a few of a long series
   * are logged.
   */
  private final RetryBackoff installBackoff =
      new RetryBackoff(TimeUnit.MILLISECONDS.toNanos(250), TimeUnit.SECONDS.toNanos(60));

  private final ExecutorService captureExecutor;
  private final ExecutorService background;
  private final ExecutorService loadPool;
  private final ChunkRepair repair;

  /**
   * A replica of {@code sm}, not yet open.
   *
   * @param sm the user's state machine; its {@link StateMachine#layout()} is read once, here
   * @param config the server's settings for it
   * @param installer what brings this replica up to a snapshot when it fell behind the log
   * @param name how log lines name this replica (the node id)
   */
  public Replica(StateMachine sm, StateMachineConfig config, Installer installer, String name) {
    this.sm = Objects.requireNonNull(sm, "sm");
    this.config = Objects.requireNonNull(config, "config");
    this.installer = Objects.requireNonNull(installer, "installer");
    this.layout = Objects.requireNonNull(sm.layout(), "the state machine's layout()");
    this.name = Objects.requireNonNull(name, "name");
    // The capture thread and the loaders end when idle: a node hosting many groups keeps none for
    // its idle groups.
    this.captureExecutor =
        idleEnding(
            1,
            r -> {
              Thread t = new Thread(r, "ferry-capture");
              t.setDaemon(true);
              t.setPriority(Thread.MIN_PRIORITY);
              return t;
            });
    this.background =
        Executors.newCachedThreadPool(
            r -> {
              Thread t = new Thread(r, "ferry-sm-background");
              t.setDaemon(true);
              return t;
            });
    AtomicLong loaders = new AtomicLong();
    this.loadPool =
        idleEnding(
            Runtime.getRuntime().availableProcessors(),
            r -> {
              Thread t = new Thread(r, "ferry-load-" + loaders.incrementAndGet());
              t.setDaemon(true);
              return t;
            });
    this.core = new ApplyCore(sm, layout, config, background, this::capture, name);
    this.policy = new CapturePolicy(config);
    this.repair = new ChunkRepair(name, installer, config);
  }

  @Override
  public String toString() {
    return name;
  }

  /** A pool of at most {@code threads} threads, each ending after 30 s idle; tasks queue. */
  private static ExecutorService idleEnding(int threads, ThreadFactory factory) {
    ThreadPoolExecutor pool =
        new ThreadPoolExecutor(
            threads, threads, 30, TimeUnit.SECONDS, new LinkedBlockingQueue<>(), factory);
    pool.allowCoreThreadTimeOut(true);
    return pool;
  }

  // ---- life cycle ------------------------------------------------------------------------------

  /**
   * Opens the replica's snapshots under {@code dir} and loads the newest into the state machine.
   * Called once, before the first {@link #apply}. Blocks for the load. Corrupt chunks in the
   * snapshot do not fail it: they are quarantined and fetched again from the peers through the
   * installer's {@link Installer#repair} (waiting, with a backoff, until a peer can supply them),
   * then the load runs again. Afterwards, chunks the store quarantines are re-fetched in the
   * background, and a scrub re-hashes the store at {@link StateMachineConfig#scrubBytesPerSecond}.
   *
   * @param dir the state machine's directory (created if needed)
   * @param host the Raft layer
   * @return the snapshot that was loaded, if any: the Raft layer's applied index is its index
   * @throws IOException if the snapshots could not be read for a reason other than corrupt chunks
   */
  public Optional<Manifest> open(Path dir, Host host) throws IOException {
    if (catalog != null) {
      throw new IllegalStateException(name + " is open already");
    }
    initializeStarted.compareAndSet(-1, System.nanoTime());
    this.host = Objects.requireNonNull(host, "host");
    SnapshotCatalog c = SnapshotCatalog.open(dir, layout, config, repair);
    catalog = c;
    staging = new Staging(c, sm, layout, loadPool, core.reportsChanges(), name);
    // The newest snapshot on disk, also if corruption cost it chunks: they are fetched again.
    Optional<Manifest> latest = c.newest();
    if (latest.isPresent()) {
      long t0 = System.nanoTime();
      Manifest m = latest.get();
      commit(repair.loadAtStartup(c, staging, m));
      LOG.info(
          "{}: loaded snapshot at index {} (term {}): {} MB in {} ms",
          name,
          m.index(),
          m.term(),
          m.rawBytes() / 1_000_000,
          (System.nanoTime() - t0) / 1_000_000);
    }
    localLoadDone.compareAndSet(-1, System.nanoTime());
    repair.start(c);
    return latest;
  }

  /** Waits up to 30 s for a running capture, then stops every thread and closes the snapshots. */
  @Override
  public void close() throws IOException {
    captureExecutor.shutdown();
    try {
      if (!captureExecutor.awaitTermination(30, TimeUnit.SECONDS)) {
        LOG.warn("{}: capture still running at close", name);
        captureExecutor.shutdownNow();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    background.shutdownNow();
    loadPool.shutdownNow();
    repair.close();
    SnapshotCatalog c = catalog;
    if (c != null) {
      c.close();
    }
  }

  // ---- apply -----------------------------------------------------------------------------------

  /**
   * Applies the log entry at {@code index}, unless this replica applied it already (then it
   * completes at once with an empty reply). Apply thread, in log order.
   *
   * @param entry the entry's bytes (a {@link CommandCodec} command); read, not kept
   * @return the reply envelope ({@link CommandCodec#decodeReply}); completes at once except for a
   *     checkpoint of a state machine that does not report changes
   */
  public CompletableFuture<byte[]> apply(long term, long index, ByteBuffer entry) {
    if (index <= appliedIndex) {
      LOG.debug("{}: skipping entry {} at or below the applied index", name, index);
      return CompletableFuture.completedFuture(new byte[0]);
    }
    if (entry.hasRemaining() && entry.get(entry.position()) == CommandCodec.CAPTURE) {
      policy.captureApplied();
    }
    CompletableFuture<byte[]> reply = core.apply(term, index, entry);
    appliedUpTo(index);
    maybeProposeCapture();
    return reply;
  }

  /**
   * Records that the Raft layer applied up to {@code index} (entries of its own, such as
   * configuration changes, included) and wakes {@link #whenApplied} waiters. Apply thread.
   */
  public void appliedUpTo(long index) {
    if (index > appliedIndex) {
      appliedIndex = index;
    }
    List<CompletableFuture<Void>> ready = new ArrayList<>();
    synchronized (appliedWaiters) {
      while (!appliedWaiters.isEmpty() && appliedWaiters.firstKey() <= appliedIndex) {
        ready.addAll(appliedWaiters.pollFirstEntry().getValue());
      }
    }
    if (!ready.isEmpty()) {
      background.execute(() -> ready.forEach(f -> f.complete(null)));
    }
  }

  /** The index of the last applied entry ({@code -1} before any). */
  public long appliedIndex() {
    return appliedIndex;
  }

  /** Completes when this replica has applied {@code index} (at once if it already has). */
  public CompletableFuture<Void> whenApplied(long index) {
    synchronized (appliedWaiters) {
      if (appliedIndex >= index) {
        return CompletableFuture.completedFuture(null);
      }
      CompletableFuture<Void> f = new CompletableFuture<>();
      appliedWaiters.computeIfAbsent(index, i -> new ArrayList<>()).add(f);
      return f;
    }
  }

  private void maybeProposeCapture() {
    if (!policy.claim(
        core.commandsSinceCapture(),
        core.bytesSinceCapture(),
        pendingCaptures.get(),
        host::isLeader)) {
      return;
    }
    Host h = host;
    background.execute(
        () -> {
          CompletableFuture<?> proposed;
          try {
            proposed = h.submit(CommandCodec.captureCommand());
          } catch (RuntimeException e) {
            proposed = CompletableFuture.failedFuture(e);
          }
          proposed.whenComplete(
              (r, t) -> {
                if (t != null) {
                  policy.proposalFailed();
                  LOG.debug("{}: capture proposal not accepted: {}", name, t.toString());
                }
              });
        });
  }

  /** Writes a capture on the capture thread (called by the apply core on the apply thread). */
  private void capture(ApplyCore.Capture c) {
    long index = c.job().index();
    pendingCaptures.incrementAndGet();
    captureExecutor.execute(
        () -> {
          long t0 = System.nanoTime();
          try {
            if (c.check() != null) {
              c.check().verify();
            }
            SnapshotCatalog cat = requireCatalog();
            Manifest m = cat.capture(c.job());
            long took = System.nanoTime() - t0;
            long written = cat.lastCaptureBytes();
            captureNanos.addAndGet(took);
            captureBytes.addAndGet(written);
            lastCaptureNanos = took;
            lastCaptureBytes = written;
            captures.incrementAndGet();
            if (c.shardDigests() != null) {
              staging.offerBaseline(new StagedLoad.Base(m, c.job().view(), c.shardDigests()));
            }
            LOG.info(
                "{}: captured snapshot at index {} in {} ms ({} bytes of state, {} bytes written)",
                name,
                index,
                took / 1_000_000,
                m.rawBytes(),
                written);
          } catch (Throwable t) {
            captureFailures.incrementAndGet();
            lastCaptureFailure = t;
            LOG.error("{}: snapshot capture at index {} failed", name, index, t);
          } finally {
            pendingCaptures.decrementAndGet();
          }
        });
  }

  // ---- queries ---------------------------------------------------------------------------------

  /**
   * Answers a query envelope ({@link CommandCodec}: a user query, the digest, the pending
   * membership change, a checkpoint) from this replica's applied state. Any thread. The future
   * fails with {@link IllegalArgumentException} for a malformed query and with what the state
   * machine threw.
   */
  public CompletableFuture<byte[]> query(byte[] request) {
    if (request.length == 0) {
      return failedQuery("empty query");
    }
    switch (request[0]) {
      case CommandCodec.QUERY_USER -> {
        try {
          return CompletableFuture.completedFuture(
              sm.query(Arrays.copyOfRange(request, 1, request.length)));
        } catch (RuntimeException e) {
          return CompletableFuture.failedFuture(e);
        }
      }
      case CommandCodec.QUERY_DIGEST -> {
        return digest().thenApply(CommandCodec::encodeDigestReply);
      }
      case CommandCodec.QUERY_MEMBERSHIP -> {
        return CompletableFuture.completedFuture(
            core.pendingChange().map(MembershipChange::encode).orElse(new byte[0]));
      }
      case CommandCodec.QUERY_CHECKPOINT -> {
        if (request.length != 1 + Long.BYTES) {
          return failedQuery("malformed checkpoint query");
        }
        long id = ByteBuffer.wrap(request).getLong(1);
        Optional<DigestAt> d = checkpoint(id);
        if (d.isEmpty()) {
          return failedQuery("no checkpoint " + id + " recorded on this replica");
        }
        return CompletableFuture.completedFuture(CommandCodec.encodeDigestReply(d.get()));
      }
      default -> {
        return failedQuery("unknown query kind " + request[0]);
      }
    }
  }

  /** A {@link #query} answered once this replica applied {@code minIndex}, off the caller. */
  public CompletableFuture<byte[]> queryStale(byte[] request, long minIndex) {
    return whenApplied(minIndex).thenComposeAsync(v -> query(request), background);
  }

  private static CompletableFuture<byte[]> failedQuery(String why) {
    return CompletableFuture.failedFuture(new IllegalArgumentException(why));
  }

  // ---- install ---------------------------------------------------------------------------------

  /**
   * The leader asks this follower to install a snapshot at index {@code >= firstAvailableIndex -
   * 1}. Starts the installer after the backoff of earlier failures, off the caller's thread; the
   * future completes with the installed (staged) manifest, or fails (also after the install
   * deadline), on the background pool. Marks the replica as installing until the install failed or
   * its state was swapped in ({@link #swapInStaged}).
   */
  public CompletableFuture<Manifest> install(
      long firstAvailableIndex, long firstAvailableTerm, String leader) {
    long now = System.nanoTime();
    installRequested.set(now);
    installing = true;
    firstLeaderContact.compareAndSet(-1, now);
    Installer.InstallRequest request =
        new Installer.InstallRequest(firstAvailableIndex, firstAvailableTerm, leader);
    long wait = installBackoff.waitNanos(now);
    if (installBackoff.failures() == 0) {
      LOG.info(
          "{}: leader {} asks for a snapshot at index >= {}",
          name,
          leader,
          firstAvailableIndex - 1);
    } else {
      LOG.debug(
          "{}: leader {} asks again for a snapshot at index >= {}; starting in {} ms",
          name,
          leader,
          firstAvailableIndex - 1,
          wait / 1_000_000);
    }
    // Complete asynchronously always: an already-failed future takes a bad path in Ratis.
    Executor start =
        wait == 0
            ? background
            : CompletableFuture.delayedExecutor(wait, TimeUnit.NANOSECONDS, background);
    return CompletableFuture.supplyAsync(() -> request, start)
        .thenCompose(r -> installer.install(r, installTarget()))
        .orTimeout(config.installDeadline().toMillis(), TimeUnit.MILLISECONDS)
        .whenCompleteAsync(
            (m, t) -> {
              if (t != null) {
                installing = false;
                installFailed(t);
              } else {
                int failed = installBackoff.succeeded();
                if (failed > 0) {
                  LOG.info("{}: install succeeded after {} failed attempts", name, failed);
                }
                installDone.set(System.nanoTime());
              }
            },
            background);
  }

  private void installFailed(Throwable t) {
    long delay = installBackoff.failed(System.nanoTime());
    int n = installBackoff.failures();
    Throwable cause = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
    if (installBackoff.worthLogging()) {
      LOG.warn(
          "{}: install failed{} (next attempt in {} ms): {}",
          name,
          n == 1 ? "" : " " + n + " times in a row",
          TimeUnit.NANOSECONDS.toMillis(delay),
          cause.toString());
    } else {
      LOG.debug("{}: install failed {} times in a row: {}", name, n, cause.toString());
    }
  }

  /** The index of the installed state waiting to be swapped in, if any. Thread-safe. */
  public OptionalLong stagedIndex() {
    Staging s = staging;
    Optional<StagedState> st = s == null ? Optional.empty() : s.staged();
    return st.isEmpty() ? OptionalLong.empty() : OptionalLong.of(st.get().manifest().index());
  }

  /**
   * Swaps the staged install in: commits it into the state machine and takes over its sessions and
   * digest. Called by the Raft layer while nothing applies (its reload after an install).
   *
   * @return the manifest swapped in, or empty when nothing was staged
   */
  public Optional<Manifest> swapInStaged() {
    Staging st = staging;
    Optional<StagedState> taken = st == null ? Optional.empty() : st.takeStaged();
    if (taken.isEmpty()) {
      return Optional.empty();
    }
    StagedState s = taken.get();
    commit(s);
    long now = System.nanoTime();
    reloaded.set(now);
    long done = installDone.get();
    LOG.debug("{}: installed snapshot at index {} is live", name, s.manifest().index());
    if (done >= 0) {
      try {
        installer.swappedIn(s.manifest(), Duration.ofNanos(Math.max(0, now - done)));
      } catch (RuntimeException e) {
        LOG.warn("{}: installer failed on the swap notification: {}", name, e.toString());
      }
      Manifest m = s.manifest();
      whenApplied(m.index() + 1)
          .thenRun(
              () -> {
                try {
                  installer.replaying(m);
                } catch (RuntimeException e) {
                  LOG.warn(
                      "{}: installer failed on the replay notification: {}", name, e.toString());
                }
              });
    }
    installing = false;
    return Optional.of(s.manifest());
  }

  /** Swaps a staged state in. Apply thread (or open), nothing applying. */
  private void commit(StagedState s) {
    s.loader().commit();
    core.reset(s);
    if (core.reportsChanges()) {
      staging.committed(s, sm.view());
    }
    appliedIndex = s.manifest().index();
    appliedUpTo(s.manifest().index());
  }

  /**
   * The replica's background pool, for the Raft layer's own asynchronous work (it may block
   * briefly); stopped by {@link #close}.
   */
  public Executor background() {
    return background;
  }

  /** Records that this node heard from a leader (for the recovery timeline). */
  public void leaderContact() {
    firstLeaderContact.compareAndSet(-1, System.nanoTime());
  }

  // ---- what the node reports -------------------------------------------------------------------

  /** The user's state machine. */
  public StateMachine stateMachine() {
    return sm;
  }

  /** The shard layout (the state machine's, read once). */
  public ShardLayout layout() {
    return layout;
  }

  /** What this replica did about corrupt chunks in its store (repairs, scrub). Any thread. */
  public ChunkRepairStats chunkRepairs() {
    return repair.stats();
  }

  /** The settings. */
  public StateMachineConfig config() {
    return config;
  }

  /** The local chunk store; throws {@link IllegalStateException} before {@link #open}. */
  public ChunkStore chunkStore() {
    return requireCatalog().store();
  }

  /** The newest durable local snapshot's manifest, if any (empty before {@link #open}). */
  public Optional<Manifest> latestManifest() {
    SnapshotCatalog c = catalog;
    return c == null ? Optional.empty() : c.latest();
  }

  /**
   * All durable local manifests, oldest first; throws {@link IllegalStateException} before open.
   */
  public List<Manifest> manifests() {
    return requireCatalog().manifests();
  }

  /**
   * The file of the durable manifest at {@code index}; throws {@link IllegalStateException} before
   * open.
   */
  public Path manifestPath(long index) {
    return requireCatalog().manifestPath(index);
  }

  /**
   * What an {@link Installer} works on; throws {@link IllegalStateException} before {@link #open}.
   */
  public InstallTarget installTarget() {
    requireCatalog();
    return staging.target();
  }

  /**
   * The applied index and state digest. For a state machine that reports changes this is exact and
   * free; otherwise the digest is computed from a point-in-time view (off the caller's thread).
   */
  public CompletableFuture<DigestAt> digest() {
    return core.digest();
  }

  /** The membership change recorded as pending, as of the last applied entry. Never blocks. */
  public Optional<MembershipChange> pendingMembershipChange() {
    return core.pendingChange();
  }

  /** The digest recorded at checkpoint {@code id}, if this replica applied it and remembers it. */
  public Optional<DigestAt> checkpoint(long id) {
    return core.checkpoint(id);
  }

  /**
   * The digest recorded at the latest checkpoint applied (the same log index on every replica, so
   * digests of different replicas compare), if one is remembered.
   */
  public Optional<DigestAt> lastCheckpoint() {
    return core.lastCheckpoint();
  }

  /** How many captures are queued or running. */
  public long pendingCaptures() {
    return pendingCaptures.get();
  }

  /** Why the last failed capture failed, if one did (for example an unreported change). */
  public Optional<Throwable> lastCaptureFailure() {
    return Optional.ofNullable(lastCaptureFailure);
  }

  /**
   * The newest durable snapshot and what captures cost so far. Never blocks (one file system stat
   * for the snapshot's time).
   */
  public SnapshotStats snapshotStats() {
    SnapshotCatalog c = catalog;
    Optional<Manifest> latest = c == null ? Optional.empty() : c.latest();
    return new SnapshotStats(
        latest.map(Manifest::index).orElse(-1L),
        latest.map(Manifest::rawBytes).orElse(0L),
        c == null ? -1 : c.latestDurableAtMillis(),
        captures.get(),
        captureFailures.get(),
        captureNanos.get(),
        captureBytes.get(),
        lastCaptureNanos,
        lastCaptureBytes,
        pendingCaptures.get());
  }

  /**
   * The index the Raft layer may purge its log up to: the newest durable snapshot's index, or the
   * lowest retention hold's floor if that is lower ({@code -1} before any snapshot). Every voter
   * applies the same holds at the same indices, so voters that hold the same snapshots purge to the
   * same point. Thread-safe, never blocks.
   */
  public long purgeIndex() {
    long latest = latestManifest().map(Manifest::index).orElse(-1L);
    return Math.min(latest, core.holdFloor());
  }

  /** The retention holds standing after the last applied entry. Thread-safe. */
  public List<dev.ferry.statemachine.RetentionHold> retentionHolds() {
    return core.holds();
  }

  /**
   * Counts of retention holds since a replica started.
   *
   * @param placed holds recorded as placed (a new owner, or an owner's new floor)
   * @param expired holds that expired, not renewed for {@code holdExpiryEntries} entries
   */
  public record HoldCounts(long placed, long expired) {}

  /** Retention holds placed and expired since this replica started. Thread-safe. */
  public HoldCounts retentionHoldCounts() {
    return new HoldCounts(core.holdsPlaced(), core.holdsExpired());
  }

  /**
   * Whether this replica is installing a snapshot: from a leader's install request until the
   * install failed or its state was swapped in (the Raft layer rejects appends meanwhile).
   */
  public boolean installing() {
    return installing;
  }

  /** When this replica's recovery events happened (restart, leader contact, install, reload). */
  public RecoveryTimeline timeline() {
    return new RecoveryTimeline(
        initializeStarted.get(),
        localLoadDone.get(),
        firstLeaderContact.get(),
        installRequested.get(),
        installDone.get(),
        reloaded.get());
  }

  /**
   * How the last snapshot load went (at start or for an install): shards loaded in full, edited
   * from the previous state or reused, and what was read; empty before the first.
   */
  public Optional<LoadReport> lastLoad() {
    Staging s = staging;
    return s == null ? Optional.empty() : s.lastLoad();
  }

  private SnapshotCatalog requireCatalog() {
    SnapshotCatalog c = catalog;
    if (c == null) {
      throw new IllegalStateException(name + " is not open");
    }
    return c;
  }
}
