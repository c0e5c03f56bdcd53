package dev.ferry.bench.recovery;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * Writes a run's results: a Markdown table ({@code results.md}, also printed), a JSON file ({@code
 * results.json}) and PNG charts of bytes over time per source ({@code <id>-sources.png}) for every
 * measurement that recorded progress. The benchmark writes it after every scenario, so the results
 * of finished scenarios survive a later failure; a scenario that failed is a row of its own, and
 * charts are drawn last, each on its own, so a chart that cannot be drawn loses nothing else.
 */
final class Report {
  /** A scenario that failed, and why. */
  record Failure(String scenario, String message) {
    Failure {
      java.util.Objects.requireNonNull(scenario, "scenario");
      message = message == null ? "" : message;
    }
  }

  /**
   * Interleaved Ratis/Ferry repetitions of one comparison; {@code null} where a repetition failed.
   *
   * @param id short stable name
   * @param label what is compared
   * @param ratis Ratis's seconds per repetition
   * @param ferry Ferry's seconds per repetition
   */
  record Pairs(String id, String label, List<Double> ratis, List<Double> ferry) {
    Pairs {
      ratis = java.util.Collections.unmodifiableList(new ArrayList<>(ratis));
      ferry = java.util.Collections.unmodifiableList(new ArrayList<>(ferry));
    }

    /** Ratis ÷ Ferry of every repetition where both finished ("× faster than Ratis"). */
    List<Double> ratios() {
      List<Double> r = new ArrayList<>();
      for (int i = 0; i < Math.min(ratis.size(), ferry.size()); i++) {
        if (ratis.get(i) != null && ferry.get(i) != null) {
          r.add(ratis.get(i) / ferry.get(i));
        }
      }
      return r;
    }

    double median() {
      return Report.median(ratios());
    }

    double min() {
      return ratios().stream().mapToDouble(Double::doubleValue).min().orElse(Double.NaN);
    }

    double max() {
      return ratios().stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN);
    }
  }

  private final Map<String, Object> meta;
  private final List<Measurement> rows;
  private final List<Failure> failures;
  private final List<Pairs> pairs;

  Report(Map<String, Object> meta, List<Measurement> rows) {
    this(meta, rows, List.of(), List.of());
  }

  Report(
      Map<String, Object> meta, List<Measurement> rows, List<Failure> failures, List<Pairs> pairs) {
    this.meta = java.util.Collections.unmodifiableMap(new java.util.LinkedHashMap<>(meta));
    this.rows = List.copyOf(rows);
    this.failures = List.copyOf(failures);
    this.pairs = List.copyOf(pairs);
  }

  Optional<Measurement> find(String id) {
    return rows.stream().filter(m -> m.id().equals(id)).findFirst();
  }

  List<Failure> failures() {
    return failures;
  }

  List<Pairs> pairs() {
    return pairs;
  }

  Optional<Pairs> pairs(String id) {
    return pairs.stream().filter(p -> p.id().equals(id)).findFirst();
  }

  /** Writes the table and the JSON file into {@code out} (not the charts); returns the table. */
  String write(Path out) throws IOException {
    Files.createDirectories(out);
    String table = table();
    Files.writeString(out.resolve("results.md"), table, StandardCharsets.UTF_8);
    Files.writeString(out.resolve("results.json"), json(), StandardCharsets.UTF_8);
    return table;
  }

  /**
   * Draws the charts into {@code out}, each on its own: a chart that fails is reported on stderr
   * and skipped. Never throws.
   */
  void writeCharts(Path out) {
    for (Measurement m : rows) {
      if (!m.progress().isEmpty()) {
        try {
          chart(m, out.resolve(m.id() + "-sources.png"));
        } catch (Throwable e) { // a chart is never worth the results: AWT errors included
          System.err.println("[recovery] chart for " + m.id() + " failed: " + e);
        }
      }
    }
  }

  /** Ratis's median time of its cold joins (a, a.2, ...) over this one's, or NaN. */
  double vsRatis(Measurement m) {
    List<Double> a =
        rows.stream().filter(r -> r.id().matches("a(\\.\\d+)?")).map(Measurement::seconds).toList();
    return a.isEmpty() ? Double.NaN : median(a) / m.seconds();
  }

  static double median(List<Double> values) {
    if (values.isEmpty()) {
      return Double.NaN;
    }
    List<Double> v = new ArrayList<>(values);
    java.util.Collections.sort(v);
    int n = v.size();
    return n % 2 == 1 ? v.get(n / 2) : (v.get(n / 2 - 1) + v.get(n / 2)) / 2;
  }

  /** This one's raw throughput as a fraction of the raw limit's, or NaN. */
  double vsRaw(Measurement m) {
    return find("d").map(d -> m.megabytesPerSecond() / d.megabytesPerSecond()).orElse(Double.NaN);
  }

  String table() {
    StringBuilder b = new StringBuilder();
    b.append(
        "| scenario | time s | on the wire MB | state MB | state MB/s | × faster than Ratis"
            + " | of raw limit | notes |\n");
    b.append("|---|---|---|---|---|---|---|---|\n");
    for (Measurement m : rows) {
      boolean join = m.id().matches("(a|b|e|f)([.].*)?");
      b.append(
          String.format(
              Locale.ROOT,
              "| %s | %.2f | %s | %.1f | %.1f | %s | %s | %s |%n",
              m.label(),
              m.seconds(),
              m.wireBytes() < 0 ? "–" : String.format(Locale.ROOT, "%.1f", m.wireBytes() / 1e6),
              m.stateBytes() / 1e6,
              m.megabytesPerSecond(),
              join && !m.id().matches("a(\\.\\d+)?") ? ratio(vsRatis(m)) : "",
              join || m.id().equals("d") ? percent(vsRaw(m)) : "",
              notes(m)));
    }
    for (Failure f : failures) {
      b.append("| ")
          .append(cell(f.scenario()))
          .append(": FAILED | | | | | | | ")
          .append(cell(f.message()))
          .append(" |\n");
    }
    phases(b);
    if (!pairs.isEmpty()) {
      b.append("\nRatis time ÷ Ferry time over interleaved pairs (× faster than Ratis):\n\n");
      b.append("| comparison | pairs | median | min | max | Ratis s | Ferry s |\n");
      b.append("|---|---|---|---|---|---|---|\n");
      for (Pairs p : pairs) {
        b.append(
            String.format(
                Locale.ROOT,
                "| %s | %d | %s | %s | %s | %s | %s |%n",
                p.label(),
                p.ratios().size(),
                ratio2(p.median()),
                ratio2(p.min()),
                ratio2(p.max()),
                seconds(p.ratis()),
                seconds(p.ferry())));
      }
    }
    return b.toString();
  }

  /** A table of the restart phases of every row that has them (restart-delta1, c). */
  private void phases(StringBuilder b) {
    List<Measurement> with =
        rows.stream().filter(m -> m.extra().containsKey("phasesFrom")).toList();
    if (with.isEmpty()) {
      return;
    }
    List<String> keys = new ArrayList<>();
    for (Measurement m : with) {
      for (String k : m.extra().keySet()) {
        if (k.startsWith("phase.") && !keys.contains(k)) {
          keys.add(k);
        }
      }
    }
    b.append("\nRestart phases, seconds (from the state machine's timeline, or observed from")
        .append(" outside where the core has none):\n\n| scenario | from | ");
    for (String k : keys) {
      b.append(k.substring(6)).append(" | ");
    }
    b.append("total | total − (start→init + local load + contact) |\n|---|---|");
    b.append("---|".repeat(keys.size() + 2)).append('\n');
    for (Measurement m : with) {
      b.append("| ")
          .append(m.label())
          .append(" | ")
          .append(m.extra().get("phasesFrom"))
          .append(" | ");
      for (String k : keys) {
        b.append(m.extra().get(k) instanceof Double d ? String.format(Locale.ROOT, "%.2f", d) : "")
            .append(" | ");
      }
      b.append(String.format(Locale.ROOT, "%.2f | ", m.seconds()))
          .append(
              m.extra().get("targetSeconds") instanceof Double t
                  ? String.format(Locale.ROOT, "%.2f", t)
                  : "")
          .append(" |\n");
    }
  }

  private static String cell(String s) {
    return s.replace("|", "\\|").replace("\r", " ").replace("\n", " ");
  }

  private static String seconds(List<Double> v) {
    List<String> s = new ArrayList<>();
    for (Double d : v) {
      s.add(d == null ? "failed" : String.format(Locale.ROOT, "%.2f", d));
    }
    return String.join(", ", s);
  }

  private static String ratio2(double r) {
    return Double.isNaN(r) ? "" : String.format(Locale.ROOT, "%.2f×", r);
  }

  private static String notes(Measurement m) {
    List<String> n = new ArrayList<>();
    if (m.extra().get("fetchedOverChangedPlusManifest") instanceof Double r) {
      n.add(String.format(Locale.ROOT, "fetched / (changed raw + manifest) = %.2f", r));
    }
    if (m.extra().get("bytesHeld") instanceof Long held
        && m.extra().get("bytesWanted") instanceof Long wanted
        && wanted > 0
        && held < wanted / 2) {
      n.add(
          String.format(
              Locale.ROOT,
              "held only %.0f %% of the snapshot's chunks: the capture rewrote shards in full"
                  + " (more than maxRunsPerShard runs)",
              100.0 * held / wanted));
    }
    if (m.perSource().size() > 1) {
      n.add(m.perSource().size() + " sources");
    } else if (m.perSource().size() == 1) {
      n.add("1 source");
    }
    if (m.extra().get("setConfigurationSeconds") instanceof Double s) {
      n.add(String.format(Locale.ROOT, "setConfiguration returned at %.2f s", s));
    }
    if (m.extra().get("notificationSeconds") instanceof Double s
        && m.extra().get("notificationToCaughtUpSeconds") instanceof Double c) {
      n.add(
          String.format(
              Locale.ROOT,
              "install notified %.2f s after the heal (%s), then %.2f s to caught up",
              s,
              m.extra().get("notificationFrom"),
              c));
    }
    if (m.extra().containsKey("phasesFrom")) {
      List<String> ph = new ArrayList<>();
      for (Map.Entry<String, Object> e : m.extra().entrySet()) {
        if (e.getKey().startsWith("phase.") && e.getValue() instanceof Double d) {
          ph.add(String.format(Locale.ROOT, "%s %.2f", e.getKey().substring(6), d));
        }
      }
      n.add("phases s (" + m.extra().get("phasesFrom") + "): " + String.join(", ", ph));
      if (m.extra().get("targetSeconds") instanceof Double t) {
        n.add(
            String.format(Locale.ROOT, "total − (start→init + local load + contact) = %.2f s", t));
      }
    }
    if (m.extra().get("timesSingleThreaded") instanceof Double r) {
      n.add(
          String.format(
              Locale.ROOT,
              "%.2f× the single-threaded load (%.2f s); measured as %s",
              r,
              (Double) m.extra().get("singleThreadedSeconds"),
              m.extra().get("loadFrom")));
    }
    if (m.extra().get("timesSingleThreadedHashing") instanceof Double r) {
      n.add(
          String.format(
              Locale.ROOT,
              "%.2f× the single-threaded load that hashes every chunk again (%.2f s)",
              r,
              (Double) m.extra().get("singleThreadedHashingSeconds")));
    }
    return String.join("; ", n);
  }

  private static String ratio(double r) {
    return Double.isNaN(r) ? "" : String.format(Locale.ROOT, "%.1f×", r);
  }

  private static String percent(double r) {
    return Double.isNaN(r) ? "" : String.format(Locale.ROOT, "%.0f %%", 100 * r);
  }

  String json() {
    StringBuilder b = new StringBuilder("{\n  \"meta\": ");
    value(b, meta, "  ");
    b.append(",\n  \"results\": [");
    for (int i = 0; i < rows.size(); i++) {
      Measurement m = rows.get(i);
      Map<String, Object> o = new java.util.LinkedHashMap<>();
      o.put("id", m.id());
      o.put("label", m.label());
      o.put("seconds", m.seconds());
      o.put("wireBytes", m.wireBytes());
      o.put("stateBytes", m.stateBytes());
      o.put("stateMegabytesPerSecond", m.megabytesPerSecond());
      double r = vsRatis(m);
      if (!Double.isNaN(r) && m.id().matches("(a\\.tuned|b|e|f)([.].*)?")) {
        o.put("timesFasterThanRatis", r);
      }
      double raw = vsRaw(m);
      if (!Double.isNaN(raw)) {
        o.put("fractionOfRawLimit", raw);
      }
      o.put("bytesPerSource", m.perSource());
      o.put("extra", m.extra());
      o.put("progressSamples", m.progress().size());
      b.append(i == 0 ? "\n    " : ",\n    ");
      value(b, o, "    ");
    }
    b.append("\n  ],\n  \"pairs\": [");
    for (int i = 0; i < pairs.size(); i++) {
      Pairs p = pairs.get(i);
      Map<String, Object> o = new java.util.LinkedHashMap<>();
      o.put("id", p.id());
      o.put("label", p.label());
      o.put("ratisSeconds", p.ratis());
      o.put("ferrySeconds", p.ferry());
      o.put("ratios", p.ratios());
      o.put("medianRatio", p.median());
      o.put("minRatio", p.min());
      o.put("maxRatio", p.max());
      b.append(i == 0 ? "\n    " : ",\n    ");
      value(b, o, "    ");
    }
    b.append("\n  ],\n  \"failures\": [");
    for (int i = 0; i < failures.size(); i++) {
      b.append(i == 0 ? "\n    " : ",\n    ");
      value(
          b,
          Map.of("scenario", failures.get(i).scenario(), "message", failures.get(i).message()),
          "    ");
    }
    b.append("\n  ]\n}\n");
    return b.toString();
  }

  static void value(StringBuilder b, Object v, String indent) {
    dev.ferry.bench.Json.value(b, v);
  }

  /** Cumulative MB received from each source over time. */
  static void chart(Measurement m, Path png) throws IOException {
    XYChart chart =
        new XYChartBuilder()
            .width(900)
            .height(500)
            .title(m.label())
            .xAxisTitle("seconds since addMember")
            .yAxisTitle("MB received (stored form)")
            .build();
    chart.getStyler().setMarkerSize(0);
    List<String> sources = List.copyOf(m.perSource().keySet());
    double[] x = new double[m.progress().size()];
    for (int i = 0; i < x.length; i++) {
      x[i] = m.progress().get(i)[0] / 1000.0;
    }
    double[] total = new double[x.length];
    for (int s = 0; s < sources.size(); s++) {
      double[] y = new double[x.length];
      for (int i = 0; i < x.length; i++) {
        y[i] = m.progress().get(i)[1 + s] / 1e6;
        total[i] += y[i];
      }
      chart.addSeries("from " + sources.get(s), x, y).setMarker(SeriesMarkers.NONE);
    }
    if (sources.size() > 1) {
      chart.addSeries("total", x, total).setMarker(SeriesMarkers.NONE);
    }
    String file = png.toString();
    BitmapEncoder.saveBitmap(
        chart, file.substring(0, file.length() - 4), BitmapEncoder.BitmapFormat.PNG);
  }
}
