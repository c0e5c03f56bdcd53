package dev.ferry.statemachine;

import java.io.IOException;

/**
 * A point-in-time, immutable view of a state machine's state, taken on the apply thread in (near)
 * constant time and read later on a capture thread while apply goes on.
 */
public interface StateView {
  /**
   * Writes every record of shard {@code shard} (an index into {@link ShardLayout#names()}) to
   * {@code sink} in strictly increasing key order. Called on a capture thread; must not touch the
   * live state.
   */
  void writeShard(int shard, RecordSink sink) throws IOException;
}
