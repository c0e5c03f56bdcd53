package dev.ferry.snapshot.transport;

import dev.ferry.snapshot.ChunkId;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * Moves chunks from one remote source to this node. The real implementation runs over Netty (in
 * {@code shipping}: the chunk client); tests use {@code SimulatedTransport} (snapshot test-jar).
 *
 * <p>Everything a transport delivers is untrusted: the caller verifies every chunk against its id
 * before storing it. Implementations never block the calling thread; listener callbacks may come on
 * any thread.
 */
public interface ChunkTransport {

  /** A stable name of the source this transport fetches from, for scheduling and metrics. */
  String sourceId();

  /**
   * Requests a batch of chunks. Each requested chunk is reported exactly once to {@code listener},
   * as {@link FetchListener#arrived} or {@link FetchListener#failed}, in any order.
   */
  void fetch(List<ChunkId> chunks, FetchListener listener);

  /**
   * As {@link #fetch(List, FetchListener)}, asking the source to send chunks uncompressed (codec
   * RAW) when {@code raw}: worth it on links faster than this node decompresses. A transport that
   * cannot do so sends them as stored; either form verifies the same way.
   */
  default void fetch(List<ChunkId> chunks, FetchListener listener, boolean raw) {
    fetch(chunks, listener);
  }

  /** Receives the outcome of each chunk of a {@link #fetch}. */
  interface FetchListener {
    /** The chunk's bytes in stored form (codec tag + payload), not yet verified. */
    void arrived(ChunkId id, ByteBuffer stored);

    /** The chunk could not be fetched from this source. */
    void failed(ChunkId id, Throwable cause);
  }
}
