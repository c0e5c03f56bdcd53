package dev.ferry.snapshot.chunk;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.util.ArrayDeque;
import java.util.Objects;
import java.util.concurrent.Executor;
import java.util.concurrent.locks.Condition;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A content-defined chunker that finds boundaries on the writing thread and computes SHA-256 ids on
 * a second thread, so that chunking and hashing overlap. It produces exactly the chunks, ids and
 * order of {@link Chunker#hashing} with the same configuration.
 *
 * <p>Concurrency: one thread writes and closes (not thread-safe otherwise). The writer copies each
 * byte once, into one of at most {@code queueDepth} buffers of {@code config.max()} bytes, while
 * finding the cut points; a cut hands the buffer to the hashing thread, which hashes it, calls the
 * sink, and returns the buffer. When all buffers are in flight the writer blocks (back-pressure),
 * so memory stays bounded by {@code queueDepth * config.max()} (plus a read buffer of {@code
 * config.max()} for {@link #transferFrom}). The sink is called on the hashing thread, in stream
 * order, one call at a time.
 *
 * <p>Failures: if hashing or the sink throws, the first failure is kept, queued chunks are dropped
 * and the next {@code write} or {@code close} throws an {@link IOException} whose cause is that
 * failure; nothing more reaches the sink. If the writer is interrupted while waiting, it throws
 * {@link InterruptedIOException} with its interrupt status set, and the chunker is broken. Always
 * {@link #close()} (try-with-resources): close waits for the hashing thread to finish, and only
 * then has every chunk reached the sink.
 *
 * <p>Invariants (under {@code lock}): a buffer is either free, the writer's current buffer, in a
 * queued job, or held by the hashing thread; {@code allocated <= depth}; no job is queued after
 * {@code ending} or {@code failure} is set.
 */
public final class PipelinedChunker extends ChunkingStream {
  /** The default number of chunk buffers in flight between the two threads. */
  public static final int DEFAULT_QUEUE_DEPTH = 4;

  private final HashingSink hasher;
  private final int depth;

  /** The writer's buffer holding the current chunk's first {@link #fill} bytes, if any. */
  private byte[] current;

  // Shared state, guarded by lock.
  private final ReentrantLock lock = new ReentrantLock();
  private final Condition changed = lock.newCondition();
  private final ArrayDeque<Job> jobs = new ArrayDeque<>();
  private final ArrayDeque<byte[]> free = new ArrayDeque<>();
  private int allocated;
  private boolean ending;
  private boolean hasherDone;
  private volatile Throwable failure;

  private record Job(long offset, byte[] buffer, int length) {}

  /**
   * A pipelined chunker hashing on a new daemon thread named {@code ferry-chunk-hasher}, with
   * {@link #DEFAULT_QUEUE_DEPTH} buffers.
   */
  public PipelinedChunker(ChunkerConfig config, ChunkSink sink) {
    this(config, sink, PipelinedChunker::startThread, DEFAULT_QUEUE_DEPTH);
  }

  /**
   * A pipelined chunker whose hashing loop runs as one task on {@code hashExecutor}.
   *
   * @param hashExecutor must start the task promptly and let it run until {@link #close()} returns
   *     (a dedicated thread, or a pool with a free thread); a task that never starts makes writes
   *     and close block
   * @param queueDepth the number of chunk buffers in flight, at least 1
   * @throws java.util.concurrent.RejectedExecutionException if the executor refuses the task
   */
  public PipelinedChunker(
      ChunkerConfig config, ChunkSink sink, Executor hashExecutor, int queueDepth) {
    super(config);
    this.hasher = new HashingSink(sink);
    Objects.requireNonNull(hashExecutor, "hashExecutor");
    if (queueDepth < 1) {
      throw new IllegalArgumentException("queueDepth must be at least 1: " + queueDepth);
    }
    this.depth = queueDepth;
    hashExecutor.execute(this::hashLoop);
  }

  /** How many chunk buffers exist (free or in flight); for tests. */
  int buffersAllocated() {
    lock.lock();
    try {
      return allocated;
    } finally {
      lock.unlock();
    }
  }

  /**
   * Emits the last chunk, waits until the hashing thread has passed every chunk to the sink and
   * ended, and reports any failure. Idempotent.
   *
   * @throws IOException if hashing or the sink failed (its cause is the failure)
   * @throws InterruptedIOException if interrupted while waiting; the hashing thread then ends after
   *     its current chunk, and later chunks are dropped
   */
  @Override
  public void close() throws IOException {
    if (closed) {
      return;
    }
    closed = true;
    IOException lastChunk = null;
    if (!broken && fill > 0) {
      try {
        handOff();
      } catch (IOException e) {
        lastChunk = e;
      }
    }
    lock.lock();
    try {
      ending = true;
      changed.signalAll();
      while (!hasherDone) {
        changed.await();
      }
    } catch (InterruptedException e) {
      jobs.forEach(job -> free.push(job.buffer()));
      jobs.clear();
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while waiting for chunk hashing to finish");
    } finally {
      lock.unlock();
    }
    if (lastChunk != null) {
      throw lastChunk;
    }
    throwIfFailed();
  }

  /** Copies {@code b[off, off+len)} into chunk buffers, handing each off at its cut. */
  @Override
  void feed(byte[] b, int off, int len) throws IOException {
    final int end = off + len;
    int i = off;
    while (i < end) {
      if (current == null) {
        current = takeBuffer();
      }
      int cut = finder.next(b, i, end);
      int stop = cut < 0 ? end : cut;
      System.arraycopy(b, i, current, fill, stop - i);
      fill += stop - i;
      i = stop;
      if (cut >= 0) {
        handOff();
      }
    }
  }

  /** A free chunk buffer; blocks while all are in flight. */
  private byte[] takeBuffer() throws IOException {
    lock.lock();
    try {
      while (free.isEmpty() && allocated == depth && failure == null) {
        changed.await();
      }
      throwIfFailed();
      byte[] buffer = free.poll();
      if (buffer == null) {
        allocated++;
        buffer = new byte[config.max()];
      }
      return buffer;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while waiting for a chunk buffer");
    } finally {
      lock.unlock();
    }
  }

  /** Queues the current buffer, which holds a whole chunk, for hashing. */
  private void handOff() throws IOException {
    int length = fill;
    Job job = new Job(cut(length), current, length);
    current = null;
    lock.lock();
    try {
      throwIfFailed();
      jobs.add(job);
      changed.signalAll();
    } finally {
      lock.unlock();
    }
  }

  /** Runs on the hashing thread until the writer closes or a failure. */
  private void hashLoop() {
    Throwable error = null;
    try {
      while (true) {
        Job job;
        lock.lock();
        try {
          while (jobs.isEmpty() && !ending) {
            changed.await();
          }
          job = jobs.poll();
        } finally {
          lock.unlock();
        }
        if (job == null) {
          return;
        }
        hasher.accept(job.offset(), job.buffer(), 0, job.length());
        lock.lock();
        try {
          free.push(job.buffer());
          changed.signalAll();
        } finally {
          lock.unlock();
        }
      }
    } catch (Throwable t) {
      error = t;
      if (t instanceof InterruptedException) {
        Thread.currentThread().interrupt();
      }
    } finally {
      lock.lock();
      try {
        if (error != null) {
          failure = error;
          jobs.forEach(job -> free.push(job.buffer()));
          jobs.clear();
        }
        hasherDone = true;
        changed.signalAll();
      } finally {
        lock.unlock();
      }
    }
  }

  @Override
  void throwIfFailed() throws IOException {
    Throwable f = failure;
    if (f != null) {
      throw new IOException("chunk hashing or its sink failed: " + f, f);
    }
  }

  private static void startThread(Runnable task) {
    Thread thread = new Thread(task, "ferry-chunk-hasher");
    thread.setDaemon(true);
    thread.start();
  }
}
