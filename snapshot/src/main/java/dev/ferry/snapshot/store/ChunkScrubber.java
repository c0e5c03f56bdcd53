package dev.ferry.snapshot.store;

import dev.ferry.snapshot.ChunkId;
import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Re-reads and re-hashes every chunk of a store at a bounded rate, so that corruption at rest (a
 * bad sector, a stray write) is found before a reader or a peer needs the chunk. A chunk that fails
 * is quarantined by the store itself (it calls its {@link QuarantineListener}, which is where a
 * node re-fetches it); the scrubber only reads and counts.
 *
 * <p>Pacing: after each chunk the scrubber sleeps until the uncompressed bytes it has read in this
 * pass, divided by the rate, have elapsed since the pass began; so a pass never reads faster than
 * {@code bytesPerSecond} on average, and a single chunk is the largest burst. Time comes from an
 * injected nanosecond clock and sleeper, so tests check the pacing without waiting.
 *
 * <p>Concurrency: one thread runs {@link #scrubOnce} or {@link #run} at a time; {@link #stats} and
 * {@link #stop} may be called from any thread. The store may be used concurrently (chunks collected
 * meanwhile are skipped).
 */
public final class ChunkScrubber implements Runnable {
  private static final Logger LOG = LoggerFactory.getLogger(ChunkScrubber.class);

  /** Sleeps for a number of nanoseconds (the real one is {@link Thread#sleep}). */
  @FunctionalInterface
  public interface Sleeper {
    void sleepNanos(long nanos) throws InterruptedException;
  }

  /**
   * The outcome of one pass.
   *
   * @param checked chunks read and hashed
   * @param bytes their uncompressed bytes
   * @param corrupt the chunks that failed (now quarantined), in the order found
   */
  public record Pass(long checked, long bytes, List<ChunkId> corrupt) {
    public Pass {
      corrupt = List.copyOf(corrupt);
    }
  }

  /**
   * Totals since the scrubber was made.
   *
   * @param passes passes completed
   * @param checked chunks checked
   * @param bytes uncompressed bytes checked
   * @param corrupt chunks found corrupt
   */
  public record Stats(long passes, long checked, long bytes, long corrupt) {}

  private final ChunkStore store;
  private final long bytesPerSecond;
  private final Duration pauseBetweenPasses;
  private final LongSupplier nanoClock;
  private final Sleeper sleeper;
  private final AtomicLong passes = new AtomicLong();
  private final AtomicLong checked = new AtomicLong();
  private final AtomicLong bytes = new AtomicLong();
  private final AtomicLong corrupt = new AtomicLong();
  private volatile boolean stopped;

  /**
   * A scrubber on the system clock.
   *
   * @param store the store to check
   * @param bytesPerSecond the most uncompressed bytes re-hashed per second ({@code > 0})
   * @param pauseBetweenPasses how long {@link #run} waits after a pass before the next
   * @throws IllegalArgumentException if the rate is not positive or the pause is negative
   */
  public ChunkScrubber(ChunkStore store, long bytesPerSecond, Duration pauseBetweenPasses) {
    this(store, bytesPerSecond, pauseBetweenPasses, System::nanoTime, ChunkScrubber::sleep);
  }

  /** As the public constructor, with an injected clock and sleeper (for tests). */
  public ChunkScrubber(
      ChunkStore store,
      long bytesPerSecond,
      Duration pauseBetweenPasses,
      LongSupplier nanoClock,
      Sleeper sleeper) {
    this.store = Objects.requireNonNull(store, "store");
    if (bytesPerSecond <= 0) {
      throw new IllegalArgumentException("scrub rate must be positive: " + bytesPerSecond);
    }
    Objects.requireNonNull(pauseBetweenPasses, "pauseBetweenPasses");
    if (pauseBetweenPasses.isNegative()) {
      throw new IllegalArgumentException("pause between passes < 0: " + pauseBetweenPasses);
    }
    this.bytesPerSecond = bytesPerSecond;
    this.pauseBetweenPasses = pauseBetweenPasses;
    this.nanoClock = Objects.requireNonNull(nanoClock, "nanoClock");
    this.sleeper = Objects.requireNonNull(sleeper, "sleeper");
  }

  private static void sleep(long nanos) throws InterruptedException {
    Thread.sleep(nanos / 1_000_000, (int) (nanos % 1_000_000));
  }

  /**
   * Checks every chunk the store holds when the pass begins, paced. Blocks for the pass (at least
   * the store's uncompressed bytes ÷ the rate).
   *
   * @throws InterruptedException if interrupted or {@link #stop stopped} meanwhile
   * @throws IOException if a chunk cannot be read for a reason other than corruption
   */
  public Pass scrubOnce() throws IOException, InterruptedException {
    long start = nanoClock.getAsLong();
    long passChecked = 0;
    long passBytes = 0;
    List<ChunkId> found = new ArrayList<>();
    for (ChunkId id : store.ids()) {
      if (stopped || Thread.currentThread().isInterrupted()) {
        throw new InterruptedException("scrub stopped");
      }
      int n;
      try {
        n = store.read(id).length;
      } catch (NoSuchFileException gone) {
        continue; // collected since the pass began
      } catch (ChunkCorruptException e) {
        found.add(id);
        corrupt.incrementAndGet();
        LOG.warn("scrub: chunk {} of {} is corrupt and was quarantined", id.toHex(), store);
        n = 0;
      }
      passChecked++;
      passBytes += n;
      checked.incrementAndGet();
      bytes.addAndGet(n);
      long due = start + (long) (passBytes * 1e9 / bytesPerSecond);
      long wait = due - nanoClock.getAsLong();
      if (wait > 0) {
        sleeper.sleepNanos(wait);
      }
    }
    passes.incrementAndGet();
    return new Pass(passChecked, passBytes, found);
  }

  /**
   * Scrubs pass after pass, pausing between them, until {@link #stop stopped} or interrupted. A
   * pass that fails with an I/O error is logged and followed by the pause. For a dedicated daemon
   * thread.
   */
  @Override
  public void run() {
    while (!stopped) {
      try {
        Pass p = scrubOnce();
        LOG.debug("scrub of {}: {}", store, p);
        sleeper.sleepNanos(pauseBetweenPasses.toNanos());
      } catch (InterruptedException e) {
        return;
      } catch (IOException | RuntimeException e) {
        if (stopped) {
          return;
        }
        LOG.warn("scrub of {} failed; next pass after the pause", store, e);
        try {
          sleeper.sleepNanos(pauseBetweenPasses.toNanos());
        } catch (InterruptedException ie) {
          return;
        }
      }
    }
  }

  /** Makes {@link #run} and a running pass end soon (at the next chunk). Any thread. */
  public void stop() {
    stopped = true;
  }

  /** Totals so far. Any thread. */
  public Stats stats() {
    return new Stats(passes.get(), checked.get(), bytes.get(), corrupt.get());
  }
}
