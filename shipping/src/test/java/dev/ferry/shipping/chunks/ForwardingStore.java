package dev.ferry.shipping.chunks;

import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.ChunkRef;
import dev.ferry.snapshot.store.ChunkStore;
import dev.ferry.snapshot.store.ChunkWriter;
import dev.ferry.snapshot.store.GcResult;
import dev.ferry.snapshot.store.Lease;
import dev.ferry.snapshot.store.StoreStats;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Collection;
import java.util.Set;

/** A store that is not a {@code FileChunkStore}: the server must read chunks into memory. */
final class ForwardingStore implements ChunkStore {
  private final ChunkStore delegate;

  ForwardingStore(ChunkStore delegate) {
    this.delegate = delegate;
  }

  @Override
  public boolean contains(ChunkId id) {
    return delegate.contains(id);
  }

  @Override
  public Set<ChunkId> ids() {
    return delegate.ids();
  }

  @Override
  public ChunkRef put(byte[] raw, int offset, int length) throws IOException {
    return delegate.put(raw, offset, length);
  }

  @Override
  public void putStored(ChunkRef ref, ByteBuffer stored) throws IOException {
    delegate.putStored(ref, stored);
  }

  @Override
  public byte[] read(ChunkId id) throws IOException {
    return delegate.read(id);
  }

  @Override
  public ByteBuffer readStored(ChunkId id) throws IOException {
    return delegate.readStored(id);
  }

  @Override
  public StoreStats stats() {
    return delegate.stats();
  }

  @Override
  public ChunkWriter openWriter() {
    return delegate.openWriter();
  }

  @Override
  public ChunkWriter openBatchWriter() {
    return delegate.openBatchWriter();
  }

  @Override
  public void retain(String key, Collection<ChunkId> chunks) throws IOException {
    delegate.retain(key, chunks);
  }

  @Override
  public void release(String key) throws IOException {
    delegate.release(key);
  }

  @Override
  public Set<String> retainedKeys() {
    return delegate.retainedKeys();
  }

  @Override
  public Lease pin(String key, Duration ttl) throws IOException {
    return delegate.pin(key, ttl);
  }

  @Override
  public Lease renew(long leaseId, Duration ttl) throws IOException {
    return delegate.renew(leaseId, ttl);
  }

  @Override
  public void unpin(long leaseId) throws IOException {
    delegate.unpin(leaseId);
  }

  @Override
  public GcResult collectGarbage() throws IOException {
    return delegate.collectGarbage();
  }

  @Override
  public void close() {
    // The delegate is closed by its owner.
  }
}
