package dev.ferry.shipping.install;

import dev.ferry.shipping.chunks.ChunkClient;
import dev.ferry.shipping.chunks.ManifestInfo;
import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.format.Manifest;
import dev.ferry.snapshot.store.Lease;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;

/** A {@link SnapshotPeer} reached through its chunk service. */
public final class ChunkClientPeer implements SnapshotPeer {
  private final ChunkClient client;

  public ChunkClientPeer(ChunkClient client) {
    this.client = Objects.requireNonNull(client, "client");
  }

  /** The underlying client. */
  public ChunkClient client() {
    return client;
  }

  @Override
  public String sourceId() {
    return client.sourceId();
  }

  @Override
  public void fetch(List<ChunkId> chunks, FetchListener listener) {
    client.fetch(chunks, listener);
  }

  @Override
  public void fetch(List<ChunkId> chunks, FetchListener listener, boolean raw) {
    client.fetch(chunks, listener, raw);
  }

  @Override
  public CompletableFuture<List<Listing>> listManifests(long minIndex) {
    return client
        .listManifests(minIndex)
        .thenApply(
            infos ->
                infos.stream()
                    .map((ManifestInfo i) -> new Listing(i.term(), i.index(), i.root()))
                    .toList());
  }

  @Override
  public CompletableFuture<Manifest> fetchManifest(long index) {
    return client.fetchManifest(index);
  }

  @Override
  public CompletableFuture<Long> pin(long index, Duration ttl) {
    return client.pin(index, ttl).thenApply(Lease::id);
  }

  @Override
  public CompletableFuture<Void> renew(long leaseId, Duration ttl) {
    return client.renew(leaseId, ttl).thenApply(l -> null);
  }

  @Override
  public CompletableFuture<Void> unpin(long leaseId) {
    return client.unpin(leaseId);
  }
}
