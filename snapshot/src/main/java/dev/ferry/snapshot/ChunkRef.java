package dev.ferry.snapshot;

import java.util.Objects;

/**
 * A chunk as a manifest names it: its id, its uncompressed size, and its size as stored (after the
 * codec, including the one-byte codec tag). Both sizes are what every replica computes for the same
 * bytes, so manifests stay byte-identical across replicas.
 *
 * @param id SHA-256 of the uncompressed bytes
 * @param rawSize uncompressed size in bytes, {@code 0 < rawSize <= MAX_CHUNK_SIZE}
 * @param storedSize stored size in bytes, {@code 0 < storedSize <= MAX_STORED_SIZE}
 */
public record ChunkRef(ChunkId id, int rawSize, int storedSize) {
  /** Largest chunk the format accepts: 16 MiB. */
  public static final int MAX_CHUNK_SIZE = 16 << 20;

  /** Largest stored form: a raw chunk plus its codec tag. */
  public static final int MAX_STORED_SIZE = MAX_CHUNK_SIZE + 1;

  public ChunkRef {
    Objects.requireNonNull(id, "id");
    if (rawSize <= 0 || rawSize > MAX_CHUNK_SIZE) {
      throw new IllegalArgumentException(
          "rawSize out of range (1.." + MAX_CHUNK_SIZE + "): " + rawSize);
    }
    if (storedSize <= 0 || storedSize > MAX_STORED_SIZE) {
      throw new IllegalArgumentException(
          "storedSize out of range (1.." + MAX_STORED_SIZE + "): " + storedSize);
    }
  }
}
