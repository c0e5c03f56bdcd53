package dev.ferry.kv;

import java.io.Closeable;
import java.io.IOException;
import java.util.List;
import java.util.Map;

/**
 * The key-value store's operations, as both of its clients offer them: {@link KvClient} (one Raft
 * group, the whole store) and {@code dev.ferry.kv.shard.RoutingKvClient} (a sharded store: each key
 * routed to its range's group). Code written against this interface runs against either.
 *
 * <p>Keys are compared byte-wise unsigned. The implementations are thread-safe; every operation may
 * block until its deadline and throws {@link KvTimeoutException} when its outcome is unknown (a
 * write) or no replica answered (a read), {@link KvException} when the replicas refused it, and
 * {@link IllegalArgumentException} on a bad argument (e.g. a key over {@code 64 KiB}). See each
 * implementation for what it guarantees across ranges.
 */
public interface KvOperations extends Closeable {

  /** Sets {@code key} to {@code value}; returns whether the key existed before. */
  boolean put(byte[] key, byte[] value) throws IOException;

  /**
   * Adds {@code delta} to a 64-bit counter stored at {@code key} (absent counts as 0) and returns
   * the new value.
   */
  long increment(byte[] key, long delta) throws IOException;

  /** Sets every key of {@code entries} ({@code {key, value}} pairs). */
  void putAll(List<byte[][]> entries) throws IOException;

  /** Deletes {@code key}; returns whether it existed. */
  boolean delete(byte[] key) throws IOException;

  /**
   * Sets {@code key} to {@code value} if its current value equals {@code expected} ({@code null}:
   * absent). {@code value == null} deletes.
   */
  KvClient.CasResult compareAndSet(byte[] key, byte[] expected, byte[] value) throws IOException;

  /** Linearizable read: {@code key}'s value, or {@code null}. */
  byte[] get(byte[] key) throws IOException;

  /**
   * Stale read from replica {@code replicaId}'s current state (no coordination; may miss recent
   * writes).
   */
  byte[] getStale(byte[] key, String replicaId) throws IOException;

  /**
   * Scan of {@code [from, to)} ({@code null}: unbounded), at most {@code limit} entries (1 to
   * 10000), in key order.
   */
  Map<byte[], byte[]> scan(byte[] from, byte[] to, int limit) throws IOException;
}
