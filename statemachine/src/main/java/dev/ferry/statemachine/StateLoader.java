package dev.ferry.statemachine;

import java.io.IOException;
import java.util.Iterator;

/**
 * Builds a new state beside the live one, shard by shard, from a snapshot. The framework calls
 * {@link #loadShard} once per shard (any order, one thread at a time), then either {@link #commit}
 * — after it verified the loaded state's digest — or {@link #abort}. Until {@code commit} the live
 * state must stay untouched and serving.
 */
public interface StateLoader {
  /** Loads one shard's records, given in strictly increasing key order. */
  void loadShard(int shard, Iterator<Record> records) throws IOException;

  /**
   * Replaces the live state with the loaded one. Called on the apply thread while the state machine
   * is paused; must not fail.
   */
  void commit();

  /** Discards what was loaded. */
  void abort();

  /**
   * One key/value record of a shard.
   *
   * @param key the key
   * @param value the value
   */
  record Record(byte[] key, byte[] value) {}
}
