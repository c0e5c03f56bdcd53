package dev.ferry.snapshot.transfer;

import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.ChunkRef;
import dev.ferry.snapshot.codec.ChunkCodecs;
import dev.ferry.snapshot.codec.CodecException;
import dev.ferry.snapshot.store.ChunkCorruptException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.NoSuchFileException;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The chunk-holding part of a {@code ChunkStore}, in a map, verifying like a real one; for tests.
 * Thread-safe.
 */
final class InMemoryChunkStore implements java.io.Closeable {
  private final Map<ChunkId, byte[]> chunks = new ConcurrentHashMap<>();
  private final Map<ChunkId, Integer> rawSizes = new ConcurrentHashMap<>();

  public boolean contains(ChunkId id) {
    return chunks.containsKey(id);
  }

  public Set<ChunkId> ids() {
    return Set.copyOf(chunks.keySet());
  }

  public ChunkRef put(byte[] raw, int offset, int length) {
    byte[] stored = ChunkCodecs.encode(raw, offset, length, ChunkCodecs.DEFAULT_LEVEL);
    ChunkRef ref = new ChunkRef(ChunkId.of(raw, offset, length), length, stored.length);
    chunks.putIfAbsent(ref.id(), stored);
    rawSizes.putIfAbsent(ref.id(), length);
    return ref;
  }

  public void putStored(ChunkRef ref, ByteBuffer stored) throws IOException {
    byte[] raw;
    try {
      raw = ChunkCodecs.decode(stored, ref.rawSize());
    } catch (CodecException e) {
      throw new ChunkCorruptException(ref.id(), e.getMessage(), e);
    }
    if (!ref.id().matches(raw, 0, raw.length)) {
      throw new ChunkCorruptException(ref.id(), "SHA-256 does not match");
    }
    byte[] copy = new byte[stored.remaining()];
    stored.duplicate().get(copy);
    chunks.putIfAbsent(ref.id(), copy);
    rawSizes.putIfAbsent(ref.id(), ref.rawSize());
  }

  public byte[] read(ChunkId id) throws IOException {
    ByteBuffer stored = readStored(id);
    byte[] raw;
    try {
      raw = ChunkCodecs.decode(stored, rawSizes.get(id));
    } catch (CodecException e) {
      quarantine(id);
      throw new ChunkCorruptException(id, e.getMessage(), e);
    }
    if (!id.matches(raw, 0, raw.length)) {
      quarantine(id);
      throw new ChunkCorruptException(id, "SHA-256 does not match");
    }
    return raw;
  }

  public ByteBuffer readStored(ChunkId id) throws IOException {
    byte[] stored = chunks.get(id);
    if (stored == null) {
      throw new NoSuchFileException(id.toHex());
    }
    return ByteBuffer.wrap(stored).asReadOnlyBuffer();
  }

  public void close() {}

  private void quarantine(ChunkId id) {
    chunks.remove(id);
    rawSizes.remove(id);
  }
}
