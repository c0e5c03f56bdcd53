package dev.ferry.snapshot.chunk;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Objects;

/**
 * What the two chunkers share: the writer's side of a content-defined chunker fed as an {@link
 * OutputStream}. It owns the configuration and the {@link CutFinder}, accepts writes of any size
 * (and {@link #transferFrom} an input stream), counts bytes and chunks, and keeps the stream's
 * closed and broken states; a subclass decides what happens to the bytes between cuts ({@link
 * #feed}) and to a finished chunk.
 *
 * <p>Concurrency: one thread writes and closes; these fields belong to that thread.
 */
abstract sealed class ChunkingStream extends OutputStream permits Chunker, PipelinedChunker {
  final ChunkerConfig config;
  final CutFinder finder;

  /** How many bytes of the current chunk the subclass holds in its own buffer. */
  int fill;

  /** Set by {@link #close()}; no write is accepted after it. */
  boolean closed;

  /** Set when a write failed part-way: the stream's position is lost, so no write is accepted. */
  boolean broken;

  /** The stream offset of the current chunk's first byte. */
  private long chunkStart;

  private long chunks;
  private byte[] readBuffer;
  private final byte[] oneByte = new byte[1];

  ChunkingStream(ChunkerConfig config) {
    this.config = Objects.requireNonNull(config, "config");
    this.finder = new CutFinder(config);
  }

  /** The configuration. */
  public final ChunkerConfig config() {
    return config;
  }

  /** Bytes written so far. */
  public final long bytesWritten() {
    return chunkStart + fill;
  }

  /**
   * Chunks cut so far. The last chunk is cut at {@link #close()}; a {@link PipelinedChunker} may
   * not have handed every cut chunk to its sink yet.
   */
  public final long chunkCount() {
    return chunks;
  }

  @Override
  public final void write(int b) throws IOException {
    oneByte[0] = (byte) b;
    write(oneByte, 0, 1);
  }

  /**
   * Feeds {@code b[off, off+len)}, cutting every chunk that ends within it.
   *
   * @throws IOException if the sink (or, when pipelined, hashing) failed, or the chunker is closed
   *     or broken; a {@link PipelinedChunker} may block while all its buffers are in flight
   */
  @Override
  public final void write(byte[] b, int off, int len) throws IOException {
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
   * Reads {@code in} to its end and feeds everything read, as {@link #write} would. Does not close
   * {@code in} nor this chunker.
   *
   * @return the number of bytes read
   * @throws IOException if reading fails, or as {@link #write} throws
   */
  public final long transferFrom(InputStream in) throws IOException {
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
  public final void flush() {}

  /**
   * Consumes {@code b[off, off+len)}: asks {@link #finder} for each cut, and for each chunk that
   * ends calls {@link #cut}; keeps the uncut rest (counted in {@link #fill}).
   */
  abstract void feed(byte[] b, int off, int len) throws IOException;

  /** Throws the failure that ended the chunker, if one did; a hook for {@link #ensureOpen}. */
  void throwIfFailed() throws IOException {}

  /**
   * Books the current chunk, {@code length} bytes long, as cut: the next chunk starts after it and
   * {@link #fill} is reset.
   *
   * @return the stream offset of the chunk's first byte
   */
  final long cut(int length) {
    long offset = chunkStart;
    chunkStart += length;
    fill = 0;
    chunks++;
    return offset;
  }

  final void ensureOpen() throws IOException {
    throwIfFailed();
    if (broken) {
      throw new IOException("chunker is broken by an earlier failure");
    }
    if (closed) {
      throw new IOException("chunker is closed");
    }
  }
}
