package dev.ferry.snapshot.store;

import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.ChunkRef;
import dev.ferry.snapshot.format.Manifest;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.Collection;
import java.util.LinkedHashSet;
import java.util.Objects;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * A content-addressed store of chunks. A chunk's name is its {@link ChunkId}; nothing else, and in
 * particular nothing a remote peer sends, chooses where or under what name it is kept.
 *
 * <p>Chunks are kept in their <em>stored</em> form: a one-byte codec tag followed by the codec's
 * payload (see {@code dev.ferry.snapshot.codec.ChunkCodecs}). Reads verify the chunk against its
 * id; a chunk that fails verification is quarantined (no longer {@link #contains contained}) and
 * reported by a {@link ChunkCorruptException}, so it can be fetched again.
 *
 * <h2>References and garbage collection</h2>
 *
 * A chunk lives as long as something references it:
 *
 * <ul>
 *   <li>a <b>retained manifest</b>: {@link #retain(String, Collection)} records, durably and under
 *       a key, the chunks a manifest uses; {@link #release} forgets them. Retained keys survive a
 *       restart. By convention a manifest's key is {@link #manifestKey(Manifest)}.
 *   <li>a <b>pin</b>: {@link #pin} leases a retained manifest's chunk set until the lease expires
 *       or is released, even if the manifest is released meanwhile (a manifest being shipped to a
 *       peer stays whole). Pins are durable too; expiry is judged by the store's clock.
 *   <li>an open <b>writer</b>: chunks put or {@linkplain ChunkWriter#adopt adopted} through a
 *       {@link ChunkWriter} are protected until the writer commits them under a key or is closed,
 *       so a capture or an install in progress never loses its chunks to a concurrent collection.
 *       Writers are not durable: after a restart their chunks are unreferenced (an install that
 *       must keep its fetched chunks across restarts retains the target manifest's chunk list
 *       before fetching; absent chunks may be retained).
 * </ul>
 *
 * {@link #collectGarbage()} deletes every chunk that nothing references. Chunks put directly with
 * {@link #put} or {@link #putStored} and referenced by nothing may be deleted by the next
 * collection; use a writer when that matters.
 *
 * <p>Concurrency: implementations are safe for concurrent use by many threads. Writes of the same
 * chunk are idempotent. Methods that do I/O block the calling thread; {@link #contains} never does
 * I/O.
 */
public interface ChunkStore extends Closeable {

  /**
   * Manifest keys: 1 to 128 characters from {@code [A-Za-z0-9._-]}, starting with a letter/digit.
   */
  Pattern KEY_PATTERN = Pattern.compile("[A-Za-z0-9][A-Za-z0-9._-]{0,127}");

  /** True when the store holds a (not quarantined) copy of the chunk. Never blocks on I/O. */
  boolean contains(ChunkId id);

  /** The ids of all chunks held (a snapshot copy). */
  Set<ChunkId> ids();

  /**
   * Encodes {@code raw[offset, offset+length)} with the store's codec policy, stores it durably
   * (written, fsynced and renamed into place before returning) and returns its reference. Storing a
   * chunk already present does no I/O beyond the check, and returns the reference of the copy held.
   */
  ChunkRef put(byte[] raw, int offset, int length) throws IOException;

  /**
   * Stores a chunk received in stored form (for example from a peer) after verifying that it
   * decodes, within {@code ref.rawSize()} bytes, to bytes whose SHA-256 is {@code ref.id()}. The
   * buffer's remaining bytes are the stored form; its position is not moved. {@code
   * ref.storedSize()} is not checked (another replica may have encoded the chunk differently); the
   * chunk is kept as received. The bytes are verified even if the chunk is already held (then
   * nothing more happens).
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
   * Re-reads and re-hashes a held chunk. A chunk that fails is quarantined (and its {@link
   * QuarantineListener} told), exactly as a failed {@link #read}; one that is not held is left
   * alone. For callers that must not trust a claim of corruption (a peer's report, a scrub): only
   * the local bytes decide. Blocks on I/O.
   *
   * @return true if the chunk is held and intact; false if it is not held or failed verification
   *     (then it is no longer held)
   * @throws IOException if the chunk could not be read for another reason
   */
  default boolean verify(ChunkId id) throws IOException {
    try {
      read(id);
      return true;
    } catch (ChunkCorruptException | java.nio.file.NoSuchFileException e) {
      return false;
    }
  }

  /**
   * Reads and decodes a chunk without hashing it, for a reader that verifies what it read by other
   * means (loading a snapshot checks the state digest of everything it loaded against the
   * manifest's). Decoding is still bounded by the chunk's declared raw size. The default verifies
   * anyway.
   *
   * @throws java.nio.file.NoSuchFileException if the chunk is not held
   * @throws ChunkCorruptException if it does not decode (it is quarantined first)
   */
  default byte[] readUnhashed(ChunkId id) throws IOException {
    return read(id);
  }

  /**
   * Reads a chunk's stored form (codec tag + payload) without decoding or hashing it, as it is
   * shipped; the receiver verifies it.
   *
   * @throws java.nio.file.NoSuchFileException if the chunk is not held
   * @throws ChunkCorruptException if the stored form is impossible (empty or larger than {@link
   *     ChunkRef#MAX_STORED_SIZE}); it is quarantined first
   */
  ByteBuffer readStored(ChunkId id) throws IOException;

  /** Counts of chunks and bytes held and of chunks quarantined since the store was opened. */
  StoreStats stats();

  /**
   * Opens a writer whose chunks are protected from garbage collection until it commits or closes.
   * Writers are cheap; many may be open at once, from any threads.
   */
  ChunkWriter openWriter();

  /**
   * Opens a writer whose chunks are visible at once but durable only after its {@link
   * ChunkWriter#sync} (or {@link ChunkWriter#commit}): for bulk writes (an install, a capture),
   * where one fsync per chunk would dominate. A crash before the sync may leave such a chunk torn;
   * reads verify every chunk, so a torn one is quarantined and fetched again, never used.
   */
  ChunkWriter openBatchWriter();

  /**
   * Durably records that the manifest named {@code key} references {@code chunks}, replacing any
   * set previously retained under the key. The chunks need not be present (an install may retain
   * its target before fetching). Returns once the record survives a crash.
   *
   * @throws IllegalArgumentException if {@code key} does not match {@link #KEY_PATTERN}
   */
  void retain(String key, Collection<ChunkId> chunks) throws IOException;

  /** Retains every chunk of {@code manifest} under {@link #manifestKey(Manifest)}. */
  default void retain(Manifest manifest) throws IOException {
    Set<ChunkId> ids = new LinkedHashSet<>();
    for (ChunkRef ref : manifest.allChunks()) {
      ids.add(ref.id());
    }
    retain(manifestKey(manifest), ids);
  }

  /**
   * Durably forgets the references retained under {@code key}; no effect if none are. Chunks pinned
   * through a live lease on the key stay until the lease ends.
   */
  void release(String key) throws IOException;

  /** The keys currently retained (a snapshot copy). */
  Set<String> retainedKeys();

  /**
   * Pins the chunk set currently retained under {@code key} for {@code ttl}: none of those chunks
   * is deleted while the lease is live (now before {@link Lease#expiresAt()}), even if the key is
   * released. Durable: a pin survives a restart until it expires.
   *
   * @throws IllegalStateException if nothing is retained under {@code key}
   * @throws IllegalArgumentException if {@code ttl} is not positive
   */
  Lease pin(String key, Duration ttl) throws IOException;

  /**
   * Extends a live lease to now + {@code ttl}.
   *
   * @throws LeaseExpiredException if the lease has expired or was released (its chunks may be gone)
   */
  Lease renew(long leaseId, Duration ttl) throws IOException;

  /** Ends a lease now; no effect if it has already ended. */
  void unpin(long leaseId) throws IOException;

  /**
   * Deletes every chunk referenced by no retained manifest, no live lease and no open writer, and
   * forgets expired leases. Blocks retain, release and pin calls while it runs, never puts or
   * reads.
   */
  GcResult collectGarbage() throws IOException;

  /** The key a manifest is retained under by convention: {@code "manifest-<term>-<index>"}. */
  static String manifestKey(Manifest manifest) {
    Objects.requireNonNull(manifest, "manifest");
    return "manifest-" + manifest.term() + "-" + manifest.index();
  }
}
