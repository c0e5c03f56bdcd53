package dev.ferry.snapshot.format;

import dev.ferry.snapshot.ChunkRef;
import dev.ferry.snapshot.StateDigest;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.SortedMap;
import java.util.TreeMap;

/**
 * Names one snapshot: the Raft term and index it was captured at, the chunks of each shard, the
 * chunks of the client-session table, the state digest, and a small metadata map.
 *
 * <p>A manifest holds nothing replica-specific (no node id, no wall time): every replica's manifest
 * at the same index encodes to the same bytes, so any peer can serve any chunk and comparing root
 * hashes compares states. The binary form and root hash are defined by {@link ManifestCodec}; every
 * manifest this constructor accepts can be encoded, and decodes back to an equal manifest.
 *
 * @param term Raft term of the entry at {@code index}, {@code >= 0}
 * @param index Raft log index the state was captured at, {@code >= 0}
 * @param shards the shards in a stable order, at most {@link #MAX_SHARDS}, with distinct names
 * @param sessionChunks the chunks of the serialized session table
 * @param digest the state digest at {@code index}
 * @param metadata small string map, kept in natural {@link String} order so its encoding is
 *     deterministic: at most {@link #MAX_METADATA_ENTRIES} entries, keys of at most {@link
 *     #MAX_METADATA_KEY_BYTES} and values of at most {@link #MAX_METADATA_VALUE_BYTES} UTF-8 bytes,
 *     no unpaired surrogates, no nulls
 */
public record Manifest(
    long term,
    long index,
    List<Shard> shards,
    List<ChunkRef> sessionChunks,
    StateDigest digest,
    SortedMap<String, String> metadata) {

  /** Most shards a manifest may have. */
  public static final int MAX_SHARDS = 1 << 16;

  /** Most metadata entries a manifest may have. */
  public static final int MAX_METADATA_ENTRIES = 256;

  /** Longest metadata key, in UTF-8 bytes. */
  public static final int MAX_METADATA_KEY_BYTES = 256;

  /** Longest metadata value, in UTF-8 bytes. */
  public static final int MAX_METADATA_VALUE_BYTES = 16 << 10;

  /**
   * Validates and copies.
   *
   * @throws IllegalArgumentException if a bound above is broken or two shards share a name
   * @throws NullPointerException if anything is null
   */
  public Manifest {
    if (term < 0) {
      throw new IllegalArgumentException("term < 0: " + term);
    }
    if (index < 0) {
      throw new IllegalArgumentException("index < 0: " + index);
    }
    shards = List.copyOf(shards);
    if (shards.size() > MAX_SHARDS) {
      throw new IllegalArgumentException("more than " + MAX_SHARDS + " shards: " + shards.size());
    }
    Set<String> names = new HashSet<>();
    for (Shard s : shards) {
      if (!names.add(s.name())) {
        throw new IllegalArgumentException("two shards named " + Utf8.quote(s.name()));
      }
    }
    sessionChunks = List.copyOf(sessionChunks);
    Objects.requireNonNull(digest, "digest");
    metadata = copyMetadata(metadata);
  }

  /** A manifest with no metadata. */
  public Manifest(
      long term, long index, List<Shard> shards, List<ChunkRef> sessionChunks, StateDigest digest) {
    this(term, index, shards, sessionChunks, digest, new TreeMap<>(Map.of()));
  }

  private static SortedMap<String, String> copyMetadata(SortedMap<String, String> metadata) {
    // A fresh natural-order map: a caller's map may carry its own comparator, and the encoding
    // order must not depend on it.
    TreeMap<String, String> copy = new TreeMap<>();
    for (Map.Entry<String, String> e : metadata.entrySet()) {
      String key = Objects.requireNonNull(e.getKey(), "metadata key");
      String value = Objects.requireNonNull(e.getValue(), () -> "metadata value of " + key);
      if (Utf8.encode(key, "metadata key").length > MAX_METADATA_KEY_BYTES) {
        throw new IllegalArgumentException(
            "metadata key longer than " + MAX_METADATA_KEY_BYTES + " bytes: " + Utf8.quote(key));
      }
      if (Utf8.encode(value, "metadata value").length > MAX_METADATA_VALUE_BYTES) {
        throw new IllegalArgumentException(
            "metadata value of "
                + Utf8.quote(key)
                + " longer than "
                + MAX_METADATA_VALUE_BYTES
                + " bytes");
      }
      copy.put(key, value);
    }
    if (copy.size() > MAX_METADATA_ENTRIES) {
      throw new IllegalArgumentException(
          "more than " + MAX_METADATA_ENTRIES + " metadata entries: " + copy.size());
    }
    return Collections.unmodifiableSortedMap(copy);
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
