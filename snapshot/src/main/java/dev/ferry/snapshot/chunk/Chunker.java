package dev.ferry.snapshot.chunk;

import java.io.IOException;
import java.io.OutputStream;
import java.util.Objects;

/**
 * A content-defined chunker (FastCDC with normalized chunking) fed as an {@link OutputStream}: it
 * finds chunk boundaries in the bytes written to it and hands each chunk to a sink.
 *
 * <h2>The cut rule</h2>
 *
 * This rule is part of the chunk format; every replica applies it, so equal streams give equal
 * chunks. Number the bytes of the current chunk from 0 (relative index {@code r}). With {@code
 * min}, {@code avg}, {@code max} from the {@link ChunkerConfig} and {@code bits = log2(avg)}:
 *
 * <ul>
 *   <li>bytes {@code r < min} are skipped: neither hashed nor candidates for a cut;
 *   <li>the hash {@code h} is 0 before byte {@code r = min}; each byte {@code b} at {@code r >=
 *       min} updates it as {@code h = (h << 1) + GEAR[b & 0xff]} (mod 2<sup>64</sup>), where {@code
 *       GEAR} is a fixed table of 256 SplitMix64 outputs from the seed {@code 0x4665727279434443L};
 *   <li>the chunk ends after byte {@code r} when {@code (h & mask) == 0}, where {@code mask} has
 *       ones in bits {@code 62-n+1 .. 62} with {@code n = bits + 2} while {@code r < avg} (the
 *       strict mask) and {@code n = bits - 2} from {@code avg} on (the loose mask); or when {@code
 *       r == max - 1};
 *   <li>the last chunk of the stream ends at its end, whatever its size.
 * </ul>
 *
 * The mask's top bit is bit 62, so that the hash can be advanced two bytes per step with a
 * pre-shifted table (FastCDC 2020's "rolling two bytes"), and bit 62 depends on the last 63 bytes.
 *
 * <h2>Use</h2>
 *
 * Write the stream, in pieces of any size, then {@link #close()} to emit the last chunk. The cut
 * points depend only on the bytes, never on how they were split into writes. Memory is bounded: one
 * buffer of at most {@code max} bytes (plus, for {@link #transferFrom}, a read buffer of {@code
 * max} bytes). {@link #flush()} does nothing: a cut never depends on flushes.
 *
 * <p>Concurrency: not thread-safe; one thread writes and closes. The sink is called on that thread,
 * from within {@code write} or {@code close}. If the sink throws, the exception propagates to the
 * writer and the chunker is broken: every later write throws, and close emits nothing.
 *
 * <p>Only boundaries are found here; {@link #hashing} adds SHA-256 ids on the writer's thread, and
 * {@link PipelinedChunker} hashes on a second thread.
 */
public final class Chunker extends ChunkingStream {
  private static final int INITIAL_BUFFER = 64 << 10;

  private final RawChunkSink sink;

  /** The head of the current chunk that is not in the caller's array. */
  private byte[] pending = new byte[0];

  /**
   * A chunker that reports boundaries only.
   *
   * @param config the sizes; every replica must use the same
   * @param sink receives each chunk's bytes (borrowed) on the writing thread
   */
  public Chunker(ChunkerConfig config, RawChunkSink sink) {
    super(config);
    this.sink = Objects.requireNonNull(sink, "sink");
  }

  /**
   * A chunker that computes each chunk's SHA-256 on the writing thread and hands the chunk with its
   * id to {@code sink}, on the writing thread.
   */
  public static Chunker hashing(ChunkerConfig config, ChunkSink sink) {
    return new Chunker(config, new HashingSink(sink));
  }

  /**
   * Emits the last chunk (the bytes written since the last cut, if any) and closes the chunker.
   * Idempotent; a broken chunker closes without emitting.
   *
   * @throws IOException if the sink throws on the last chunk
   */
  @Override
  public void close() throws IOException {
    if (closed) {
      return;
    }
    closed = true;
    if (!broken && fill > 0) {
      broken = true;
      emit(pending, 0, fill);
      broken = false;
    }
  }

  /**
   * The chunk being built is {@code pending[0, fill) ++ b[start, ...)}; cut it wherever the rule
   * says, then keep the uncut rest in {@code pending}. A chunk that lies wholly in {@code b} is
   * handed to the sink from {@code b}, uncopied.
   */
  @Override
  void feed(byte[] b, int off, int len) throws IOException {
    final int end = off + len;
    int start = off;
    int cut;
    while (start < end && (cut = finder.next(b, start, end)) >= 0) {
      if (fill == 0) {
        emit(b, start, cut - start);
      } else {
        ensurePending(fill + cut - start);
        System.arraycopy(b, start, pending, fill, cut - start);
        emit(pending, 0, fill + cut - start);
      }
      start = cut;
    }
    int rest = end - start;
    if (rest > 0) {
      ensurePending(fill + rest);
      System.arraycopy(b, start, pending, fill, rest);
      fill += rest;
    }
  }

  private void emit(byte[] bytes, int from, int length) throws IOException {
    sink.accept(cut(length), bytes, from, length);
  }

  private void ensurePending(int needed) {
    if (needed > pending.length) {
      int grown = Math.max(needed, Math.max(INITIAL_BUFFER, pending.length * 2));
      byte[] bigger = new byte[Math.min(config.max(), grown)];
      System.arraycopy(pending, 0, bigger, 0, fill);
      pending = bigger;
    }
  }
}
