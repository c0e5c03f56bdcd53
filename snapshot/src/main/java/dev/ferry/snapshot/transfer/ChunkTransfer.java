package dev.ferry.snapshot.transfer;

import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.ChunkRef;
import dev.ferry.snapshot.transfer.TransferAction.Done;
import dev.ferry.snapshot.transfer.TransferAction.Fetch;
import dev.ferry.snapshot.transfer.TransferAction.GiveUp;
import dev.ferry.snapshot.transfer.TransferAction.SourceDemoted;
import dev.ferry.snapshot.transfer.TransferAction.Store;
import dev.ferry.snapshot.transfer.TransferProgress.SourceProgress;
import java.nio.ByteBuffer;
import java.nio.file.NoSuchFileException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.OptionalDouble;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Function;
import java.util.function.Predicate;

/**
 * Fetches a set of chunks from several sources: the transfer protocol as a pure state machine.
 *
 * <p>Events go in ({@code on*} methods, each stamped with the caller's monotonic time in
 * nanoseconds), actions come out ({@link TransferAction}): fetch these chunks from that source,
 * store this verified chunk, a source was demoted, give up, done. The object does no I/O, starts no
 * thread, reads no clock and draws no random number, so the same events give the same actions; a
 * simulated network can drive it through any schedule of faults (see {@code SimulatedTransport}).
 *
 * <p>Scheduling. Chunks are requested in the order wanted (manifest order, so shards complete in
 * order), failed chunks first. Each chunk goes to the usable source that (1) has failed that chunk
 * the fewest times, then (2) is of the lowest {@linkplain TransferSource#tier() tier}, then (3) has
 * room under {@link TransferConfig#maxInFlightBytesPerSource()} and would finish it soonest: least
 * {@code (bytes in flight + chunk) / throughput}. A chunk waits rather than go to a less preferred
 * source, so a chunk that failed on one source is retried on another, and a higher tier (the
 * leader) gets a chunk only while no lower-tier source is usable for it (all lost, demoted, backing
 * off, lacking it, or having failed it more often). Because a source is refilled as it drains, each
 * source ends up with bytes in proportion to its throughput. Throughput is measured from arrivals
 * (bytes over busy time, smoothed) or supplied by the driver; an unknown throughput counts as the
 * mean of the known ones (equal shares at first). A source with some chunks in flight is refilled
 * only once a quarter of its window is free, so requests go out in batches. A source that joins
 * when every missing chunk is already requested takes over the newest requests of the sources that
 * would answer last, while that gets those chunks sooner (see {@link #onSourcesAvailable}). With a
 * {@link RequestBudget} (a node's receive budget shared by its installs), each request also needs
 * its bytes granted before it goes out: a refused chunk waits, with the chunks after it, until
 * {@link #onBudgetFreed}; the same events and the same budget answers give the same actions.
 *
 * <p>Verification. Every arriving chunk is decoded within its raw size and hashed ({@link
 * ChunkVerifier}), here ({@link #onChunkArrived}) or by the driver beforehand on any thread ({@link
 * #onChunkVerified}); only bytes that match the chunk's id are handed out in a {@link Store} (with
 * their decoded content), at most once per chunk. A corrupt answer spends one of the chunk's
 * attempts and counts against the source; {@link TransferConfig#corruptionsToDemote()} of them
 * demote it. A failed or timed-out request spends an attempt and puts the source in a backoff
 * (doubling while failures continue), after which it gets one chunk at a time until it answers one
 * well. A source answering that it lacks a chunk is not asked for that chunk again. A chunk that
 * runs out of attempts or that no remaining source holds, the overall deadline, or the loss of
 * every source ends the transfer with {@link GiveUp}.
 *
 * <p>Resumption. Chunks the local store already holds are done from the start; a transfer restarted
 * against the same store fetches only what is still missing.
 *
 * <p>Invariants:
 *
 * <ul>
 *   <li>each wanted chunk is exactly one of: held at start, pending (retry or fresh queue), in
 *       flight on exactly one active source, stored (a request superseded by a late answer may stay
 *       outstanding until answered or timed out);
 *   <li>a source's in-flight bytes are the stored sizes of its unanswered requests and stay within
 *       the cap, except for one chunk larger than the cap sent to an idle source;
 *   <li>lost and demoted sources have nothing in flight and get no requests;
 *   <li>after {@link Done} or {@link GiveUp} every event returns no actions.
 * </ul>
 *
 * <p>Concurrency: not thread-safe. One thread owns the object and calls every method; a driver
 * whose transport calls back on other threads hands the events to that thread. No method blocks;
 * {@link #onChunkArrived} costs one decode and one SHA-256 of the chunk, {@link #onChunkVerified}
 * neither (a driver verifies on other threads and keeps the owning thread for bookkeeping).
 */
public final class ChunkTransfer {
  /** Smoothing of measured throughput: weight of the newest sample. */
  private static final double EWMA_WEIGHT = 0.25;

  /** Arrivals are accumulated for at least this long before they make a throughput sample. */
  private static final long MIN_SAMPLE_NANOS = 1_000_000L;

  private enum Phase {
    NEW,
    RUNNING,
    DONE,
    GAVE_UP
  }

  private enum ChunkState {
    PENDING,
    IN_FLIGHT,
    STORED
  }

  private enum SourceState {
    ACTIVE,
    LOST,
    DEMOTED
  }

  /** A wanted chunk that was not held at start. */
  private static final class Chunk {
    final ChunkRef ref;
    ChunkState state = ChunkState.PENDING;

    /** Failures per source; a key is present for every source ever asked for this chunk. */
    final Map<String, Integer> failuresBySource = new HashMap<>(4);

    /** Sources that answered they do not hold this chunk; never asked for it again. */
    Set<String> lackedBy = Set.of();

    int failures;
    String lastFailure = "";

    Chunk(ChunkRef ref) {
      this.ref = ref;
    }
  }

  /** An unanswered request of one chunk from one source. */
  private record Request(Chunk chunk, long sentAt, long deadline) {}

  private static final class Source {
    final String id;
    int tier;
    SourceState state = SourceState.ACTIVE;
    final LinkedHashMap<ChunkId, Request> outstanding = new LinkedHashMap<>();
    long inFlightBytes;
    double bytesPerSecond = Double.NaN;
    long sampleStart;
    long sampleBytes;
    int backoffLevel;
    long backoffUntil = Long.MIN_VALUE;
    long chunksStored;
    long bytesStored;
    long failures;
    long timeouts;
    long corruptions;

    Source(String id) {
      this.id = id;
    }

    boolean usable(long now) {
      return state == SourceState.ACTIVE && now >= backoffUntil;
    }
  }

  @FunctionalInterface
  private interface EventBody {
    void apply(long now, List<TransferAction> out);
  }

  private final TransferConfig config;

  /** In-flight cap per source: the config's, until {@link #raiseInFlight} raises it. */
  private long maxInFlightBytesPerSource;

  /** Grants each request's bytes before it goes out ({@link RequestBudget}). */
  private final RequestBudget budget;

  /** The last dispatch stopped because the budget refused a chunk. */
  private boolean waitingForBudget;

  private final Map<ChunkId, Chunk> chunks = new LinkedHashMap<>();
  private final ArrayDeque<Chunk> fresh = new ArrayDeque<>();
  private final ArrayDeque<Chunk> retry = new ArrayDeque<>();
  private final Map<String, Source> sources = new LinkedHashMap<>();

  private final int chunksWanted;
  private final long bytesWanted;
  private final int chunksHeldAtStart;
  private final long bytesHeldAtStart;

  private Phase phase = Phase.NEW;
  private long lastNow;
  private long deadlineAt;
  private int remaining;
  private int chunksStored;
  private long bytesStored;
  private long failures;
  private long timeouts;
  private long corruptions;
  private long duplicates;
  private long unsolicited;
  private long missing;

  /**
   * Plans a transfer. Nothing happens until {@link #start}.
   *
   * @param wanted the chunks the local store must end up holding, for example {@code
   *     manifest.allChunks()}; repeats are merged (a repeated id must repeat its sizes)
   * @param held tells which chunks the local store already holds (for example {@code
   *     store::contains}); asked once per distinct chunk, here, and those chunks are never fetched
   * @param config validated tuning
   * @throws IllegalArgumentException if one id appears with different sizes
   */
  public ChunkTransfer(List<ChunkRef> wanted, Predicate<ChunkId> held, TransferConfig config) {
    this(wanted, held, config, RequestBudget.UNLIMITED);
  }

  /**
   * Plans a transfer whose requests also need bytes from a shared {@code budget}: each chunk
   * request is made only once the budget reserved the chunk's stored size (see {@link
   * RequestBudget}). Otherwise as {@link #ChunkTransfer(List, Predicate, TransferConfig)}.
   */
  public ChunkTransfer(
      List<ChunkRef> wanted, Predicate<ChunkId> held, TransferConfig config, RequestBudget budget) {
    Objects.requireNonNull(wanted, "wanted");
    Objects.requireNonNull(held, "held");
    this.config = Objects.requireNonNull(config, "config");
    this.budget = Objects.requireNonNull(budget, "budget");
    this.maxInFlightBytesPerSource = config.maxInFlightBytesPerSource();
    Map<ChunkId, ChunkRef> distinct = new LinkedHashMap<>();
    for (ChunkRef ref : wanted) {
      Objects.requireNonNull(ref, "wanted chunk");
      ChunkRef previous = distinct.putIfAbsent(ref.id(), ref);
      if (previous != null && !previous.equals(ref)) {
        throw new IllegalArgumentException(
            "chunk " + ref.id().toHex() + " wanted with different sizes: " + previous + ", " + ref);
      }
    }
    int heldCount = 0;
    long heldBytes = 0;
    long allBytes = 0;
    for (ChunkRef ref : distinct.values()) {
      allBytes += ref.storedSize();
      if (held.test(ref.id())) {
        heldCount++;
        heldBytes += ref.storedSize();
      } else {
        Chunk c = new Chunk(ref);
        chunks.put(ref.id(), c);
        fresh.addLast(c);
      }
    }
    this.chunksWanted = distinct.size();
    this.bytesWanted = allBytes;
    this.chunksHeldAtStart = heldCount;
    this.bytesHeldAtStart = heldBytes;
    this.remaining = chunks.size();
  }

  /**
   * Starts the clock: the overall deadline runs from {@code nowNanos}. Returns {@link Done} at once
   * when every wanted chunk is already held; otherwise nothing, until sources are offered.
   *
   * @throws IllegalStateException if already started
   */
  public List<TransferAction> start(long nowNanos) {
    if (phase != Phase.NEW) {
      throw new IllegalStateException("transfer already started");
    }
    phase = Phase.RUNNING;
    lastNow = nowNanos;
    deadlineAt = saturatedAdd(nowNanos, config.deadlineNanos());
    List<TransferAction> out = new ArrayList<>(1);
    afterEvent(nowNanos, out);
    return out;
  }

  /**
   * A source can be fetched from: new, reconnected after {@link #onSourceLost}, or an update of an
   * active source's tier and throughput estimate (an empty estimate keeps the measured one). A
   * demoted source stays demoted.
   */
  public List<TransferAction> onSourceAvailable(long nowNanos, TransferSource source) {
    Objects.requireNonNull(source, "source");
    return onSourcesAvailable(nowNanos, List.of(source));
  }

  /**
   * Several sources at once, as {@link #onSourceAvailable} each, but chunks are spread only after
   * all are known. Prefer this when sources are discovered together: offered one by one, the first
   * source may fill its whole window before the others appear.
   *
   * <p>A source that joins (new, or back from lost) while no chunk is pending takes over the newest
   * unanswered requests of the sources that would answer last, as long as it would deliver them
   * sooner by estimated throughput and is of no higher tier; each source keeps its oldest request.
   * The requests taken over are abandoned, not cancelled: a late answer to one is still stored if
   * its chunk is missing, and counted as a duplicate otherwise.
   */
  public List<TransferAction> onSourcesAvailable(long nowNanos, List<TransferSource> offered) {
    List<TransferSource> copy = List.copyOf(offered);
    return step(
        nowNanos,
        (now, out) -> {
          List<Source> joined = new ArrayList<>();
          for (TransferSource source : copy) {
            Source s = offer(source);
            if (s != null) {
              joined.add(s);
            }
          }
          if (!hasPending()) {
            for (Source s : joined) {
              takeOver(s, now, out);
            }
          }
        });
  }

  /**
   * The source is gone (connection closed, peer removed). Its unanswered chunks are rescheduled on
   * other sources without spending an attempt; later answers from it are ignored. When no active
   * source remains and chunks are missing, the transfer gives up ({@link
   * GiveUp.Reason#NO_SOURCES}).
   *
   * @throws IllegalArgumentException if the source was never offered
   */
  public List<TransferAction> onSourceLost(long nowNanos, String sourceId) {
    Objects.requireNonNull(sourceId, "sourceId");
    return step(
        nowNanos,
        (now, out) -> {
          Source s = requireSource(sourceId);
          if (s.state == SourceState.ACTIVE) {
            s.state = SourceState.LOST;
            rescheduleOutstanding(s);
          }
        });
  }

  /**
   * A chunk's bytes arrived from a source. They are verified here: an answer to an outstanding
   * request that verifies yields one {@link Store}; one that does not counts as a corrupt answer. A
   * verified late answer (after the request timed out or failed) is stored too if the chunk is
   * still missing. Answers for chunks already stored, never requested from that source, or from a
   * lost or demoted source are ignored and counted.
   *
   * @param stored the stored form (codec tag + payload) between position and limit; the caller
   *     hands it over and must not modify it afterwards. Its position is not moved.
   * @throws IllegalArgumentException if the source was never offered
   */
  public List<TransferAction> onChunkArrived(
      long nowNanos, String sourceId, ChunkId id, ByteBuffer stored) {
    Objects.requireNonNull(sourceId, "sourceId");
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(stored, "stored");
    return arrivedEvent(
        nowNanos, sourceId, id, stored.remaining(), c -> ChunkVerifier.verify(c.ref, stored));
  }

  /**
   * A chunk's bytes arrived from a source and were verified by the driver ({@link
   * ChunkVerifier#verify}, typically on another thread): as {@link #onChunkArrived}, with the same
   * bookkeeping, but the transfer decodes and hashes nothing. A {@link ChunkVerifier.Verified}
   * result is trusted (its content is handed out in the {@link Store}); a {@link
   * ChunkVerifier.Corrupt} one counts as a corrupt answer from the source.
   *
   * @throws IllegalArgumentException if the source was never offered, or the result was verified
   *     against a reference with the id of a wanted chunk but other sizes
   */
  public List<TransferAction> onChunkVerified(
      long nowNanos, String sourceId, ChunkVerifier.Result result) {
    Objects.requireNonNull(sourceId, "sourceId");
    Objects.requireNonNull(result, "result");
    Chunk wanted = chunks.get(result.ref().id());
    if (wanted != null && !wanted.ref.equals(result.ref())) {
      throw new IllegalArgumentException(
          "chunk verified as " + result.ref() + " but wanted as " + wanted.ref);
    }
    return arrivedEvent(nowNanos, sourceId, result.ref().id(), result.storedBytes(), c -> result);
  }

  private List<TransferAction> arrivedEvent(
      long nowNanos,
      String sourceId,
      ChunkId id,
      int storedBytes,
      Function<Chunk, ChunkVerifier.Result> verify) {
    return step(
        nowNanos,
        (now, out) -> arrived(now, requireSource(sourceId), id, storedBytes, verify, out));
  }

  /**
   * A source reported that it cannot deliver a chunk it was asked for. The chunk spends an attempt
   * and is retried, preferably on another source; the source backs off. A failure for a request no
   * longer outstanding is ignored.
   *
   * <p>A {@link NoSuchFileException} cause (what {@code ChunkStore.read} throws for a chunk it does
   * not hold) means the source is healthy but lacks the chunk: it is not asked for that chunk
   * again, no attempt is spent and the source does not back off. When no remaining source may hold
   * a chunk, the transfer gives up ({@link GiveUp.Reason#CHUNK_UNAVAILABLE}).
   *
   * @throws IllegalArgumentException if the source was never offered
   */
  public List<TransferAction> onChunkFailed(
      long nowNanos, String sourceId, ChunkId id, Throwable cause) {
    Objects.requireNonNull(sourceId, "sourceId");
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(cause, "cause");
    return step(
        nowNanos,
        (now, out) -> {
          Source s = requireSource(sourceId);
          if (s.state != SourceState.ACTIVE) {
            return;
          }
          Request r = release(s, id);
          if (r == null || r.chunk.state == ChunkState.STORED) {
            return;
          }
          if (cause instanceof NoSuchFileException) {
            Chunk c = r.chunk;
            missing++;
            if (c.lackedBy.isEmpty()) {
              c.lackedBy = new HashSet<>(4);
            }
            c.lackedBy.add(s.id);
            c.state = ChunkState.PENDING;
            retry.addLast(c);
            return;
          }
          s.failures++;
          backOff(s, now);
          chunkFailed(r.chunk, s, "failed on " + s.id + ": " + describe(cause), out);
        });
  }

  /**
   * A throughput measurement of a source from outside (for example the transport's own byte
   * counters), blended into the estimate the transfer keeps from arrivals.
   *
   * @throws IllegalArgumentException if the source was never offered or the rate is not a positive
   *     finite number
   */
  public List<TransferAction> onThroughputSample(
      long nowNanos, String sourceId, double bytesPerSecond) {
    Objects.requireNonNull(sourceId, "sourceId");
    requireRate(bytesPerSecond);
    return step(nowNanos, (now, out) -> blend(requireSource(sourceId), bytesPerSecond));
  }

  /**
   * Persisting a chunk handed out by a {@link Store} failed; the transfer gives up ({@link
   * GiveUp.Reason#STORE_FAILED}), since the local store is what it fills.
   */
  public List<TransferAction> onStoreFailed(long nowNanos, ChunkRef ref, Throwable cause) {
    Objects.requireNonNull(ref, "ref");
    Objects.requireNonNull(cause, "cause");
    return step(
        nowNanos,
        (now, out) ->
            giveUp(
                GiveUp.Reason.STORE_FAILED,
                "storing chunk " + ref.id().toHex() + " failed: " + describe(cause),
                out));
  }

  /**
   * Raises the bytes each source may have in flight to {@code bytesPerSource} (never lowers it) and
   * fills the new room at once: for a receiver widening a slow install (more requests outstanding
   * per source, never a faster sender).
   *
   * @throws IllegalArgumentException if {@code bytesPerSource <= 0}
   */
  public List<TransferAction> raiseInFlight(long nowNanos, long bytesPerSource) {
    if (bytesPerSource <= 0) {
      throw new IllegalArgumentException("bytesPerSource must be positive: " + bytesPerSource);
    }
    return step(
        nowNanos,
        (now, out) ->
            maxInFlightBytesPerSource = Math.max(maxInFlightBytesPerSource, bytesPerSource));
  }

  /**
   * The shared budget freed bytes: requests that waited for it go out now (as far as it grants
   * them). Harmless when nothing waits.
   */
  public List<TransferAction> onBudgetFreed(long nowNanos) {
    return step(nowNanos, (now, out) -> {});
  }

  /**
   * True when the last scheduling round stopped because the {@link RequestBudget} refused a chunk:
   * the driver should call {@link #onBudgetFreed} once the budget has room again.
   */
  public boolean waitingForBudget() {
    return waitingForBudget && phase == Phase.RUNNING;
  }

  /** The bytes each source may have in flight now. */
  public long maxInFlightBytesPerSource() {
    return maxInFlightBytesPerSource;
  }

  /**
   * Time passes: requests unanswered for {@link TransferConfig#chunkTimeout()} fail (and are
   * retried), backoffs end, the overall deadline is checked. Call it at {@link #nextTimerNanos()}
   * or more often; extra calls are harmless.
   */
  public List<TransferAction> onTick(long nowNanos) {
    return step(nowNanos, this::expire);
  }

  /**
   * The earliest time at which {@link #onTick} has something to do (a request times out, a backoff
   * ends, the deadline), or {@link Long#MAX_VALUE} once finished.
   */
  public long nextTimerNanos() {
    if (phase != Phase.RUNNING) {
      return Long.MAX_VALUE;
    }
    long next = deadlineAt;
    for (Source s : sources.values()) {
      if (s.state != SourceState.ACTIVE) {
        continue;
      }
      for (Request r : s.outstanding.values()) {
        next = Math.min(next, r.deadline);
      }
      if (s.backoffUntil > lastNow) {
        next = Math.min(next, s.backoffUntil);
      }
    }
    return next;
  }

  /** True once {@link Done} or {@link GiveUp} has been returned. */
  public boolean isFinished() {
    return phase == Phase.DONE || phase == Phase.GAVE_UP;
  }

  /** The current figures. */
  public TransferProgress progress() {
    List<SourceProgress> perSource = new ArrayList<>(sources.size());
    int inFlightChunks = 0;
    long inFlightBytes = 0;
    for (Source s : sources.values()) {
      inFlightChunks += s.outstanding.size();
      inFlightBytes += s.inFlightBytes;
      SourceProgress.Status status;
      if (s.state == SourceState.LOST) {
        status = SourceProgress.Status.LOST;
      } else if (s.state == SourceState.DEMOTED) {
        status = SourceProgress.Status.DEMOTED;
      } else if (lastNow < s.backoffUntil) {
        status = SourceProgress.Status.BACKING_OFF;
      } else {
        status = SourceProgress.Status.ACTIVE;
      }
      perSource.add(
          new SourceProgress(
              s.id,
              s.tier,
              status,
              Double.isNaN(s.bytesPerSecond)
                  ? OptionalDouble.empty()
                  : OptionalDouble.of(s.bytesPerSecond),
              s.outstanding.size(),
              s.inFlightBytes,
              s.chunksStored,
              s.bytesStored,
              s.failures,
              s.timeouts,
              s.corruptions));
    }
    return new TransferProgress(
        chunksWanted,
        bytesWanted,
        chunksHeldAtStart,
        bytesHeldAtStart,
        chunksStored,
        bytesStored,
        inFlightChunks,
        inFlightBytes,
        failures,
        timeouts,
        corruptions,
        duplicates,
        unsolicited,
        missing,
        perSource);
  }

  /** The configuration this transfer runs with. */
  public TransferConfig config() {
    return config;
  }

  // ---------------------------------------------------------------------------------------------
  // Event handling

  private List<TransferAction> step(long nowNanos, EventBody body) {
    if (phase == Phase.NEW) {
      throw new IllegalStateException("transfer not started");
    }
    if (phase != Phase.RUNNING) {
      return List.of();
    }
    long now = Math.max(nowNanos, lastNow);
    lastNow = now;
    List<TransferAction> out = new ArrayList<>();
    if (now >= deadlineAt) {
      giveUp(
          GiveUp.Reason.DEADLINE,
          "deadline of "
              + config.deadline()
              + " passed with "
              + remaining
              + " of "
              + chunksWanted
              + " chunks missing",
          out);
      return out;
    }
    body.apply(now, out);
    afterEvent(now, out);
    return out;
  }

  private void afterEvent(long now, List<TransferAction> out) {
    if (phase != Phase.RUNNING) {
      return;
    }
    if (remaining == 0) {
      phase = Phase.DONE;
      out.add(new Done());
      return;
    }
    if (!sources.isEmpty()
        && sources.values().stream().noneMatch(s -> s.state == SourceState.ACTIVE)) {
      giveUp(
          GiveUp.Reason.NO_SOURCES,
          remaining
              + " of "
              + chunksWanted
              + " chunks missing and every source is lost or demoted: "
              + describeSources(),
          out);
      return;
    }
    dispatch(now, out);
  }

  /** Applies an offer; returns the source if it joined (new, or back from lost), else null. */
  private Source offer(TransferSource source) {
    Source s = sources.get(source.id());
    boolean joined = s == null;
    if (s == null) {
      s = new Source(source.id());
      sources.put(s.id, s);
    } else if (s.state == SourceState.DEMOTED) {
      return null;
    } else if (s.state == SourceState.LOST) {
      s.state = SourceState.ACTIVE;
      s.backoffLevel = 0;
      s.backoffUntil = Long.MIN_VALUE;
      joined = true;
    }
    s.tier = source.tier();
    if (source.bytesPerSecond().isPresent()) {
      s.bytesPerSecond = source.bytesPerSecond().getAsDouble();
    }
    return joined ? s : null;
  }

  private boolean hasPending() {
    for (Chunk c : retry) {
      if (c.state == ChunkState.PENDING) {
        return true;
      }
    }
    for (Chunk c : fresh) {
      if (c.state == ChunkState.PENDING) {
        return true;
      }
    }
    return false;
  }

  /**
   * A source joined while no chunk is pending: it takes over the newest unanswered requests of the
   * sources that would take longest to answer theirs, one at a time, while that makes the chunk
   * arrive sooner (by estimated throughput) and the joiner is of no higher tier. A taken-over
   * request is abandoned, not cancelled: a late answer to it is still stored if the chunk is
   * missing, and ignored as a duplicate otherwise. Each source keeps its oldest request (likely
   * under way).
   */
  private void takeOver(Source joiner, long now, List<TransferAction> out) {
    if (!joiner.usable(now)) {
      return;
    }
    double defaultRate = defaultRate();
    Map<Source, List<ChunkRef>> batches = new LinkedHashMap<>();
    while (true) {
      Source victim = null;
      double worst = 0;
      for (Source s : sources.values()) {
        if (s == joiner
            || s.state != SourceState.ACTIVE
            || s.tier < joiner.tier
            || s.outstanding.size() < 2) {
          continue;
        }
        double eta = s.inFlightBytes / rate(s, defaultRate);
        if (eta > worst) {
          worst = eta;
          victim = s;
        }
      }
      if (victim == null) {
        break;
      }
      Request newest = null;
      for (Request r : victim.outstanding.values()) {
        newest = r;
      }
      Chunk c = newest.chunk;
      double eta = (joiner.inFlightBytes + (double) c.ref.storedSize()) / rate(joiner, defaultRate);
      if (eta >= worst
          || c.lackedBy.contains(joiner.id)
          || c.failuresBySource.getOrDefault(joiner.id, 0) > 0
          || !hasRoom(joiner, c, batches)
          || !reserve(c)) {
        break;
      }
      release(victim, c.ref.id());
      assign(c, joiner, now, batches);
    }
    emit(batches, out);
  }

  private static double rate(Source s, double defaultRate) {
    return Double.isNaN(s.bytesPerSecond) ? defaultRate : s.bytesPerSecond;
  }

  private void arrived(
      long now,
      Source s,
      ChunkId id,
      int storedBytes,
      Function<Chunk, ChunkVerifier.Result> verify,
      List<TransferAction> out) {
    Chunk c = chunks.get(id);
    if (c == null || s.state != SourceState.ACTIVE) {
      unsolicited++;
      return;
    }
    Request r = release(s, id);
    if (r != null) {
      sample(s, storedBytes, now);
    }
    if (c.state == ChunkState.STORED) {
      duplicates++;
      return;
    }
    if (r == null && !c.failuresBySource.containsKey(s.id)) {
      unsolicited++;
      return;
    }
    ChunkVerifier.Result result = verify.apply(c);
    if (result instanceof ChunkVerifier.Corrupt bad) {
      String problem = bad.reason();
      corruptions++;
      if (r == null) {
        // A late or repeated answer: the request already ended, so it does not count again.
        return;
      }
      s.corruptions++;
      chunkFailed(c, s, "corrupt from " + s.id + ": " + problem, out);
      if (phase == Phase.RUNNING && s.corruptions >= config.corruptionsToDemote()) {
        s.state = SourceState.DEMOTED;
        rescheduleOutstanding(s);
        out.add(
            new SourceDemoted(
                s.id,
                "delivered "
                    + s.corruptions
                    + " corrupt chunk(s); last: chunk "
                    + id.toHex()
                    + ": "
                    + problem));
      }
      return;
    }
    ChunkVerifier.Verified good = (ChunkVerifier.Verified) result;
    s.backoffLevel = 0;
    s.chunksStored++;
    s.bytesStored += c.ref.storedSize();
    // When r == null this is a late answer; a retry in flight elsewhere stays outstanding until it
    // is answered (then ignored as a duplicate) or times out.
    c.state = ChunkState.STORED;
    remaining--;
    chunksStored++;
    bytesStored += c.ref.storedSize();
    out.add(new Store(c.ref, good.stored(), good.raw()));
  }

  private void expire(long now, List<TransferAction> out) {
    List<Request> expired = new ArrayList<>();
    List<Source> owners = new ArrayList<>();
    for (Source s : sources.values()) {
      if (s.state != SourceState.ACTIVE) {
        continue;
      }
      for (Request r : s.outstanding.values()) {
        if (r.deadline <= now) {
          expired.add(r);
          owners.add(s);
        }
      }
    }
    for (int i = 0; i < expired.size() && phase == Phase.RUNNING; i++) {
      Request r = expired.get(i);
      Source s = owners.get(i);
      release(s, r.chunk.ref.id());
      s.timeouts++;
      s.failures++;
      timeouts++;
      backOff(s, now);
      if (r.chunk.state != ChunkState.STORED) {
        chunkFailed(
            r.chunk,
            s,
            "timed out on " + s.id + " after " + (now - r.sentAt) / 1_000_000 + " ms",
            out);
      }
    }
  }

  /** Records a failed attempt of an in-flight chunk and queues it for retry, or gives up. */
  private void chunkFailed(Chunk c, Source s, String why, List<TransferAction> out) {
    failures++;
    c.failures++;
    c.failuresBySource.merge(s.id, 1, Integer::sum);
    c.lastFailure = why;
    c.state = ChunkState.PENDING;
    if (c.failures >= config.maxAttemptsPerChunk()) {
      giveUp(
          GiveUp.Reason.ATTEMPTS_EXHAUSTED,
          "chunk "
              + c.ref.id().toHex()
              + " failed "
              + c.failures
              + " times (failures by source: "
              + c.failuresBySource
              + "); last: "
              + why,
          out);
      return;
    }
    retry.addLast(c);
  }

  private void rescheduleOutstanding(Source s) {
    for (Request r : s.outstanding.values()) {
      if (r.chunk.state == ChunkState.IN_FLIGHT) {
        r.chunk.state = ChunkState.PENDING;
        retry.addLast(r.chunk);
      }
    }
    s.outstanding.clear();
    s.inFlightBytes = 0;
  }

  private Request release(Source s, ChunkId id) {
    Request r = s.outstanding.remove(id);
    if (r != null) {
      s.inFlightBytes -= r.chunk.ref.storedSize();
    }
    return r;
  }

  private void backOff(Source s, long now) {
    if (now < s.backoffUntil) {
      return; // failures during a backoff are of requests sent before it; they do not escalate it
    }
    long max = config.maxFailureBackoffNanos();
    long delay = config.failureBackoffNanos();
    for (int i = 0; i < Math.min(s.backoffLevel, 63) && delay > 0 && delay < max; i++) {
      delay = saturatedAdd(delay, delay);
    }
    delay = Math.min(delay, max);
    s.backoffLevel++;
    s.backoffUntil = saturatedAdd(now, delay);
  }

  private void giveUp(GiveUp.Reason reason, String message, List<TransferAction> out) {
    phase = Phase.GAVE_UP;
    out.add(new GiveUp(reason, message));
  }

  // ---------------------------------------------------------------------------------------------
  // Scheduling

  private void dispatch(long now, List<TransferAction> out) {
    Map<Source, List<ChunkRef>> batches = new LinkedHashMap<>();
    double defaultRate = defaultRate();
    waitingForBudget = false;
    for (Iterator<Chunk> it = retry.iterator(); it.hasNext() && !waitingForBudget; ) {
      Chunk c = it.next();
      if (c.state != ChunkState.PENDING) {
        it.remove();
        continue;
      }
      if (!c.lackedBy.isEmpty() && !mayBeHeldSomewhere(c)) {
        giveUp(
            GiveUp.Reason.CHUNK_UNAVAILABLE,
            "no remaining source holds chunk "
                + c.ref.id().toHex()
                + " (lacked by "
                + new TreeSet<>(c.lackedBy)
                + "; sources: "
                + describeSources()
                + ")",
            out);
        return;
      }
      Source s = pickSource(c, now, batches, defaultRate);
      if (s != null && reserve(c)) {
        it.remove();
        assign(c, s, now, batches);
      }
    }
    while (!fresh.isEmpty() && !waitingForBudget) {
      Chunk c = fresh.peekFirst();
      if (c.state != ChunkState.PENDING) {
        fresh.pollFirst();
        continue;
      }
      Source s = pickSource(c, now, batches, defaultRate);
      if (s == null || !reserve(c)) {
        break;
      }
      fresh.pollFirst();
      assign(c, s, now, batches);
    }
    emit(batches, out);
  }

  /** Asks the budget for {@code c}'s bytes; a refusal stops this scheduling round. */
  private boolean reserve(Chunk c) {
    if (budget.tryReserve(c.ref.storedSize())) {
      return true;
    }
    waitingForBudget = true;
    return false;
  }

  /** One {@link Fetch} per source and batch of at most {@code maxBatchChunks}. */
  private void emit(Map<Source, List<ChunkRef>> batches, List<TransferAction> out) {
    int max = config.maxBatchChunks();
    for (Map.Entry<Source, List<ChunkRef>> e : batches.entrySet()) {
      List<ChunkRef> all = e.getValue();
      for (int from = 0; from < all.size(); from += max) {
        out.add(new Fetch(e.getKey().id, all.subList(from, Math.min(all.size(), from + max))));
      }
    }
  }

  private boolean mayBeHeldSomewhere(Chunk c) {
    for (Source s : sources.values()) {
      if (s.state == SourceState.ACTIVE && !c.lackedBy.contains(s.id)) {
        return true;
      }
    }
    return false;
  }

  /**
   * The source for {@code c} now, or null if it must wait: among usable sources with the fewest
   * failures of this chunk, then the lowest tier, the one with room that would finish it soonest.
   */
  private Source pickSource(
      Chunk c, long now, Map<Source, List<ChunkRef>> batches, double defaultRate) {
    Source best = null;
    double bestEta = Double.POSITIVE_INFINITY;
    int keyFailures = Integer.MAX_VALUE;
    int keyTier = Integer.MAX_VALUE;
    for (Source s : sources.values()) {
      if (!s.usable(now) || c.lackedBy.contains(s.id)) {
        continue;
      }
      int f = c.failuresBySource.getOrDefault(s.id, 0);
      int cmp =
          f != keyFailures ? Integer.compare(f, keyFailures) : Integer.compare(s.tier, keyTier);
      if (cmp > 0) {
        continue;
      }
      if (cmp < 0) {
        keyFailures = f;
        keyTier = s.tier;
        best = null;
        bestEta = Double.POSITIVE_INFINITY;
      }
      if (!hasRoom(s, c, batches)) {
        continue;
      }
      double eta = (s.inFlightBytes + (double) c.ref.storedSize()) / rate(s, defaultRate);
      if (eta < bestEta) {
        best = s;
        bestEta = eta;
      }
    }
    return best;
  }

  private boolean hasRoom(Source s, Chunk c, Map<Source, List<ChunkRef>> batches) {
    if (s.inFlightBytes == 0) {
      return true;
    }
    if (s.backoffLevel > 0) {
      return false; // probing after a failure: one chunk at a time until a good answer
    }
    long cap = maxInFlightBytesPerSource;
    long free = cap - s.inFlightBytes;
    if (free < c.ref.storedSize()) {
      return false;
    }
    return batches.containsKey(s) || free >= cap / 4;
  }

  private void assign(Chunk c, Source s, long now, Map<Source, List<ChunkRef>> batches) {
    if (s.outstanding.isEmpty()) {
      s.sampleStart = now;
      s.sampleBytes = 0;
    }
    s.outstanding.put(
        c.ref.id(), new Request(c, now, saturatedAdd(now, config.chunkTimeoutNanos())));
    s.inFlightBytes += c.ref.storedSize();
    c.state = ChunkState.IN_FLIGHT;
    c.failuresBySource.putIfAbsent(s.id, 0);
    batches.computeIfAbsent(s, k -> new ArrayList<>()).add(c.ref);
  }

  private double defaultRate() {
    double sum = 0;
    int n = 0;
    for (Source s : sources.values()) {
      if (s.state == SourceState.ACTIVE && !Double.isNaN(s.bytesPerSecond)) {
        sum += s.bytesPerSecond;
        n++;
      }
    }
    return n == 0 ? 1.0 : sum / n;
  }

  // ---------------------------------------------------------------------------------------------
  // Throughput

  private static void sample(Source s, long bytes, long now) {
    s.sampleBytes += bytes;
    long elapsed = now - s.sampleStart;
    if (elapsed >= MIN_SAMPLE_NANOS) {
      blend(s, s.sampleBytes * 1e9 / elapsed);
      s.sampleStart = now;
      s.sampleBytes = 0;
    }
  }

  private static void blend(Source s, double bytesPerSecond) {
    s.bytesPerSecond =
        Double.isNaN(s.bytesPerSecond)
            ? bytesPerSecond
            : (1 - EWMA_WEIGHT) * s.bytesPerSecond + EWMA_WEIGHT * bytesPerSecond;
  }

  // ---------------------------------------------------------------------------------------------
  // Helpers

  private Source requireSource(String id) {
    Source s = sources.get(id);
    if (s == null) {
      throw new IllegalArgumentException("unknown source '" + id + "'");
    }
    return s;
  }

  private String describeSources() {
    StringBuilder b = new StringBuilder();
    for (Source s : sources.values()) {
      if (b.length() > 0) {
        b.append(", ");
      }
      b.append(s.id).append('=').append(s.state.name().toLowerCase(Locale.ROOT));
    }
    return b.toString();
  }

  private static String describe(Throwable t) {
    String m = t.getMessage();
    return m == null ? t.getClass().getSimpleName() : t.getClass().getSimpleName() + ": " + m;
  }

  static void requireRate(double bytesPerSecond) {
    if (!(bytesPerSecond > 0) || Double.isInfinite(bytesPerSecond)) {
      throw new IllegalArgumentException(
          "throughput must be a positive finite number of bytes/s: " + bytesPerSecond);
    }
  }

  private static long saturatedAdd(long a, long b) {
    long r = a + b;
    return ((a ^ r) & (b ^ r)) < 0 ? (a < 0 ? Long.MIN_VALUE : Long.MAX_VALUE) : r;
  }
}
