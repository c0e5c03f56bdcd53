package dev.ferry.statemachine.replica;

import dev.ferry.statemachine.ReportsChanges;
import dev.ferry.statemachine.ShardLayout;
import dev.ferry.statemachine.StateView;
import dev.ferry.statemachine.internal.ByteKey;
import java.io.IOException;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Checks that a {@link ReportsChanges} state machine reported what it changed: the view at the
 * previous capture, with the reported changes since, must be exactly the view now. A change that
 * was not reported would make the incremental digest (and the layered snapshots) silently differ
 * from the state; this names the first key where they part.
 *
 * <p>Runs on the capture thread, holding one shard's expected records in memory at a time.
 */
final class ChangeCheck {
  private final ShardLayout layout;
  private final StateView before;
  private final List<Map<ByteKey, byte[]>> changes;
  private final byte[] tombstone;
  private final StateView after;
  private final long index;

  /**
   * @param before the view at the previous capture, or {@code null} for the empty state
   * @param changes per shard, what was reported since (by key; {@code tombstone} for deleted)
   * @param after the view at {@code index}
   */
  ChangeCheck(
      ShardLayout layout,
      StateView before,
      List<Map<ByteKey, byte[]>> changes,
      byte[] tombstone,
      StateView after,
      long index) {
    this.layout = layout;
    this.before = before;
    this.changes = changes;
    this.tombstone = tombstone;
    this.after = after;
    this.index = index;
  }

  /**
   * Compares every shard.
   *
   * @throws UnreportedChangeException naming the first key (hex) whose value in the view differs
   *     from what was reported
   * @throws IOException if a view could not be read
   */
  void verify() throws IOException {
    for (int shard = 0; shard < layout.names().size(); shard++) {
      TreeMap<ByteKey, byte[]> expected = new TreeMap<>();
      if (before != null) {
        before.writeShard(shard, (k, v) -> expected.put(new ByteKey(k), v));
      }
      for (Map.Entry<ByteKey, byte[]> c : changes.get(shard).entrySet()) {
        if (c.getValue() == tombstone) {
          expected.remove(c.getKey());
        } else {
          expected.put(c.getKey(), c.getValue());
        }
      }
      Iterator<Map.Entry<ByteKey, byte[]>> want = expected.entrySet().iterator();
      int s = shard;
      after.writeShard(
          shard,
          (key, value) -> {
            Map.Entry<ByteKey, byte[]> w = want.hasNext() ? want.next() : null;
            ByteKey k = new ByteKey(key);
            if (w != null && w.getKey().compareTo(k) < 0) {
              throw mismatch(s, w.getKey().bytes(), w.getValue(), null);
            }
            if (w == null || w.getKey().compareTo(k) > 0) {
              throw mismatch(s, key, null, value);
            }
            if (!Arrays.equals(w.getValue(), value)) {
              throw mismatch(s, key, w.getValue(), value);
            }
          });
      if (want.hasNext()) {
        Map.Entry<ByteKey, byte[]> w = want.next();
        throw mismatch(shard, w.getKey().bytes(), w.getValue(), null);
      }
    }
  }

  private UnreportedChangeException mismatch(
      int shard, byte[] key, byte[] reported, byte[] inView) {
    HexFormat hex = HexFormat.of();
    return new UnreportedChangeException(
        "state machine changed key "
            + hex.formatHex(key)
            + " (shard "
            + layout.names().get(shard)
            + ") without reporting it through ApplyContext.changed, as of index "
            + index
            + ": reported "
            + (reported == null ? "absent" : hex.formatHex(reported))
            + ", its view holds "
            + (inView == null ? "absent" : hex.formatHex(inView)));
  }

  /** A {@link ReportsChanges} state machine changed a key without reporting it. */
  static final class UnreportedChangeException extends IllegalStateException {
    private static final long serialVersionUID = 1L;

    UnreportedChangeException(String message) {
      super(message);
    }
  }
}
