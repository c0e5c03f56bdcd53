package dev.ferry.snapshot.store;

import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.ChunkRef;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Set;

/**
 * A content-addressed store of chunks. A chunk's name is its {@link ChunkId}; nothing else, and in
 * particular nothing a remote peer sends, chooses where or under what name it is kept.
 *
 * <p>Chunks are kept in their <em>stored</em> form: a one-byte codec tag followed by the codec's
 * payload (see {@code dev.ferry.snapshot.codec.ChunkCodecs}). Reads verify the chunk against its
 * id; a chunk that fails verification is quarantined (no longer {@link #contains contained}) and
 * reported by a {@link ChunkCorruptException}, so it can be fetched again.
 *
 * <p>Concurrency: implementations are safe for concurrent use by many threads. Writes of the same
 * chunk are idempotent.
 */
public interface ChunkStore extends Closeable {

  /** True when the store holds a (not quarantined) copy of the chunk. Never blocks on I/O. */
  boolean contains(ChunkId id);

  /** The ids of all chunks held (a snapshot copy). */
  Set<ChunkId> ids();

  /**
   * Encodes {@code raw[offset, offset+length)} with the store's codec policy, stores it durably
   * (written, fsynced and renamed into place before returning) and returns its reference. Storing a
   * chunk already present does no I/O beyond the check.
   */
  ChunkRef put(byte[] raw, int offset, int length) throws IOException;

  /**
   * Stores a chunk received in stored form (for example from a peer) after verifying that it
   * decodes, within {@code ref.rawSize()} bytes, to bytes whose SHA-256 is {@code ref.id()}.
   *
   * @throws ChunkCorruptException if the bytes do not decode to the named chunk; nothing is stored
   */
  void putStored(ChunkRef ref, ByteBuffer stored) throws IOException;

  /**
   * Reads and verifies a chunk, returning its uncompressed bytes.
   *
   * @throws java.nio.file.NoSuchFileException if the chunk is not held
   * @throws ChunkCorruptException if it fails verification (it is quarantined first)
   */
  byte[] read(ChunkId id) throws IOException;

  /**
   * Reads a chunk's stored form (codec tag + payload) without decoding it, as it is shipped.
   *
   * @throws java.nio.file.NoSuchFileException if the chunk is not held
   */
  ByteBuffer readStored(ChunkId id) throws IOException;
}
