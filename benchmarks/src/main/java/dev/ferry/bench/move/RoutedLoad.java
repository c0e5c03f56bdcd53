package dev.ferry.bench.move;

import dev.ferry.bench.LoadWindow;
import dev.ferry.kv.shard.RoutingKvClient;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The clients of the benchmark: N threads (a fixed pool), each with its own {@link RoutingKvClient}
 * and one put outstanding at a time, putting a value of the key space's size to a random key of the
 * whole key space (so across all ranges; the state's size does not change, keys are overwritten).
 * Every completed put is recorded (its completion time and latency, nanoTime), and every failed one
 * (its time and the exception's class), so that any window can be measured afterwards ({@link
 * LoadWindow}). A failed put does not stop a client: it is counted, and the client goes on after 10
 * ms.
 *
 * <p>Concurrency: {@link #start} and {@link #stop} from one thread; each worker owns its records
 * until {@link #stop} has joined it, after which {@link #window} and {@link #failures} read them.
 */
public final class RoutedLoad {
  private final KeySpace keys;
  private final int clients;
  private final ExecutorService pool;
  private final List<Future<long[][]>> workers = new ArrayList<>();
  private final List<long[]> done = new ArrayList<>();
  private final List<long[]> failed = new ArrayList<>();
  private final Map<String, Long> failureKinds = new TreeMap<>();
  private volatile boolean running;

  /** {@code clients} workers over {@code keys}; nothing runs before {@link #start}. */
  public RoutedLoad(KeySpace keys, int clients) {
    if (clients < 1) {
      throw new IllegalArgumentException("clients must be >= 1: " + clients);
    }
    this.keys = keys;
    this.clients = clients;
    this.pool = Executors.newFixedThreadPool(clients);
  }

  /**
   * Opens a client per worker with {@code connect} (before any put) and starts the puts.
   *
   * @throws IOException if a client cannot be opened (the ones opened are closed)
   */
  public void start(Supplier<RoutingKvClient> connect) throws IOException {
    List<RoutingKvClient> opened = new ArrayList<>();
    try {
      for (int i = 0; i < clients; i++) {
        opened.add(connect.get());
      }
    } catch (RuntimeException e) {
      for (RoutingKvClient c : opened) {
        c.close();
      }
      pool.shutdownNow();
      throw e;
    }
    running = true;
    for (int i = 0; i < clients; i++) {
      int client = i;
      RoutingKvClient c = opened.get(i);
      workers.add(pool.submit(() -> run(client, c)));
    }
    pool.shutdown();
  }

  /** One worker: puts until stopped; returns its records {done, failed}. */
  private long[][] run(int client, RoutingKvClient kv) throws IOException {
    SplittableRandom random = new SplittableRandom(0x10AD_0000L + client);
    LoadWindow.Recorder ok = new LoadWindow.Recorder();
    LoadWindow.Recorder bad = new LoadWindow.Recorder();
    Map<String, Long> kinds = new TreeMap<>();
    try (kv) {
      while (running) {
        byte[] key = keys.key(random.nextLong(keys.keys()));
        byte[] value = keys.value(random);
        long t0 = System.nanoTime();
        try {
          kv.put(key, value);
        } catch (IOException | RuntimeException e) {
          long t1 = System.nanoTime();
          bad.add(t1, t1 - t0);
          kinds.merge(e.getClass().getSimpleName(), 1L, Long::sum);
          pause();
          continue;
        }
        long t1 = System.nanoTime();
        ok.add(t1, t1 - t0);
      }
    }
    synchronized (failureKinds) {
      kinds.forEach((k, v) -> failureKinds.merge(k, v, Long::sum));
    }
    return new long[][] {ok.toArray(), bad.toArray()};
  }

  private static void pause() {
    try {
      Thread.sleep(10);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** True until {@link #stop}. */
  boolean running() {
    return running;
  }

  /**
   * Stops the workers and waits for their outstanding puts (up to two minutes).
   *
   * @throws IOException if a worker failed outside a put (e.g. closing its client) or did not stop
   */
  public void stop() throws IOException {
    running = false;
    IOException first = null;
    try {
      if (!pool.awaitTermination(120, TimeUnit.SECONDS)) {
        pool.shutdownNow();
        first = new IOException("clients did not stop within 120 s");
      }
      for (Future<long[][]> w : workers) {
        if (!w.isDone()) {
          continue;
        }
        try {
          long[][] r = w.get();
          done.add(r[0]);
          failed.add(r[1]);
        } catch (ExecutionException e) {
          if (first == null) {
            first = new IOException("a client failed: " + e.getCause(), e.getCause());
          }
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("interrupted stopping the clients");
    }
    if (first != null) {
      throw first;
    }
  }

  /** The puts that completed in [{@code from}, {@code to}); after {@link #stop}. */
  public LoadWindow window(long from, long to) {
    return LoadWindow.of(done, from, to);
  }

  /** The puts that failed in [{@code from}, {@code to}); after {@link #stop}. */
  public long failures(long from, long to) {
    return LoadWindow.of(failed, from, to).ops();
  }

  /** Failed puts by exception class, over the whole run; after {@link #stop}. */
  public Map<String, Long> failureKinds() {
    synchronized (failureKinds) {
      return new TreeMap<>(failureKinds);
    }
  }

  /** The completed puts' records (end, latency pairs per client); after {@link #stop}. */
  public List<long[]> records() {
    return List.copyOf(done);
  }
}
