package dev.ferry.statemachine;

import java.io.IOException;

/**
 * Receives the records of one shard, in strictly increasing unsigned lexicographic key order.
 * Called on a capture thread; may block (it writes chunks to disk).
 */
public interface RecordSink {
  /**
   * Adds one record.
   *
   * @throws IllegalArgumentException if {@code key} is not greater than the previous key
   */
  void put(byte[] key, byte[] value) throws IOException;
}
