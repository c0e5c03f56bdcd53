package dev.ferry.snapshot.chunk;

import dev.ferry.snapshot.ChunkId;
import java.util.Arrays;
import java.util.Objects;

/**
 * One chunk of a stream as handed to a {@link ChunkSink}: where it starts, its id (the SHA-256 of
 * its bytes) and its bytes.
 *
 * <p>The bytes are <em>borrowed</em>: {@link #array()}{@code [arrayOffset(), arrayOffset() +
 * length())} belongs to the chunker and holds the chunk only until {@link ChunkSink#accept}
 * returns. Store or copy them within the call (for example {@code store.put(c.array(),
 * c.arrayOffset(), c.length())}, or {@link #copyBytes()}); never modify them. The offset, id and
 * length stay valid forever.
 */
public final class Chunk {
  private final long offset;
  private final ChunkId id;
  private final byte[] array;
  private final int arrayOffset;
  private final int length;

  Chunk(long offset, ChunkId id, byte[] array, int arrayOffset, int length) {
    this.offset = offset;
    this.id = Objects.requireNonNull(id, "id");
    this.array = array;
    this.arrayOffset = arrayOffset;
    this.length = length;
  }

  /** The offset of the chunk's first byte in the stream. */
  public long offset() {
    return offset;
  }

  /** The SHA-256 of the chunk's bytes. */
  public ChunkId id() {
    return id;
  }

  /** The chunk's length in bytes, at least 1. */
  public int length() {
    return length;
  }

  /** The borrowed array holding the chunk at {@link #arrayOffset()}; valid during the call only. */
  public byte[] array() {
    return array;
  }

  /** Where the chunk starts in {@link #array()}. */
  public int arrayOffset() {
    return arrayOffset;
  }

  /** A fresh copy of the chunk's bytes; call it during {@link ChunkSink#accept}. */
  public byte[] copyBytes() {
    return Arrays.copyOfRange(array, arrayOffset, arrayOffset + length);
  }

  @Override
  public String toString() {
    return "Chunk[" + id + " @" + offset + " +" + length + "]";
  }
}
