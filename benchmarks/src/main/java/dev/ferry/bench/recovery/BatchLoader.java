package dev.ferry.bench.recovery;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Writes a set of keys through a cluster's client in batches of puts, from several threads at once
 * (so Raft pipelines and fsyncs are shared), the same way for Ratis and for Ferry.
 */
final class BatchLoader {
  /** Entries per batch: 256 × 1 KiB, well under both systems' message limits. */
  static final int BATCH = 256;

  private static final int THREADS = 4;

  /** Sends one batch of {@code {key, value}} pairs; must be thread-safe. */
  @FunctionalInterface
  interface Sink {
    void putAll(List<byte[][]> batch) throws IOException;
  }

  private BatchLoader() {}

  /** Writes key indexes {@code keys} at {@code version}, {@code batch} entries per command. */
  static void load(StateGenerator gen, int[] keys, int version, int batch, Sink sink)
      throws IOException {
    ExecutorService pool = Executors.newFixedThreadPool(THREADS);
    try {
      List<Future<?>> done = new ArrayList<>();
      int per = (keys.length + THREADS - 1) / THREADS;
      for (int t = 0; t < THREADS; t++) {
        int from = t * per;
        int to = Math.min(keys.length, from + per);
        done.add(
            pool.submit(
                () -> {
                  List<byte[][]> b = new ArrayList<>(batch);
                  for (int i = from; i < to; i++) {
                    b.add(new byte[][] {gen.key(keys[i]), gen.value(keys[i], version)});
                    if (b.size() == batch) {
                      sink.putAll(b);
                      b = new ArrayList<>(batch);
                    }
                  }
                  if (!b.isEmpty()) {
                    sink.putAll(b);
                  }
                  return null;
                }));
      }
      for (Future<?> f : done) {
        f.get();
      }
    } catch (ExecutionException e) {
      throw new IOException("loading failed", e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while loading", e);
    } finally {
      pool.shutdownNow();
    }
  }

  /** Every key, 0 to {@code gen.keys() - 1}. */
  static int[] all(StateGenerator gen) {
    int[] keys = new int[gen.keys()];
    for (int i = 0; i < keys.length; i++) {
      keys[i] = i;
    }
    return keys;
  }
}
