package dev.ferry.statemachine;

import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.StateDigest;
import dev.ferry.snapshot.format.Manifest;
import dev.ferry.snapshot.store.ChunkStore;
import dev.ferry.statemachine.internal.ByteKey;
import dev.ferry.statemachine.internal.CaptureJob;
import dev.ferry.statemachine.internal.RecordDigest;
import dev.ferry.statemachine.internal.RetryBackoff;
import dev.ferry.statemachine.internal.SessionTable;
import dev.ferry.statemachine.internal.SnapshotCatalog;
import dev.ferry.statemachine.internal.StagedLoad;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import org.apache.ratis.proto.RaftProtos;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientRequest;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.protocol.TermIndex;
import org.apache.ratis.server.storage.FileInfo;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.statemachine.SnapshotInfo;
import org.apache.ratis.statemachine.SnapshotRetentionPolicy;
import org.apache.ratis.statemachine.StateMachineStorage;
import org.apache.ratis.statemachine.TransactionContext;
import org.apache.ratis.statemachine.impl.BaseStateMachine;
import org.apache.ratis.statemachine.impl.FileListSnapshotInfo;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;
import org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations;
import org.apache.ratis.util.LifeCycle;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The base class of a Ferry state machine: extend it, and implement {@link #apply}, {@link #view},
 * {@link #newLoader} and {@link #query}. Everything else — Ratis's life cycle, idempotent apply,
 * client sessions, snapshot capture through the log, layered snapshots, the state digest, snapshot
 * install in notification mode, stale reads — is handled here.
 *
 * <p><b>Determinism.</b> {@code apply} must be a pure function of the state and the command: every
 * replica applies the same log and must reach the same state, the same snapshot bytes and the same
 * digest. Snapshots are captured at the same log index on every replica (the leader proposes a
 * capture command), so every replica's manifest at that index is byte-identical.
 *
 * <p><b>Idempotence.</b> Entries at or below the applied index are skipped. Every user command
 * carries a client session (see {@link CommandCodec#userCommand}); a duplicate gets the stored
 * reply without being applied again. Sessions expire by log index, never by a replica's clock.
 *
 * <p><b>Concurrency.</b> Ratis calls {@code apply} (through {@code applyTransaction}) on one
 * thread, in log order; {@link #view} is called on that thread too. {@link #query} may be called on
 * any thread concurrently with apply. Snapshot capture runs on a capture thread from an immutable
 * {@link StateView}.
 */
public abstract class ReplicatedStateMachine extends BaseStateMachine {
  private static final Logger LOG = LoggerFactory.getLogger(ReplicatedStateMachine.class);

  /** Sessions are checked for expiry at indices that are multiples of this. */
  private static final long EXPIRY_CHECK_INTERVAL = 1024;

  private static final int RECORDED_CHECKPOINTS = 256;

  private final ShardLayout layout;
  private final StateMachineConfig config;
  private final boolean reportsChanges;
  private volatile Installer installer = Installer.unavailable();

  // ---- apply-thread state ----
  private SessionTable sessions = new SessionTable();
  private StateDigest recordsDigest = StateDigest.EMPTY;
  private StateDigest[] shardDigests;
  private StateDigest sessionsDigest = StateDigest.EMPTY;
  private List<Map<ByteKey, byte[]>> dirty;
  private long lastCaptureIndex = -1;
  private long commandsSinceCapture;
  private long bytesSinceCapture;
  private final Map<Long, DigestAt> checkpoints =
      new LinkedHashMap<>() {
        private static final long serialVersionUID = 1L;

        @Override
        protected boolean removeEldestEntry(Map.Entry<Long, DigestAt> eldest) {
          return size() > RECORDED_CHECKPOINTS;
        }
      };

  // ---- shared state ----
  private volatile DigestAt currentDigest;
  private volatile MembershipChange pendingChange;
  private final TreeMap<Long, List<CompletableFuture<Void>>> appliedWaiters = new TreeMap<>();
  private final AtomicBoolean captureProposed = new AtomicBoolean();
  private final AtomicLong pendingCaptures = new AtomicLong();
  private volatile SnapshotCatalog catalog;
  private volatile Staged staged;

  /**
   * The node's latest snapshot with the point-in-time view of the state at its index: what delta
   * installs edit from (state machines that report changes only).
   */
  private volatile StagedLoad.Base baseline;

  private final Object baselineLock = new Object();

  private volatile LoadReport lastLoad;
  private final AtomicLong initializeStarted = new AtomicLong(-1);
  private final AtomicLong localLoadDone = new AtomicLong(-1);
  private final AtomicLong firstLeaderContact = new AtomicLong(-1);
  private final AtomicLong installRequested = new AtomicLong(-1);

  /**
   * Ratis asks again at once after a failed install (about 20 times a second): failed attempts are
   * spaced 0.25 s, 0.5 s, 1 s … up to a minute apart (a transient failure, such as peers still
   * capturing the baseline, costs a quarter second), and only a few of a long series are logged.
   */
  private final RetryBackoff installBackoff =
      new RetryBackoff(TimeUnit.MILLISECONDS.toNanos(250), TimeUnit.SECONDS.toNanos(60));

  private final AtomicLong installDone = new AtomicLong(-1);
  private final AtomicLong reloaded = new AtomicLong(-1);
  private volatile boolean installing;
  private final AtomicLong captures = new AtomicLong();
  private final AtomicLong captureFailures = new AtomicLong();
  private final AtomicLong captureNanos = new AtomicLong();
  private final AtomicLong captureBytes = new AtomicLong();
  private volatile long lastCaptureNanos;
  private volatile long lastCaptureBytes;

  private final CompletableFuture<Throwable> logFailure = new CompletableFuture<>();

  /**
   * When, after an install finished, this replica asks its own Ratis server to swap the installed
   * state in (milliseconds after the install; then every {@link #RELOAD_RETRY_MS}).
   */
  private static final long[] RELOAD_DELAYS_MS = {0, 50, 250, 1_000};

  static final long RELOAD_RETRY_MS = 3_000;

  private final ExecutorService captureExecutor;
  private final ExecutorService background;
  private final ExecutorService loadPool;

  /**
   * @param layout how keys map to shards; the same on every replica for the life of the data
   * @param config tuning; values that shape snapshots must be the same on every replica
   */
  protected ReplicatedStateMachine(ShardLayout layout, StateMachineConfig config) {
    this.layout = Objects.requireNonNull(layout, "layout");
    this.config = Objects.requireNonNull(config, "config");
    this.reportsChanges = this instanceof ReportsChanges;
    this.dirty = newDirty();
    this.shardDigests = emptyDigests(layout.names().size());
    this.currentDigest = new DigestAt(0, -1, StateDigest.EMPTY);
    this.captureExecutor =
        Executors.newSingleThreadExecutor(
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
        Executors.newFixedThreadPool(
            Runtime.getRuntime().availableProcessors(),
            r -> {
              Thread t = new Thread(r, "ferry-load-" + loaders.incrementAndGet());
              t.setDaemon(true);
              return t;
            });
  }

  private static StateDigest[] emptyDigests(int n) {
    StateDigest[] d = new StateDigest[n];
    java.util.Arrays.fill(d, StateDigest.EMPTY);
    return d;
  }

  // =============================================================================================
  // What users implement
  // =============================================================================================

  /**
   * Applies one command to the live state and returns the reply. Called on the apply thread, in log
   * order, exactly once per command (duplicates and replays are filtered out before). Must be
   * deterministic. A state machine implementing {@link ReportsChanges} reports every change through
   * {@code ctx}.
   *
   * <p>Throwing is a bug in the state machine: the request fails with {@link
   * ReplyStatus#APPLY_FAILED} on every replica alike, and it is logged at error level.
   */
  protected abstract byte[] apply(byte[] command, ApplyContext ctx);

  /**
   * A point-in-time view of the live state, in (near) constant time. Called on the apply thread.
   */
  protected abstract StateView view();

  /** Starts building a new, empty state beside the live one (for an install or a restart). */
  protected abstract StateLoader newLoader();

  /**
   * Answers a read-only query from the live state. May be called on any thread, concurrently with
   * {@link #apply}.
   */
  protected abstract byte[] query(byte[] request);

  // =============================================================================================
  // Public API for the server assembly
  // =============================================================================================

  /** Injects the installer used when Ratis asks this follower to install a snapshot. */
  public final void setInstaller(Installer installer) {
    this.installer = Objects.requireNonNull(installer, "installer");
  }

  /** The shard layout. */
  public final ShardLayout layout() {
    return layout;
  }

  /** The configuration. */
  public final StateMachineConfig config() {
    return config;
  }

  /** The local chunk store (after initialization). */
  public final ChunkStore chunkStore() {
    return requireCatalog().store();
  }

  /** The newest durable local snapshot's manifest, if any. */
  public final Optional<Manifest> latestManifest() {
    SnapshotCatalog c = catalog;
    return c == null ? Optional.empty() : c.latest();
  }

  /** All durable local manifests, oldest first. */
  public final List<Manifest> manifests() {
    return requireCatalog().manifests();
  }

  /** The install target of this state machine (what an {@link Installer} works on). */
  public final InstallTarget installTarget() {
    return new Target();
  }

  /**
   * The applied index and state digest. For a state machine that reports changes this is exact and
   * free; otherwise the digest is computed from a point-in-time view (off the apply thread).
   */
  public final CompletableFuture<DigestAt> digest() {
    if (reportsChanges) {
      return CompletableFuture.completedFuture(currentDigest);
    }
    CompletableFuture<DigestAt> f = new CompletableFuture<>();
    // Take the view on a consistent point: the digest of the sessions travels with it.
    DigestAt at = currentDigest;
    StateView v = view();
    StateDigest sd = sessionsDigest;
    background.execute(
        () -> {
          try {
            f.complete(new DigestAt(at.term(), at.index(), digestOf(v).plus(sd)));
          } catch (Throwable t) {
            f.completeExceptionally(t);
          }
        });
    return f;
  }

  /**
   * The membership change recorded as pending in the replicated state, as of the last entry this
   * replica applied. Thread-safe, never blocks.
   */
  public final Optional<MembershipChange> pendingMembershipChange() {
    return Optional.ofNullable(pendingChange);
  }

  /**
   * The digest this replica recorded at checkpoint {@code id}, if it applied that checkpoint and
   * still remembers it.
   */
  public final Optional<DigestAt> checkpoint(long id) {
    synchronized (checkpoints) {
      return Optional.ofNullable(checkpoints.get(id));
    }
  }

  /**
   * The digest this replica recorded at the latest checkpoint it applied (the same log index on
   * every replica, so digests of different replicas compare), if it remembers one.
   */
  public final Optional<DigestAt> lastCheckpoint() {
    synchronized (checkpoints) {
      DigestAt last = null;
      for (DigestAt d : checkpoints.values()) {
        last = d;
      }
      return Optional.ofNullable(last);
    }
  }

  /** Completes when this replica has applied {@code index} (at once if it already has). */
  public final CompletableFuture<Void> whenApplied(long index) {
    synchronized (appliedWaiters) {
      if (getLastAppliedTermIndex().getIndex() >= index) {
        return CompletableFuture.completedFuture(null);
      }
      CompletableFuture<Void> f = new CompletableFuture<>();
      appliedWaiters.computeIfAbsent(index, i -> new ArrayList<>()).add(f);
      return f;
    }
  }

  /** How many captures are queued or running. */
  public final long pendingCaptures() {
    return pendingCaptures.get();
  }

  /**
   * The newest durable snapshot and what captures cost so far. Thread-safe, never blocks (one file
   * system stat for the snapshot's time).
   */
  public final SnapshotStats snapshotStats() {
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
   * Whether this replica is installing a snapshot: from a leader's install notification until the
   * install failed or its state was swapped in (Ratis rejects appends meanwhile). Thread-safe.
   */
  public final boolean installing() {
    return installing;
  }

  /** When this replica's recovery events happened (restart, leader contact, install, reload). */
  public final RecoveryTimeline timeline() {
    return new RecoveryTimeline(
        initializeStarted.get(),
        localLoadDone.get(),
        firstLeaderContact.get(),
        installRequested.get(),
        installDone.get(),
        reloaded.get());
  }

  /**
   * How the last snapshot load of this replica went (at start or for an install): shards loaded in
   * full, edited from the previous state or reused, and what was read; empty before the first.
   */
  public final Optional<LoadReport> lastLoad() {
    return Optional.ofNullable(lastLoad);
  }

  // =============================================================================================
  // Ratis life cycle
  // =============================================================================================

  @Override
  public void initialize(RaftServer server, RaftGroupId groupId, RaftStorage storage)
      throws IOException {
    initializeStarted.compareAndSet(-1, System.nanoTime());
    getLifeCycle()
        .startAndTransition(
            () -> {
              super.initialize(server, groupId, storage);
              Path dir = storage.getStorageDir().getStateMachineDir().toPath();
              catalog = SnapshotCatalog.open(dir, layout, config);
              Optional<Manifest> latest = catalog.latest();
              if (latest.isPresent()) {
                loadAtStartup(latest.get());
              }
              localLoadDone.compareAndSet(-1, System.nanoTime());
            });
  }

  /**
   * Loads the node's own latest snapshot on every core. Its chunks were verified when they were
   * stored, so they are not hashed again: the state digest is checked against the manifest. Only if
   * that check fails is the snapshot read again with every chunk hashed, to name a corrupt chunk.
   */
  private void loadAtStartup(Manifest m) throws IOException {
    long t0 = System.nanoTime();
    Staged s;
    try {
      s = stage(new StagedLoad(requireCatalog(), m, newLoader(), null, false, null));
    } catch (DigestMismatchException e) {
      LOG.error(
          "{}: snapshot {} does not match its digest; re-reading it with chunk hashes",
          this,
          m.index());
      s = stage(new StagedLoad(requireCatalog(), m, newLoader(), null, true, null));
    }
    commitStaged(s);
    LOG.info(
        "{}: loaded snapshot at index {} (term {}): {} MB in {} ms",
        this,
        m.index(),
        m.term(),
        m.rawBytes() / 1_000_000,
        (System.nanoTime() - t0) / 1_000_000);
  }

  /** Idempotent: Ratis 3.x may call it more than once per install. */
  @Override
  public void pause() {
    LifeCycle lc = getLifeCycle();
    if (lc.getCurrentState() == LifeCycle.State.RUNNING) {
      lc.transition(LifeCycle.State.PAUSING);
      lc.transition(LifeCycle.State.PAUSED);
    }
  }

  @Override
  public void reinitialize() throws IOException {
    LifeCycle lc = getLifeCycle();
    if (lc.getCurrentState() == LifeCycle.State.PAUSED) {
      lc.transition(LifeCycle.State.STARTING);
    }
    Staged s = staged;
    if (s != null) {
      staged = null;
      commitStaged(s);
      long now = System.nanoTime();
      reloaded.set(now);
      long done = installDone.get();
      LOG.debug("{}: installed snapshot at index {} is live", this, s.manifest.index());
      if (done >= 0) {
        try {
          installer.swappedIn(s.manifest, java.time.Duration.ofNanos(Math.max(0, now - done)));
        } catch (RuntimeException e) {
          LOG.warn("{}: installer failed on the swap notification: {}", this, e.toString());
        }
      }
      installing = false;
    }
    if (lc.getCurrentState() == LifeCycle.State.STARTING) {
      lc.transition(LifeCycle.State.RUNNING);
    }
  }

  @Override
  public void close() throws IOException {
    captureExecutor.shutdown();
    try {
      if (!captureExecutor.awaitTermination(30, TimeUnit.SECONDS)) {
        LOG.warn("{}: capture still running at close", this);
        captureExecutor.shutdownNow();
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    background.shutdownNow();
    loadPool.shutdownNow();
    SnapshotCatalog c = catalog;
    if (c != null) {
      c.close();
    }
    getLifeCycle().checkStateAndClose();
  }

  /**
   * Completes, on a Ratis thread, with the cause when Ratis reports that this node's Raft log could
   * not be written (a full disk, an I/O error). Ratis then fails every later write of the log until
   * the server restarts, while the server keeps answering its peers: the node must stop, so that it
   * is restarted and recovers its log ({@code FerryServer} closes itself).
   */
  public CompletableFuture<Throwable> logFailure() {
    return logFailure;
  }

  @Override
  public void notifyLogFailed(Throwable cause, RaftProtos.LogEntryProto failedEntry) {
    LOG.error(
        "{}: the Raft log could not be written{}: this node stops",
        this,
        failedEntry == null ? "" : " (entry " + failedEntry.getIndex() + ")",
        cause);
    logFailure.complete(cause);
  }

  @Override
  public SnapshotInfo getLatestSnapshot() {
    Optional<Manifest> m = latestManifest();
    if (m.isEmpty()) {
      return null;
    }
    Manifest manifest = m.get();
    FileInfo file = new FileInfo(requireCatalog().manifestPath(manifest.index()), null);
    return new FileListSnapshotInfo(
        List.of(file), TermIndex.valueOf(manifest.term(), manifest.index()));
  }

  @Override
  public StateMachineStorage getStateMachineStorage() {
    return new StateMachineStorage() {
      @Override
      public void init(RaftStorage raftStorage) {}

      @Override
      public SnapshotInfo getLatestSnapshot() {
        return ReplicatedStateMachine.this.getLatestSnapshot();
      }

      @Override
      public void format() {}

      @Override
      public void cleanupOldSnapshots(SnapshotRetentionPolicy policy) {}
    };
  }

  /**
   * Ratis asks for a snapshot to purge its log up to. Snapshots are captured through the log by
   * Ferry's own command, so this reports the newest durable one and returns at once.
   */
  @Override
  public long takeSnapshot() {
    return latestManifest().map(Manifest::index).orElse(-1L);
  }

  // =============================================================================================
  // Apply
  // =============================================================================================

  @Override
  public CompletableFuture<Message> applyTransaction(TransactionContext trx) {
    RaftProtos.LogEntryProto entry = trx.getLogEntry();
    long index = entry.getIndex();
    long term = entry.getTerm();
    if (index <= getLastAppliedTermIndex().getIndex()) {
      LOG.debug("{}: skipping entry {} at or below the applied index", this, index);
      return CompletableFuture.completedFuture(Message.EMPTY);
    }
    ByteString data = entry.getStateMachineLogEntry().getLogData();
    byte[] reply;
    CompletableFuture<Message> async = null;
    if (data.isEmpty()) {
      reply = CommandCodec.encodeReply(Reply.failed(ReplyStatus.APPLY_FAILED, "empty command"));
    } else {
      switch (data.byteAt(0)) {
        case CommandCodec.USER -> reply = applyUser(data, term, index);
        case CommandCodec.CAPTURE -> reply = applyCapture(term, index);
        case CommandCodec.CHECKPOINT -> {
          reply = null;
          async = applyCheckpoint(data, term, index);
        }
        case CommandCodec.MEMBERSHIP -> reply = applyMembership(data, term, index);
        default ->
            reply =
                CommandCodec.encodeReply(
                    Reply.failed(
                        ReplyStatus.APPLY_FAILED, "unknown command kind " + data.byteAt(0)));
      }
    }
    if (index % EXPIRY_CHECK_INTERVAL == 0) {
      sessionsDigest = sessions.expire(index, config.sessionIdleEntries(), sessionsDigest);
    }
    updateLastAppliedTermIndex(term, index);
    currentDigest = new DigestAt(term, index, recordsDigest.plus(sessionsDigest));
    maybeProposeCapture();
    if (async != null) {
      return async;
    }
    return CompletableFuture.completedFuture(
        Message.valueOf(UnsafeByteOperations.unsafeWrap(reply)));
  }

  private byte[] applyUser(ByteString data, long term, long index) {
    if (data.size() < CommandCodec.USER_HEADER) {
      return CommandCodec.encodeReply(
          Reply.failed(ReplyStatus.APPLY_FAILED, "truncated command header"));
    }
    ByteBuffer b = data.asReadOnlyByteBuffer();
    b.get();
    ClientId client = new ClientId(b.getLong(), b.getLong());
    long seq = b.getLong();
    long firstUnacked = b.getLong();
    if (seq < 1 || firstUnacked < 1 || firstUnacked > seq) {
      return CommandCodec.encodeReply(
          Reply.failed(ReplyStatus.APPLY_FAILED, "bad sequence " + seq + "/" + firstUnacked));
    }
    SessionTable.Session s = sessions.get(client);
    if (s == null) {
      if (firstUnacked > 1) {
        return CommandCodec.encodeReply(
            Reply.failed(
                ReplyStatus.SESSION_EXPIRED,
                "session " + client + " expired; commands before " + seq + " may have applied"));
      }
      s = sessions.open(client, index);
    } else {
      sessionsDigest = sessionsDigest.minus(SessionTable.elementHash(client, s));
    }
    try {
      sessions.acknowledge(s, firstUnacked, index);
      byte[] stored = s.reply(seq);
      if (stored != null) {
        return stored;
      }
      if (seq < s.firstUnacked()) {
        return CommandCodec.encodeReply(
            Reply.failed(ReplyStatus.STALE_SEQUENCE, "sequence " + seq + " already acknowledged"));
      }
      if (s.outstanding() >= config.maxOutstandingPerSession()) {
        return CommandCodec.encodeReply(
            Reply.failed(
                ReplyStatus.TOO_MANY_OUTSTANDING,
                s.outstanding() + " unacknowledged replies in session " + client));
      }
      byte[] payload = new byte[b.remaining()];
      b.get(payload);
      byte[] reply = CommandCodec.encodeReply(invokeApply(payload, term, index));
      sessions.record(s, seq, reply);
      commandsSinceCapture++;
      bytesSinceCapture += payload.length;
      return reply;
    } finally {
      sessionsDigest = sessionsDigest.plus(SessionTable.elementHash(client, s));
    }
  }

  private Reply invokeApply(byte[] payload, long term, long index) {
    Context ctx = new Context(term, index);
    try {
      return Reply.ok(apply(payload, ctx));
    } catch (RuntimeException e) {
      LOG.error(
          "{}: apply threw at index {}: this is a bug in the state machine; the request fails on"
              + " every replica",
          this,
          index,
          e);
      return Reply.failed(ReplyStatus.APPLY_FAILED, "apply failed: " + e);
    } finally {
      ctx.closed = true;
    }
  }

  private final class Context implements ApplyContext {
    private final long term;
    private final long index;
    boolean closed;

    Context(long term, long index) {
      this.term = term;
      this.index = index;
    }

    @Override
    public long index() {
      return index;
    }

    @Override
    public long term() {
      return term;
    }

    @Override
    public void changed(byte[] key, byte[] oldValue, byte[] newValue) {
      if (closed) {
        throw new IllegalStateException("ApplyContext used after apply returned");
      }
      Objects.requireNonNull(key, "key");
      if (!reportsChanges) {
        return;
      }
      int shard = layout.shardOf(key);
      if (oldValue != null) {
        byte[] h = RecordDigest.hash(key, oldValue);
        recordsDigest = recordsDigest.minus(h);
        shardDigests[shard] = shardDigests[shard].minus(h);
      }
      if (newValue != null) {
        byte[] h = RecordDigest.hash(key, newValue);
        recordsDigest = recordsDigest.plus(h);
        shardDigests[shard] = shardDigests[shard].plus(h);
      }
      dirty.get(shard).put(new ByteKey(key), newValue == null ? TOMBSTONE : newValue);
    }
  }

  /** Marks a deleted key in a dirty map (compared by identity). */
  private static final byte[] TOMBSTONE = new byte[0];

  private byte[] applyCapture(long term, long index) {
    captureProposed.set(false);
    if (commandsSinceCapture == 0 && lastCaptureIndex >= 0) {
      return CommandCodec.encodeReply(Reply.ok(new byte[0]));
    }
    List<Map<ByteKey, byte[]>> changes = reportsChanges ? dirty : null;
    dirty = newDirty();
    lastCaptureIndex = index;
    commandsSinceCapture = 0;
    bytesSinceCapture = 0;
    StateView view = view();
    List<StateDigest> digests = reportsChanges ? List.of(shardDigests.clone()) : null;
    CaptureJob job =
        new CaptureJob(
            term,
            index,
            view,
            changes,
            TOMBSTONE,
            sessions.encode(),
            reportsChanges ? recordsDigest.plus(sessionsDigest) : null,
            sessionsDigest);
    pendingCaptures.incrementAndGet();
    captureExecutor.execute(
        () -> {
          long t0 = System.nanoTime();
          try {
            SnapshotCatalog c = requireCatalog();
            Manifest m = c.capture(job);
            long took = System.nanoTime() - t0;
            long written = c.lastCaptureBytes();
            captureNanos.addAndGet(took);
            captureBytes.addAndGet(written);
            lastCaptureNanos = took;
            lastCaptureBytes = written;
            captures.incrementAndGet();
            if (digests != null) {
              offerBaseline(new StagedLoad.Base(m, view, digests));
            }
            LOG.info(
                "{}: captured snapshot at index {} in {} ms ({} bytes of state, {} bytes written)",
                this,
                index,
                took / 1_000_000,
                m.rawBytes(),
                written);
          } catch (Throwable t) {
            captureFailures.incrementAndGet();
            LOG.error("{}: snapshot capture at index {} failed", this, index, t);
          } finally {
            pendingCaptures.decrementAndGet();
          }
        });
    return CommandCodec.encodeReply(Reply.ok(new byte[0]));
  }

  /** Makes {@code b} the delta base unless a newer one is set. */
  private void offerBaseline(StagedLoad.Base b) {
    synchronized (baselineLock) {
      StagedLoad.Base now = baseline;
      if (now == null || now.manifest().index() < b.manifest().index()) {
        baseline = b;
      }
    }
  }

  private byte[] applyMembership(ByteString data, long term, long index) {
    MembershipChange now = pendingChange;
    MembershipChange next;
    try {
      ByteBuffer b = data.asReadOnlyByteBuffer();
      b.get();
      byte op = b.get();
      switch (op) {
        case CommandCodec.MEMBERSHIP_BEGIN -> {
          int kind = b.get() & 0xff;
          long id = b.getLong();
          String node = text(b);
          String address = text(b);
          requireEnd(b);
          if (kind >= MembershipChange.Kind.values().length) {
            throw new IllegalArgumentException("unknown kind " + kind);
          }
          if (now != null && now.id() == id) {
            next = now;
          } else if (now != null) {
            return membershipConflict("another membership change is pending: " + now);
          } else {
            next =
                new MembershipChange(
                    id,
                    MembershipChange.Kind.values()[kind],
                    node,
                    address,
                    MembershipChange.Phase.STARTED,
                    term,
                    index);
          }
        }
        case CommandCodec.MEMBERSHIP_ADVANCE -> {
          long id = b.getLong();
          int phase = b.get() & 0xff;
          requireEnd(b);
          if (phase >= MembershipChange.Phase.values().length) {
            throw new IllegalArgumentException("unknown phase " + phase);
          }
          if (now == null || now.id() != id) {
            return membershipConflict(
                "membership change "
                    + Long.toHexString(id)
                    + " is not pending"
                    + (now == null ? " (none is)" : "; pending: " + now));
          }
          next = now.at(MembershipChange.Phase.values()[phase], term, index);
        }
        case CommandCodec.MEMBERSHIP_END -> {
          long id = b.getLong();
          requireEnd(b);
          next = now != null && now.id() == id ? null : now;
        }
        default -> throw new IllegalArgumentException("unknown membership op " + op);
      }
    } catch (RuntimeException e) {
      return CommandCodec.encodeReply(
          Reply.failed(ReplyStatus.APPLY_FAILED, "malformed membership command: " + e));
    }
    if (next != now) {
      sessionsDigest = sessions.membership(next == null ? null : next.encode(), sessionsDigest);
      pendingChange = next;
      if (next != null && (now == null || now.id() != next.id())) {
        LOG.info("{}: membership change pending: {}", this, next);
      } else if (next != null) {
        // A phase of the same change: the driver logs its steps.
        LOG.debug("{}: membership change pending: {}", this, next);
      } else {
        LOG.info("{}: membership change {} ended", this, now);
      }
    }
    return CommandCodec.encodeReply(Reply.ok(next == null ? new byte[0] : next.encode()));
  }

  private static byte[] membershipConflict(String why) {
    return CommandCodec.encodeReply(Reply.failed(ReplyStatus.CONFLICT, why));
  }

  private static String text(ByteBuffer b) {
    int n = b.getShort() & 0xffff;
    byte[] t = new byte[n];
    b.get(t);
    return new String(t, java.nio.charset.StandardCharsets.UTF_8);
  }

  private static void requireEnd(ByteBuffer b) {
    if (b.hasRemaining()) {
      throw new IllegalArgumentException(b.remaining() + " trailing bytes");
    }
  }

  private CompletableFuture<Message> applyCheckpoint(ByteString data, long term, long index) {
    if (data.size() != 1 + Long.BYTES) {
      return CompletableFuture.completedFuture(
          replyMessage(Reply.failed(ReplyStatus.APPLY_FAILED, "malformed checkpoint")));
    }
    long id = data.asReadOnlyByteBuffer().getLong(1);
    CompletableFuture<DigestAt> digest;
    if (reportsChanges) {
      digest =
          CompletableFuture.completedFuture(
              new DigestAt(term, index, recordsDigest.plus(sessionsDigest)));
    } else {
      StateView v = view();
      StateDigest sd = sessionsDigest;
      digest =
          CompletableFuture.supplyAsync(
              () -> new DigestAt(term, index, digestOf(v).plus(sd)), background);
    }
    return digest.thenApply(
        d -> {
          synchronized (checkpoints) {
            checkpoints.put(id, d);
          }
          return replyMessage(Reply.ok(CommandCodec.encodeDigestReply(d)));
        });
  }

  private static Message replyMessage(Reply reply) {
    return Message.valueOf(UnsafeByteOperations.unsafeWrap(CommandCodec.encodeReply(reply)));
  }

  private StateDigest digestOf(StateView v) {
    StateDigest[] d = {StateDigest.EMPTY};
    try {
      for (int shard = 0; shard < layout.names().size(); shard++) {
        v.writeShard(shard, (key, value) -> d[0] = d[0].plus(RecordDigest.hash(key, value)));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return d[0];
  }

  private List<Map<ByteKey, byte[]>> newDirty() {
    List<Map<ByteKey, byte[]>> maps = new ArrayList<>();
    for (int i = 0; i < layout.names().size(); i++) {
      maps.add(new HashMap<>());
    }
    return maps;
  }

  private void maybeProposeCapture() {
    if (commandsSinceCapture < config.captureEveryEntries()
        && bytesSinceCapture < config.captureEveryBytes()) {
      return;
    }
    if (pendingCaptures.get() > 0 || !isLeader() || !captureProposed.compareAndSet(false, true)) {
      return;
    }
    RaftServer server = getServer().join();
    RaftClientRequest request =
        RaftClientRequest.newBuilder()
            .setClientId(org.apache.ratis.protocol.ClientId.randomId())
            .setServerId(server.getId())
            .setGroupId(getGroupId())
            .setCallId(0)
            .setMessage(Message.valueOf(ByteString.copyFrom(CommandCodec.captureCommand())))
            .setType(RaftClientRequest.writeRequestType())
            .build();
    background.execute(
        () -> {
          try {
            server
                .submitClientRequestAsync(request)
                .whenComplete(
                    (r, t) -> {
                      if (t != null || r == null || !r.isSuccess()) {
                        captureProposed.set(false);
                        LOG.debug("{}: capture proposal not accepted: {}", this, t != null ? t : r);
                      }
                    });
          } catch (IOException e) {
            captureProposed.set(false);
            LOG.debug("{}: capture proposal failed", this, e);
          }
        });
  }

  private boolean isLeader() {
    try {
      return getServer().join().getDivision(getGroupId()).getInfo().isLeader();
    } catch (IOException e) {
      return false;
    }
  }

  @Override
  protected boolean updateLastAppliedTermIndex(TermIndex newTI) {
    boolean changed = super.updateLastAppliedTermIndex(newTI);
    List<CompletableFuture<Void>> ready = new ArrayList<>();
    synchronized (appliedWaiters) {
      while (!appliedWaiters.isEmpty() && appliedWaiters.firstKey() <= newTI.getIndex()) {
        ready.addAll(appliedWaiters.pollFirstEntry().getValue());
      }
    }
    if (!ready.isEmpty()) {
      background.execute(() -> ready.forEach(f -> f.complete(null)));
    }
    return changed;
  }

  // =============================================================================================
  // Queries
  // =============================================================================================

  @Override
  public CompletableFuture<Message> query(Message request) {
    ByteString data = request.getContent();
    if (data.isEmpty()) {
      return failedQuery("empty query");
    }
    switch (data.byteAt(0)) {
      case CommandCodec.QUERY_USER -> {
        try {
          byte[] reply = query(data.substring(1).toByteArray());
          return CompletableFuture.completedFuture(Message.valueOf(ByteString.copyFrom(reply)));
        } catch (RuntimeException e) {
          return CompletableFuture.failedFuture(e);
        }
      }
      case CommandCodec.QUERY_DIGEST -> {
        return digest()
            .thenApply(
                d -> Message.valueOf(ByteString.copyFrom(CommandCodec.encodeDigestReply(d))));
      }
      case CommandCodec.QUERY_MEMBERSHIP -> {
        MembershipChange c = pendingChange;
        return CompletableFuture.completedFuture(
            Message.valueOf(ByteString.copyFrom(c == null ? new byte[0] : c.encode())));
      }
      case CommandCodec.QUERY_CHECKPOINT -> {
        if (data.size() != 1 + Long.BYTES) {
          return failedQuery("malformed checkpoint query");
        }
        long id = data.asReadOnlyByteBuffer().getLong(1);
        Optional<DigestAt> d = checkpoint(id);
        if (d.isEmpty()) {
          return failedQuery("no checkpoint " + id + " recorded on this replica");
        }
        return CompletableFuture.completedFuture(
            Message.valueOf(ByteString.copyFrom(CommandCodec.encodeDigestReply(d.get()))));
      }
      default -> {
        return failedQuery("unknown query kind " + data.byteAt(0));
      }
    }
  }

  private static CompletableFuture<Message> failedQuery(String why) {
    return CompletableFuture.failedFuture(new IllegalArgumentException(why));
  }

  /**
   * A read that waits until this replica applied {@code minIndex}, then answers from its state.
   * (Ratis's own implementation only wakes waiters on a repeated index.)
   */
  @Override
  public CompletableFuture<Message> queryStale(Message request, long minIndex) {
    return whenApplied(minIndex).thenComposeAsync(v -> query(request), background);
  }

  // =============================================================================================
  // Install (notification mode)
  // =============================================================================================

  @Override
  public CompletableFuture<TermIndex> notifyInstallSnapshotFromLeader(
      RaftProtos.RoleInfoProto roleInfo, TermIndex firstTermIndexInLog) {
    String leader =
        roleInfo.hasFollowerInfo() && roleInfo.getFollowerInfo().hasLeaderInfo()
            ? roleInfo.getFollowerInfo().getLeaderInfo().getId().getId().toStringUtf8()
            : "";
    long now = System.nanoTime();
    installRequested.set(now);
    installing = true;
    firstLeaderContact.compareAndSet(-1, now);
    Installer.InstallRequest request =
        new Installer.InstallRequest(
            firstTermIndexInLog.getIndex(), firstTermIndexInLog.getTerm(), leader);
    long wait = installBackoff.waitNanos(now);
    if (installBackoff.failures() == 0) {
      LOG.info(
          "{}: leader {} asks for a snapshot at index >= {}",
          this,
          leader,
          firstTermIndexInLog.getIndex() - 1);
    } else {
      LOG.debug(
          "{}: leader {} asks again for a snapshot at index >= {}; starting in {} ms",
          this,
          leader,
          firstTermIndexInLog.getIndex() - 1,
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
        .thenApplyAsync(m -> TermIndex.valueOf(m.term(), m.index()), background)
        .whenComplete(
            (ti, t) -> {
              if (t != null) {
                installing = false;
                installFailed(t);
              } else {
                int failed = installBackoff.succeeded();
                if (failed > 0) {
                  LOG.info("{}: install succeeded after {} failed attempts", this, failed);
                }
                installDone.set(System.nanoTime());
                watchReload(firstTermIndexInLog, ti.getIndex(), 0);
              }
            });
  }

  private void installFailed(Throwable t) {
    long delay = installBackoff.failed(System.nanoTime());
    int n = installBackoff.failures();
    Throwable cause = t instanceof CompletionException && t.getCause() != null ? t.getCause() : t;
    if (installBackoff.worthLogging()) {
      LOG.warn(
          "{}: install failed{} (next attempt in {} ms): {}",
          this,
          n == 1 ? "" : " " + n + " times in a row",
          TimeUnit.NANOSECONDS.toMillis(delay),
          cause.toString());
    } else {
      LOG.debug("{}: install failed {} times in a row: {}", this, n, cause.toString());
    }
  }

  @Override
  public void notifyLeaderChanged(
      org.apache.ratis.protocol.RaftGroupMemberId groupMemberId, RaftPeerId newLeaderId) {
    if (newLeaderId != null) {
      firstLeaderContact.compareAndSet(-1, System.nanoTime());
    }
    super.notifyLeaderChanged(groupMemberId, newLeaderId);
  }

  /**
   * Has Ratis swap a finished install in at once. Ratis itself swaps it in (pause, reload, {@link
   * #reinitialize}) only when a leader sends the next install notification, and until then rejects
   * every append: a wait of a heartbeat or more, and forever when a new leader whose log still
   * holds the entries this follower lacks never sends one (a liveness bug,
   * docs/ratis-workarounds.md). So right after the install (and again after {@link
   * #RELOAD_DELAYS_MS}, then every {@link #RELOAD_RETRY_MS}, until it is swapped in or a newer
   * install replaced it) this sends Ratis, locally, the notification the current leader would have
   * sent; Ratis then reloads. A notification that arrives before Ratis recorded the finished
   * install is answered "in progress" and changes nothing; one that arrives after the reload is
   * answered "already installed".
   */
  private void watchReload(TermIndex asked, long installedIndex, int attempt) {
    long delay = attempt < RELOAD_DELAYS_MS.length ? RELOAD_DELAYS_MS[attempt] : RELOAD_RETRY_MS;
    CompletableFuture.delayedExecutor(delay, TimeUnit.MILLISECONDS, background)
        .execute(
            () -> {
              Staged s = staged;
              if (s == null || s.manifest.index() != installedIndex || attempt > 200) {
                return;
              }
              try {
                askRatisToReload(asked, installedIndex, attempt);
              } catch (IOException | RuntimeException e) {
                LOG.warn("{}: could not ask Ratis to reload: {}", this, e.toString());
              }
              watchReload(asked, installedIndex, attempt + 1);
            });
  }

  private void askRatisToReload(TermIndex asked, long installedIndex, int attempt)
      throws IOException {
    RaftServer server = getServer().getNow(null);
    if (server == null) {
      return;
    }
    RaftServer.Division division = server.getDivision(getGroupId());
    RaftPeerId leader = division.getInfo().getLeaderId();
    if (leader == null || leader.equals(division.getId())) {
      return; // no leader to act for yet
    }
    long term = division.getInfo().getCurrentTerm();
    if (attempt >= RELOAD_DELAYS_MS.length) {
      LOG.warn(
          "{}: the install of index {} is still not swapped in (no leader asked again);"
              + " notifying Ratis locally on behalf of leader {} (term {})",
          this,
          installedIndex,
          leader,
          term);
    }
    RaftProtos.InstallSnapshotReplyProto reply =
        server.installSnapshot(localNotification(leader, division.getId(), term, asked));
    LOG.debug("{}: local install notification: {}", this, reply.getResult());
  }

  /** The install notification {@code leader} sends, addressed to this follower. */
  private RaftProtos.InstallSnapshotRequestProto localNotification(
      RaftPeerId leader, RaftPeerId self, long term, TermIndex firstAvailable) {
    RaftProtos.RaftRpcRequestProto rpc =
        RaftProtos.RaftRpcRequestProto.newBuilder()
            .setRequestorId(leader.toByteString())
            .setReplyId(self.toByteString())
            .setRaftGroupId(
                RaftProtos.RaftGroupIdProto.newBuilder().setId(getGroupId().toByteString()))
            .build();
    return RaftProtos.InstallSnapshotRequestProto.newBuilder()
        .setServerRequest(rpc)
        .setLeaderTerm(term)
        .setNotification(
            RaftProtos.InstallSnapshotRequestProto.NotificationProto.newBuilder()
                .setFirstAvailableTermIndex(firstAvailable.toProto()))
        .build();
  }

  private final class Target implements InstallTarget {
    @Override
    public ChunkStore chunkStore() {
      return requireCatalog().store();
    }

    @Override
    public Optional<Manifest> latestManifest() {
      return ReplicatedStateMachine.this.latestManifest();
    }

    @Override
    public StagedInstall begin(Manifest manifest) {
      return begin(manifest, null);
    }

    @Override
    public StagedInstall begin(Manifest manifest, Function<ChunkId, byte[]> decoded) {
      // Every chunk was verified when it arrived (or when it was stored, for those held before):
      // chunks are not hashed again, and complete() checks the digest of what was loaded.
      // Chunks the installer still holds decoded are not read from the store again; shards that
      // share runs with the held state are edited from it (only the runs it lacks are read).
      StagedLoad load =
          new StagedLoad(
              requireCatalog(),
              manifest,
              newLoader(),
              reportsChanges ? baseline : null,
              false,
              decoded);
      return new StagedInstall() {
        @Override
        public void loadShard(int shard) throws IOException {
          load.loadShard(shard);
        }

        @Override
        public void complete() throws IOException {
          long t0 = System.nanoTime();
          Staged s;
          try {
            s = stage(load);
          } catch (DigestMismatchException e) {
            if (!load.usesBase()) {
              throw e;
            }
            // The held state was not what its snapshot says (a bug): load everything in full.
            LOG.warn(
                "{}: building snapshot {} from the held state gave a wrong digest ({});"
                    + " loading it in full",
                ReplicatedStateMachine.this,
                manifest.index(),
                e.getMessage());
            s =
                stage(
                    new StagedLoad(requireCatalog(), manifest, newLoader(), null, false, decoded));
          }
          requireCatalog().publish(manifest);
          staged = s;
          LoadReport r = lastLoad().orElseThrow();
          LOG.info(
              "{}: snapshot {} loaded and verified ({} ms after the transfer): {} shards edited"
                  + " ({} changes), {} reused, {} loaded in full; read {} chunks ({} MB)",
              ReplicatedStateMachine.this,
              manifest.index(),
              (System.nanoTime() - t0) / 1_000_000,
              r.shardsEdited(),
              r.changesApplied(),
              r.shardsReused(),
              r.shardsInFull(),
              r.chunksRead(),
              r.bytesRead() / 1_000_000);
        }

        @Override
        public void abort() {
          load.loader().abort();
        }
      };
    }
  }

  /** A loaded, verified state waiting to be swapped in. */
  private record Staged(
      Manifest manifest, StateLoader loader, SessionTable sessions, List<StateDigest> shards) {}

  /**
   * Loads what is left of {@code load} on every core and verifies the whole state's digest against
   * the manifest; aborts the loader on any failure.
   */
  private Staged stage(StagedLoad load) throws IOException {
    Manifest m = load.manifest();
    StateLoader loader = load.loader();
    try {
      if (m.shards().size() != layout.names().size()) {
        throw new IOException(
            "snapshot "
                + m.index()
                + " has "
                + m.shards().size()
                + " shards, this state machine's layout has "
                + layout.names().size());
      }
      for (int i = 0; i < m.shards().size(); i++) {
        if (!m.shards().get(i).name().equals(layout.names().get(i))) {
          throw new IOException(
              "snapshot "
                  + m.index()
                  + " was written with another shard layout (shard "
                  + i
                  + " is "
                  + m.shards().get(i).name()
                  + ", this layout calls it "
                  + layout.names().get(i)
                  + ")");
        }
      }
      StateDigest records = load.loadAll(loadPool);
      lastLoad = load.stats();
      byte[] table = requireCatalog().readSessions(m);
      SessionTable s = SessionTable.decode(new ByteArrayInputStream(table), Integer.MAX_VALUE);
      StateDigest total = records.plus(s.digest());
      if (!total.equals(m.digest())) {
        throw new DigestMismatchException("snapshot at index " + m.index(), m.digest(), total);
      }
      return new Staged(m, loader, s, load.shardDigests());
    } catch (IOException | RuntimeException e) {
      loader.abort();
      throw e;
    }
  }

  /** Swaps a staged state in. Apply thread (or initialize), state machine not running. */
  private void commitStaged(Staged s) {
    Manifest m = s.manifest;
    s.loader.commit();
    sessions = s.sessions;
    sessionsDigest = s.sessions.digest();
    pendingChange = decodeMembership(s.sessions.membership());
    recordsDigest = m.digest().minus(sessionsDigest);
    shardDigests = s.shards.toArray(StateDigest[]::new);
    if (reportsChanges) {
      synchronized (baselineLock) {
        baseline = new StagedLoad.Base(m, view(), s.shards);
      }
    }
    dirty = newDirty();
    lastCaptureIndex = m.index();
    commandsSinceCapture = 0;
    bytesSinceCapture = 0;
    TermIndex ti = TermIndex.valueOf(m.term(), m.index());
    if (ti.compareTo(getLastAppliedTermIndex()) > 0) {
      updateLastAppliedTermIndex(ti);
    } else {
      setLastAppliedTermIndex(ti);
    }
    currentDigest = new DigestAt(m.term(), m.index(), m.digest());
  }

  private MembershipChange decodeMembership(byte[] encoded) {
    if (encoded == null) {
      return null;
    }
    try {
      return MembershipChange.decode(encoded);
    } catch (IllegalArgumentException e) {
      // The snapshot's digest covered these bytes: they were written by a newer version.
      LOG.warn("{}: cannot read the pending membership change of the snapshot: {}", this, e);
      return null;
    }
  }

  private SnapshotCatalog requireCatalog() {
    SnapshotCatalog c = catalog;
    if (c == null) {
      throw new IllegalStateException(this + " is not initialized");
    }
    return c;
  }
}
