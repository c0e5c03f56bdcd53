package dev.ferry.shipping.install;

import dev.ferry.snapshot.ChunkRef;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CancellationException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One node's receive side of snapshot installs, shared by every group it hosts: which installs run
 * (at most {@link Builder#maxActiveInstalls} at once, the others queued by {@link
 * TransferPriority}), how many chunk bytes they may have requested and not yet written (at most
 * {@link Builder#maxBytesInFlight} over all of them), and the threads their work runs on (shared,
 * bounded pools instead of threads per install).
 *
 * <p>Admission. {@link #submit} queues an install; it is admitted when fewer than the maximum run:
 * highest priority first, first come first served within a priority. A queued install moves up one
 * priority for every {@link Builder#promoteAfter} it has waited, so a steady stream of repairs
 * cannot starve a catch-up. A second submission of the same {@code who} while its first is still
 * queued takes the first one's place in the queue (and its waiting time); the first is cancelled.
 * An install that waits logs one INFO line when it is queued and one when it starts (who, priority,
 * how long it waited).
 *
 * <p>Bytes. An admitted install reserves a chunk's stored size before it asks a peer for it ({@link
 * Admission#tryReserve}) and releases it when the chunk was written or its request ended otherwise
 * ({@link Admission#release}); {@link Admission#close} releases whatever it still holds. The sum of
 * reservations never exceeds the budget, except by one chunk larger than the whole budget, granted
 * only while nothing else is in flight. While several installs fetch, none may hold more than an
 * equal share of the budget unless it holds nothing (one chunk is always allowed then, if it fits):
 * an install that finds no room is woken ({@link Admission#onBytesFreed}) when bytes are released.
 *
 * <p>Decoded chunks. An install keeps the decoded content of chunks it verified until their shard
 * loads ({@code DecodedChunkCache}); those bytes come from a second node-wide pool, {@link
 * Builder#maxDecodedBytes}, shared by every install: a chunk is kept only if its bytes fit in what
 * the pool has left ({@link Admission#tryKeepDecoded}), else its shard reads it back from the
 * store. Kept bytes are given back when their shard took them, and all of an install's when it
 * ends. The pool is separate from the fetch budget on purpose: kept chunks wait for the other
 * chunks of their shard, so if they could take the budget the fetches of those other chunks might
 * never get it. So at any moment, over all installs of the node: bytes in flight &le; {@code
 * maxBytesInFlight} (plus one oversized chunk, above) and decoded bytes kept &le; {@code
 * maxDecodedBytes}; the chunk memory installs hold is at most their sum.
 *
 * <p>Threads: a timer (one thread), the installs' drivers (at most {@code maxActiveInstalls}
 * threads, each install's tasks run one at a time), chunk verification and shard loading (one
 * thread per core each) and chunk writes ({@link Builder#writeThreads}). Every pool's threads end
 * after 10 s idle, so an idle node keeps none.
 *
 * <p>A scheduler of one single-group server ({@link #unlimited}) admits every install at once and
 * bounds no bytes: installs behave as before the scheduler existed.
 *
 * <p>Concurrency: thread-safe; no method blocks (a short lock guards the state). Callbacks ({@link
 * #submit}'s admission, {@link Admission#onBytesFreed}) run on the thread that caused them, outside
 * the lock, and must not block.
 */
public final class TransferScheduler implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(TransferScheduler.class);

  /** Default of {@link Builder#maxActiveInstalls} for a node: 8. */
  public static final int DEFAULT_MAX_ACTIVE_INSTALLS = 8;

  /** Default of {@link Builder#maxBytesInFlight} for a node: 256 MiB. */
  public static final long DEFAULT_MAX_BYTES_IN_FLIGHT = 256L << 20;

  /**
   * Default of {@link Builder#maxDecodedBytes} for a node: a sixteenth of the maximum heap, at most
   * 256 MiB (what one install could keep before the pool was node-wide).
   */
  public static long defaultMaxDecodedBytes() {
    return DecodedChunkCache.defaultCap();
  }

  /** Default of {@link Builder#promoteAfter}: 5 minutes. */
  public static final Duration DEFAULT_PROMOTE_AFTER = Duration.ofMinutes(5);

  private static final long IDLE_SECONDS = 10;

  private final String name;
  private final int maxActive;
  private final long budget;
  private final long decodedBudget;
  private final long promoteAfterNanos;
  private final LongSupplier nanoTime;

  private final ScheduledThreadPoolExecutor timer;
  private final ThreadPoolExecutor drivers;
  private final ThreadPoolExecutor verifiers;
  private final ThreadPoolExecutor writers;
  private final ThreadPoolExecutor loaders;

  // Guarded by this.
  private final List<Admission> queued = new ArrayList<>();
  private final List<Admission> active = new ArrayList<>();
  private final Map<TransferPriority, Long> admittedTotal = new EnumMap<>(TransferPriority.class);
  private final Map<TransferPriority, Long> waitedNanosTotal =
      new EnumMap<>(TransferPriority.class);
  private long bytesInFlight;
  private long decodedBytes;
  private long nextSeq;
  private boolean closed;

  private TransferScheduler(Builder b) {
    this.name = b.name;
    this.maxActive = b.maxActive;
    this.budget = b.maxBytes;
    this.decodedBudget = b.maxDecoded == null ? DecodedChunkCache.defaultCap() : b.maxDecoded;
    this.promoteAfterNanos = b.promoteAfter.toNanos();
    this.nanoTime = b.nanoTime;
    this.timer = new ScheduledThreadPoolExecutor(1, threads(name + "-timer"));
    timer.setRemoveOnCancelPolicy(true);
    timer.setKeepAliveTime(IDLE_SECONDS, TimeUnit.SECONDS);
    timer.allowCoreThreadTimeOut(true);
    int cores = Runtime.getRuntime().availableProcessors();
    this.drivers =
        maxActive == Integer.MAX_VALUE
            ? pool(name + "-driver", Integer.MAX_VALUE, true)
            : pool(name + "-driver", maxActive, false);
    this.verifiers = pool(name + "-verify", cores, false);
    this.writers = pool(name + "-write", b.writeThreads, false);
    this.loaders = pool(name + "-load", cores, false);
  }

  /** A new builder, with a node's defaults. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * A scheduler that admits every install at once and bounds no bytes: what a single-group server
   * uses, so that its installs behave as they did before there was a scheduler.
   *
   * @param name names its threads ({@code <name>-driver-1}, …)
   */
  public static TransferScheduler unlimited(String name) {
    return builder()
        .name(name)
        .maxActiveInstalls(Integer.MAX_VALUE)
        .maxBytesInFlight(Long.MAX_VALUE)
        .maxDecodedBytes(Long.MAX_VALUE)
        .build();
  }

  /**
   * Queues an install, to be admitted by priority (see the class comment). When admitted, the
   * returned admission's {@link Admission#admitted()} completes, on the thread that admitted it
   * (this one, or one that closed another admission): its callbacks must not block.
   *
   * @param who what the install is for (a group's name), for logs and {@link Stats}; a queued
   *     admission of the same {@code who} is replaced by this one (it keeps its place and waiting
   *     time; its future fails with a {@link CancellationException})
   * @param priority the install's priority
   * @return the admission; close it when the install ends, however it ends
   */
  public Admission submit(String who, TransferPriority priority) {
    Objects.requireNonNull(who, "who");
    Objects.requireNonNull(priority, "priority");
    Admission a;
    Admission replaced = null;
    List<Admission> admitted;
    synchronized (this) {
      if (closed) {
        Admission refused = new Admission(who, priority, -1, nanoTime.getAsLong());
        refused.admitted.completeExceptionally(
            new CancellationException(name + ": the transfer scheduler is closed"));
        return refused;
      }
      for (Admission q : queued) {
        if (q.who.equals(who)) {
          replaced = q;
          break;
        }
      }
      if (replaced != null) {
        a = new Admission(who, priority, replaced.seq, replaced.queuedAt);
        a.waited = replaced.waited;
        queued.set(queued.indexOf(replaced), a);
        replaced.state = State.CLOSED;
      } else {
        a = new Admission(who, priority, nextSeq++, nanoTime.getAsLong());
        queued.add(a);
      }
      admitted = admitLocked();
      if (a.state == State.QUEUED && !a.waited) {
        a.waited = true;
        LOG.info(
            "{}: install of {} ({}) queued: {} of {} installs run, {} others queued",
            name,
            who,
            priority.label(),
            active.size(),
            maxActive,
            queued.size() - 1);
      }
    }
    if (replaced != null) {
      replaced.admitted.completeExceptionally(
          new CancellationException("superseded by a newer install of " + who));
    }
    complete(admitted);
    return a;
  }

  /** Admits queued installs while there is room. Returns them, to be completed unlocked. */
  private List<Admission> admitLocked() {
    List<Admission> out = new ArrayList<>();
    long now = nanoTime.getAsLong();
    while (!queued.isEmpty() && active.size() < maxActive) {
      Admission best = Collections.min(queued, admissionOrder(now));
      queued.remove(best);
      best.state = State.ACTIVE;
      best.admittedAt = now;
      active.add(best);
      admittedTotal.merge(best.priority, 1L, Long::sum);
      waitedNanosTotal.merge(best.priority, now - best.queuedAt, Long::sum);
      out.add(best);
    }
    return out;
  }

  /**
   * The order queued installs are admitted in at {@code now}: by {@link #rank}, then first queued
   * first. {@link #admitLocked} takes the least; {@link #stats} lists the queue in this order.
   */
  private Comparator<Admission> admissionOrder(long now) {
    return Comparator.<Admission>comparingInt(q -> rank(q, now)).thenComparingLong(q -> q.seq);
  }

  /** The priority's rank, raised one level per {@code promoteAfter} waited (0 is the highest). */
  private int rank(Admission q, long now) {
    long waited = Math.max(0, now - q.queuedAt);
    long promoted = promoteAfterNanos > 0 ? waited / promoteAfterNanos : 0;
    return (int) Math.max(0, q.priority.ordinal() - Math.min(promoted, Integer.MAX_VALUE));
  }

  private void complete(List<Admission> admitted) {
    for (Admission a : admitted) {
      long waited = a.admittedAt - a.queuedAt;
      if (a.waited) {
        LOG.info(
            "{}: install of {} ({}) starts after waiting {} ms in the queue",
            name,
            a.who,
            a.priority.label(),
            TimeUnit.NANOSECONDS.toMillis(waited));
      }
      a.admitted.complete(a);
    }
  }

  /** Ends an admission: out of the queue, or its slot and bytes freed. */
  private void end(Admission a) {
    List<Admission> admitted;
    List<Runnable> wake;
    boolean wasQueued;
    synchronized (this) {
      if (a.state == State.CLOSED) {
        return;
      }
      wasQueued = a.state == State.QUEUED;
      if (wasQueued) {
        queued.remove(a);
      } else {
        active.remove(a);
      }
      a.state = State.CLOSED;
      decodedBytes -= a.decodedHeld;
      a.decodedHeld = 0;
      wake = releaseLocked(a, a.held);
      admitted = admitLocked();
    }
    if (wasQueued) {
      a.admitted.completeExceptionally(
          new CancellationException("install of " + a.who + " ended while queued"));
    }
    wake.forEach(Runnable::run);
    complete(admitted);
  }

  /**
   * Reserves {@code bytes} for {@code a} if the budget and its share allow; else marks it waiting.
   */
  private synchronized boolean tryReserve(Admission a, long bytes) {
    if (bytes < 0) {
      throw new IllegalArgumentException("bytes < 0: " + bytes);
    }
    if (a.state != State.ACTIVE) {
      return false;
    }
    boolean fits = bytesInFlight + bytes <= budget || (bytesInFlight == 0 && bytes > budget);
    boolean fair = a.held == 0 || a.held + bytes <= share(a);
    if (fits && fair) {
      a.held += bytes;
      bytesInFlight += bytes;
      a.waiting = false;
      return true;
    }
    a.waiting = true;
    return false;
  }

  /**
   * An equal part of the budget among the installs that hold bytes or wait for them, and {@code a}.
   */
  private long share(Admission a) {
    int contenders = 0;
    for (Admission x : active) {
      if (x == a || x.held > 0 || x.waiting) {
        contenders++;
      }
    }
    return budget / Math.max(1, contenders);
  }

  /** Takes {@code bytes} of the decoded pool for {@code a} if they fit. */
  private synchronized boolean tryKeepDecoded(Admission a, long bytes) {
    if (bytes < 0) {
      throw new IllegalArgumentException("bytes < 0: " + bytes);
    }
    if (a.state != State.ACTIVE || bytes > decodedBudget - decodedBytes) {
      return false;
    }
    a.decodedHeld += bytes;
    decodedBytes += bytes;
    return true;
  }

  private synchronized void releaseDecoded(Admission a, long bytes) {
    if (bytes < 0) {
      throw new IllegalArgumentException("bytes < 0: " + bytes);
    }
    long freed = Math.min(bytes, a.decodedHeld);
    a.decodedHeld -= freed;
    decodedBytes -= freed;
  }

  private void release(Admission a, long bytes) {
    if (bytes < 0) {
      throw new IllegalArgumentException("bytes < 0: " + bytes);
    }
    List<Runnable> wake;
    synchronized (this) {
      wake = releaseLocked(a, bytes);
    }
    wake.forEach(Runnable::run);
  }

  /** Frees up to {@code bytes} of {@code a}'s; returns the wake-ups of the installs waiting. */
  private List<Runnable> releaseLocked(Admission a, long bytes) {
    long freed = Math.min(bytes, a.held);
    if (freed <= 0) {
      return List.of();
    }
    a.held -= freed;
    bytesInFlight -= freed;
    List<Runnable> wake = new ArrayList<>();
    // The releasing install too: its own writes free the bytes its next requests wait for.
    for (Admission x : active) {
      if (x.waiting) {
        x.waiting = false;
        if (x.onFreed != null) {
          wake.add(x.onFreed);
        }
      }
    }
    return wake;
  }

  /**
   * The figures now: limits, installs active and queued per priority and one by one, bytes in
   * flight and decoded bytes kept.
   */
  public synchronized Stats stats() {
    Map<TransferPriority, Integer> act = new EnumMap<>(TransferPriority.class);
    Map<TransferPriority, Integer> que = new EnumMap<>(TransferPriority.class);
    for (TransferPriority p : TransferPriority.values()) {
      act.put(p, 0);
      que.put(p, 0);
      admittedTotal.putIfAbsent(p, 0L);
      waitedNanosTotal.putIfAbsent(p, 0L);
    }
    long now = nanoTime.getAsLong();
    List<Install> activeNow = new ArrayList<>();
    for (Admission a : active) {
      act.merge(a.priority, 1, Integer::sum);
      activeNow.add(a.install(now - a.admittedAt));
    }
    // In the order they would be admitted now (promotion included): their positions in the queue.
    List<Admission> order = new ArrayList<>(queued);
    order.sort(admissionOrder(now));
    List<Install> queuedNow = new ArrayList<>();
    for (Admission a : order) {
      que.merge(a.priority, 1, Integer::sum);
      queuedNow.add(a.install(now - a.queuedAt));
    }
    return new Stats(
        maxActive,
        budget,
        bytesInFlight,
        decodedBudget,
        decodedBytes,
        act,
        que,
        admittedTotal,
        waitedNanosTotal,
        activeNow,
        queuedNow);
  }

  /**
   * One install in {@link Stats}.
   *
   * @param who what it is for (a group's name)
   * @param priority the priority it was submitted with (a queued one's promotion is not shown)
   * @param since for a running install, how long since it was admitted; for a queued one, how long
   *     it has waited so far
   * @param bytesHeld chunk bytes it holds in the budget now (0 while queued)
   * @param decodedBytes decoded chunk bytes it keeps now (0 while queued)
   */
  public record Install(
      String who, TransferPriority priority, Duration since, long bytesHeld, long decodedBytes) {
    public Install {
      Objects.requireNonNull(who, "who");
      Objects.requireNonNull(priority, "priority");
      Objects.requireNonNull(since, "since");
      if (since.isNegative() || bytesHeld < 0 || decodedBytes < 0) {
        throw new IllegalArgumentException(
            "negative time or bytes: " + since + ", " + bytesHeld + ", " + decodedBytes);
      }
    }
  }

  /**
   * The scheduler's figures at one moment.
   *
   * @param maxActiveInstalls installs that may run at once ({@link Integer#MAX_VALUE}: unlimited)
   * @param bytesBudget chunk bytes that may be in flight ({@link Long#MAX_VALUE}: unlimited)
   * @param bytesInFlight chunk bytes reserved now (requested and not yet written)
   * @param decodedBudget decoded chunk bytes the installs may keep together ({@link
   *     Long#MAX_VALUE}: unlimited)
   * @param decodedBytes decoded chunk bytes they keep now
   * @param active installs running, per priority (every priority present)
   * @param queued installs waiting, per priority (every priority present)
   * @param admittedTotal installs admitted since the scheduler started, per priority
   * @param waitedNanosTotal the time those installs waited in the queue, summed, per priority
   * @param activeInstalls who runs now, in the order admitted
   * @param queuedInstalls who waits now, in the order they would be admitted (the first is next)
   */
  public record Stats(
      int maxActiveInstalls,
      long bytesBudget,
      long bytesInFlight,
      long decodedBudget,
      long decodedBytes,
      Map<TransferPriority, Integer> active,
      Map<TransferPriority, Integer> queued,
      Map<TransferPriority, Long> admittedTotal,
      Map<TransferPriority, Long> waitedNanosTotal,
      List<Install> activeInstalls,
      List<Install> queuedInstalls) {
    public Stats {
      active = Map.copyOf(active);
      queued = Map.copyOf(queued);
      admittedTotal = Map.copyOf(admittedTotal);
      waitedNanosTotal = Map.copyOf(waitedNanosTotal);
      activeInstalls = List.copyOf(activeInstalls);
      queuedInstalls = List.copyOf(queuedInstalls);
    }

    /** Installs running now, over all priorities. */
    public int activeCount() {
      return active.values().stream().mapToInt(Integer::intValue).sum();
    }

    /** Installs waiting now, over all priorities. */
    public int queuedCount() {
      return queued.values().stream().mapToInt(Integer::intValue).sum();
    }
  }

  // ---- the shared pools (package-private: the installer's) ------------------------------------

  /** A new serial executor for one install's driver, on the shared driver threads and timer. */
  DriverLoop newDriver() {
    return new DriverLoop(drivers, timer);
  }

  ExecutorService verifiers() {
    return verifiers;
  }

  ExecutorService writers() {
    return writers;
  }

  ExecutorService loaders() {
    return loaders;
  }

  /**
   * Closes the scheduler: queued installs are cancelled, no new install is admitted (later
   * submissions are refused at once), and the pools stop once their tasks are done. Idempotent.
   */
  @Override
  public void close() {
    List<Admission> cancelled;
    synchronized (this) {
      if (closed) {
        return;
      }
      closed = true;
      cancelled = List.copyOf(queued);
    }
    cancelled.forEach(Admission::close);
    timer.shutdown();
    drivers.shutdown();
    verifiers.shutdown();
    writers.shutdown();
    loaders.shutdown();
  }

  private enum State {
    QUEUED,
    ACTIVE,
    CLOSED
  }

  /** One install's place in the scheduler: queued, then admitted, then closed. Thread-safe. */
  public final class Admission implements AutoCloseable {
    private final String who;
    private final TransferPriority priority;
    private final long seq;
    private final long queuedAt;
    private final CompletableFuture<Admission> admitted = new CompletableFuture<>();

    // Guarded by the scheduler.
    private State state = State.QUEUED;
    private long admittedAt;
    private long held;
    private long decodedHeld;
    private boolean waiting;

    /** It did not start at once: its queueing was logged, and its start will be. */
    private boolean waited;

    private volatile Runnable onFreed;

    private Admission(String who, TransferPriority priority, long seq, long queuedAt) {
      this.who = who;
      this.priority = priority;
      this.seq = seq;
      this.queuedAt = queuedAt;
      if (seq < 0) {
        state = State.CLOSED;
      }
    }

    private Install install(long sinceNanos) {
      return new Install(
          who, priority, Duration.ofNanos(Math.max(0, sinceNanos)), held, decodedHeld);
    }

    /** What the install is for. */
    public String who() {
      return who;
    }

    /** Its priority. */
    public TransferPriority priority() {
      return priority;
    }

    /**
     * Completes when the install is admitted (at once if there was room); fails with a {@link
     * CancellationException} if it was closed, replaced or the scheduler closed while it was
     * queued.
     */
    public CompletableFuture<Admission> admitted() {
      return admitted;
    }

    /**
     * Reserves {@code bytes} (a chunk's stored size) before the chunk is asked for. Never blocks.
     *
     * @return true if reserved; false if the budget (or this install's share of it) has no room
     *     now, or the install is not admitted: then {@link #onBytesFreed}'s callback runs once
     *     bytes are released
     * @throws IllegalArgumentException if {@code bytes < 0}
     */
    public boolean tryReserve(long bytes) {
      return TransferScheduler.this.tryReserve(this, bytes);
    }

    /**
     * Releases {@code bytes} reserved by {@link #tryReserve} (at most what this install holds;
     * releasing after {@link #close} does nothing). Never blocks; may run wake-up callbacks of
     * other installs on this thread.
     *
     * @throws IllegalArgumentException if {@code bytes < 0}
     */
    public void release(long bytes) {
      TransferScheduler.this.release(this, bytes);
    }

    /**
     * What to run (once per refusal) when bytes are released after {@link #tryReserve} refused: the
     * install should try again. Replaces the previous callback. Must not block.
     */
    public void onBytesFreed(Runnable callback) {
      this.onFreed = Objects.requireNonNull(callback, "callback");
    }

    /**
     * Takes {@code bytes} of the node's decoded-chunk pool ({@link Builder#maxDecodedBytes}) for a
     * chunk this install keeps decoded. Never blocks, never waits: false if they do not fit now, or
     * the install is not running (the chunk is then not kept).
     *
     * @throws IllegalArgumentException if {@code bytes < 0}
     */
    boolean tryKeepDecoded(long bytes) {
      return TransferScheduler.this.tryKeepDecoded(this, bytes);
    }

    /**
     * Gives back {@code bytes} taken by {@link #tryKeepDecoded} (at most what this install keeps;
     * nothing after {@link #close}, which gives back all of them). Never blocks.
     *
     * @throws IllegalArgumentException if {@code bytes < 0}
     */
    void releaseDecoded(long bytes) {
      TransferScheduler.this.releaseDecoded(this, bytes);
    }

    /** The decoded chunk bytes this install keeps now. */
    public long decodedBytesHeld() {
      synchronized (TransferScheduler.this) {
        return decodedHeld;
      }
    }

    /** The bytes this install holds now. */
    public long bytesHeld() {
      synchronized (TransferScheduler.this) {
        return held;
      }
    }

    /**
     * Ends the install's admission, however the install ended: out of the queue if it was queued
     * (its future fails), its slot, every byte it still holds and every decoded byte it keeps freed
     * if it ran. Idempotent.
     */
    @Override
    public void close() {
      end(this);
    }

    @Override
    public String toString() {
      return who + " (" + priority.label() + ")";
    }
  }

  /** Configures a {@link TransferScheduler}. Not thread-safe. */
  public static final class Builder {
    private String name = "ferry-transfers";
    private int maxActive = DEFAULT_MAX_ACTIVE_INSTALLS;
    private long maxBytes = DEFAULT_MAX_BYTES_IN_FLIGHT;
    private Long maxDecoded;
    private Duration promoteAfter = DEFAULT_PROMOTE_AFTER;
    private int writeThreads = 2;
    private LongSupplier nanoTime = System::nanoTime;

    private Builder() {}

    /** Names the threads and log lines (default {@code ferry-transfers}). */
    public Builder name(String name) {
      this.name = Objects.requireNonNull(name, "name");
      return this;
    }

    /**
     * At most this many installs run at once; more wait in the queue. Default {@value
     * #DEFAULT_MAX_ACTIVE_INSTALLS}; {@link Integer#MAX_VALUE} for no limit.
     */
    public Builder maxActiveInstalls(int max) {
      if (max < 1) {
        throw new IllegalArgumentException("maxActiveInstalls must be >= 1: " + max);
      }
      this.maxActive = max;
      return this;
    }

    /**
     * At most this many chunk bytes requested and not yet written, over all installs. Default 256
     * MiB; {@link Long#MAX_VALUE} for no limit. At least 64 KiB; a chunk larger than the budget
     * (chunks are at most {@link ChunkRef#MAX_STORED_SIZE} bytes) goes only while nothing else is
     * in flight.
     */
    public Builder maxBytesInFlight(long bytes) {
      if (bytes < (64L << 10)) {
        throw new IllegalArgumentException("maxBytesInFlight must be >= 64 KiB: " + bytes);
      }
      this.maxBytes = bytes;
      return this;
    }

    /**
     * At most this many bytes of decoded chunk content kept by all installs together, between a
     * chunk's arrival and its shard's load (each install's own cap, {@code
     * MultiSourceInstaller.Builder#decodedCacheBytes}, applies too; a chunk that does not fit is
     * read back from the store). Default {@link #defaultMaxDecodedBytes()}; {@link Long#MAX_VALUE}
     * for no node-wide limit; 0 keeps nothing.
     */
    public Builder maxDecodedBytes(long bytes) {
      if (bytes < 0) {
        throw new IllegalArgumentException("maxDecodedBytes must be >= 0: " + bytes);
      }
      this.maxDecoded = bytes;
      return this;
    }

    /**
     * A queued install moves up one priority for every {@code after} it waits (so a catch-up waits
     * at most twice this behind a stream of repairs). Default 5 minutes.
     */
    public Builder promoteAfter(Duration after) {
      if (after.isNegative() || after.isZero()) {
        throw new IllegalArgumentException("promoteAfter must be positive: " + after);
      }
      this.promoteAfter = after;
      return this;
    }

    /** Threads that write arriving chunks to the stores (default 2). */
    public Builder writeThreads(int threads) {
      if (threads < 1) {
        throw new IllegalArgumentException("writeThreads must be >= 1: " + threads);
      }
      this.writeThreads = threads;
      return this;
    }

    /** The monotonic clock (default {@link System#nanoTime}); for tests. */
    Builder nanoTime(LongSupplier clock) {
      this.nanoTime = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /** Builds the scheduler (its pools start threads on demand). */
    public TransferScheduler build() {
      return new TransferScheduler(this);
    }
  }

  private static ThreadPoolExecutor pool(String prefix, int threads, boolean cached) {
    ThreadPoolExecutor p =
        cached
            ? new ThreadPoolExecutor(
                0,
                Integer.MAX_VALUE,
                IDLE_SECONDS,
                TimeUnit.SECONDS,
                new java.util.concurrent.SynchronousQueue<>(),
                threads(prefix))
            : new ThreadPoolExecutor(
                threads,
                threads,
                IDLE_SECONDS,
                TimeUnit.SECONDS,
                new LinkedBlockingQueue<>(),
                threads(prefix));
    p.allowCoreThreadTimeOut(!cached);
    return p;
  }

  private static java.util.concurrent.ThreadFactory threads(String prefix) {
    AtomicInteger n = new AtomicInteger();
    return r -> {
      Thread t = new Thread(r, prefix + "-" + n.incrementAndGet());
      t.setDaemon(true);
      return t;
    };
  }
}
