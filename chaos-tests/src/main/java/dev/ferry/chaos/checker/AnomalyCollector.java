package dev.ferry.chaos.checker;

import dev.ferry.chaos.history.Op;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;

/** Gathers the findings on one key into at most one {@link Anomaly} per kind. */
final class AnomalyCollector {
  private final String key;
  private final Map<Anomaly.Kind, List<String>> examples = new EnumMap<>(Anomaly.Kind.class);
  private final Map<Anomaly.Kind, List<Op>> ops = new EnumMap<>(Anomaly.Kind.class);

  AnomalyCollector(String key) {
    this.key = key;
  }

  /** Records one finding: what was seen, and the operations that show it. */
  void add(Anomaly.Kind kind, String example, List<Op> involved) {
    examples.computeIfAbsent(kind, k -> new ArrayList<>()).add(example);
    List<Op> list = ops.computeIfAbsent(kind, k -> new ArrayList<>());
    for (Op op : involved) {
      if (list.size() < Anomaly.MAX_OPS && !list.contains(op)) {
        list.add(op);
      }
    }
  }

  /** The anomalies, one per kind found, in kind order. */
  List<Anomaly> anomalies() {
    List<Anomaly> anomalies = new ArrayList<>();
    for (Map.Entry<Anomaly.Kind, List<String>> e : examples.entrySet()) {
      List<String> found = e.getValue();
      String description =
          found.size() == 1 ? found.get(0) : found.size() + " cases, first: " + found.get(0);
      List<Op> involved = new ArrayList<>(ops.get(e.getKey()));
      involved.sort(Comparator.comparingLong(Op::invokeNanos));
      anomalies.add(new Anomaly(e.getKey(), key, description, involved));
    }
    return anomalies;
  }
}
