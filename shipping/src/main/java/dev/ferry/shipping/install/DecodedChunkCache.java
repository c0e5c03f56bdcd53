package dev.ferry.shipping.install;

import dev.ferry.snapshot.ChunkId;
import java.util.HashMap;
import java.util.Map;

/**
 * The decoded content of chunks an install verified on arrival, kept until the shard loads that
 * read them have taken it, so that loading does not read and decode each chunk from the store a
 * second time.
 *
 * <p>Bounded twice: a chunk that would take this cache's bytes over its cap, or that the node-wide
 * {@link Pool} has no room for (the install's admission in the {@link TransferScheduler}, whose
 * pool all installs of the node share), is not kept (its shard reads it from the store, as without
 * the cache). Every byte held was taken from the pool, and is given back when its chunk is dropped.
 * Each chunk is kept for a given number of takes (how often the shards being loaded name it) and
 * dropped after the last. {@link #close} drops everything and refuses further chunks; an install
 * closes its cache when it ends, successfully or not.
 *
 * <p>Only ever holds content that was hashed against its chunk id before being offered; taking it
 * instead of reading the store cannot change what is loaded. Thread-safe: the install's driver
 * thread offers, its loader thread takes. The pool is called with this cache's lock held (the pool
 * must never call back into a cache).
 */
final class DecodedChunkCache {
  /** The most an install keeps by default, whatever the heap. */
  static final long MAX_DEFAULT_CAP = 256L << 20;

  /** Where a cache's bytes come from, shared with other caches. Never blocks. */
  interface Pool {
    /** Takes {@code bytes} if they fit now. */
    boolean tryTake(long bytes);

    /** Gives back {@code bytes} taken before. */
    void giveBack(long bytes);

    /** A pool without limit, for a cache bounded by its own cap only. */
    Pool UNBOUNDED =
        new Pool() {
          @Override
          public boolean tryTake(long bytes) {
            return true;
          }

          @Override
          public void giveBack(long bytes) {}
        };
  }

  /** The pool of an install's admission: the node's decoded bytes. */
  static Pool of(TransferScheduler.Admission admission) {
    return new Pool() {
      @Override
      public boolean tryTake(long bytes) {
        return admission.tryKeepDecoded(bytes);
      }

      @Override
      public void giveBack(long bytes) {
        admission.releaseDecoded(bytes);
      }
    };
  }

  private final long capBytes;
  private final Pool pool;
  private final Map<ChunkId, Held> held = new HashMap<>();
  private long bytes;
  private boolean closed;
  private long kept;
  private long refused;
  private long refusedByPool;
  private long taken;

  private static final class Held {
    final byte[] raw;
    int uses;

    Held(byte[] raw, int uses) {
      this.raw = raw;
      this.uses = uses;
    }
  }

  /**
   * @param capBytes the most content bytes held at once; 0 keeps nothing
   */
  DecodedChunkCache(long capBytes) {
    this(capBytes, Pool.UNBOUNDED);
  }

  /**
   * @param capBytes the most content bytes held at once; 0 keeps nothing
   * @param pool where the bytes held come from (shared with other installs' caches)
   */
  DecodedChunkCache(long capBytes, Pool pool) {
    if (capBytes < 0) {
      throw new IllegalArgumentException("cap must be >= 0: " + capBytes);
    }
    this.capBytes = capBytes;
    this.pool = java.util.Objects.requireNonNull(pool, "pool");
  }

  /** The default cap: a sixteenth of the maximum heap, at most {@link #MAX_DEFAULT_CAP}. */
  static long defaultCap() {
    return Math.min(MAX_DEFAULT_CAP, Runtime.getRuntime().maxMemory() / 16);
  }

  /**
   * Keeps {@code raw}, the verified content of chunk {@code id}, for {@code uses} takes. Not kept
   * (returns false) if {@code uses} is not positive, the chunk is already held, the cache is
   * closed, or it would go over the cap. The caller gives up {@code raw}: nothing may modify it.
   */
  synchronized boolean offer(ChunkId id, byte[] raw, int uses) {
    if (uses <= 0 || closed || held.containsKey(id)) {
      return false;
    }
    if (raw.length > capBytes - bytes) {
      refused++;
      return false;
    }
    if (!pool.tryTake(raw.length)) {
      refusedByPool++;
      return false;
    }
    held.put(id, new Held(raw, uses));
    bytes += raw.length;
    kept++;
    return true;
  }

  /**
   * The content of chunk {@code id} if held, or {@code null}. The last of its uses drops it from
   * the cache. The caller must not modify the array.
   */
  synchronized byte[] take(ChunkId id) {
    Held h = held.get(id);
    if (h == null) {
      return null;
    }
    if (--h.uses == 0) {
      held.remove(id);
      bytes -= h.raw.length;
      pool.giveBack(h.raw.length);
    }
    taken++;
    return h.raw;
  }

  /** Drops everything held and keeps nothing from now on. Idempotent. */
  synchronized void close() {
    closed = true;
    held.clear();
    pool.giveBack(bytes);
    bytes = 0;
  }

  /** The content bytes held now. */
  synchronized long bytes() {
    return bytes;
  }

  /** The number of chunks held now. */
  synchronized int size() {
    return held.size();
  }

  /**
   * A one-line account for the install log: chunks kept, taken, refused for the cap and for the
   * node's pool.
   */
  synchronized String describe() {
    return kept
        + " chunks kept decoded, "
        + taken
        + " taken, "
        + refused
        + " over the cap, "
        + refusedByPool
        + " over the node's decoded bytes";
  }
}
