package dev.ferry.statemachine.replica;

import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.ChunkRef;
import dev.ferry.snapshot.format.Manifest;
import dev.ferry.snapshot.store.ChunkScrubber;
import dev.ferry.snapshot.store.ChunkStore;
import dev.ferry.snapshot.store.QuarantineListener;
import dev.ferry.statemachine.StateMachineConfig;
import dev.ferry.statemachine.internal.SnapshotCatalog;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Gets chunks the store lost to corruption back from the peers: every chunk the store quarantines
 * (a failed read, a peer's report re-verified, the scrub) is fetched again through the {@link
 * Installer}'s {@link Installer#repair}, if a manifest on disk still names it. Also runs the
 * background scrub, and at startup makes the newest snapshot whole before it is loaded.
 *
 * <p>Concurrency: {@link #quarantined} is called on any thread (the store's reader); repairs run
 * one at a time on a single "ferry-repair" thread; the scrub on its own daemon thread; {@link
 * #loadAtStartup} on the opening thread, before {@link #start}.
 */
final class ChunkRepair implements QuarantineListener {
  private static final Logger LOG = LoggerFactory.getLogger(ChunkRepair.class);
  private static final long FETCH_TIMEOUT_SECONDS = 120;
  private static final long RETRY_MIN_MILLIS = 1_000;
  private static final long RETRY_MAX_MILLIS = 30_000;
  private static final Duration SCRUB_PAUSE = Duration.ofMinutes(1);

  private final String name;
  private final Installer installer;
  private final StateMachineConfig config;
  private final Set<ChunkId> pending = ConcurrentHashMap.newKeySet();
  private final ScheduledExecutorService executor;
  private final AtomicBoolean scheduled = new AtomicBoolean();
  private final AtomicLong repaired = new AtomicLong();
  private final AtomicLong failures = new AtomicLong();
  private volatile SnapshotCatalog catalog;
  private volatile ChunkScrubber scrubber;
  private volatile Thread scrubThread;
  private long retryMillis = RETRY_MIN_MILLIS; // repair thread only

  /** The installer cannot fetch chunks at all (no snapshot shipping): retrying is pointless. */
  private static final class RepairUnavailable extends IOException {
    private static final long serialVersionUID = 1L;

    RepairUnavailable(Throwable cause) {
      super(cause.getMessage(), cause);
    }
  }

  ChunkRepair(String name, Installer installer, StateMachineConfig config) {
    this.name = name;
    this.installer = installer;
    this.config = config;
    this.executor =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "ferry-repair");
              t.setDaemon(true);
              return t;
            });
  }

  /** The store quarantined {@code id}: fetch it again (soon, on the repair thread). */
  @Override
  public void quarantined(ChunkId id, String reason) {
    pending.add(id);
    schedule(0);
  }

  /** Starts repairing (what was quarantined so far too) and scrubbing {@code c}'s store. */
  void start(SnapshotCatalog c) {
    catalog = c;
    if (config.scrubBytesPerSecond() > 0) {
      ChunkScrubber s = new ChunkScrubber(c.store(), config.scrubBytesPerSecond(), SCRUB_PAUSE);
      scrubber = s;
      Thread t = new Thread(s, "ferry-scrub-" + name);
      t.setDaemon(true);
      t.setPriority(Thread.MIN_PRIORITY);
      scrubThread = t;
      t.start();
    }
    if (!pending.isEmpty()) {
      schedule(0);
    }
  }

  /** Stops the scrub and the repair thread. */
  void close() {
    ChunkScrubber s = scrubber;
    if (s != null) {
      s.stop();
      scrubThread.interrupt();
    }
    executor.shutdownNow();
  }

  /** Counts so far. Any thread. */
  ChunkRepairStats stats() {
    ChunkScrubber s = scrubber;
    ChunkScrubber.Stats scrub = s == null ? new ChunkScrubber.Stats(0, 0, 0, 0) : s.stats();
    return new ChunkRepairStats(
        repaired.get(),
        failures.get(),
        pending.size(),
        scrub.passes(),
        scrub.bytes(),
        scrub.corrupt());
  }

  private void schedule(long delayMillis) {
    if (catalog == null || !scheduled.compareAndSet(false, true)) {
      return;
    }
    try {
      executor.schedule(this::drain, delayMillis, TimeUnit.MILLISECONDS);
    } catch (RejectedExecutionException closed) {
      scheduled.set(false);
    }
  }

  /** Fetches every pending chunk a manifest still needs. Repair thread. */
  private void drain() {
    scheduled.set(false);
    SnapshotCatalog c = catalog;
    ChunkStore store = c.store();
    Set<ChunkId> ids = Set.copyOf(pending);
    Map<ChunkId, ChunkRef> refs = c.references(ids);
    List<ChunkRef> wanted = new ArrayList<>();
    for (ChunkId id : ids) {
      ChunkRef r = refs.get(id);
      if (r == null || store.contains(id)) {
        pending.remove(id); // nothing needs it, or it is back already
      } else {
        wanted.add(r);
      }
    }
    if (wanted.isEmpty()) {
      return;
    }
    try {
      fetch(c, wanted);
      retryMillis = RETRY_MIN_MILLIS;
    } catch (RepairUnavailable e) {
      LOG.warn("{}: {} corrupt chunk(s) stay missing: {}", name, wanted.size(), e.getMessage());
      pending.removeAll(ids);
    } catch (IOException e) {
      LOG.warn(
          "{}: re-fetching {} corrupt chunk(s) failed ({}); retrying in {} s",
          name,
          wanted.size(),
          e.getMessage(),
          retryMillis / 1000);
      long delay = retryMillis;
      retryMillis = Math.min(retryMillis * 2, RETRY_MAX_MILLIS);
      schedule(delay);
    }
  }

  /**
   * Fetches {@code wanted} from the peers and waits for it (bounded). Counts and forgets what came
   * back, even when the rest failed, and re-admits snapshots that are whole again.
   */
  private void fetch(SnapshotCatalog c, List<ChunkRef> wanted) throws IOException {
    try {
      installer.repair(wanted, c.store()).get(FETCH_TIMEOUT_SECONDS, TimeUnit.SECONDS);
    } catch (ExecutionException e) {
      failures.incrementAndGet();
      if (e.getCause() instanceof UnsupportedOperationException u) {
        throw new RepairUnavailable(u);
      }
      throw e.getCause() instanceof IOException io ? io : new IOException(e.getCause());
    } catch (TimeoutException e) {
      failures.incrementAndGet();
      throw new IOException("no answer in " + FETCH_TIMEOUT_SECONDS + " s", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while re-fetching chunks");
    } finally {
      int back = 0;
      for (ChunkRef r : wanted) {
        if (c.store().contains(r.id())) {
          pending.remove(r.id());
          back++;
        }
      }
      if (back > 0) {
        repaired.addAndGet(back);
        LOG.warn(
            "{}: re-fetched {} of {} corrupt chunk(s) from peers, verified",
            name,
            back,
            wanted.size());
        c.readmit();
      }
    }
  }

  /**
   * Loads the newest snapshot at startup. A chunk found corrupt on the way does not stop the node:
   * every chunk of the snapshot is then re-hashed (so all corrupt ones are quarantined at once),
   * the missing ones are fetched from the peers, and the load runs again; while no peer can supply
   * them, it retries with a backoff (up to 30 s), logging each attempt. Opening thread; blocks.
   *
   * @throws IOException for a failure that is not corruption (the digest of intact chunks does not
   *     match, the layout differs, the disk fails)
   */
  StagedState loadAtStartup(SnapshotCatalog c, Staging staging, Manifest m) throws IOException {
    long backoff = RETRY_MIN_MILLIS;
    while (true) {
      List<ChunkRef> missing = c.missing(m);
      if (missing.isEmpty()) {
        try {
          StagedState s = staging.loadAtStartup(m);
          c.readmit();
          return s;
        } catch (IOException e) {
          // A corrupt chunk shows as a digest mismatch, a chunk that fails to decode or hash, or
          // (a raw chunk decodes whatever its bytes) a record that does not parse: re-hash them
          // all.
          int bad = quarantineCorrupt(c.store(), m);
          if (c.missing(m).isEmpty()) {
            throw e; // every chunk is intact: the failure is not corruption at rest
          }
          LOG.warn(
              "{}: snapshot {} has corrupt chunks ({} more found by re-hashing it all): they are"
                  + " quarantined and fetched again from the peers",
              name,
              m.index(),
              bad);
          continue;
        }
      }
      LOG.warn(
          "{}: snapshot {} lacks {} chunk(s) lost to corruption; fetching them from the peers",
          name,
          m.index(),
          missing.size());
      try {
        fetch(c, missing);
      } catch (InterruptedIOException | RepairUnavailable e) {
        throw e;
      } catch (IOException e) {
        LOG.warn(
            "{}: could not fetch them yet ({}); retrying in {} s",
            name,
            e.getMessage(),
            backoff / 1000);
        try {
          Thread.sleep(backoff);
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          throw new InterruptedIOException("interrupted while waiting to re-fetch chunks");
        }
        backoff = Math.min(backoff * 2, RETRY_MAX_MILLIS);
      }
    }
  }

  /** Re-hashes every chunk of {@code m}; returns how many failed (they are quarantined). */
  private static int quarantineCorrupt(ChunkStore store, Manifest m) throws IOException {
    Set<ChunkId> seen = new HashSet<>();
    int bad = 0;
    for (ChunkRef r : m.allChunks()) {
      if (seen.add(r.id()) && store.contains(r.id()) && !store.verify(r.id())) {
        bad++;
      }
    }
    return bad;
  }
}
