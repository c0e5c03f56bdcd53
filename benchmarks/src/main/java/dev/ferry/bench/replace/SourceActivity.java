package dev.ferry.bench.replace;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.TreeSet;

/**
 * Which sources a node received from over time: samples of the bytes received so far from each
 * source (cumulative counters, e.g. the new node's {@code ferry_install_fetched_bytes_total} summed
 * over its groups), in time order. A source is <em>active</em> in an interval between two samples
 * when its bytes grew in it. Pure and immutable once built; not thread-safe while {@link #add} is
 * called.
 */
final class SourceActivity {
  private final List<Long> times = new ArrayList<>();
  private final List<Map<String, Long>> bytes = new ArrayList<>();

  /**
   * Adds a sample taken at {@code nanoTime}: the bytes received so far from each source.
   *
   * @throws IllegalArgumentException if the sample is older than the last one
   */
  void add(long nanoTime, Map<String, Long> cumulative) {
    if (!times.isEmpty() && nanoTime < times.get(times.size() - 1)) {
      throw new IllegalArgumentException("samples must come in time order");
    }
    times.add(nanoTime);
    bytes.add(new TreeMap<>(cumulative));
  }

  /** The sources whose bytes grew at all (from the first sample to the last), sorted. */
  List<String> distinct() {
    TreeSet<String> out = new TreeSet<>();
    for (int i = 1; i < bytes.size(); i++) {
      out.addAll(grew(i));
    }
    return List.copyOf(out);
  }

  /** The most sources active in one interval between consecutive samples (0 with < 2 samples). */
  int maxAtOnce() {
    int max = 0;
    for (int i = 1; i < bytes.size(); i++) {
      max = Math.max(max, grew(i).size());
    }
    return max;
  }

  /**
   * Seconds from the start of the first interval in which any source's bytes grew to the end of the
   * last such interval (0 if none grew): how long bytes flowed, give or take a sample period.
   */
  double activeSeconds() {
    int first = -1;
    int last = -1;
    for (int i = 1; i < bytes.size(); i++) {
      if (!grew(i).isEmpty()) {
        first = first < 0 ? i : first;
        last = i;
      }
    }
    return first < 0 ? 0 : (times.get(last) - times.get(first - 1)) / 1e9;
  }

  /** Bytes received from each source between the first sample and the last. */
  Map<String, Long> received() {
    Map<String, Long> out = new TreeMap<>();
    if (bytes.isEmpty()) {
      return out;
    }
    Map<String, Long> first = bytes.get(0);
    bytes
        .get(bytes.size() - 1)
        .forEach(
            (s, b) -> {
              long d = b - first.getOrDefault(s, 0L);
              if (d > 0) {
                out.put(s, d);
              }
            });
    return out;
  }

  /**
   * The timeline for the report: one row per interval, {@code [seconds from zero at its end, number
   * of active sources, {source: bytes in the interval}]}.
   */
  List<List<Object>> timeline(long zero) {
    List<List<Object>> rows = new ArrayList<>();
    for (int i = 1; i < bytes.size(); i++) {
      Map<String, Long> d = new LinkedHashMap<>();
      Map<String, Long> before = bytes.get(i - 1);
      bytes
          .get(i)
          .forEach(
              (s, b) -> {
                long g = b - before.getOrDefault(s, 0L);
                if (g > 0) {
                  d.put(s, g);
                }
              });
      rows.add(List.of(Math.round((times.get(i) - zero) / 1e7) / 100.0, d.size(), d));
    }
    return rows;
  }

  private List<String> grew(int i) {
    Map<String, Long> before = bytes.get(i - 1);
    List<String> out = new ArrayList<>();
    bytes
        .get(i)
        .forEach(
            (s, b) -> {
              if (b > before.getOrDefault(s, 0L)) {
                out.add(s);
              }
            });
    return out;
  }
}
