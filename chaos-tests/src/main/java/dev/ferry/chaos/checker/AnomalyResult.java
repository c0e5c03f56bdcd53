package dev.ferry.chaos.checker;

import java.util.List;

/**
 * What {@link CounterChecker} or {@link SetChecker} found.
 *
 * @param keys the keys checked, sorted
 * @param anomalies the anomalies found, by key then kind; empty if none
 * @param notes facts worth reporting that are not anomalies (keys skipped and why, final values and
 *     their bounds)
 */
public record AnomalyResult(List<String> keys, List<Anomaly> anomalies, List<String> notes) {
  /** Copies the lists. */
  public AnomalyResult {
    keys = List.copyOf(keys);
    anomalies = List.copyOf(anomalies);
    notes = List.copyOf(notes);
  }

  /** The anomalies of {@code kind}. */
  public List<Anomaly> anomalies(Anomaly.Kind kind) {
    return anomalies.stream().filter(a -> a.kind() == kind).toList();
  }
}
