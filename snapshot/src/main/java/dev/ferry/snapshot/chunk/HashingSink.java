package dev.ferry.snapshot.chunk;

import dev.ferry.snapshot.ChunkId;
import java.io.IOException;
import java.security.MessageDigest;
import java.util.Objects;

/**
 * The hashing stage of both chunkers: computes each raw chunk's SHA-256 id and hands the chunk with
 * its id to a {@link ChunkSink}, on the calling thread. Not thread-safe (one digest, reused).
 */
final class HashingSink implements RawChunkSink {
  private final ChunkSink downstream;
  private final MessageDigest sha = ChunkId.sha256();

  HashingSink(ChunkSink downstream) {
    this.downstream = Objects.requireNonNull(downstream, "sink");
  }

  @Override
  public void accept(long streamOffset, byte[] bytes, int from, int length) throws IOException {
    sha.update(bytes, from, length);
    ChunkId id = ChunkId.fromBytes(sha.digest());
    downstream.accept(new Chunk(streamOffset, id, bytes, from, length));
  }
}
