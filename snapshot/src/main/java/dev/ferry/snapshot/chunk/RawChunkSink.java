package dev.ferry.snapshot.chunk;

import java.io.IOException;

/**
 * Receives the chunks a {@link Chunker} cuts, as raw byte ranges without ids: the boundary-only
 * stage, which a hashing stage (on the same thread or another) turns into {@link Chunk}s.
 */
@FunctionalInterface
public interface RawChunkSink {
  /**
   * Accepts the next chunk of the stream: {@code bytes[from, from+length)}.
   *
   * <p>Called on the thread that writes to the chunker, once per chunk, in stream order. The array
   * is <em>borrowed</em>: it may be the writer's own array or the chunker's buffer, and its content
   * is valid only until this method returns; copy what must outlive the call. The sink must not
   * modify it.
   *
   * @param streamOffset the offset of the chunk's first byte in the stream
   * @param bytes the array holding the chunk
   * @param from the index of the chunk's first byte in {@code bytes}
   * @param length the chunk's length, {@code 0 < length <= config.max()}
   * @throws IOException to abort chunking; the chunker rethrows it to the writer and is then broken
   */
  void accept(long streamOffset, byte[] bytes, int from, int length) throws IOException;
}
