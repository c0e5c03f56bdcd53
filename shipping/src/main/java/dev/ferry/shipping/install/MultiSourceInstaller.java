package dev.ferry.shipping.install;

import dev.ferry.shipping.chunks.ManifestInfo;
import dev.ferry.shipping.chunks.SnapshotPeer;
import dev.ferry.shipping.metrics.InstallMetrics;
import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.ChunkRef;
import dev.ferry.snapshot.codec.ChunkCodec;
import dev.ferry.snapshot.codec.ChunkCodecs;
import dev.ferry.snapshot.format.Manifest;
import dev.ferry.snapshot.format.ManifestCodec;
import dev.ferry.snapshot.format.Shard;
import dev.ferry.snapshot.store.ChunkStore;
import dev.ferry.snapshot.store.ChunkWriter;
import dev.ferry.snapshot.store.Lease;
import dev.ferry.snapshot.transfer.ChunkTransfer;
import dev.ferry.snapshot.transfer.ChunkVerifier;
import dev.ferry.snapshot.transfer.TransferAction;
import dev.ferry.snapshot.transfer.TransferConfig;
import dev.ferry.snapshot.transfer.TransferProgress;
import dev.ferry.snapshot.transfer.TransferSource;
import dev.ferry.snapshot.transport.ChunkTransport;
import dev.ferry.statemachine.RetentionHold;
import dev.ferry.statemachine.replica.DigestMismatchException;
import dev.ferry.statemachine.replica.InstallTarget;
import dev.ferry.statemachine.replica.Installer;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Installs a snapshot baseline from several peers at once.
 *
 * <ol>
 *   <li>Asks every peer for its manifests at or after the index Ratis needs and picks the newest
 *       one (peers listing the same index and root hash are its sources; the leader is not needed,
 *       and is asked last when at least two other sources exist). While the transfer runs, the
 *       configuration's other members are asked again every second: one that now lists the same
 *       index and root (a follower that finished capturing it) is pinned and becomes a source; a
 *       source that leaves the configuration, loses its pin or is demoted is dropped.
 *   <li>Fetches the manifest, checks its root, pins it on every source (renewing the lease), and
 *       durably records its chunk list in the local store, so that what arrives survives a crash
 *       and a restarted install resumes.
 *   <li>Runs the {@link ChunkTransfer} protocol over the sources: only chunks the local store lacks
 *       are fetched, spread by measured throughput; every chunk is verified (decoded and hashed,
 *       {@link ChunkVerifier}) before it is stored.
 *   <li>Loads each shard as soon as all its chunks are stored, on a loader pool, so loading
 *       overlaps transfer; then verifies the digest and stages the new state ({@link
 *       InstallTarget.StagedInstall#complete}). The content of fetched chunks, decoded and hashed
 *       when they arrived, is kept in memory (up to {@link Builder#decodedCacheBytes} for one
 *       install, and up to the scheduler's {@link TransferScheduler.Builder#maxDecodedBytes} for
 *       all installs of the node together) until their shard is loaded, so a chunk is not read and
 *       decoded again from the store.
 * </ol>
 *
 * <p>While the transfer runs, the install holds the voters' log after its baseline ({@link
 * LogHold}, renewed every {@code sourcePoll}, released once the leader replays the log to this
 * node), so that the log it must replay is still there when it ends. When a renewal says the hold
 * kept more than {@link Builder#holdBudgetBytes} of log and a newer baseline exists, it rebases: it
 * lets the requests already made arrive, then moves to the newest baseline and fetches only what it
 * lacks. Alerts, each logged once per episode with what was done and counted ({@link
 * InstallMetrics.Alert}): slower than {@link Builder#slowAfter}, an ETA longer than the hold's
 * budget lasts, repeated failures. Each widens the install: no source cap (the leader and peers
 * held back become sources), the leader no longer asked last, more bytes in flight per source;
 * never a faster sender.
 *
 * <p>Admission and budget: every install first waits for the node's {@link TransferScheduler} to
 * admit it (by {@link Builder#priority}; at most so many installs run at once, the rest queue), and
 * every chunk request reserves its stored size in the scheduler's byte budget before it goes out
 * ({@link dev.ferry.snapshot.transfer.RequestBudget}); the bytes are released when the chunk is
 * written, or when the request ends otherwise (failed, a duplicate, corrupt, or the install ended).
 * A request the budget refuses waits until another install releases bytes. A single-group server's
 * scheduler is unlimited: it admits at once and bounds nothing.
 *
 * <p>Concurrency: each install has one driver ({@link DriverLoop}: its tasks run one at a time on
 * the scheduler's shared driver threads) that owns its {@code ChunkTransfer} and all its
 * bookkeeping (sources, leases, per-source bytes, reserved bytes); transport callbacks, peer
 * futures and timers hand events to it. Arriving chunks are verified on the scheduler's verifier
 * pool (one thread per core, shared by the node's installs), which hands the driver only the result
 * ({@link ChunkTransfer#onChunkVerified}); its queue is bounded by the transfers' in-flight windows
 * and the byte budget, since a chunk counts as in flight until its result reached the driver. Chunk
 * writes (which fsync) run on the scheduler's writer pool. Shards load on its loader pool (one
 * thread per core), each shard at most once, concurrently for distinct shards ({@link
 * InstallTarget.StagedInstall#loadShard} must allow that); {@code complete()} is called after every
 * submitted load returned. No thread belongs to one install or one group; nothing runs on Ratis's
 * threads. Thread-safe.
 */
public final class MultiSourceInstaller implements Installer {
  private static final Logger LOG = LoggerFactory.getLogger(MultiSourceInstaller.class);
  private static final String TARGET_KEY_PREFIX = "install-";

  /** Default of {@link Builder#holdBudgetBytes}: 256 MiB. */
  public static final long DEFAULT_HOLD_BUDGET_BYTES = 256L << 20;

  /** The longest a rebasing run waits for the chunks it requested before it hands over. */
  static final Duration DRAIN_LIMIT = Duration.ofSeconds(30);

  /** The in-flight bytes per source a widened install raises its transfer to (4× the default). */
  static final long WIDENED_IN_FLIGHT_FACTOR = 4;

  private final String selfId;
  private final Supplier<List<SnapshotPeer>> peers;
  private final TransferConfig transferConfig;
  private final Duration pinTtl;

  /** How long an install waits for a peer to hold a new enough snapshot before it fails. */
  static final Duration BASELINE_WAIT = Duration.ofSeconds(60);

  /** How often it asks the peers again meanwhile. */
  static final Duration BASELINE_POLL = Duration.ofMillis(250);

  private final Duration listTimeout;
  private final InstallMetrics metrics;
  private final Shipping shipping;
  private final int maxSources;
  private final boolean leaderLast;
  private final long decodedCacheBytes;
  private final Duration sourcePoll;
  private final int threads = Runtime.getRuntime().availableProcessors();
  private final AtomicInteger installs = new AtomicInteger();
  private final LogHold hold;
  private final long holdBudgetBytes;
  private final Duration slowAfter;
  private final int failuresToAlert;
  private final TransferScheduler scheduler;
  private final String name;

  /**
   * The priority of the next install: the builder's until an install succeeded, then {@link
   * TransferPriority#CATCH_UP} (a replica that joined and later lags is an ordinary catch-up).
   */
  private volatile TransferPriority priority;

  /** Installs running now (a rebased install counts once). */
  private final AtomicInteger running = new AtomicInteger();

  /** Installs that failed in a row (reset by a success); the alert fires once per series. */
  private final AtomicInteger failuresInARow = new AtomicInteger();

  private volatile InstallReport lastReport;
  private volatile InstallProgress current;

  private MultiSourceInstaller(Builder b) {
    this.selfId = b.selfId;
    this.peers = b.peers;
    this.transferConfig = b.transferConfig;
    this.pinTtl = b.pinTtl;
    this.listTimeout = b.listTimeout;
    this.metrics = b.metrics;
    this.shipping = b.shipping;
    this.maxSources = b.maxSources;
    this.leaderLast = b.leaderLast;
    this.decodedCacheBytes = b.decodedCacheBytes;
    this.sourcePoll = b.sourcePoll;
    this.hold = b.hold;
    this.holdBudgetBytes = b.holdBudgetBytes;
    this.slowAfter = b.slowAfter;
    this.failuresToAlert = b.failuresToAlert;
    this.scheduler = b.scheduler;
    this.name = b.name != null ? b.name : b.selfId;
    this.priority = b.priority;
  }

  /** A new builder. */
  public static Builder builder() {
    return new Builder();
  }

  /** The metrics installs record into (holds, rebases, alerts, bytes, outcomes). */
  public InstallMetrics metrics() {
    return metrics;
  }

  /** The report of the last install that ended (successfully or not), or {@code null}. */
  public InstallReport lastReport() {
    return lastReport;
  }

  /**
   * The install in progress, as of the last chunk received, or empty if none is running.
   * Thread-safe, never blocks.
   */
  public java.util.Optional<InstallProgress> currentInstall() {
    return java.util.Optional.ofNullable(current);
  }

  /**
   * Starts an install once the {@link TransferScheduler} admits it (at once when it has room; else
   * it waits in the scheduler's queue, which counts towards the caller's install deadline). Never
   * blocks. The future fails with a {@link java.util.concurrent.CancellationException} if a newer
   * install of this group took its place in the queue, or the scheduler closed. When it completes,
   * the install has given its slot and bytes back to the scheduler.
   */
  @Override
  public CompletableFuture<Manifest> install(InstallRequest request, InstallTarget target) {
    CompletableFuture<Manifest> result = new CompletableFuture<>();
    TransferScheduler.Admission admission = scheduler.submit(name, priority);
    running.incrementAndGet();
    // The caller's future completes only after the slot and the priority are settled, so that a
    // caller that saw its install end finds the scheduler without it (not a moment later).
    CompletableFuture<Manifest> settled =
        result.whenComplete(
            (m, t) -> {
              admission.close();
              running.decrementAndGet();
              if (t == null) {
                priority = TransferPriority.CATCH_UP;
              }
            });
    admission
        .admitted()
        .whenComplete(
            (a, t) -> {
              if (t != null) {
                LOG.debug("install of {} not run: {}", name, t.toString());
                result.completeExceptionally(t);
              } else if (!result.isDone()) {
                new Run(
                        request,
                        target,
                        installs.incrementAndGet(),
                        result,
                        Math.max(0, request.firstAvailableIndex() - 1),
                        System.nanoTime(),
                        admission)
                    .start();
              }
            });
    return settled;
  }

  /** The transfer scheduler this installer's installs are admitted by (maybe the node's). */
  public TransferScheduler scheduler() {
    return scheduler;
  }

  /** The priority this group's next install is admitted at. */
  public TransferPriority priority() {
    return priority;
  }

  /**
   * Fetches chunks this node lost to corruption from the reachable peers (one after another), each
   * verified against its id before it is stored. Never blocks; the work runs on a small pool of
   * daemon threads.
   */
  @Override
  public CompletableFuture<Void> repair(Collection<ChunkRef> chunks, ChunkStore store) {
    Objects.requireNonNull(chunks, "chunks");
    Objects.requireNonNull(store, "store");
    List<SnapshotPeer> candidates;
    try {
      candidates = peers.get();
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(new IOException("no peers to fetch from", e));
    }
    return ChunkRefetch.start(chunks, store, candidates, scheduler.writers());
  }

  /** Times the install's last phase ({@link InstallMetrics.Phase#FINALIZE}). */
  @Override
  public void swappedIn(Manifest manifest, Duration sinceInstalled) {
    metrics.phase(InstallMetrics.Phase.FINALIZE, sinceInstalled.toNanos());
  }

  /**
   * Releases the install's log-retention hold once the leader replays the log after the installed
   * snapshot to this node (released earlier, the voters could purge the entries it still needs
   * before the leader sent them), unless another install runs meanwhile.
   */
  @Override
  public void replaying(Manifest manifest) {
    if (running.get() == 0) {
      releaseHold();
    }
  }

  private void releaseHold() {
    hold.release()
        .whenComplete(
            (v, t) -> {
              if (t != null) {
                LOG.debug("install: releasing the retention hold failed: {}", t.toString());
              }
            });
  }

  /** Configures a {@link MultiSourceInstaller}. */
  public static final class Builder {
    private String selfId;
    private Supplier<List<SnapshotPeer>> peers;
    private TransferConfig transferConfig = TransferConfig.defaults();
    private Duration pinTtl = Duration.ofMinutes(2);
    private Duration listTimeout = Duration.ofSeconds(10);
    private InstallMetrics metrics;
    private Shipping shipping = Shipping.AUTO;
    private int maxSources = Integer.MAX_VALUE;
    private boolean leaderLast = true;
    private long decodedCacheBytes = DecodedChunkCache.defaultCap();
    private Duration sourcePoll = Duration.ofSeconds(1);
    private LogHold hold = LogHold.none();
    private long holdBudgetBytes = DEFAULT_HOLD_BUDGET_BYTES;
    private Duration slowAfter = Duration.ofMinutes(5);
    private int failuresToAlert = 3;
    private TransferScheduler scheduler;
    private TransferPriority priority = TransferPriority.CATCH_UP;
    private String name;

    private Builder() {}

    /**
     * The node's transfer scheduler, shared by the installers of all its groups: it admits installs
     * by priority, bounds the bytes in flight over all of them and runs their work on shared pools.
     * Default: one of this installer's own, unlimited ({@link TransferScheduler#unlimited}).
     */
    public Builder scheduler(TransferScheduler scheduler) {
      this.scheduler = Objects.requireNonNull(scheduler, "scheduler");
      return this;
    }

    /**
     * The priority this installer's installs are admitted at until one succeeds; later ones are
     * {@link TransferPriority#CATCH_UP}. Default {@code CATCH_UP}.
     */
    public Builder priority(TransferPriority priority) {
      this.priority = Objects.requireNonNull(priority, "priority");
      return this;
    }

    /** What the installs are for in the scheduler's logs and figures (default the self id). */
    public Builder name(String name) {
      this.name = Objects.requireNonNull(name, "name");
      return this;
    }

    /**
     * How an install holds the voters' log after its baseline ({@link LogHold}); default {@link
     * LogHold#none()} (installs run without a hold).
     */
    public Builder logHold(LogHold hold) {
      this.hold = Objects.requireNonNull(hold, "hold");
      return this;
    }

    /**
     * The most log bytes an install's retention hold may make the voters keep (bytes of entries
     * applied since the hold was placed). When a renewal reports more, the install rebases: it
     * moves to the newest baseline the peers hold, fetching only the chunks it lacks, and holds the
     * log after that one instead. Default 256 MiB.
     */
    public Builder holdBudgetBytes(long bytes) {
      if (bytes <= 0) {
        throw new IllegalArgumentException("holdBudgetBytes must be positive: " + bytes);
      }
      this.holdBudgetBytes = bytes;
      return this;
    }

    /**
     * How long an install may run before the {@code slow} alert fires and the install is widened
     * (sources held back are added, more chunks kept in flight). Default 5 minutes.
     */
    public Builder slowAfter(Duration after) {
      if (after.isNegative() || after.isZero()) {
        throw new IllegalArgumentException("slowAfter must be positive: " + after);
      }
      this.slowAfter = after;
      return this;
    }

    /** How many installs in a row must fail for the {@code repeated_failures} alert. Default 3. */
    public Builder failuresToAlert(int failures) {
      if (failures < 1) {
        throw new IllegalArgumentException("failuresToAlert must be >= 1: " + failures);
      }
      this.failuresToAlert = failures;
      return this;
    }

    /** How often a running install asks the members that are not its sources for their listings. */
    Builder sourcePoll(Duration every) {
      if (every.isNegative() || every.isZero()) {
        throw new IllegalArgumentException("sourcePoll must be positive: " + every);
      }
      this.sourcePoll = every;
      return this;
    }

    /**
     * The most bytes of decoded chunk content one install keeps in memory between a chunk's arrival
     * (where it is decoded and verified) and the loading of its shard; chunks beyond it, or beyond
     * what the node's decoded-bytes pool has left ({@link
     * TransferScheduler.Builder#maxDecodedBytes}, shared by all installs the scheduler admits), are
     * read and decoded again from the store. Default: a sixteenth of the maximum heap, at most 256
     * MiB; 0 turns the cache off.
     */
    public Builder decodedCacheBytes(long bytes) {
      if (bytes < 0) {
        throw new IllegalArgumentException("decodedCacheBytes must be >= 0: " + bytes);
      }
      this.decodedCacheBytes = bytes;
      return this;
    }

    /**
     * Fetches from at most {@code max} of the peers that hold the chosen baseline (default: all),
     * preferring followers over the leader: bounds the load one install puts on the cluster.
     */
    public Builder maxSources(int max) {
      if (max < 1) {
        throw new IllegalArgumentException("maxSources must be >= 1: " + max);
      }
      this.maxSources = max;
      return this;
    }

    /**
     * Whether the leader is asked last (default true): while at least two other sources serve, it
     * gets a chunk only when no follower can serve it, which keeps an install's load off the node
     * that orders every write. False makes it a source like the others: a cold join over slow links
     * then fetches from every voter at once (the foreground cost is the leader's).
     */
    public Builder leaderLast(boolean last) {
      this.leaderLast = last;
      return this;
    }

    /** In which form chunks cross the network (default {@link Shipping#AUTO}). */
    public Builder shipping(Shipping shipping) {
      this.shipping = Objects.requireNonNull(shipping, "shipping");
      return this;
    }

    /** This node's id (never a source of its own install). */
    public Builder selfId(String id) {
      this.selfId = id;
      return this;
    }

    /**
     * The current peers to fetch from: asked at the start of every install and, while it runs,
     * every second for members that became sources or left. Called on an install's driver thread;
     * must not block.
     */
    public Builder peers(Supplier<List<SnapshotPeer>> peers) {
      this.peers = peers;
      return this;
    }

    /** The transfer protocol's tuning. */
    public Builder transferConfig(TransferConfig config) {
      this.transferConfig = config;
      return this;
    }

    /** How long a pin on a source lasts between renewals. */
    public Builder pinTtl(Duration ttl) {
      this.pinTtl = ttl;
      return this;
    }

    /** Metrics to record into. */
    public Builder metrics(InstallMetrics metrics) {
      this.metrics = metrics;
      return this;
    }

    /** Validates and builds. */
    public MultiSourceInstaller build() {
      Objects.requireNonNull(selfId, "selfId");
      Objects.requireNonNull(peers, "peers");
      Objects.requireNonNull(transferConfig, "transferConfig");
      if (pinTtl.isNegative() || pinTtl.isZero()) {
        throw new IllegalArgumentException("pinTtl must be positive: " + pinTtl);
      }
      if (metrics == null) {
        metrics = new InstallMetrics(new com.codahale.metrics.MetricRegistry());
      }
      if (scheduler == null) {
        // Its pools' threads end when idle: nothing to close.
        scheduler = TransferScheduler.unlimited("ferry-install-" + selfId);
      }
      return new MultiSourceInstaller(this);
    }
  }

  /** One install: owns its transfer on its driver thread. */
  private final class Run {
    final CompletableFuture<Manifest> result;
    private final InstallRequest request;
    private final InstallTarget target;
    private final ChunkStore store;
    private final TransferScheduler.Admission admission;
    private final DriverLoop driver;
    private final ExecutorService verifier;
    private final ExecutorService storer;
    private final ExecutorService loader;

    /** Bytes this run reserved in the scheduler and has not released (driver thread). */
    private long reserved;

    private final DecodedChunkCache decoded;
    private final int n;

    /** When the install began (its first baseline's run, for a rebased one). */
    private final long startNanos;

    /** The lowest baseline index this run accepts. */
    private final long minIndex;

    /** This run ended without ending the install: it rebased onto a newer baseline. */
    private boolean handedOver;

    /** The hold as last recorded, its renewal outstanding, and when it was recorded. */
    private RetentionHold held;

    private boolean renewing;
    private long heldAtNanos;

    /** Log bytes per second the hold made the voters keep, between the last two renewals. */
    private double holdGrowth;

    /** Rebasing: no new requests; what is outstanding is stored until {@code drainUntil}. */
    private boolean draining;

    private long drainUntil;

    /** Chunks requested from a source and not answered yet. */
    private final Set<ChunkId> outstanding = new HashSet<>();

    /** The install was widened (sources held back added, more in flight); once per run. */
    private boolean widened;

    private final Set<InstallMetrics.Alert> alerted = new HashSet<>();

    /** The sources in use: pinned, offered to the transfer, neither dropped nor demoted. */
    private final Map<String, SnapshotPeer> sources = new LinkedHashMap<>();

    /** The lease of each source in {@link #sources}. */
    private final Map<String, Long> leases = new HashMap<>();

    /** Members asked for their listing or a pin whose answer has not arrived. */
    private final Set<String> listing = new HashSet<>();

    private final Set<String> pinning = new HashSet<>();

    /** Sources the transfer demoted: never used again by this install. */
    private final Set<String> demoted = new HashSet<>();

    /** The chunks each source sent that failed verification (at most a report's worth each). */
    private final Map<String, Set<ChunkId>> corruptFrom = new HashMap<>();

    private final Map<ChunkId, Long> sentAt = new HashMap<>();
    private final Map<String, Long> bytesPerSource = new LinkedHashMap<>();
    private final Map<String, Long> firstFetchNanos = new HashMap<>();
    private long verifiedRawBytes;
    private long verifyNanos;
    private long rawChunks;
    private ManifestInfo baseline;
    private Manifest manifest;

    /** Every chunk of the manifest by id; immutable, read by verifier threads. */
    private volatile Map<ChunkId, ChunkRef> refs = Map.of();

    private InstallTarget.StagedInstall staged;
    private ChunkWriter writer;
    private ChunkTransfer transfer;
    private List<Set<ChunkId>> shardMissing;
    private Map<ChunkId, Integer> shardUses;
    private boolean[] shardQueued;
    private Set<ChunkId> sessionMissing;
    private int storesPending;
    private int loadsPending;
    private boolean transferDone;
    private boolean finishing;
    private long firstShardNanos = -1;
    private boolean waitingForBaseline;
    private final RateEstimator rate =
        new RateEstimator(TimeUnit.SECONDS.toNanos(5), TimeUnit.MILLISECONDS.toNanos(250));
    private int shardsLoaded;
    private long shardLoadNanos;
    private long transferStartNanos = -1;
    private long transferEndNanos = -1;
    private ScheduledFuture<?> timer;
    private ScheduledFuture<?> renewal;
    private ScheduledFuture<?> poll;
    private long heldAtStart;

    Run(
        InstallRequest request,
        InstallTarget target,
        int n,
        CompletableFuture<Manifest> result,
        long minIndex,
        long startNanos,
        TransferScheduler.Admission admission) {
      this.request = request;
      this.admission = admission;
      this.decoded = new DecodedChunkCache(decodedCacheBytes, DecodedChunkCache.of(admission));
      this.target = target;
      this.n = n;
      this.result = result;
      this.minIndex = minIndex;
      this.startNanos = startNanos;
      // After a series of failures every attempt starts widened.
      this.widened = failuresInARow.get() >= failuresToAlert;
      this.store = target.chunkStore();
      // Shared with the node's other installs: see "Concurrency" in the class comment.
      this.driver = scheduler.newDriver();
      this.verifier = scheduler.verifiers();
      this.storer = scheduler.writers();
      this.loader = scheduler.loaders();
    }

    void start() {
      driver.execute(this::choose);
    }

    // ---- 1. choose a baseline --------------------------------------------------------------

    private void choose() {
      metrics.begun();
      try {
        long need = minIndex;
        Map<String, SnapshotPeer> all = members();
        Map<String, CompletableFuture<List<ManifestInfo>>> asked = new LinkedHashMap<>();
        all.forEach((id, p) -> asked.put(id, p.listManifests(need)));
        Map<ManifestInfo, List<String>> holders = new HashMap<>();
        Map<String, String> failed = new LinkedHashMap<>();
        for (Map.Entry<String, CompletableFuture<List<ManifestInfo>>> e : asked.entrySet()) {
          try {
            for (ManifestInfo l : e.getValue().get(listTimeout.toMillis(), TimeUnit.MILLISECONDS)) {
              if (l.index() >= need) {
                holders.computeIfAbsent(l, k -> new ArrayList<>()).add(e.getKey());
              }
            }
          } catch (Exception ex) {
            // Said in the failure, if no peer can serve.
            failed.put(e.getKey(), ex.toString());
            LOG.debug("install: peer {} did not list its snapshots: {}", e.getKey(), ex.toString());
          }
        }
        if (holders.isEmpty() && failed.size() < all.size() && waitForBaseline(need, all)) {
          return;
        }
        ManifestInfo best =
            holders.keySet().stream()
                .max(
                    Comparator.comparingLong(ManifestInfo::index)
                        .thenComparingInt(l -> holders.get(l).size()))
                .orElseThrow(
                    () ->
                        new IOException(
                            all.isEmpty()
                                ? "no peer's chunk service could be reached"
                                : "no peer has a snapshot at or after index "
                                    + need
                                    + " (asked "
                                    + all.keySet()
                                    + (failed.isEmpty() ? "" : "; failed: " + failed)
                                    + ")"));
        List<String> holding = new ArrayList<>(holders.get(best));
        if (holding.size() > cap()) {
          // false (not the leader) sorts first; the sort is stable otherwise.
          holding.sort(Comparator.comparing((String id) -> id.equals(request.leaderId())));
          holding = holding.subList(0, cap());
        }
        for (String id : holding) {
          sources.put(id, all.get(id));
        }
        baseline = best;
        manifest = fetchManifest(best);
        pinSources();
        prepare();
      } catch (Throwable t) {
        fail(t);
      }
    }

    /**
     * Peers answered, but none holds a snapshot at {@code need} yet: they are still capturing the
     * baseline a membership change asked for, which takes seconds for a large state. Asks again
     * every {@link #BASELINE_POLL} for up to {@link #BASELINE_WAIT} rather than failing the install
     * (Ratis would ask again at once, and a failed install backs off). Driver thread.
     *
     * @return true if another attempt is scheduled
     */
    private boolean waitForBaseline(long need, Map<String, SnapshotPeer> asked) {
      long waited = System.nanoTime() - startNanos;
      if (waited > BASELINE_WAIT.toNanos()) {
        return false;
      }
      if (!waitingForBaseline) {
        waitingForBaseline = true;
        LOG.info(
            "install: waiting for a snapshot at or after index {} (asked {}; they may be"
                + " capturing it)",
            need,
            asked.keySet());
      }
      driver.schedule(this::choose, BASELINE_POLL.toMillis(), TimeUnit.MILLISECONDS);
      return true;
    }

    /** The configuration's members but this node, by id. Driver thread. */
    private Map<String, SnapshotPeer> members() {
      Map<String, SnapshotPeer> all = new LinkedHashMap<>();
      for (SnapshotPeer p : peers.get()) {
        if (!p.sourceId().equals(selfId)) {
          all.put(p.sourceId(), p);
        }
      }
      return all;
    }

    private Manifest fetchManifest(ManifestInfo best) throws IOException {
      IOException last = null;
      for (SnapshotPeer p : sources.values()) {
        try {
          Manifest m =
              p.fetchManifest(best.index()).get(listTimeout.toMillis(), TimeUnit.MILLISECONDS);
          if (!ManifestCodec.rootHash(m).equals(best.root())) {
            throw new IOException("manifest from " + p.sourceId() + " does not match its root");
          }
          return m;
        } catch (Exception e) {
          last = new IOException("fetching manifest " + best.index() + " from " + p.sourceId(), e);
        }
      }
      throw last != null ? last : new IOException("no source for manifest " + best.index());
    }

    private void pinSources() {
      for (SnapshotPeer p : List.copyOf(sources.values())) {
        try {
          leases.put(
              p.sourceId(),
              p.pin(manifest.index(), pinTtl)
                  .get(listTimeout.toMillis(), TimeUnit.MILLISECONDS)
                  .id());
        } catch (Exception e) {
          LOG.info("install: could not pin on {}, not using it: {}", p.sourceId(), e.toString());
          sources.remove(p.sourceId());
        }
      }
      long every = Math.max(1, pinTtl.toMillis() / 3);
      renewal =
          driver.scheduleWithFixedDelay(
              guarded(this::renewPins), every, every, TimeUnit.MILLISECONDS);
    }

    /** Renews the pin of every source in use; one whose renewal fails is dropped. Driver thread. */
    private void renewPins() {
      leases.forEach(
          (id, lease) ->
              sources
                  .get(id)
                  .renew(lease, pinTtl)
                  .whenComplete(
                      (v, t) -> {
                        if (t != null) {
                          onDriver(
                              () -> {
                                if (lease.equals(leases.get(id))) {
                                  drop(id, "renewing its pin failed: " + t);
                                }
                              });
                        }
                      }));
    }

    // ---- 1b. sources that come and go --------------------------------------------------------

    /**
     * Asks the members that are not sources (nor demoted, nor already asked) for their listings,
     * and drops sources that left the configuration. Never blocks: answers come back through {@link
     * #listed} and {@link #pinned}. Driver thread, every {@code sourcePoll} while the transfer
     * runs.
     */
    private void poll() {
      if (result.isDone() || transfer.isFinished()) {
        return;
      }
      Map<String, SnapshotPeer> members;
      try {
        members = members();
      } catch (RuntimeException e) {
        LOG.debug("install: could not read the configuration's members: {}", e.toString());
        return;
      }
      for (String id : List.copyOf(sources.keySet())) {
        if (!members.containsKey(id)) {
          drop(id, "it left the configuration");
        }
      }
      if (sources.size() + pinning.size() >= cap()) {
        return;
      }
      for (SnapshotPeer p : members.values()) {
        String id = p.sourceId();
        if (sources.containsKey(id)
            || listing.contains(id)
            || pinning.contains(id)
            || demoted.contains(id)) {
          continue;
        }
        listing.add(id);
        p.listManifests(baseline.index())
            .orTimeout(listTimeout.toMillis(), TimeUnit.MILLISECONDS)
            .whenComplete((ls, t) -> onDriver(() -> listed(p, ls, t)));
      }
    }

    /** A member's listing arrived: pins the baseline on it if it holds it. Driver thread. */
    private void listed(SnapshotPeer p, List<ManifestInfo> ls, Throwable t) {
      String id = p.sourceId();
      listing.remove(id);
      if (t != null) {
        LOG.debug("install: peer {} did not list its snapshots: {}", id, t.toString());
        return;
      }
      boolean holds =
          ls.stream()
              .anyMatch(l -> l.index() == baseline.index() && l.root().equals(baseline.root()));
      if (!holds
          || transfer.isFinished()
          || sources.containsKey(id)
          || sources.size() + pinning.size() >= cap()) {
        return;
      }
      pinning.add(id);
      p.pin(manifest.index(), pinTtl)
          .thenApply(Lease::id)
          .orTimeout(listTimeout.toMillis(), TimeUnit.MILLISECONDS)
          .whenComplete(
              (lease, e) ->
                  onDriver(
                      () -> pinned(p, lease, e),
                      () -> {
                        if (lease != null) {
                          p.unpin(lease); // the install ended meanwhile
                        }
                      }));
    }

    /** A pin on a member that holds the baseline answered: it becomes a source. Driver thread. */
    private void pinned(SnapshotPeer p, Long lease, Throwable t) {
      String id = p.sourceId();
      pinning.remove(id);
      if (t != null) {
        LOG.debug("install: could not pin index {} on {}: {}", manifest.index(), id, t.toString());
        return;
      }
      if (transfer.isFinished() || sources.containsKey(id) || sources.size() >= cap()) {
        p.unpin(lease);
        return;
      }
      sources.put(id, p);
      leases.put(id, lease);
      LOG.info(
          "install: added source {} for index {} ({} sources: {})",
          id,
          manifest.index(),
          sources.size(),
          sources.keySet());
      offerSources();
    }

    /**
     * Stops using a source: unpins it (best effort), tells the transfer it is lost unless it
     * demoted it (its unanswered chunks go elsewhere), and re-tiers the others. Its bytes stay in
     * the report. Driver thread.
     */
    private void drop(String id, String why) {
      SnapshotPeer p = sources.remove(id);
      if (p == null) {
        return;
      }
      Long lease = leases.remove(id);
      if (lease != null) {
        p.unpin(lease)
            .whenComplete(
                (v, t) -> {
                  if (t != null) {
                    LOG.debug("install: unpinning on {} failed: {}", id, t.toString());
                  }
                });
      }
      LOG.info("install: dropped source {} for index {}: {}", id, manifest.index(), why);
      if (!demoted.contains(id)) {
        handle(transfer.onSourceLost(System.nanoTime(), id));
      }
      offerSources();
    }

    /**
     * Offers every source in use to the transfer with its tier (new ones join, the others only
     * update their tier). The leader is asked last (it has the most to do) while at least two other
     * sources serve, unless {@link Builder#leaderLast} is off; with fewer, fetching from several
     * peers at once matters more.
     */
    private void offerSources() {
      long others = sources.keySet().stream().filter(id -> !id.equals(request.leaderId())).count();
      List<TransferSource> offered = new ArrayList<>();
      for (String id : sources.keySet()) {
        boolean last = leaderLast && !widened && others >= 2 && id.equals(request.leaderId());
        offered.add(TransferSource.of(id, last ? 1 : 0));
      }
      handle(transfer.onSourcesAvailable(System.nanoTime(), offered));
    }

    // ---- 2. plan and transfer ----------------------------------------------------------------

    private void prepare() throws IOException {
      transferStartNanos = System.nanoTime();
      metrics.phase(InstallMetrics.Phase.LIST, transferStartNanos - startNanos);
      Set<ChunkId> ids = new LinkedHashSet<>();
      Map<ChunkId, ChunkRef> byId = new HashMap<>();
      for (ChunkRef r : manifest.allChunks()) {
        ids.add(r.id());
        byId.putIfAbsent(r.id(), r);
      }
      refs = Map.copyOf(byId);
      // Durable intent: chunks fetched for this baseline survive a crash and are reused.
      store.retain(TARGET_KEY_PREFIX + manifest.term() + "-" + manifest.index(), ids);
      // Chunks become durable together before the state is staged, not one fsync each.
      writer = store.openBatchWriter();
      staged = target.begin(manifest, decoded::take);
      shardMissing = new ArrayList<>();
      shardUses = new HashMap<>();
      for (Shard s : manifest.shards()) {
        Set<ChunkId> missing = new HashSet<>();
        for (ChunkRef r : s.chunks()) {
          if (!store.contains(r.id())) {
            missing.add(r.id());
            // How many times loading the shards reads this chunk (a chunk may repeat).
            shardUses.merge(r.id(), 1, Integer::sum);
          }
        }
        shardMissing.add(missing);
      }
      sessionMissing = new HashSet<>();
      for (ChunkRef r : manifest.sessionChunks()) {
        if (!store.contains(r.id())) {
          sessionMissing.add(r.id());
        }
      }
      shardQueued = new boolean[manifest.shards().size()];
      transfer =
          new ChunkTransfer(manifest.allChunks(), store::contains, transferConfig, this::reserve);
      admission.onBytesFreed(
          () -> onDriver(() -> handle(transfer.onBudgetFreed(System.nanoTime()))));
      TransferProgress p = transfer.progress();
      heldAtStart = p.bytesHeldAtStart();
      long heldRaw = 0;
      Set<ChunkId> seen = new HashSet<>();
      for (ChunkRef r : manifest.allChunks()) {
        if (seen.add(r.id()) && store.contains(r.id())) {
          heldRaw += r.rawSize();
        }
      }
      metrics.started(p.bytesWanted(), p.bytesHeldAtStart(), heldRaw);
      publishProgress();
      LOG.info(
          "install: baseline index {} ({} chunks, {} bytes; {} bytes already held) from {}",
          manifest.index(),
          p.chunksWanted(),
          p.bytesWanted(),
          p.bytesHeldAtStart(),
          sources.keySet());
      for (int i = 0; i < shardMissing.size(); i++) {
        maybeLoad(i);
      }
      handle(transfer.start(System.nanoTime()));
      offerSources();
      schedule();
      long every = sourcePoll.toMillis();
      poll = driver.scheduleWithFixedDelay(this::pollSafely, every, every, TimeUnit.MILLISECONDS);
      if (widened) {
        raiseInFlight();
      }
      renewHold();
    }

    /** How many sources this run may use: the configured cap, unbounded once widened. */
    private int cap() {
      return widened ? Integer.MAX_VALUE : maxSources;
    }

    // ---- 2b. the retention hold and rebasing ------------------------------------------------

    /**
     * Places or renews this node's hold on the voters' log at the baseline's index (one renewal
     * outstanding at a time). Driver thread, at the start of the transfer and every {@code
     * sourcePoll}.
     */
    private void renewHold() {
      if (manifest == null || renewing || handedOver || result.isDone()) {
        return;
      }
      renewing = true;
      long floor = manifest.index();
      hold.renew(floor).whenComplete((h, t) -> onDriver(() -> holdRecorded(floor, h, t)));
    }

    /** A renewal was applied (or failed). Driver thread. */
    private void holdRecorded(long floor, RetentionHold h, Throwable t) {
      renewing = false;
      if (t != null) {
        LOG.debug("install: retention hold at index {} not recorded: {}", floor, t.toString());
        return;
      }
      long now = System.nanoTime();
      if (held == null || held.floor() != h.floor()) {
        metrics.holdPlaced();
        // Counted; the install's own lines already say its baseline.
        LOG.debug(
            "install: the voters hold their log after index {} for this install (budget {} bytes)",
            h.floor(),
            holdBudgetBytes);
      } else if (h.placedAt() == held.placedAt() && now > heldAtNanos) {
        double g = Math.max(0, h.logBytes() - held.logBytes()) * 1e9 / (now - heldAtNanos);
        holdGrowth = holdGrowth == 0 ? g : (holdGrowth + g) / 2;
      }
      held = h;
      heldAtNanos = now;
      if (h.logBytes() > holdBudgetBytes && !draining) {
        lookForNewerBaseline();
      }
    }

    /**
     * The hold kept more log than its budget: asks the members for a baseline newer than this one;
     * {@link #rebase} moves to it. Without one, nothing was captured since the baseline, so the
     * voters cannot purge past it anyway and the install goes on. Driver thread.
     */
    private void lookForNewerBaseline() {
      long above = manifest.index() + 1;
      for (SnapshotPeer p : members().values()) {
        if (demoted.contains(p.sourceId())) {
          continue;
        }
        p.listManifests(above)
            .orTimeout(listTimeout.toMillis(), TimeUnit.MILLISECONDS)
            .whenComplete(
                (ls, t) -> {
                  if (t == null && ls.stream().anyMatch(l -> l.index() >= above)) {
                    onDriver(this::rebase);
                  }
                });
      }
    }

    /**
     * Moves the install to the newest baseline. First this run drains: it sends no new chunk
     * request, and stores what its sources still send for the requests already made (a source
     * serves its queue in order, so those bytes would be spent anyway; most of the chunks are in
     * the new baseline too). Once nothing is outstanding (or after {@link #DRAIN_LIMIT}) it makes
     * its chunks durable and ends without ending the install, and another run starts on the newest
     * baseline: the chunks stored so far stay in the store (retained under this baseline's key
     * until the install ends), so it fetches only what it lacks; the bytes fetched so far stay in
     * the report. The hold moves to the new baseline when the new run renews it. Driver thread.
     */
    private void rebase() {
      if (draining || handedOver || result.isDone() || transfer.isFinished()) {
        return; // a finished transfer only loads: moving on would not save log
      }
      TransferProgress p = transfer.progress();
      LOG.info(
          "install: the retention hold of index {} kept {} log bytes, over its budget of {}:"
              + " rebasing onto a newer baseline ({} of {} bytes held, {} chunks still coming;"
              + " only what it lacks is fetched)",
          manifest.index(),
          held.logBytes(),
          holdBudgetBytes,
          p.bytesDone(),
          p.bytesWanted(),
          outstanding.size());
      metrics.rebased();
      draining = true;
      drainUntil = System.nanoTime() + DRAIN_LIMIT.toNanos();
      maybeHandOver();
    }

    /** Hands the install over to a run on the newest baseline once the drain is over. */
    private void maybeHandOver() {
      if (!draining || handedOver || result.isDone() || storesPending > 0) {
        return;
      }
      if (!outstanding.isEmpty() && System.nanoTime() < drainUntil) {
        return;
      }
      try {
        writer.sync();
      } catch (IOException e) {
        LOG.debug("install: syncing the chunks before rebasing failed: {}", e.toString());
      }
      handedOver = true;
      if (staged != null) {
        staged.abort();
      }
      end();
      Run next = new Run(request, target, n, result, manifest.index() + 1, startNanos, admission);
      next.bytesPerSource.putAll(bytesPerSource);
      next.widened = widened;
      next.start();
    }

    // ---- 2c. alerts that act -----------------------------------------------------------------

    /**
     * Raises the alerts of a running install, each once per run: slower than {@code slowAfter}; an
     * ETA longer than the hold's remaining budget lasts at the current log growth. Each widens the
     * install. Driver thread, every {@code sourcePoll}.
     */
    private void checkAlerts() {
      InstallProgress p = current;
      if (p == null || draining || handedOver || transfer.isFinished()) {
        return;
      }
      long elapsed = System.nanoTime() - startNanos;
      if (elapsed > slowAfter.toNanos()) {
        alert(
            InstallMetrics.Alert.SLOW,
            "install of index "
                + manifest.index()
                + " has run "
                + elapsed / 1_000_000
                + " ms, over the threshold of "
                + slowAfter.toMillis()
                + " ms (ETA "
                + p.eta().map(d -> d.toMillis() + " ms").orElse("unknown")
                + ")");
      }
      Optional<Duration> eta = p.eta();
      if (held != null && holdGrowth > 0 && eta.isPresent()) {
        long left = Math.max(0, holdBudgetBytes - held.logBytes());
        long lastsMillis = (long) (left * 1000 / holdGrowth);
        if (eta.get().toMillis() > lastsMillis) {
          alert(
              InstallMetrics.Alert.HOLD_AT_RISK,
              "install of index "
                  + manifest.index()
                  + ": ETA "
                  + eta.get().toMillis()
                  + " ms, but its retention hold's budget ("
                  + left
                  + " bytes left) lasts about "
                  + lastsMillis
                  + " ms at the current log growth");
        }
      }
    }

    private void alert(InstallMetrics.Alert kind, String what) {
      if (!alerted.add(kind)) {
        return;
      }
      metrics.alert(kind);
      LOG.warn("install alert {}: {}; action: {}", kind.label(), what, widen());
    }

    /**
     * Widens the install: no source cap any more (members held back, the leader among them, are
     * listed and pinned by the next poll, which runs now), the leader no longer asked last, and
     * more bytes in flight per source. Never asks a sender to send faster. Driver thread.
     *
     * @return what was done, for the alert's log line
     */
    private String widen() {
      if (widened) {
        return "already widened";
      }
      widened = true;
      Set<String> heldBack = new java.util.TreeSet<>(members().keySet());
      heldBack.removeAll(sources.keySet());
      heldBack.removeAll(demoted);
      offerSources();
      long inFlight = raiseInFlight();
      poll();
      return "widened: "
          + (heldBack.isEmpty()
              ? "no source was held back"
              : "adding the sources held back "
                  + heldBack
                  + (heldBack.contains(request.leaderId()) ? " (the leader among them)" : ""))
          + ", the leader no longer asked last, up to "
          + inFlight
          + " bytes in flight per source (senders' rate limits unchanged)";
    }

    private long raiseInFlight() {
      long inFlight = transferConfig.maxInFlightBytesPerSource() * WIDENED_IN_FLIGHT_FACTOR;
      handle(transfer.raiseInFlight(System.nanoTime(), inFlight));
      return inFlight;
    }

    private void pollSafely() {
      try {
        poll();
        schedule();
        // Also when no chunk arrives: the smoothed rate then falls and the ETA grows.
        publishProgress();
        renewHold();
        checkAlerts();
        maybeHandOver();
      } catch (Throwable t) {
        fail(t);
      }
    }

    private void handle(List<TransferAction> actions) {
      for (TransferAction a : actions) {
        if (a instanceof TransferAction.Fetch f) {
          fetch(f);
        } else if (a instanceof TransferAction.Store s) {
          // Kept until its shard is loaded (chunks only in the session table are not kept).
          decoded.offer(s.ref().id(), s.raw(), shardUses.getOrDefault(s.ref().id(), 0));
          storeChunk(s.ref(), s.stored());
        } else if (a instanceof TransferAction.SourceDemoted d) {
          LOG.warn("install: source {} demoted: {}", d.source(), d.reason());
          metrics.demoted();
          demoted.add(d.source());
          reportCorruption(d.source());
          drop(d.source(), "demoted");
        } else if (a instanceof TransferAction.GiveUp g) {
          if (!draining) {
            fail(new TransferGaveUpException(g));
          }
        } else if (a instanceof TransferAction.Done) {
          transferDone = true;
          maybeFinish();
        }
      }
    }

    private void fetch(TransferAction.Fetch f) {
      if (draining) {
        f.chunks().forEach(r -> release(r.storedSize()));
        return; // rebasing: the next run asks for what is still missing
      }
      SnapshotPeer peer = sources.get(f.source());
      if (peer == null) {
        f.chunks().forEach(r -> release(r.storedSize()));
        // Not in use any more (cannot happen: a dropped source is lost to the transfer first).
        handle(transfer.onSourceLost(System.nanoTime(), f.source()));
        return;
      }
      List<ChunkId> ids = new ArrayList<>(f.chunks().size());
      long now = System.nanoTime();
      for (ChunkRef r : f.chunks()) {
        ids.add(r.id());
        sentAt.put(r.id(), now);
        outstanding.add(r.id());
      }
      firstFetchNanos.putIfAbsent(f.source(), now);
      long wire = bytesPerSource.getOrDefault(f.source(), 0L);
      // Verification runs on `threads` threads at once: the node verifies that many times faster
      // than the time spent per chunk says.
      boolean raw =
          shipping.raw(
              wire, now - firstFetchNanos.get(f.source()), verifiedRawBytes, verifyNanos / threads);
      if (raw) {
        rawChunks += ids.size();
      }
      peer.fetch(
          ids,
          new ChunkTransport.FetchListener() {
            @Override
            public void arrived(ChunkId id, ByteBuffer stored) {
              long at = System.nanoTime();
              try {
                verifier.execute(
                    () -> {
                      try {
                        verify(f.source(), id, stored, at);
                      } catch (Throwable t) {
                        onDriver(() -> fail(t));
                      }
                    });
              } catch (java.util.concurrent.RejectedExecutionException e) {
                // the install already ended
              }
            }

            @Override
            public void failed(ChunkId id, Throwable cause) {
              onDriver(
                  () -> {
                    ChunkRef ref = refs.get(id);
                    if (ref != null) {
                      release(ref.storedSize());
                    }
                    outstanding.remove(id);
                    handle(transfer.onChunkFailed(System.nanoTime(), f.source(), id, cause));
                    maybeHandOver();
                  });
            }
          },
          raw);
    }

    /**
     * Decodes and hashes an arrived chunk, timing it, and hands the result to the driver. Verifier
     * thread.
     */
    private void verify(String source, ChunkId id, ByteBuffer stored, long arrivedAt) {
      ChunkRef ref = refs.get(id);
      if (ref == null) {
        // Not a chunk of the manifest: the transfer counts it as unsolicited, decoding nothing.
        onDriver(() -> handle(transfer.onChunkArrived(System.nanoTime(), source, id, stored)));
        return;
      }
      boolean compressed = isCompressed(stored);
      long t0 = System.nanoTime();
      ChunkVerifier.Result verified = ChunkVerifier.verify(ref, stored);
      long took = System.nanoTime() - t0;
      onDriver(() -> verified(source, verified, arrivedAt, compressed ? took : -1));
    }

    /**
     * The alert "a source demoted for corruption", once per source and install: names the node and
     * the chunks, counts it, and tells the source which chunks failed, so that it re-verifies,
     * quarantines and re-fetches them from its peers. Driver thread.
     */
    private void reportCorruption(String source) {
      Set<ChunkId> bad = corruptFrom.getOrDefault(source, Set.of());
      if (bad.isEmpty()) {
        return; // demoted for another reason
      }
      List<ChunkId> ids = List.copyOf(bad);
      List<String> hex = ids.stream().map(ChunkId::toHex).toList();
      metrics.corruptSourceAlert(source);
      SnapshotPeer peer = sources.get(source);
      LOG.warn(
          "ALERT install: source {} demoted for corruption: chunk(s) {} it served failed"
              + " verification; no longer used by this install, and {} is told to re-verify,"
              + " quarantine and re-fetch them",
          source,
          hex,
          source);
      if (peer == null) {
        return;
      }
      peer.reportCorrupt(ids)
          .whenComplete(
              (v, e) -> {
                if (e != null) {
                  LOG.warn(
                      "install: telling {} about its corrupt chunks failed: {}",
                      source,
                      e.toString());
                } else {
                  LOG.info("install: {} was told about {} corrupt chunk(s)", source, ids.size());
                }
              });
    }

    /** A verified (or corrupt) chunk reaches the transfer. Driver thread. */
    private void verified(
        String source, ChunkVerifier.Result verified, long arrivedAt, long verifyTook) {
      ChunkRef ref = verified.ref();
      outstanding.remove(ref.id());
      if (verified instanceof ChunkVerifier.Corrupt) {
        Set<ChunkId> bad = corruptFrom.computeIfAbsent(source, k -> new LinkedHashSet<>());
        if (bad.size() < SnapshotPeer.MAX_REPORT_IDS) {
          bad.add(ref.id());
        }
      }
      Long sent = sentAt.get(ref.id());
      metrics.fetched(
          source, verified.storedBytes(), ref.rawSize(), sent == null ? 0 : arrivedAt - sent);
      bytesPerSource.merge(source, (long) verified.storedBytes(), Long::sum);
      if (verifyTook >= 0) {
        verifyNanos += verifyTook;
        verifiedRawBytes += ref.rawSize();
      }
      List<TransferAction> actions = transfer.onChunkVerified(System.nanoTime(), source, verified);
      if (actions.stream()
          .noneMatch(a -> a instanceof TransferAction.Store s && s.ref().id().equals(ref.id()))) {
        release(ref.storedSize()); // not stored: a duplicate, corrupt, or after the end
      }
      handle(actions);
      publishProgress();
    }

    /**
     * Reserves a chunk's bytes in the node's budget before the transfer asks for it. Driver thread
     * (called by the transfer as it schedules).
     */
    private boolean reserve(long bytes) {
      if (admission.tryReserve(bytes)) {
        reserved += bytes;
        return true;
      }
      return false;
    }

    /** Releases a request's bytes once it ended (written, failed, or not stored). Driver thread. */
    private void release(long bytes) {
      long freed = Math.min(bytes, reserved);
      reserved -= freed;
      admission.release(freed);
    }

    private void storeChunk(ChunkRef ref, ByteBuffer stored) {
      storesPending++;
      storer.execute(
          () -> {
            try {
              // The transfer verified these bytes (decoded and hashed) before emitting Store.
              writer.putVerified(ref, stored);
              onDriver(() -> stored(ref));
            } catch (Throwable t) {
              onDriver(
                  () -> {
                    storesPending--;
                    release(ref.storedSize());
                    handle(transfer.onStoreFailed(System.nanoTime(), ref, t));
                    // The transfer gives up only while it runs. A write of a chunk it handed out
                    // before Done fails after it finished, and it ignores that: end the install
                    // here (on a full disk it neither finished nor failed).
                    fail(t);
                  });
            }
          });
    }

    private void stored(ChunkRef ref) {
      storesPending--;
      release(ref.storedSize());
      for (int i = 0; i < shardMissing.size(); i++) {
        if (shardMissing.get(i).remove(ref.id())) {
          maybeLoad(i);
        }
      }
      sessionMissing.remove(ref.id());
      maybeFinish();
      maybeHandOver();
    }

    /**
     * Submits shard {@code i} to the loader pool once all its chunks are stored, at most once.
     * Driver thread.
     */
    private void maybeLoad(int i) {
      if (shardQueued[i] || !shardMissing.get(i).isEmpty()) {
        return;
      }
      shardQueued[i] = true;
      loadsPending++;
      loader.execute(
          () -> {
            try {
              long t = System.nanoTime();
              staged.loadShard(i);
              long at = System.nanoTime() - startNanos;
              long took = System.nanoTime() - t;
              onDriver(() -> shardLoaded(at, took));
            } catch (Throwable t) {
              onDriver(() -> fail(t));
            }
          });
    }

    private void shardLoaded(long at, long took) {
      loadsPending--;
      shardsLoaded++;
      shardLoadNanos += took;
      if (firstShardNanos < 0) {
        firstShardNanos = at;
        metrics.firstShard(at);
      }
      maybeFinish();
    }

    /** Completes the staged install once the transfer is done and every store and load returned. */
    private void maybeFinish() {
      if (!transferDone || storesPending > 0 || finishing || result.isDone() || draining) {
        return;
      }
      if (transferEndNanos < 0) {
        transferEndNanos = System.nanoTime();
        metrics.phase(InstallMetrics.Phase.TRANSFER, transferEndNanos - transferStartNanos);
      }
      if (loadsPending > 0) {
        return;
      }
      finishing = true;
      long t = System.nanoTime();
      metrics.phase(InstallMetrics.Phase.LOAD, t - transferEndNanos);
      loader.execute(
          () -> {
            try {
              writer.sync();
              staged.complete();
              long finalizeNanos = System.nanoTime() - t;
              metrics.phase(InstallMetrics.Phase.VERIFY, finalizeNanos);
              onDriver(() -> succeed(finalizeNanos));
            } catch (Throwable e) {
              onDriver(() -> fail(e));
            }
          });
    }

    private void schedule() {
      if (transfer == null || transfer.isFinished()) {
        return;
      }
      long next = transfer.nextTimerNanos();
      if (next == Long.MAX_VALUE) {
        return;
      }
      if (timer != null) {
        timer.cancel(false);
      }
      long delay = Math.max(1_000_000L, next - System.nanoTime());
      timer =
          driver.schedule(
              guarded(
                  () -> {
                    handle(transfer.onTick(System.nanoTime()));
                    schedule();
                  }),
              delay,
              TimeUnit.NANOSECONDS);
    }

    /** Runs {@code r} on the driver unless the install ended. Any thread. */
    private void onDriver(Runnable r) {
      onDriver(r, () -> {});
    }

    /**
     * Runs {@code r} on the driver, or {@code ifEnded} (on the driver or the calling thread) if the
     * install ended before {@code r} could run. Any thread.
     */
    private void onDriver(Runnable r, Runnable ifEnded) {
      try {
        driver.execute(
            () -> {
              if (result.isDone() || handedOver) {
                ifEnded.run();
              } else {
                guarded(
                        () -> {
                          r.run();
                          schedule();
                        })
                    .run();
              }
            });
      } catch (java.util.concurrent.RejectedExecutionException e) {
        ifEnded.run(); // the install already ended
      }
    }

    /**
     * {@code r}, failing the install with whatever it throws: a task on the driver (a {@link
     * DriverLoop}, like a scheduled executor) would otherwise keep its exception in a future nobody
     * reads, and the install would wait forever. For tasks that run on the driver thread.
     */
    private Runnable guarded(Runnable r) {
      return () -> {
        try {
          r.run();
        } catch (Throwable t) {
          LOG.warn("install: unexpected failure on the driver", t);
          fail(t);
        }
      };
    }

    // ---- 3. end -------------------------------------------------------------------------------

    private void succeed(long finalizeNanos) {
      try {
        for (String key : store.retainedKeys()) {
          if (key.startsWith(TARGET_KEY_PREFIX)) {
            store.release(key);
          }
        }
      } catch (IOException e) {
        LOG.warn("install: releasing install targets failed: {}", e.toString());
      }
      long total = System.nanoTime() - startNanos;
      metrics.finished(InstallMetrics.Outcome.INSTALLED, total);
      failuresInARow.set(0);
      TransferProgress p = transfer.progress();
      lastReport =
          new InstallReport(
              manifest.term(),
              manifest.index(),
              true,
              "installed",
              p.bytesWanted(),
              heldAtStart,
              Map.copyOf(bytesPerSource),
              Duration.ofNanos(total),
              Duration.ofNanos(Math.max(0, firstShardNanos)),
              Duration.ofNanos(finalizeNanos),
              manifest.digest());
      LOG.info(
          "install: index {} done in {} ms: fetched {} bytes from {}, {} bytes already held"
              + " ({} chunks requested raw; {})",
          manifest.index(),
          total / 1_000_000,
          bytesPerSource.values().stream().mapToLong(Long::longValue).sum(),
          bytesPerSource,
          heldAtStart,
          rawChunks,
          decoded.describe());
      end();
      result.complete(manifest);
    }

    private void fail(Throwable t) {
      if (result.isDone() || handedOver) {
        return;
      }
      int inARow = failuresInARow.incrementAndGet();
      if (inARow == failuresToAlert) {
        metrics.alert(InstallMetrics.Alert.REPEATED_FAILURES);
        LOG.warn(
            "install alert {}: {} installs in a row failed, the last: {}; action: the next attempts"
                + " start widened (every source holding the baseline, the leader included, more"
                + " bytes in flight) and keep the chunks already fetched",
            InstallMetrics.Alert.REPEATED_FAILURES.label(),
            inARow,
            t.toString());
      }
      releaseHold();
      if (staged != null) {
        try {
          staged.abort();
        } catch (RuntimeException e) {
          // The install still ends, with its own cause.
          t.addSuppressed(e);
        }
      }
      long total = System.nanoTime() - startNanos;
      metrics.finished(outcomeOf(t, manifest != null), total);
      lastReport =
          new InstallReport(
              manifest == null ? 0 : manifest.term(),
              manifest == null ? -1 : manifest.index(),
              false,
              String.valueOf(t.getMessage()),
              transfer == null ? 0 : transfer.progress().bytesWanted(),
              heldAtStart,
              Map.copyOf(bytesPerSource),
              Duration.ofNanos(total),
              Duration.ZERO,
              Duration.ZERO,
              manifest == null ? null : manifest.digest());
      // The state machine logs the failure (the first of a series, then a few), with its retry.
      LOG.debug("install failed: {}", t.toString());
      end();
      result.completeExceptionally(t);
    }

    private void publishProgress() {
      if (transfer != null && manifest != null && !result.isDone() && !handedOver) {
        TransferProgress p = transfer.progress();
        long now = System.nanoTime();
        rate.sample(now, bytesPerSource.values().stream().mapToLong(Long::longValue).sum());
        current =
            new InstallProgress(
                manifest.index(),
                p.bytesWanted(),
                p.bytesDone(),
                bytesPerSource,
                Duration.ofNanos(now - startNanos),
                rate.bytesPerSecond(),
                loadLeft());
      }
    }

    /** Mean load time of the shards loaded so far × the shards left ÷ the loader threads. */
    private Duration loadLeft() {
      int left = shardMissing.size() - shardsLoaded;
      if (shardsLoaded == 0 || left <= 0) {
        return Duration.ZERO;
      }
      return Duration.ofNanos(shardLoadNanos / shardsLoaded * left / threads);
    }

    private void end() {
      current = null;
      decoded.close();
      if (writer != null) {
        writer.close();
      }
      if (renewal != null) {
        renewal.cancel(false);
      }
      if (poll != null) {
        poll.cancel(false);
      }
      if (timer != null) {
        timer.cancel(false);
      }
      leases.forEach((id, lease) -> sources.get(id).unpin(lease));
      // Requests still unanswered: their bytes go back to the node's budget now.
      admission.release(reserved);
      reserved = 0;
      driver.shutdown();
    }
  }

  /** Why an install failed with {@code t}; {@code baselineChosen} once a manifest was fetched. */
  static InstallMetrics.Outcome outcomeOf(Throwable t, boolean baselineChosen) {
    for (Throwable c = t; c != null; c = c.getCause()) {
      if (c instanceof TransferGaveUpException) {
        return InstallMetrics.Outcome.TRANSFER_GAVE_UP;
      }
      if (c instanceof DigestMismatchException) {
        return InstallMetrics.Outcome.DIGEST_MISMATCH;
      }
    }
    if (!baselineChosen) {
      return InstallMetrics.Outcome.NO_BASELINE;
    }
    return t instanceof IOException
        ? InstallMetrics.Outcome.IO_ERROR
        : InstallMetrics.Outcome.ERROR;
  }

  /** The transfer protocol gave up. */
  static final class TransferGaveUpException extends IOException {
    private static final long serialVersionUID = 1L;

    TransferGaveUpException(TransferAction.GiveUp g) {
      super("transfer gave up (" + g.reason() + "): " + g.message());
    }
  }

  private static boolean isCompressed(ByteBuffer stored) {
    try {
      return ChunkCodecs.codecOf(stored) != ChunkCodec.RAW;
    } catch (IOException e) {
      return false; // the transfer reports the bad chunk
    }
  }
}
