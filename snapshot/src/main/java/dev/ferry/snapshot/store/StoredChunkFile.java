package dev.ferry.snapshot.store;

import dev.ferry.snapshot.ChunkId;
import java.io.Closeable;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.util.Objects;

/**
 * An open, read-only channel on a chunk's stored form, for zero-copy shipping (for example as a
 * Netty {@code DefaultFileRegion} over {@code [0, size)}). The bytes are not verified; the receiver
 * verifies them. The file stays readable even if the store deletes the chunk meanwhile. The caller
 * owns the channel and must {@link #close()} it.
 *
 * @param id the chunk
 * @param channel positioned at 0, read-only
 * @param size the stored size in bytes (codec tag included)
 */
public record StoredChunkFile(ChunkId id, FileChannel channel, long size) implements Closeable {
  public StoredChunkFile {
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(channel, "channel");
    if (size <= 0) {
      throw new IllegalArgumentException("size <= 0: " + size);
    }
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }
}
