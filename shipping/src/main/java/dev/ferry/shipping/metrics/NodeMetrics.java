package dev.ferry.shipping.metrics;

import io.prometheus.metrics.core.metrics.CounterWithCallback;
import io.prometheus.metrics.core.metrics.GaugeWithCallback;
import io.prometheus.metrics.core.metrics.Histogram;
import io.prometheus.metrics.instrumentation.jvm.JvmMetrics;
import io.prometheus.metrics.model.registry.PrometheusRegistry;
import io.prometheus.metrics.model.snapshots.Labels;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;
import java.util.function.DoubleSupplier;
import java.util.function.LongSupplier;

/**
 * The Prometheus metrics of one node: a {@link PrometheusRegistry} whose every series carries the
 * label {@code node} (the node's id), and one-line registration of metrics read from statistics
 * kept elsewhere. Figures a component already counts are exported by callbacks that read them at
 * scrape time ({@link #counter(String, String, LongSupplier)}, {@link #gauge}); only what cannot be
 * read that way (histograms) is recorded here.
 *
 * <p>Adding a counter the code already keeps is one line:
 *
 * <pre>{@code
 * metrics.counter("ferry_chunk_connections_refused_total", "Connections refused.",
 *     () -> chunkServer.stats().connectionsRefused());
 * }</pre>
 *
 * <p>Names follow Prometheus conventions: {@code ferry_} prefix, base units (seconds, bytes),
 * counters end in {@code _total}. A name can be registered once per registry ({@link
 * IllegalArgumentException} otherwise). Callbacks run on the scraping thread: they must be cheap,
 * must not block, and may be called concurrently with the code whose statistics they read.
 * Thread-safe.
 */
public final class NodeMetrics {
  private final String node;
  private final PrometheusRegistry registry;
  private final Labels nodeLabel;

  /** The metrics of node {@code node}, in a new registry. */
  public NodeMetrics(String node) {
    this(node, new PrometheusRegistry());
  }

  /** The metrics of node {@code node}, in {@code registry}. */
  public NodeMetrics(String node, PrometheusRegistry registry) {
    this.node = Objects.requireNonNull(node, "node");
    this.registry = Objects.requireNonNull(registry, "registry");
    this.nodeLabel = Labels.of("node", node);
  }

  /** The node id every series is labelled with. */
  public String node() {
    return node;
  }

  /** The registry (what {@code /metrics} serves). */
  public PrometheusRegistry registry() {
    return registry;
  }

  /** A counter read from {@code value} at every scrape (a count that only grows). */
  public void counter(String name, String help, LongSupplier value) {
    counters(name, help, List.of(), cb -> cb.call(value.getAsLong()));
  }

  /** A gauge read from {@code value} at every scrape. */
  public void gauge(String name, String help, DoubleSupplier value) {
    gauges(name, help, List.of(), cb -> cb.call(value.getAsDouble()));
  }

  /** A counter with one series per entry of {@code counts}, labelled by its label names. */
  public void counter(String name, String help, LabelledCounts counts) {
    counters(
        name,
        help,
        counts.labelNames(),
        cb -> counts.forEach((values, n) -> cb.call(n, values.toArray(String[]::new))));
  }

  /**
   * A labelled counter: at every scrape {@code callback} reports each series (label values in the
   * order of {@code labelNames}); a series it does not report is not exported.
   */
  public void counters(
      String name,
      String help,
      List<String> labelNames,
      Consumer<CounterWithCallback.Callback> callback) {
    CounterWithCallback.builder()
        .name(name)
        .help(help)
        .constLabels(nodeLabel)
        .labelNames(labelNames.toArray(String[]::new))
        .callback(callback)
        .register(registry);
  }

  /** A labelled gauge, like {@link #counters}. */
  public void gauges(
      String name, String help, List<String> labelNames, Consumer<GaugeWithCallback.Callback> cb) {
    GaugeWithCallback.builder()
        .name(name)
        .help(help)
        .constLabels(nodeLabel)
        .labelNames(labelNames.toArray(String[]::new))
        .callback(cb)
        .register(registry);
  }

  /**
   * A histogram recorded here (classic buckets only, which the text format carries).
   *
   * @param upperBounds the buckets' upper bounds, ascending (a {@code +Inf} bucket is added)
   */
  public Histogram histogram(String name, String help, double[] upperBounds, String... labelNames) {
    return Histogram.builder()
        .name(name)
        .help(help)
        .constLabels(nodeLabel)
        .labelNames(labelNames)
        .classicOnly()
        .classicUpperBounds(upperBounds)
        .register(registry);
  }

  /**
   * Registers the JVM's metrics (memory, garbage collection, threads, class loading, process CPU
   * and file descriptors) under their standard {@code jvm_} and {@code process_} names, labelled
   * with the node too.
   */
  public void jvm() {
    JvmMetrics.builder().constLabels(nodeLabel).register(registry);
  }

  /** Upper bounds {@code start, start*factor, ...}: {@code count} of them. */
  public static double[] exponentialBounds(double start, double factor, int count) {
    List<Double> b = new ArrayList<>();
    double v = start;
    for (int i = 0; i < count; i++) {
      b.add(v);
      v *= factor;
    }
    return b.stream().mapToDouble(Double::doubleValue).toArray();
  }
}
