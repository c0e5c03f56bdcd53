package dev.ferry.statemachine;

import java.util.List;

/**
 * How a state machine's keys are split into shards: the unit a snapshot is written, shipped and
 * loaded in. The layout must be the same on every replica and must not change for the life of the
 * data (it is part of the snapshot format).
 *
 * <p>Implementations are immutable and thread-safe.
 */
public interface ShardLayout {

  /** The shard names, in order; stable across replicas and restarts. */
  List<String> names();

  /** The shard index ({@code 0 <= i < names().size()}) that owns {@code key}. */
  int shardOf(byte[] key);

  /**
   * {@code n} shards by a hash of the key ({@link HashLayout}): any key distribution spreads
   * evenly, so snapshots load on every core; scans merge every shard.
   */
  static HashLayout byHash(int n) {
    return new HashLayout(n);
  }

  /** A single shard named {@code "all"}. */
  static ShardLayout single() {
    return byKeyRange(List.of());
  }

  /**
   * Shards by key range: shard {@code i} holds the keys {@code >= splits[i-1]} and {@code <
   * splits[i]} in unsigned lexicographic order, so there are {@code splits.size() + 1} shards.
   *
   * @param splits strictly increasing split keys
   * @throws IllegalArgumentException if the split keys are not strictly increasing
   */
  static KeyRangeLayout byKeyRange(List<byte[]> splits) {
    return new KeyRangeLayout(splits);
  }
}
