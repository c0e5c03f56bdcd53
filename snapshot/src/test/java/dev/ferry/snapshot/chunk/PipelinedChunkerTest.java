package dev.ferry.snapshot.chunk;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

class PipelinedChunkerTest {
  private static final ChunkerConfig SMALL = new ChunkerConfig(256, 1024, 4096);
  private static final Duration DEADLINE = Duration.ofSeconds(30);

  private static void awaitCondition(BooleanSupplier condition, String what)
      throws InterruptedException {
    long deadline = System.nanoTime() + DEADLINE.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting for " + what);
      }
      Thread.onSpinWait();
      Thread.yield();
    }
  }

  @Test
  void producesTheSameChunksAsTheSingleThreadedChunker() throws Exception {
    assertTimeoutPreemptively(
        DEADLINE,
        () -> {
          Random random = new Random(41);
          ChunkerConfig[] configs = {SMALL, new ChunkerConfig(64, 256, 300), ChunkerConfig.DEFAULT};
          int[] sizes = {1 << 20, 200_000, 12 << 20};
          for (int c = 0; c < configs.length; c++) {
            ChunkerConfig config = configs[c];
            byte[] data = ChunkerTest.randomBytes(42 + c, sizes[c]);
            List<ChunkRecorder.Cut> expected = ChunkerTest.chunkWhole(config, data).cuts();
            for (int depth : new int[] {1, 2, 4}) {
              ChunkRecorder recorder = new ChunkRecorder(data);
              try (PipelinedChunker chunker =
                  new PipelinedChunker(config, recorder, PipelinedChunkerTest::newThread, depth)) {
                int off = 0;
                while (off < data.length) {
                  int n = Math.min(data.length - off, 1 + random.nextInt(3 * config.avg()));
                  chunker.write(data, off, n);
                  off += n;
                }
                assertEquals(data.length, chunker.bytesWritten());
              }
              assertEquals(expected, recorder.cuts(), config + " depth " + depth);
            }
            ChunkRecorder streamed = new ChunkRecorder(data);
            try (PipelinedChunker chunker = new PipelinedChunker(config, streamed)) {
              assertEquals(
                  data.length, chunker.transferFrom(new ChunkerTest.TricklingStream(data, 5000)));
              assertEquals(expected.size() - 1, chunker.chunkCount(), "last chunk waits for close");
            }
            assertEquals(expected, streamed.cuts(), config + " transferFrom");
          }
        });
  }

  @Test
  void singleByteAndOddSizedWritesGiveTheSameChunks() throws Exception {
    byte[] data = ChunkerTest.randomBytes(48, 300_000);
    List<ChunkRecorder.Cut> expected = ChunkerTest.chunkWhole(SMALL, data).cuts();
    ChunkRecorder bytes = new ChunkRecorder(data);
    try (PipelinedChunker chunker = new PipelinedChunker(SMALL, bytes)) {
      for (byte b : data) {
        chunker.write(b);
      }
    }
    assertEquals(expected, bytes.cuts(), "write(int)");
    ChunkRecorder sevens = new ChunkRecorder(data);
    try (PipelinedChunker chunker = new PipelinedChunker(SMALL, sevens)) {
      for (int off = 0; off < data.length; off += 7) {
        chunker.write(data, off, Math.min(7, data.length - off));
      }
    }
    assertEquals(expected, sevens.cuts(), "7-byte writes");
  }

  @Test
  void theSinkRunsOnTheHashingThreadInOrder() throws Exception {
    byte[] data = ChunkerTest.randomBytes(43, 256 << 10);
    List<String> threads = new ArrayList<>();
    ChunkRecorder recorder = new ChunkRecorder(data);
    try (PipelinedChunker chunker =
        new PipelinedChunker(
            SMALL,
            chunk -> {
              threads.add(Thread.currentThread().getName());
              recorder.accept(chunk);
            })) {
      chunker.write(data, 0, data.length);
    }
    assertTrue(recorder.cuts().size() > 50);
    assertTrue(threads.stream().allMatch("ferry-chunk-hasher"::equals), threads.toString());
  }

  @Test
  void aSinkFailureReachesTheWriterWithoutDeadlock() throws Exception {
    assertTimeoutPreemptively(
        DEADLINE,
        () -> {
          IOException boom = new IOException("boom");
          byte[] data = ChunkerTest.randomBytes(44, 4 << 20);
          int[] calls = {0};
          PipelinedChunker chunker =
              new PipelinedChunker(
                  SMALL,
                  chunk -> {
                    if (++calls[0] == 3) {
                      throw boom;
                    }
                  },
                  PipelinedChunkerTest::newThread,
                  1);
          IOException seen =
              assertThrows(
                  IOException.class,
                  () -> {
                    for (int off = 0; off < data.length; off += 1000) {
                      chunker.write(data, off, Math.min(1000, data.length - off));
                    }
                    chunker.close();
                  });
          assertSame(boom, seen.getCause());
          IOException atClose = assertThrows(IOException.class, chunker::close);
          assertNotSame(seen, atClose, "close must not rethrow the same instance");
          assertSame(boom, atClose.getCause());
          chunker.close();
          assertEquals(3, calls[0], "nothing reaches the sink after a failure");
        });
  }

  @Test
  void writerBlocksWhenAllBuffersAreInFlight() throws Exception {
    assertTimeoutPreemptively(
        DEADLINE,
        () -> {
          CountDownLatch release = new CountDownLatch(1);
          byte[] data = ChunkerTest.randomBytes(45, 1 << 20);
          ChunkRecorder recorder = new ChunkRecorder(data);
          int depth = 2;
          PipelinedChunker chunker =
              new PipelinedChunker(
                  SMALL,
                  chunk -> {
                    try {
                      release.await();
                    } catch (InterruptedException e) {
                      throw new InterruptedIOException();
                    }
                    recorder.accept(chunk);
                  },
                  PipelinedChunkerTest::newThread,
                  depth);
          AtomicReference<Throwable> writerFailure = new AtomicReference<>();
          Thread writer =
              new Thread(
                  () -> {
                    try (chunker) {
                      chunker.write(data, 0, data.length);
                    } catch (Throwable t) {
                      writerFailure.set(t);
                    }
                  },
                  "writer");
          writer.start();
          awaitCondition(
              () ->
                  writer.getState() == Thread.State.WAITING && chunker.buffersAllocated() == depth,
              "the writer to block with all buffers in flight");
          assertEquals(0, recorder.cuts().size(), "the sink is still held");
          release.countDown();
          writer.join();
          assertEquals(null, writerFailure.get());
          assertEquals(ChunkerTest.chunkWhole(SMALL, data).cuts(), recorder.cuts());
          assertEquals(depth, chunker.buffersAllocated(), "buffers are reused");
        });
  }

  @Test
  void anInterruptedWriterStopsWithInterruptedIoException() throws Exception {
    assertTimeoutPreemptively(
        DEADLINE,
        () -> {
          CountDownLatch release = new CountDownLatch(1);
          byte[] data = ChunkerTest.randomBytes(46, 1 << 20);
          PipelinedChunker chunker =
              new PipelinedChunker(
                  SMALL,
                  chunk -> {
                    try {
                      release.await();
                    } catch (InterruptedException e) {
                      throw new InterruptedIOException();
                    }
                  },
                  PipelinedChunkerTest::newThread,
                  1);
          AtomicReference<Throwable> writeFailure = new AtomicReference<>();
          AtomicReference<Boolean> interruptedAfter = new AtomicReference<>();
          Thread writer =
              new Thread(
                  () -> {
                    try {
                      chunker.write(data, 0, data.length);
                    } catch (Throwable t) {
                      writeFailure.set(t);
                      interruptedAfter.set(Thread.currentThread().isInterrupted());
                    }
                  },
                  "writer");
          writer.start();
          awaitCondition(() -> writer.getState() == Thread.State.WAITING, "the writer to block");
          writer.interrupt();
          writer.join();
          assertInstanceOf(InterruptedIOException.class, writeFailure.get());
          assertEquals(Boolean.TRUE, interruptedAfter.get());
          release.countDown();
          chunker.close();
          assertThrows(IOException.class, () -> chunker.write(1), "broken after interrupt");
        });
  }

  @Test
  void runsOnAnInjectedExecutorAndEndsItsTaskOnClose() throws Exception {
    ExecutorService executor = Executors.newSingleThreadExecutor();
    try {
      byte[] data = ChunkerTest.randomBytes(47, 100_000);
      ChunkRecorder recorder = new ChunkRecorder(data);
      try (PipelinedChunker chunker = new PipelinedChunker(SMALL, recorder, executor, 3)) {
        chunker.write(data, 0, data.length);
      }
      assertEquals(ChunkerTest.chunkWhole(SMALL, data).cuts(), recorder.cuts());
      executor.shutdown();
      assertTrue(executor.awaitTermination(DEADLINE.toSeconds(), TimeUnit.SECONDS));
    } finally {
      executor.shutdownNow();
    }
  }

  /** Both chunkers share one cut rule and one hashing stage; this holds them to the same output. */
  @Property(tries = 40, seed = "20261206")
  void givesTheSameChunksAsTheHashingChunkerForAnyInput(
      @ForAll long seed,
      @ForAll @IntRange(min = 0, max = 2) int configIndex,
      @ForAll @IntRange(min = 0, max = 100_000) int length,
      @ForAll @IntRange(min = 1, max = 3) int depth)
      throws IOException {
    ChunkerConfig[] configs = {
      new ChunkerConfig(64, 256, 300), SMALL, new ChunkerConfig(64, 256, 4096)
    };
    ChunkerConfig config = configs[configIndex];
    byte[] data = ChunkerTest.randomBytes(seed, length);
    Random sizes = new Random(seed ^ 0x5DEECE66DL);
    ChunkRecorder single =
        ChunkerTest.chunkInPieces(config, data, r -> 1 + sizes.nextInt(2 * config.max()));
    ChunkRecorder pipelined = new ChunkRecorder(data);
    PipelinedChunker chunker =
        new PipelinedChunker(config, pipelined, PipelinedChunkerTest::newThread, depth);
    try (chunker) {
      int off = 0;
      while (off < data.length) {
        int n = Math.min(data.length - off, 1 + sizes.nextInt(2 * config.max()));
        chunker.write(data, off, n);
        off += n;
      }
    }
    assertEquals(single.cuts(), pipelined.cuts());
    assertEquals(data.length, chunker.bytesWritten());
    assertEquals(single.cuts().size(), chunker.chunkCount());
  }

  @Test
  void rejectsBadArguments() {
    assertThrows(
        IllegalArgumentException.class,
        () -> new PipelinedChunker(SMALL, chunk -> {}, PipelinedChunkerTest::newThread, 0));
    assertThrows(
        NullPointerException.class,
        () -> new PipelinedChunker(SMALL, null, PipelinedChunkerTest::newThread, 1));
  }

  @Test
  void anEmptyStreamEmitsNothingAndCloseReturns() throws Exception {
    List<Chunk> seen = new ArrayList<>();
    try (PipelinedChunker chunker = new PipelinedChunker(SMALL, seen::add)) {
      assertEquals(0, chunker.bytesWritten());
    }
    assertEquals(List.of(), seen);
  }

  private static void newThread(Runnable task) {
    Thread thread = new Thread(task, "test-hasher");
    thread.setDaemon(true);
    thread.start();
  }
}
