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

  /**
   * A view of a state that is one value, not keyed records (a counter, a register): it writes
   * {@code value} as the only record of the snapshot, in shard 0 under a fixed key. Pair it with
   * {@link StateLoader#singleRecord} and the default one-shard layout ({@link
   * ShardLayout#single()}). The array is not copied: pass one that is never modified afterwards
   * (for example a fresh encoding of the current value).
   *
   * @param value the state's encoding (may be empty)
   * @throws NullPointerException if {@code value} is null
   */
  static StateView singleRecord(byte[] value) {
    return new SingleRecord.View(value);
  }
}
