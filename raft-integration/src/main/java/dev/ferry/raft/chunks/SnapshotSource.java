package dev.ferry.raft.chunks;

import dev.ferry.snapshot.format.Manifest;
import dev.ferry.snapshot.store.ChunkStore;
import java.util.List;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * What a {@link ChunkServer} serves: the node's durable manifests and the chunk store holding their
 * chunks. Called from the server's worker and I/O threads, concurrently; implementations must be
 * thread-safe. Either method may throw an unchecked exception while the node is not ready (for
 * example before its state machine is initialized); the request then gets an "unavailable" error
 * and the connection stays open.
 */
public interface SnapshotSource {

  /** The durable manifests, in any order; at most one per index. */
  List<Manifest> manifests();

  /**
   * The chunk store. A {@link dev.ferry.snapshot.store.FileChunkStore} lets the server send chunks
   * zero-copy from their files; any other store is read into memory chunk by chunk.
   */
  ChunkStore store();

  /** A source from two suppliers, each called on every use. */
  static SnapshotSource of(Supplier<List<Manifest>> manifests, Supplier<ChunkStore> store) {
    Objects.requireNonNull(manifests, "manifests");
    Objects.requireNonNull(store, "store");
    return new SnapshotSource() {
      @Override
      public List<Manifest> manifests() {
        return manifests.get();
      }

      @Override
      public ChunkStore store() {
        return store.get();
      }
    };
  }
}
