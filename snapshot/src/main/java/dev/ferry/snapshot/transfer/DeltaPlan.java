package dev.ferry.snapshot.transfer;

import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.ChunkRef;
import dev.ferry.snapshot.format.Manifest;
import dev.ferry.snapshot.format.Shard;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.function.Predicate;

/**
 * What installing a manifest costs given what is already held locally: the distinct chunks to
 * fetch, the distinct chunks already held (what deduplication against the local store avoids), and
 * their sizes.
 *
 * <p>Chunks are distinct by {@link ChunkId}; a chunk referenced several times (within a run, among
 * runs or shards, or by the session table) is counted and listed once, with the sizes of its first
 * reference. Both lists are in order of first reference in {@link Manifest#allChunks()}: shard by
 * shard, runs oldest first, then the session table. Fetching {@link #missing()} in order therefore
 * completes the shards in order: shard {@code i} has every chunk it needs once the first {@link
 * #missingThroughShard(int) missingThroughShard(i)} missing chunks are present.
 *
 * <p>Immutable value; a snapshot of the predicate's answers when it was made.
 */
public final class DeltaPlan {
  private final List<ChunkRef> missing;
  private final List<ChunkRef> held;
  private final int[] missingThroughShard;
  private final long missingRawBytes;
  private final long missingStoredBytes;
  private final long heldRawBytes;
  private final long heldStoredBytes;
  private final long referencedRawBytes;

  private DeltaPlan(
      List<ChunkRef> missing,
      List<ChunkRef> held,
      int[] missingThroughShard,
      long referencedRawBytes) {
    this.missing = List.copyOf(missing);
    this.held = List.copyOf(held);
    this.missingThroughShard = missingThroughShard;
    this.missingRawBytes = rawBytes(missing);
    this.missingStoredBytes = storedBytes(missing);
    this.heldRawBytes = rawBytes(held);
    this.heldStoredBytes = storedBytes(held);
    this.referencedRawBytes = referencedRawBytes;
  }

  /**
   * Plans the transfer of {@code manifest} to a node that holds the chunks {@code heldLocally}
   * accepts (typically {@code chunkStore::contains}).
   *
   * <p>Runs on the caller's thread; asks {@code heldLocally} exactly once per distinct chunk, in
   * order of first reference, and blocks only if it does. Exceptions it throws propagate.
   */
  public static DeltaPlan of(Manifest manifest, Predicate<ChunkId> heldLocally) {
    Objects.requireNonNull(manifest, "manifest");
    Objects.requireNonNull(heldLocally, "heldLocally");
    Set<ChunkId> seen = new HashSet<>();
    List<ChunkRef> missing = new ArrayList<>();
    List<ChunkRef> held = new ArrayList<>();
    int[] throughShard = new int[manifest.shards().size()];
    long referenced = 0;
    for (int s = 0; s < manifest.shards().size(); s++) {
      Shard shard = manifest.shards().get(s);
      for (ChunkRef c : shard.chunks()) {
        referenced += c.rawSize();
        classify(c, seen, heldLocally, missing, held);
      }
      throughShard[s] = missing.size();
    }
    for (ChunkRef c : manifest.sessionChunks()) {
      referenced += c.rawSize();
      classify(c, seen, heldLocally, missing, held);
    }
    return new DeltaPlan(missing, held, throughShard, referenced);
  }

  private static void classify(
      ChunkRef c,
      Set<ChunkId> seen,
      Predicate<ChunkId> heldLocally,
      List<ChunkRef> missing,
      List<ChunkRef> held) {
    if (seen.add(c.id())) {
      (heldLocally.test(c.id()) ? held : missing).add(c);
    }
  }

  /** The distinct chunks to fetch, in order of first reference. */
  public List<ChunkRef> missing() {
    return missing;
  }

  /** The distinct chunks already held locally, in order of first reference. */
  public List<ChunkRef> held() {
    return held;
  }

  /** True when nothing needs fetching. */
  public boolean isComplete() {
    return missing.isEmpty();
  }

  /**
   * How many leading chunks of {@link #missing()} shards {@code 0..shardIndex} need: once those are
   * present, shard {@code shardIndex} (and every shard before it) can be assembled. Non-decreasing
   * in {@code shardIndex}. The session table's chunks come after every shard's.
   *
   * @throws IndexOutOfBoundsException if {@code shardIndex} names no shard of the manifest
   */
  public int missingThroughShard(int shardIndex) {
    Objects.checkIndex(shardIndex, missingThroughShard.length);
    return missingThroughShard[shardIndex];
  }

  /** Uncompressed bytes of the chunks to fetch. */
  public long missingRawBytes() {
    return missingRawBytes;
  }

  /** Stored (as shipped) bytes of the chunks to fetch. */
  public long missingStoredBytes() {
    return missingStoredBytes;
  }

  /** Uncompressed bytes of the distinct chunks already held: what the local store saves. */
  public long heldRawBytes() {
    return heldRawBytes;
  }

  /** Stored bytes of the distinct chunks already held: what is not shipped thanks to them. */
  public long heldStoredBytes() {
    return heldStoredBytes;
  }

  /**
   * Number of distinct chunks the manifest references: {@code missing().size() + held().size()}.
   */
  public int distinctChunks() {
    return missing.size() + held.size();
  }

  /** Uncompressed bytes of all distinct chunks: {@code missingRawBytes() + heldRawBytes()}. */
  public long totalRawBytes() {
    return missingRawBytes + heldRawBytes;
  }

  /** Stored bytes of all distinct chunks: {@code missingStoredBytes() + heldStoredBytes()}. */
  public long totalStoredBytes() {
    return missingStoredBytes + heldStoredBytes;
  }

  /**
   * Uncompressed bytes of the state the manifest describes, counting a chunk once per reference
   * ({@link Manifest#rawBytes()}); the excess over {@link #totalRawBytes()} is what deduplication
   * within the manifest saves.
   */
  public long referencedRawBytes() {
    return referencedRawBytes;
  }

  @Override
  public String toString() {
    return "DeltaPlan{missing="
        + missing.size()
        + " chunks/"
        + missingStoredBytes
        + " stored bytes ("
        + missingRawBytes
        + " raw), held="
        + held.size()
        + " chunks/"
        + heldRawBytes
        + " raw bytes, referenced="
        + referencedRawBytes
        + " raw bytes}";
  }

  private static long rawBytes(List<ChunkRef> chunks) {
    long sum = 0;
    for (ChunkRef c : chunks) {
      sum += c.rawSize();
    }
    return sum;
  }

  private static long storedBytes(List<ChunkRef> chunks) {
    long sum = 0;
    for (ChunkRef c : chunks) {
      sum += c.storedSize();
    }
    return sum;
  }
}
