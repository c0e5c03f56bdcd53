package dev.ferry.shipping.chunks;

import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.format.Manifest;
import dev.ferry.snapshot.store.Lease;
import dev.ferry.snapshot.transport.ChunkTransport;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;

/**
 * Another node seen as a source of snapshots: it lists and serves its durable manifests, pins one
 * while it is being shipped, and serves chunks ({@link ChunkTransport}). What the installer needs
 * of a peer: the real one is a {@link ChunkClient} on the peer's chunk service; tests use in-memory
 * ones.
 *
 * <p>Implementations never block the caller; futures complete on any thread.
 */
public interface SnapshotPeer extends ChunkTransport {

  /** The peer's durable manifests at or after {@code minIndex}. */
  CompletableFuture<List<ManifestInfo>> listManifests(long minIndex);

  /** The peer's manifest at {@code index}, decoded and checked. */
  CompletableFuture<Manifest> fetchManifest(long index);

  /** Pins the manifest at {@code index} (its chunks stay) for {@code ttl}; returns the lease. */
  CompletableFuture<Lease> pin(long index, Duration ttl);

  /** Extends a lease; returns it as extended. */
  CompletableFuture<Lease> renew(long leaseId, Duration ttl);

  /** Ends a lease. */
  CompletableFuture<Void> unpin(long leaseId);

  /** Most chunk ids one {@link #reportCorrupt} call may name. */
  int MAX_REPORT_IDS = MessageCodec.MAX_REPORT_IDS;

  /**
   * Tells the peer that chunks it served failed verification here, so it re-verifies them,
   * quarantines those that are corrupt and fetches them again. At most {@link #MAX_REPORT_IDS} ids.
   * The default (a peer that cannot be told) does nothing.
   */
  default CompletableFuture<Void> reportCorrupt(List<ChunkId> ids) {
    return CompletableFuture.completedFuture(null);
  }
}
