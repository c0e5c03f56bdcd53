package dev.ferry.statemachine.replica;

import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.format.Manifest;
import dev.ferry.snapshot.store.ChunkStore;
import java.io.IOException;
import java.util.Optional;
import java.util.function.Function;

/**
 * The local side of an install, offered to an {@link Installer}: the chunk store to fetch into
 * (what it already holds is never fetched again) and the way to load a manifest into a new state
 * beside the live one.
 *
 * <p>Thread-safe. Loading never touches the live state; only a successful {@link
 * StagedInstall#complete} stages the new state, which Ratis then swaps in while the state machine
 * is paused.
 */
public interface InstallTarget {

  /** The local chunk store. */
  ChunkStore chunkStore();

  /** The newest durable local snapshot, if any (the delta base). */
  Optional<Manifest> latestManifest();

  /** Starts loading {@code manifest}; its chunks may still be arriving. */
  StagedInstall begin(Manifest manifest) throws IOException;

  /**
   * Starts loading {@code manifest} like {@link #begin(Manifest)}, taking the content of chunks
   * from {@code decoded} where it answers, instead of reading and decoding them from the store
   * again: for an installer that has just decoded and verified the chunks it fetched.
   *
   * <p>{@code decoded} is called from the thread loading shards. It answers a chunk's decoded
   * content, which must be exactly the bytes whose SHA-256 is the chunk's id (the caller gives up
   * the array: it is read, never modified), or {@code null} to have the chunk read from the store.
   * The loaded state's digest is still checked against the manifest. The default ignores {@code
   * decoded}.
   */
  default StagedInstall begin(Manifest manifest, Function<ChunkId, byte[]> decoded)
      throws IOException {
    return begin(manifest);
  }

  /**
   * A manifest being loaded shard by shard.
   *
   * <p>Concurrency: {@link #loadShard} is thread-safe and may be called from several threads at
   * once for distinct shards (a second call for a shard that is loaded or loading waits for it and
   * does nothing); {@link #complete} and {@link #abort} are called once, after every {@code
   * loadShard} call returned.
   */
  interface StagedInstall {
    /**
     * Loads shard {@code shard}: all its chunks must be in the store. A shard that shares runs with
     * the node's held snapshot is built from the held state, reading only the runs it lacks.
     *
     * @throws IOException if a chunk is missing or corrupt, or the shard's records are malformed
     */
    void loadShard(int shard) throws IOException;

    /**
     * Loads the remaining shards (in parallel) and the session table, verifies the state digest
     * against the manifest, stores the manifest durably, and stages the new state for Ratis to swap
     * in.
     *
     * @throws DigestMismatchException if the loaded state's digest differs from the manifest's
     * @throws IOException if anything could not be read
     */
    void complete() throws IOException;

    /** Discards what was loaded; the live state was never touched. */
    void abort();
  }
}
