package dev.ferry.statemachine;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;

/**
 * Shards by key range: shard {@code i} holds the keys {@code >= splits[i-1]} and {@code <
 * splits[i]} in unsigned lexicographic order, so there are {@code splits.size() + 1} shards, named
 * {@code range-000}, {@code range-001}, … (or {@code all} when there is one). Immutable.
 */
public final class KeyRangeLayout implements ShardLayout {
  private final byte[][] splits;
  private final List<String> names;

  /**
   * @param splits strictly increasing split keys
   * @throws IllegalArgumentException if they are not strictly increasing
   */
  public KeyRangeLayout(List<byte[]> splits) {
    this.splits = splits.stream().map(byte[]::clone).toArray(byte[][]::new);
    for (int i = 1; i < this.splits.length; i++) {
      if (Arrays.compareUnsigned(this.splits[i - 1], this.splits[i]) >= 0) {
        throw new IllegalArgumentException("split keys must be strictly increasing at " + i);
      }
    }
    List<String> n = new ArrayList<>();
    for (int i = 0; i <= this.splits.length; i++) {
      n.add(this.splits.length == 0 ? "all" : String.format(Locale.ROOT, "range-%03d", i));
    }
    this.names = List.copyOf(n);
  }

  @Override
  public List<String> names() {
    return names;
  }

  @Override
  public int shardOf(byte[] key) {
    int lo = 0;
    int hi = splits.length;
    while (lo < hi) {
      int mid = (lo + hi) >>> 1;
      if (Arrays.compareUnsigned(key, splits[mid]) >= 0) {
        lo = mid + 1;
      } else {
        hi = mid;
      }
    }
    return lo;
  }

  /** The smallest key of shard {@code i} (inclusive), or {@code null} for the first shard. */
  public byte[] lowerBound(int i) {
    checkShard(i);
    return i == 0 ? null : splits[i - 1].clone();
  }

  /** The bound above shard {@code i} (exclusive), or {@code null} for the last shard. */
  public byte[] upperBound(int i) {
    checkShard(i);
    return i == splits.length ? null : splits[i].clone();
  }

  private void checkShard(int i) {
    if (i < 0 || i > splits.length) {
      throw new IndexOutOfBoundsException("shard " + i + " of " + names.size());
    }
  }
}
