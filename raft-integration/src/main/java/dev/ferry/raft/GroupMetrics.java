package dev.ferry.raft;

import dev.ferry.shipping.metrics.NodeMetrics;
import io.prometheus.metrics.model.registry.MultiCollector;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.CounterSnapshot.CounterDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.DataPointSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot.GaugeDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot;
import io.prometheus.metrics.model.snapshots.HistogramSnapshot.HistogramDataPointSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * The series of a node's groups in its one scrape. Each group of a {@link FerryNode} registers its
 * metrics in a registry of its own (the same names in every group, told apart by the label {@code
 * group}), since a name can be registered only once per registry; this collector, registered in the
 * node's registry, scrapes the groups' registries and merges the series of each name into one
 * family. Counters, gauges and histograms (all that Ferry registers per group) are merged; of any
 * other type, the first group's family is kept. Thread-safe: runs on the scraping thread.
 */
final class GroupMetrics implements MultiCollector {
  private final Supplier<Collection<NodeMetrics>> groups;

  /**
   * @param groups the metrics of the groups hosted now, read at every scrape
   */
  GroupMetrics(Supplier<Collection<NodeMetrics>> groups) {
    this.groups = groups;
  }

  @Override
  public MetricSnapshots collect() {
    Map<String, List<MetricSnapshot>> byName = new LinkedHashMap<>();
    for (NodeMetrics g : groups.get()) {
      for (MetricSnapshot s : g.registry().scrape()) {
        byName.computeIfAbsent(s.getMetadata().getPrometheusName(), n -> new ArrayList<>()).add(s);
      }
    }
    List<MetricSnapshot> merged = new ArrayList<>(byName.size());
    byName.values().forEach(family -> merged.add(merge(family)));
    return new MetricSnapshots(merged);
  }

  /** One family of the same-named families of several groups. */
  static MetricSnapshot merge(List<MetricSnapshot> family) {
    MetricSnapshot first = family.get(0);
    if (family.size() == 1) {
      return first;
    }
    if (first instanceof CounterSnapshot) {
      return new CounterSnapshot(
          first.getMetadata(), points(family, CounterDataPointSnapshot.class));
    }
    if (first instanceof GaugeSnapshot) {
      return new GaugeSnapshot(first.getMetadata(), points(family, GaugeDataPointSnapshot.class));
    }
    if (first instanceof HistogramSnapshot h) {
      return new HistogramSnapshot(
          h.isGaugeHistogram(),
          first.getMetadata(),
          points(family, HistogramDataPointSnapshot.class));
    }
    return first;
  }

  private static <P extends DataPointSnapshot> List<P> points(
      List<MetricSnapshot> family, Class<P> type) {
    List<P> out = new ArrayList<>();
    for (MetricSnapshot s : family) {
      for (DataPointSnapshot p : s.getDataPoints()) {
        if (type.isInstance(p)) {
          out.add(type.cast(p));
        }
      }
    }
    return out;
  }
}
