package dev.ferry.snapshot.store;

import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.ChunkRef;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Collection;

/**
 * A group of puts whose chunks garbage collection leaves alone until the writer {@linkplain #commit
 * commits} them under a manifest key or is {@linkplain #close closed}. A snapshot capture or an
 * install opens one, puts (or {@linkplain #adopt adopts}) every chunk its manifest will use, then
 * commits the manifest.
 *
 * <p>Protection is in memory only: a crash drops it (see {@link ChunkStore}). Thread-safe: several
 * threads may put through the same writer.
 */
public interface ChunkWriter extends Closeable {

  /** As {@link ChunkStore#put}, and protects the chunk. */
  ChunkRef put(byte[] raw, int offset, int length) throws IOException;

  /** As {@link ChunkStore#putStored}, and protects the chunk once it is verified. */
  void putStored(ChunkRef ref, ByteBuffer stored) throws IOException;

  /**
   * As {@link #putStored}, for bytes the caller has itself just verified (decoded within {@code
   * ref.rawSize()} and hashed to {@code ref.id()}, as {@code ChunkTransfer} does before it emits a
   * {@code Store} action): stores them without decoding and hashing them a second time. The stored
   * size is still checked, and later reads still verify. Passing unverified bytes breaks the
   * store's guarantee that a held chunk matches its name. The default verifies anyway.
   */
  default void putVerified(ChunkRef ref, ByteBuffer stored) throws IOException {
    putStored(ref, stored);
  }

  /**
   * Protects a chunk the store may already hold, atomically with respect to garbage collection.
   *
   * @return true when the chunk is held (and now protected); false when it is not held, and must be
   *     put
   */
  boolean adopt(ChunkId id);

  /**
   * Retains {@code chunks} under {@code key} (as {@link ChunkStore#retain}) and then closes this
   * writer. If retaining fails the writer stays open and still protects its chunks.
   *
   * @throws IllegalStateException if the writer is closed
   */
  void commit(String key, Collection<ChunkId> chunks) throws IOException;

  /**
   * Makes every chunk this writer stored durable. A writer from {@link ChunkStore#openBatchWriter}
   * writes chunk files without forcing them and does it here, many at once (far cheaper than one
   * fsync per chunk); {@link #commit} calls it first. A no-op for writers that force each chunk.
   */
  void sync() throws IOException;

  /** Drops this writer's protection; idempotent. Uncommitted chunks become garbage. */
  @Override
  void close();
}
