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
 * measurement that recorded progress.
 */
final class Report {
  private final Map<String, Object> meta;
  private final List<Measurement> rows;

  Report(Map<String, Object> meta, List<Measurement> rows) {
    this.meta = Map.copyOf(meta);
    this.rows = List.copyOf(rows);
  }

  Optional<Measurement> find(String id) {
    return rows.stream().filter(m -> m.id().equals(id)).findFirst();
  }

  /** Writes every file into {@code out}; returns the table. */
  String write(Path out) throws IOException {
    Files.createDirectories(out);
    String table = table();
    Files.writeString(out.resolve("results.md"), table, StandardCharsets.UTF_8);
    Files.writeString(out.resolve("results.json"), json(), StandardCharsets.UTF_8);
    for (Measurement m : rows) {
      if (!m.progress().isEmpty()) {
        chart(m, out.resolve(m.id() + "-sources.png"));
      }
    }
    return table;
  }

  /** Ratis time over this one's (how many times faster), or NaN. */
  double vsRatis(Measurement m) {
    return find("a").map(a -> a.seconds() / m.seconds()).orElse(Double.NaN);
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
      boolean join = m.id().startsWith("a") || m.id().startsWith("b") || m.id().startsWith("e");
      join |= m.id().startsWith("f");
      b.append(
          String.format(
              Locale.ROOT,
              "| %s | %.2f | %s | %.1f | %.1f | %s | %s | %s |%n",
              m.label(),
              m.seconds(),
              m.wireBytes() < 0 ? "–" : String.format(Locale.ROOT, "%.1f", m.wireBytes() / 1e6),
              m.stateBytes() / 1e6,
              m.megabytesPerSecond(),
              join && !m.id().equals("a") ? ratio(vsRatis(m)) : "",
              join || m.id().equals("d") ? percent(vsRaw(m)) : "",
              notes(m)));
    }
    return b.toString();
  }

  private static String notes(Measurement m) {
    List<String> n = new ArrayList<>();
    if (m.extra().get("fetchedOverChangedPlusManifest") instanceof Double r) {
      n.add(String.format(Locale.ROOT, "fetched / (changed raw + manifest) = %.2f", r));
    }
    if (m.perSource().size() > 1) {
      n.add(m.perSource().size() + " sources");
    } else if (m.perSource().size() == 1) {
      n.add("1 source");
    }
    if (m.extra().get("setConfigurationSeconds") instanceof Double s) {
      n.add(String.format(Locale.ROOT, "setConfiguration returned at %.2f s", s));
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
      if (!Double.isNaN(r) && !m.id().equals("a")) {
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
    b.append("\n  ]\n}\n");
    return b.toString();
  }

  private static void value(StringBuilder b, Object v, String indent) {
    if (v == null) {
      b.append("null");
    } else if (v instanceof Map<?, ?> map) {
      b.append('{');
      boolean first = true;
      for (Map.Entry<?, ?> e : map.entrySet()) {
        b.append(first ? "" : ", ");
        first = false;
        string(b, String.valueOf(e.getKey()));
        b.append(": ");
        value(b, e.getValue(), indent);
      }
      b.append('}');
    } else if (v instanceof Double d) {
      b.append(Double.isFinite(d) ? String.format(Locale.ROOT, "%.4f", d) : "null");
    } else if (v instanceof Number || v instanceof Boolean) {
      b.append(v);
    } else {
      string(b, v.toString());
    }
  }

  private static void string(StringBuilder b, String s) {
    b.append('"');
    for (char c : s.toCharArray()) {
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        default -> {
          if (c < 0x20) {
            b.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
          } else {
            b.append(c);
          }
        }
      }
    }
    b.append('"');
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
