package dev.ferry.snapshot.store;

import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.ChunkRef;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;

/**
 * Child process of {@link FileChunkStoreCrashIT}: writes chunks into a store forever, from {@value
 * #THREADS} threads, and acknowledges each on stdout once {@code put} has returned ({@code C
 * <hex>}); every 16 chunks one thread also retains all of its chunks so far under a new key ({@code
 * R <key> <count>}). The parent kills it with SIGKILL at an arbitrary moment.
 *
 * <p>Arguments: store directory, seed.
 */
public final class CrashWriterMain {
  static final int THREADS = 3;
  private static final int MAX_CHUNK = 1 << 20;

  private CrashWriterMain() {}

  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    long seed = Long.parseLong(args[1]);
    PrintStream out = System.out;
    // Contents are cut from two pre-made pools, so the child spends its time in put, not in making
    // data, and a kill is likely to land inside a write.
    byte[] incompressible = TestChunks.random(seed, 2 * MAX_CHUNK);
    byte[] compressible = TestChunks.compressible(seed, 2 * MAX_CHUNK);
    FileChunkStore store = FileChunkStore.open(dir);
    Thread[] threads = new Thread[THREADS];
    for (int t = 0; t < threads.length; t++) {
      long threadSeed = seed * 31 + t;
      boolean retains = t == 0;
      threads[t] =
          new Thread(
              () -> {
                try {
                  writeForever(
                      store, new Random(threadSeed), retains, out, incompressible, compressible);
                } catch (IOException e) {
                  e.printStackTrace();
                  System.exit(2);
                }
              },
              "writer-" + t);
      threads[t].start();
    }
    for (Thread t : threads) {
      t.join();
    }
  }

  private static void writeForever(
      FileChunkStore store,
      Random r,
      boolean retains,
      PrintStream out,
      byte[] incompressible,
      byte[] compressible)
      throws IOException {
    List<ChunkId> mine = new ArrayList<>();
    for (int n = 1; ; n++) {
      int length = 16 + r.nextInt(MAX_CHUNK);
      byte[] pool = r.nextBoolean() ? incompressible : compressible;
      int offset = r.nextInt(pool.length - length);
      byte[] raw = Arrays.copyOfRange(pool, offset, offset + length);
      ByteBuffer.wrap(raw).putLong(r.nextLong()).putLong(n); // unique content
      ChunkRef ref = store.put(raw, 0, raw.length);
      mine.add(ref.id());
      synchronized (out) {
        out.println("C " + ref.id().toHex());
        out.flush();
      }
      if (retains && n % 16 == 0) {
        String key = "batch-" + n;
        store.retain(key, mine);
        synchronized (out) {
          out.println("R " + key + " " + mine.size());
          out.flush();
        }
      }
    }
  }
}
