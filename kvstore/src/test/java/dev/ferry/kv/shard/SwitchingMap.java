package dev.ferry.kv.shard;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * A changing {@link ClusterMap} for tests: serves {@code before} until the first {@link #refresh},
 * then {@code after}; counts the refreshes.
 */
final class SwitchingMap implements ClusterMap {
  private final ClusterLayout after;
  private volatile ClusterLayout now;
  final AtomicInteger refreshes = new AtomicInteger();

  SwitchingMap(ClusterLayout before, ClusterLayout after) {
    this.now = before;
    this.after = after;
  }

  @Override
  public ClusterLayout current() {
    return now;
  }

  @Override
  public ClusterLayout refresh(long staleVersion) {
    refreshes.incrementAndGet();
    now = after;
    return now;
  }

  /** The layout {@code l} at {@code version}, with range {@code index} on other replicas. */
  static ClusterLayout moved(ClusterLayout l, long version, int index, java.util.List<String> to) {
    java.util.List<Range> ranges = new java.util.ArrayList<>(l.ranges());
    Range r = ranges.get(index);
    ranges.set(index, new Range(index, r.start(), r.end(), r.group(), to));
    return new ClusterLayout(l.cluster(), version, l.replication(), l.nodes(), ranges);
  }
}
