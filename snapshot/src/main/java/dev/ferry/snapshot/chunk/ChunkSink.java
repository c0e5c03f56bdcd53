package dev.ferry.snapshot.chunk;

import java.io.IOException;

/**
 * Receives the chunks of a stream with their ids, in stream order.
 *
 * <p>Calls are sequential (never concurrent, each happens-before the next) but may come from a
 * thread other than the writer's: {@link Chunker#hashing} calls on the writer's thread, {@link
 * PipelinedChunker} on its hashing thread.
 */
@FunctionalInterface
public interface ChunkSink {
  /**
   * Accepts the next chunk. The chunk's bytes are borrowed: valid only until this method returns
   * (see {@link Chunk}).
   *
   * @throws IOException to abort chunking; the failure reaches the writer (at once, or at its next
   *     write or close for a pipelined chunker)
   */
  void accept(Chunk chunk) throws IOException;
}
