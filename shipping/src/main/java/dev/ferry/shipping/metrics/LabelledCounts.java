package dev.ferry.shipping.metrics;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.BiConsumer;

/**
 * Event counts by a fixed set of labels (for example an outcome and its reason), kept where the
 * events happen and exported by a callback ({@link NodeMetrics#counter(String, String,
 * LabelledCounts)}). Label values are free text chosen by the code that counts, never by a peer, so
 * the number of series stays bounded. Thread-safe; counting never blocks.
 */
public final class LabelledCounts {
  private final List<String> labelNames;
  private final Map<List<String>, LongAdder> counts = new ConcurrentHashMap<>();

  /**
   * @param labelNames the names of the labels every count carries, in order
   * @throws IllegalArgumentException if there are none
   */
  public LabelledCounts(String... labelNames) {
    if (labelNames.length == 0) {
      throw new IllegalArgumentException("at least one label name is required");
    }
    this.labelNames = List.of(labelNames);
  }

  /** The label names, in order. */
  public List<String> labelNames() {
    return labelNames;
  }

  /**
   * Makes the series {@code values} exist with a count of 0 (so that it is exported before its
   * first event); no effect if it exists.
   */
  public void init(String... values) {
    counts.computeIfAbsent(key(values), k -> new LongAdder());
  }

  /** Counts one event with these label values. */
  public void inc(String... values) {
    counts.computeIfAbsent(key(values), k -> new LongAdder()).increment();
  }

  /** The count of the series {@code values} (0 if it does not exist). */
  public long get(String... values) {
    LongAdder a = counts.get(key(values));
    return a == null ? 0 : a.sum();
  }

  /** Calls {@code action} with every series' label values and count, in no particular order. */
  public void forEach(BiConsumer<List<String>, Long> action) {
    counts.forEach((k, v) -> action.accept(k, v.sum()));
  }

  private List<String> key(String... values) {
    if (values.length != labelNames.size()) {
      throw new IllegalArgumentException(
          "expected values for " + labelNames + ", got " + Arrays.toString(values));
    }
    for (String v : values) {
      Objects.requireNonNull(v, "label value");
    }
    return List.of(values);
  }
}
