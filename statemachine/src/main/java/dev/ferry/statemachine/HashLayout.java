package dev.ferry.statemachine;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Shards by a hash of the key: shard {@code i} of {@code n} holds the keys whose 64-bit FNV-1a hash
 * (finished with a MurmurHash3 mix) is {@code i} modulo {@code n}. Keys of any distribution —
 * common prefixes such as {@code user:…}, sequential ids — spread evenly over the shards, so a
 * snapshot loads on every core. Shards are named {@code hash-000-of-016}, … . Immutable.
 *
 * <p>The hash function is part of the snapshot format: it never changes. Keys of one shard are not
 * a key range, so an ordered scan merges every shard.
 */
public final class HashLayout implements ShardLayout {
  private final int shards;
  private final List<String> names;

  /**
   * @param shards the number of shards, 1 to 4096
   * @throws IllegalArgumentException if out of range
   */
  public HashLayout(int shards) {
    if (shards < 1 || shards > 4096) {
      throw new IllegalArgumentException("shards must be in 1..4096: " + shards);
    }
    this.shards = shards;
    List<String> n = new ArrayList<>(shards);
    for (int i = 0; i < shards; i++) {
      n.add(String.format(Locale.ROOT, "hash-%03d-of-%03d", i, shards));
    }
    this.names = List.copyOf(n);
  }

  @Override
  public List<String> names() {
    return names;
  }

  @Override
  public int shardOf(byte[] key) {
    return (int) Long.remainderUnsigned(hash(key), shards);
  }

  /** The key's 64-bit hash: FNV-1a over its bytes, then MurmurHash3's finalizer. Frozen. */
  static long hash(byte[] key) {
    long h = 0xcbf29ce484222325L;
    for (byte b : key) {
      h ^= b & 0xff;
      h *= 0x100000001b3L;
    }
    h ^= h >>> 33;
    h *= 0xff51afd7ed558ccdL;
    h ^= h >>> 33;
    h *= 0xc4ceb9fe1a85ec53L;
    h ^= h >>> 33;
    return h;
  }

  @Override
  public String toString() {
    return "HashLayout(" + shards + ")";
  }
}
