package dev.ferry.snapshot.chunk;

import dev.ferry.snapshot.ChunkId;
import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.io.OutputStream;
import java.security.MessageDigest;
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
public final class PipelinedChunker extends OutputStream {
  /** The default number of chunk buffers in flight between the two threads. */
  public static final int DEFAULT_QUEUE_DEPTH = 4;

  private final ChunkerConfig config;
  private final CutFinder finder;
  private final ChunkSink sink;
  private final int depth;

  // Writer-thread state.
  private byte[] current;
  private int fill;
  private long chunkStart;
  private long chunks;
  private byte[] readBuffer;
  private final byte[] oneByte = new byte[1];
  private boolean closed;
  private boolean broken;

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
    this.config = Objects.requireNonNull(config, "config");
    this.sink = Objects.requireNonNull(sink, "sink");
    Objects.requireNonNull(hashExecutor, "hashExecutor");
    if (queueDepth < 1) {
      throw new IllegalArgumentException("queueDepth must be at least 1: " + queueDepth);
    }
    this.depth = queueDepth;
    this.finder = new CutFinder(config);
    hashExecutor.execute(this::hashLoop);
  }

  /** The configuration. */
  public ChunkerConfig config() {
    return config;
  }

  /** Bytes written so far. */
  public long bytesWritten() {
    return chunkStart + fill;
  }

  /** Chunks cut so far (some may not have reached the sink yet). */
  public long chunkCount() {
    return chunks;
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

  @Override
  public void write(int b) throws IOException {
    oneByte[0] = (byte) b;
    write(oneByte, 0, 1);
  }

  /**
   * Feeds {@code b[off, off+len)}; may block while all buffers are in flight.
   *
   * @throws IOException if hashing or the sink failed, or this chunker is closed or broken
   */
  @Override
  public void write(byte[] b, int off, int len) throws IOException {
    Objects.checkFromIndexSize(off, len, b.length);
    ensureOpen();
    boolean ok = false;
    try {
      feed(b, off, len);
      ok = true;
    } finally {
      broken = !ok;
    }
  }

  /**
   * Reads {@code in} to its end and feeds everything read. Does not close {@code in} nor this
   * chunker.
   *
   * @return the number of bytes read
   */
  public long transferFrom(InputStream in) throws IOException {
    Objects.requireNonNull(in, "in");
    ensureOpen();
    if (readBuffer == null) {
      readBuffer = new byte[config.max()];
    }
    long total = 0;
    int n;
    while ((n = in.read(readBuffer, 0, readBuffer.length)) >= 0) {
      write(readBuffer, 0, n);
      total += n;
    }
    return total;
  }

  /** Does nothing: chunk boundaries depend on content only. */
  @Override
  public void flush() {}

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

  private void ensureOpen() throws IOException {
    throwIfFailed();
    if (broken) {
      throw new IOException("chunker is broken by an earlier failure");
    }
    if (closed) {
      throw new IOException("chunker is closed");
    }
  }

  /** Copies {@code b[off, off+len)} into chunk buffers, handing each off at its cut. */
  private void feed(byte[] b, int off, int len) throws IOException {
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
    Job job = new Job(chunkStart, current, fill);
    chunkStart += fill;
    chunks++;
    current = null;
    fill = 0;
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
      MessageDigest sha = ChunkId.sha256();
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
        sha.update(job.buffer(), 0, job.length());
        ChunkId id = ChunkId.fromBytes(sha.digest());
        sink.accept(new Chunk(job.offset(), id, job.buffer(), 0, job.length()));
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

  private void throwIfFailed() throws IOException {
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
