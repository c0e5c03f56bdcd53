package dev.ferry.snapshot.format;

import dev.ferry.snapshot.ChunkRef;
import dev.ferry.snapshot.StateDigest;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Names one snapshot: the Raft term and index it was captured at, the chunks of each shard, the
 * chunks of the client-session table, the state digest, and a small metadata map.
 *
 * <p>A manifest holds nothing replica-specific (no node id, no wall time): every replica's manifest
 * at the same index encodes to the same bytes, so any peer can serve any chunk and comparing root
 * hashes compares states. The binary form and root hash are defined by {@code ManifestCodec}.
 *
 * @param term Raft term of the entry at {@code index}, {@code >= 0}
 * @param index Raft log index the state was captured at, {@code >= 0}
 * @param shards the shards in a stable order
 * @param sessionChunks the chunks of the serialized session table
 * @param digest the state digest at {@code index}
 * @param metadata small string map (sorted, so its encoding is deterministic)
 */
public record Manifest(
    long term,
    long index,
    List<Shard> shards,
    List<ChunkRef> sessionChunks,
    StateDigest digest,
    SortedMap<String, String> metadata) {

  public Manifest {
    if (term < 0) {
      throw new IllegalArgumentException("term < 0: " + term);
    }
    if (index < 0) {
      throw new IllegalArgumentException("index < 0: " + index);
    }
    shards = List.copyOf(shards);
    sessionChunks = List.copyOf(sessionChunks);
    Objects.requireNonNull(digest, "digest");
    metadata = Collections.unmodifiableSortedMap(new TreeMap<>(metadata));
  }

  /** A manifest with no metadata. */
  public Manifest(
      long term, long index, List<Shard> shards, List<ChunkRef> sessionChunks, StateDigest digest) {
    this(term, index, shards, sessionChunks, digest, new TreeMap<>(Map.of()));
  }

  /**
   * Every chunk the manifest references (shards in order, then the session table), with repeats.
   */
  public List<ChunkRef> allChunks() {
    List<ChunkRef> all = new ArrayList<>();
    for (Shard s : shards) {
      all.addAll(s.chunks());
    }
    all.addAll(sessionChunks);
    return all;
  }

  /** Total uncompressed bytes referenced, counting repeated chunks once per reference. */
  public long rawBytes() {
    long sum = 0;
    for (ChunkRef c : allChunks()) {
      sum += c.rawSize();
    }
    return sum;
  }
}
