package dev.ferry.chaos.checker;

import dev.ferry.chaos.history.Op;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** What the checkers do alike with a list of operations. Stateless. */
final class HistoryOps {
  private HistoryOps() {}

  /** The operations grouped by key, keys in order, each group in the given order. */
  static Map<String, List<Op>> byKey(List<Op> ops) {
    Map<String, List<Op>> byKey = new TreeMap<>();
    for (Op op : ops) {
      byKey.computeIfAbsent(op.key(), k -> new ArrayList<>()).add(op);
    }
    return byKey;
  }

  /** The earliest invocation time, the zero of the times the reports print (0 if none). */
  static long origin(List<Op> ops) {
    return ops.stream().mapToLong(Op::invokeNanos).min().orElse(0);
  }
}
