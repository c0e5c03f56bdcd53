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
import java.util.function.UnaryOperator;

/**
 * A store that is not a {@code FileChunkStore} (the server must read chunks into memory), whose
 * batch writers may be wrapped (the installer's tests inject write failures there).
 */
public final class ForwardingStore implements ChunkStore {
  private final ChunkStore delegate;
  private final UnaryOperator<ChunkWriter> batchWriters;

  ForwardingStore(ChunkStore delegate) {
    this(delegate, UnaryOperator.identity());
  }

  /** Forwards to {@code delegate}; {@link #openBatchWriter} returns its writers wrapped. */
  public ForwardingStore(ChunkStore delegate, UnaryOperator<ChunkWriter> batchWriters) {
    this.delegate = delegate;
    this.batchWriters = batchWriters;
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
    return batchWriters.apply(delegate.openBatchWriter());
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
