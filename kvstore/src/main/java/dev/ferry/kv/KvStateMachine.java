package dev.ferry.kv;

import dev.ferry.kv.internal.KvCodec;
import dev.ferry.kv.internal.PersistentSortedMap;
import dev.ferry.statemachine.ApplyContext;
import dev.ferry.statemachine.KeyRangeLayout;
import dev.ferry.statemachine.ReportsChanges;
import dev.ferry.statemachine.ShardLayout;
import dev.ferry.statemachine.StateLoader;
import dev.ferry.statemachine.StateMachine;
import dev.ferry.statemachine.StateView;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.PriorityQueue;

/**
 * The replicated key-value store's state machine, built only on Ferry's public API.
 *
 * <p>State: one persistent (immutable, structurally shared) sorted map per shard; by default shards
 * are a hash of the key ({@link #defaultLayout()}), or key ranges when given a {@link
 * KeyRangeLayout}. A point-in-time view is a copy of the array of map roots: O(number of shards).
 * Every change is reported, so the digest is incremental and snapshots are layered.
 *
 * <p>Loading: shards load in parallel, one map per shard; a delta install edits the maps of the
 * node's previous snapshot (structure-shared, so the old view stays intact) with only the changed
 * records.
 *
 * <p>Concurrency: {@link #apply} runs on Ratis's apply thread; queries read the current array of
 * immutable maps (published through a volatile field) from any thread.
 */
public final class KvStateMachine implements StateMachine, ReportsChanges {
  private final ShardLayout shardLayout;
  private volatile PersistentSortedMap[] shards;
  private final byte[] corruptKey;

  /** A store with the default shard layout ({@link #defaultLayout()}). */
  public KvStateMachine() {
    this(defaultLayout());
  }

  /** A store with a given shard layout (the same on every replica, for the life of the data). */
  public KvStateMachine(ShardLayout layout) {
    this(layout, null);
  }

  private KvStateMachine(ShardLayout layout, byte[] corruptKey) {
    this.shardLayout = java.util.Objects.requireNonNull(layout, "layout");
    this.shards = emptyShards(layout.names().size());
    this.corruptKey = corruptKey == null ? null : corruptKey.clone();
  }

  /**
   * For tests only: a replica that diverges. Whenever it applies a put of {@code key} (single or
   * batched) it stores, and reports to its digest, the value with its first byte flipped: a
   * deterministic stand-in for a replica whose state went wrong, caught by digest checkpoints.
   */
  static KvStateMachine corruptingForTest(byte[] key) {
    return new KvStateMachine(defaultLayout(), key.clone());
  }

  private byte[] maybeCorrupt(byte[] key, byte[] value) {
    if (corruptKey == null
        || value == null
        || value.length == 0
        || !Arrays.equals(key, corruptKey)) {
      return value;
    }
    byte[] bad = value.clone();
    bad[0] ^= 1;
    return bad;
  }

  /**
   * Sixteen shards by a hash of the key ({@link ShardLayout#byHash}): keys of any distribution
   * (common prefixes, sequential ids) spread evenly, so a snapshot loads on every core. Scans merge
   * the sixteen shards. (Until 2026-12 the default was sixteen first-byte ranges over {@code
   * '0'..'z'}; data written with it needs that layout, {@link #firstByteRanges()}.)
   */
  public static ShardLayout defaultLayout() {
    return ShardLayout.byHash(16);
  }

  /** Sixteen key ranges split on the first byte, evenly over {@code '0'..'z'}. */
  public static KeyRangeLayout firstByteRanges() {
    List<byte[]> splits = new ArrayList<>();
    int lo = '0';
    int hi = 'z' + 1;
    for (int i = 1; i < 16; i++) {
      splits.add(new byte[] {(byte) (lo + i * (hi - lo) / 16)});
    }
    return new KeyRangeLayout(splits);
  }

  private static PersistentSortedMap[] emptyShards(int n) {
    PersistentSortedMap[] s = new PersistentSortedMap[n];
    Arrays.fill(s, PersistentSortedMap.empty());
    return s;
  }

  /** The shard layout given at construction. */
  @Override
  public ShardLayout layout() {
    return shardLayout;
  }

  /** Number of keys in the live state. */
  public long size() {
    long n = 0;
    for (PersistentSortedMap m : shards) {
      n += m.size();
    }
    return n;
  }

  @Override
  public byte[] apply(byte[] command, ApplyContext ctx) {
    if (command.length > 0 && command[0] == KvCodec.PUT_ALL) {
      List<byte[][]> entries = KvCodec.decodePutAll(command);
      for (byte[][] e : entries) {
        int shard = shardLayout.shardOf(e[0]);
        byte[] value = maybeCorrupt(e[0], e[1]);
        PersistentSortedMap.Update u = shards[shard].getAndPut(e[0], value);
        set(shard, u.map());
        ctx.changed(e[0], u.previous(), value);
      }
      return ByteBuffer.allocate(Integer.BYTES).putInt(entries.size()).array();
    }
    KvCodec.Op op = KvCodec.decode(command);
    int shard = shardLayout.shardOf(op.key());
    PersistentSortedMap m = shards[shard];
    byte[] old = m.get(op.key());
    switch (op.kind()) {
      case KvCodec.PUT -> {
        byte[] value = maybeCorrupt(op.key(), op.value());
        set(shard, m.put(op.key(), value));
        ctx.changed(op.key(), old, value);
        return KvCodec.existed(old != null);
      }
      case KvCodec.DELETE -> {
        if (old != null) {
          set(shard, m.remove(op.key()));
          ctx.changed(op.key(), old, null);
        }
        return KvCodec.existed(old != null);
      }
      case KvCodec.CAS -> {
        boolean matches =
            op.expected() == null ? old == null : old != null && Arrays.equals(old, op.expected());
        if (!matches) {
          return KvCodec.valueReply(false, old);
        }
        if (op.value() == null) {
          if (old != null) {
            set(shard, m.remove(op.key()));
            ctx.changed(op.key(), old, null);
          }
        } else {
          set(shard, m.put(op.key(), op.value()));
          ctx.changed(op.key(), old, op.value());
        }
        return KvCodec.valueReply(true, op.value());
      }
      case KvCodec.INCREMENT -> {
        if (old != null && old.length != Long.BYTES) {
          throw new IllegalArgumentException("value is not a 64-bit counter");
        }
        long now =
            (old == null ? 0 : ByteBuffer.wrap(old).getLong())
                + ByteBuffer.wrap(op.value()).getLong();
        byte[] value = ByteBuffer.allocate(Long.BYTES).putLong(now).array();
        set(shard, m.put(op.key(), value));
        ctx.changed(op.key(), old, value);
        return value;
      }
      default -> throw new IllegalArgumentException("not a command: kind " + op.kind());
    }
  }

  /** Publishes a new version of one shard (apply thread only). */
  private void set(int shard, PersistentSortedMap m) {
    PersistentSortedMap[] next = shards.clone();
    next[shard] = m;
    shards = next;
  }

  @Override
  public byte[] query(byte[] request) {
    KvCodec.Op op = KvCodec.decode(request);
    PersistentSortedMap[] s = shards;
    switch (op.kind()) {
      case KvCodec.GET -> {
        byte[] v = s[shardLayout.shardOf(op.key())].get(op.key());
        return KvCodec.valueReply(v != null, v);
      }
      case KvCodec.SCAN -> {
        if (op.key() != null && op.to() != null && Arrays.compareUnsigned(op.key(), op.to()) >= 0) {
          return KvCodec.scanReply(List.of()); // an empty range
        }
        return KvCodec.scanReply(
            shardLayout instanceof KeyRangeLayout r
                ? scanRanges(r, s, op.key(), op.to(), op.limit())
                : scanMerged(s, op.key(), op.to(), op.limit()));
      }
      default -> throw new IllegalArgumentException("not a query: kind " + op.kind());
    }
  }

  /** Walks the key shardLayout in order from the one holding {@code from}. */
  private static List<byte[][]> scanRanges(
      KeyRangeLayout r, PersistentSortedMap[] s, byte[] from, byte[] to, int limit) {
    List<byte[][]> out = new ArrayList<>();
    int first = from == null ? 0 : r.shardOf(from);
    for (int i = first; i < s.length && out.size() < limit; i++) {
      Iterator<PersistentSortedMap.Entry> it = s[i].range(from, to);
      while (it.hasNext() && out.size() < limit) {
        PersistentSortedMap.Entry e = it.next();
        out.add(new byte[][] {e.key(), e.value()});
      }
      byte[] upper = r.upperBound(i);
      if (to != null && upper != null && Arrays.compareUnsigned(upper, to) >= 0) {
        break;
      }
    }
    return out;
  }

  /** Merges every shard's part of [from, to) in key order (shards by hash are not shardLayout). */
  private static List<byte[][]> scanMerged(
      PersistentSortedMap[] s, byte[] from, byte[] to, int limit) {
    record Head(PersistentSortedMap.Entry entry, Iterator<PersistentSortedMap.Entry> rest) {}
    PriorityQueue<Head> heads =
        new PriorityQueue<>((a, b) -> Arrays.compareUnsigned(a.entry.key(), b.entry.key()));
    for (PersistentSortedMap m : s) {
      Iterator<PersistentSortedMap.Entry> it = m.range(from, to);
      if (it.hasNext()) {
        heads.add(new Head(it.next(), it));
      }
    }
    List<byte[][]> out = new ArrayList<>();
    while (!heads.isEmpty() && out.size() < limit) {
      Head h = heads.poll();
      out.add(new byte[][] {h.entry.key(), h.entry.value()});
      if (h.rest.hasNext()) {
        heads.add(new Head(h.rest.next(), h.rest));
      }
    }
    return out;
  }

  @Override
  public StateView view() {
    return new View(this, shards);
  }

  /** A point-in-time view: the array of shard roots of one moment (never modified). */
  private record View(KvStateMachine owner, PersistentSortedMap[] roots) implements StateView {
    @Override
    public void writeShard(int shard, dev.ferry.statemachine.RecordSink sink)
        throws java.io.IOException {
      Iterator<PersistentSortedMap.Entry> it = roots[shard].iterator();
      while (it.hasNext()) {
        PersistentSortedMap.Entry e = it.next();
        sink.put(e.key(), e.value());
      }
    }
  }

  @Override
  public StateLoader newLoader() {
    PersistentSortedMap[] loaded = emptyShards(shardLayout.names().size());
    return new StateLoader() {
      @Override
      public void loadShard(int shard, Iterator<Record> records) {
        PersistentSortedMap.Builder b = PersistentSortedMap.builder();
        while (records.hasNext()) {
          Record r = records.next();
          if (shardLayout.shardOf(r.key()) != shard) {
            throw new IllegalArgumentException("snapshot has a key of another shard in " + shard);
          }
          b.add(r.key(), r.value());
        }
        loaded[shard] = b.build();
      }

      @Override
      public ShardEditor editShard(int shard, StateView base) {
        if (!(base instanceof View v) || v.owner() != KvStateMachine.this) {
          return null;
        }
        return new ShardEditor() {
          private PersistentSortedMap map = v.roots()[shard];

          @Override
          public byte[] set(byte[] key, byte[] value) {
            if (shardLayout.shardOf(key) != shard) {
              throw new IllegalArgumentException("snapshot has a key of another shard in " + shard);
            }
            PersistentSortedMap.Update u =
                value == null ? map.getAndRemove(key) : map.getAndPut(key, value);
            map = u.map();
            return u.previous();
          }

          @Override
          public void finish() {
            loaded[shard] = map;
          }
        };
      }

      @Override
      public void commit() {
        shards = loaded.clone();
      }

      @Override
      public void abort() {
        Arrays.fill(loaded, null);
      }
    };
  }
}
