package dev.ferry.snapshot.store;

import dev.ferry.snapshot.ChunkId;
import java.io.IOException;

/** A chunk's bytes do not match its id, or do not decode within its recorded size. */
public final class ChunkCorruptException extends IOException {
  private static final long serialVersionUID = 1L;

  private final transient ChunkId id;

  public ChunkCorruptException(ChunkId id, String message) {
    super("chunk " + id.toHex() + " is corrupt: " + message);
    this.id = id;
  }

  public ChunkCorruptException(ChunkId id, String message, Throwable cause) {
    super("chunk " + id.toHex() + " is corrupt: " + message, cause);
    this.id = id;
  }

  /** The chunk that failed verification. */
  public ChunkId chunkId() {
    return id;
  }
}
