package dev.ferry.bench.recovery;

import dev.ferry.bench.LoadWindow;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * The foreground writes of the shaped benchmark's {@code foreground} scenario: {@link #CLIENTS}
 * threads (a fixed pool), each with its own {@link ShapedSystem.Putter} and one put of a 1 KiB
 * value outstanding at a time, rewriting its own {@link #KEYS_PER_CLIENT} keys round-robin (the
 * state grows by at most {@code CLIENTS × KEYS_PER_CLIENT} KiB). Every completed put is recorded
 * (its completion time and latency, nanoTime), so that any window can be measured afterwards:
 * {@link #window} counts the puts that completed in it and takes their 99th percentile latency
 * ({@link LoadWindow}).
 *
 * <p>Concurrency: {@link #start} and {@link #stop} from one thread; each worker owns its record
 * until {@link #stop} has joined it, after which {@link #window} reads them. A put that fails stops
 * the load; {@link #stop} rethrows the first failure.
 */
final class ForegroundLoad {
  static final int CLIENTS = 16;
  static final int VALUE_BYTES = 1024;
  static final int KEYS_PER_CLIENT = 64;

  private final ShapedSystem sys;
  private final ExecutorService pool;
  private final List<Future<long[]>> workers = new ArrayList<>();
  private final List<long[]> records = new ArrayList<>();
  private volatile boolean running;

  ForegroundLoad(ShapedSystem sys) {
    this.sys = java.util.Objects.requireNonNull(sys, "sys");
    this.pool = Executors.newFixedThreadPool(CLIENTS);
  }

  /**
   * Opens a client per worker (before any put, so no window sees a connection set-up) and starts
   * the puts.
   *
   * @throws IOException if a client cannot be opened
   */
  void start() throws IOException {
    List<ShapedSystem.Putter> putters = new ArrayList<>();
    try {
      for (int i = 0; i < CLIENTS; i++) {
        putters.add(sys.putter());
      }
    } catch (IOException | RuntimeException e) {
      for (ShapedSystem.Putter p : putters) {
        p.close();
      }
      pool.shutdownNow();
      throw e;
    }
    running = true;
    for (int i = 0; i < CLIENTS; i++) {
      int client = i;
      ShapedSystem.Putter p = putters.get(i);
      workers.add(pool.submit(() -> run(client, p)));
    }
    pool.shutdown();
  }

  /** One worker: puts until stopped; returns its record (end, latency pairs, then unused 0s). */
  private long[] run(int client, ShapedSystem.Putter putter) throws IOException {
    SplittableRandom random = new SplittableRandom(client);
    byte[] value = new byte[VALUE_BYTES];
    LoadWindow.Recorder rec = new LoadWindow.Recorder();
    try (putter) {
      for (long i = 0; running; i++) {
        byte[] key =
            ("fg-" + client + "-" + (i % KEYS_PER_CLIENT))
                .getBytes(java.nio.charset.StandardCharsets.UTF_8);
        random.nextBytes(value);
        long t0 = System.nanoTime();
        putter.put(key, value);
        long t1 = System.nanoTime();
        rec.add(t1, t1 - t0);
      }
    } catch (IOException | RuntimeException e) {
      running = false;
      throw e;
    }
    return rec.toArray();
  }

  /** Whether every worker is still putting (false once one failed). */
  boolean running() {
    return running;
  }

  /**
   * Stops the workers and waits for their outstanding puts.
   *
   * @throws IOException the first failed put, or if a worker does not finish within a minute
   */
  void stop() throws IOException {
    running = false;
    IOException failed = null;
    try {
      if (!pool.awaitTermination(60, TimeUnit.SECONDS)) {
        pool.shutdownNow();
        throw new IOException("foreground clients did not stop within 60 s");
      }
      for (Future<long[]> w : workers) {
        try {
          records.add(w.get());
        } catch (java.util.concurrent.ExecutionException e) {
          if (failed == null) {
            failed = new IOException("a foreground put failed: " + e.getCause(), e.getCause());
          }
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("interrupted stopping the foreground clients");
    }
    if (failed != null) {
      throw failed;
    }
  }

  /** The puts that completed in [{@code from}, {@code to}) (nanoTime); after {@link #stop}. */
  LoadWindow window(long from, long to) {
    return LoadWindow.of(records, from, to);
  }
}
