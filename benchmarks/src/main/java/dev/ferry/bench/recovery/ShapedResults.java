package dev.ferry.bench.recovery;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The shaped benchmark's results: every join run, aggregated per (system, kind, link) into the
 * scenario rows, the Ratis ÷ Ferry ratios over interleaved pairs, the measured link rates; written
 * as {@code results.json} and {@code results.md} (each to a temporary file, then moved into place)
 * and a PNG per join. Not thread-safe.
 */
final class ShapedResults {
  private final Path out;
  private final String command;
  private final long stateBytes;
  private final Map<String, Object> meta = new LinkedHashMap<>();
  private final Map<String, Object> linkRates = new LinkedHashMap<>();
  private final Map<String, Double> measured = new LinkedHashMap<>();
  private final List<Map<String, Object>> runs = new ArrayList<>();
  private final List<String> linkFailures = new ArrayList<>();

  ShapedResults(Path out, String command, long stateBytes) {
    this.out = out;
    this.command = command;
    this.stateBytes = stateBytes;
  }

  void meta(String key, Object value) {
    meta.put(key, value);
  }

  /** The run's notes (shaped or not, heaps, load times). */
  Map<String, Object> meta() {
    return java.util.Collections.unmodifiableMap(meta);
  }

  void linkRate(String profile, double bitsPerSecond, long configured) {
    measured.put(profile, bitsPerSecond);
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("configured_bits_per_s", configured);
    m.put("measured_bits_per_s", bitsPerSecond);
    linkRates.put(profile, m);
  }

  void linkRateFailed(String profile, Exception e) {
    linkFailures.add(profile + ": " + e);
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("status", "FAILED");
    m.put("error", String.valueOf(e));
    linkRates.put(profile, m);
  }

  /** The measured rate of a profile in bits/s, or 0 if not measured. */
  double measuredRate(String profile) {
    return measured.getOrDefault(profile, 0.0);
  }

  void add(Map<String, Object> run) {
    runs.add(new LinkedHashMap<>(run));
  }

  /** Whether any join or link measurement failed. */
  boolean failed() {
    return !linkFailures.isEmpty() || runs.stream().anyMatch(r -> "FAILED".equals(r.get("status")));
  }

  /** Draws one join's chart; a chart that cannot be drawn is reported and costs nothing else. */
  void chart(String tag, Measurement m) {
    try {
      Report.chart(m, out.resolve(tag + ".png"));
    } catch (IOException | RuntimeException | Error e) {
      System.out.println("[shaped] chart " + tag + " not drawn: " + e);
    }
  }

  /** The aggregated scenario rows. */
  List<Map<String, Object>> scenarios() {
    List<Map<String, Object>> rows = new ArrayList<>();
    ShapedRecoveryBenchmark.group(runs)
        .forEach(
            (key, rs) -> {
              Map<String, Object> row = new LinkedHashMap<>();
              row.put("system", rs.get(0).get("system"));
              row.put("kind", rs.get(0).get("kind"));
              row.put("link", rs.get(0).get("link"));
              List<Map<String, Object>> ok =
                  rs.stream().filter(r -> "ok".equals(r.get("status"))).toList();
              row.put("status", ok.size() == rs.size() ? "ok" : "FAILED");
              row.put("runs", rs.size());
              row.put("failed_runs", rs.size() - ok.size());
              if ("foreground".equals(row.get("kind"))) {
                for (String f : FOREGROUND_FIELDS) {
                  row.put(f, median(ok, f));
                }
              } else {
                joinFields(row, ok);
              }
              List<String> errors = new ArrayList<>();
              rs.stream()
                  .filter(r -> r.containsKey("error"))
                  .forEach(r -> errors.add(String.valueOf(r.get("error"))));
              if (!errors.isEmpty()) {
                row.put("errors", errors);
              }
              rows.add(row);
            });
    return rows;
  }

  /** The fields of a foreground row (medians over its runs). */
  static final List<String> FOREGROUND_FIELDS =
      List.of(
          "join_seconds",
          "window_s_before",
          "ops_per_s_before",
          "ops_per_s_during",
          "ops_ratio",
          "p99_ms_before",
          "p99_ms_during",
          "p99_ratio");

  /** The median seconds of the successful runs of a system, kind and link so far; null if none. */
  Double medianSeconds(String system, String kind, String link) {
    return median(
        runs.stream()
            .filter(
                r ->
                    system.equals(r.get("system"))
                        && kind.equals(r.get("kind"))
                        && link.equals(r.get("link"))
                        && "ok".equals(r.get("status")))
            .toList(),
        "seconds");
  }

  private void joinFields(Map<String, Object> row, List<Map<String, Object>> ok) {
    row.put("seconds", median(ok, "seconds"));
    row.put("seconds_min", min(ok, "seconds"));
    row.put("seconds_max", max(ok, "seconds"));
    row.put("caught_up_seconds", median(ok, "caught_up_seconds"));
    row.put("wire_bytes", asLong(median(ok, "wire_bytes")));
    row.put("receiver_cpu_s", median(ok, "receiver_cpu_s"));
    row.put("receiver_heap_max_bytes", asLong(max(ok, "receiver_heap_max_bytes")));
    row.put("sources", asLong(max(ok, "sources")));
    row.put("ideal_seconds", median(ok, "ideal_seconds"));
    row.put("heal_to_notification_s", median(ok, "heal_to_notification_s"));
    row.put("heal_to_caught_up_s", median(ok, "heal_to_caught_up_s"));
    row.put("state_bytes", stateBytes);
  }

  /** Ratis time ÷ Ferry time over the pairs of each link (and tuned Ratis ÷ Ferry). */
  List<Map<String, Object>> ratios() {
    List<Map<String, Object>> out = new ArrayList<>();
    for (String kind : ShapedRecoveryBenchmark.JOIN_KINDS) {
      for (String baseline : List.of("ratis", "ratis-tuned")) {
        ratios(out, kind, baseline);
      }
    }
    return out;
  }

  private void ratios(List<Map<String, Object>> out, String kind, String baseline) {
    {
      Map<String, Map<Integer, Double>> ferry = byLinkRep("ferry", kind);
      Map<String, Map<Integer, Double>> base = byLinkRep(baseline, kind);
      for (String link : ferry.keySet()) {
        List<Double> rs = new ArrayList<>();
        Map<Integer, Double> b = base.getOrDefault(link, Map.of());
        ferry
            .get(link)
            .forEach(
                (rep, f) -> {
                  Double r = b.get(rep);
                  if (r != null && f > 0) {
                    rs.add(r / f);
                  }
                });
        if (rs.isEmpty()) {
          continue;
        }
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("kind", kind);
        m.put("link", link);
        m.put("baseline", baseline);
        m.put("pairs", rs.size());
        m.put("ratio_median", Report.median(rs));
        m.put("ratio_min", rs.stream().mapToDouble(Double::doubleValue).min().orElse(Double.NaN));
        m.put("ratio_max", rs.stream().mapToDouble(Double::doubleValue).max().orElse(Double.NaN));
        m.put("ratios", rs);
        out.add(m);
      }
    }
  }

  private Map<String, Map<Integer, Double>> byLinkRep(String system, String kind) {
    Map<String, Map<Integer, Double>> m = new LinkedHashMap<>();
    for (Map<String, Object> r : runs) {
      if (system.equals(r.get("system"))
          && kind.equals(r.get("kind"))
          && "ok".equals(r.get("status"))) {
        m.computeIfAbsent((String) r.get("link"), k -> new LinkedHashMap<>())
            .put((Integer) r.get("rep"), ((Number) r.get("seconds")).doubleValue());
      }
    }
    return m;
  }

  private static List<Double> values(List<Map<String, Object>> rows, String key) {
    List<Double> v = new ArrayList<>();
    for (Map<String, Object> r : rows) {
      if (r.get(key) instanceof Number n) {
        v.add(n.doubleValue());
      }
    }
    return v;
  }

  private static Double median(List<Map<String, Object>> rows, String key) {
    List<Double> v = values(rows, key);
    return v.isEmpty() ? null : Report.median(v);
  }

  private static Double min(List<Map<String, Object>> rows, String key) {
    return values(rows, key).stream().min(Double::compare).orElse(null);
  }

  private static Double max(List<Map<String, Object>> rows, String key) {
    return values(rows, key).stream().max(Double::compare).orElse(null);
  }

  private static Long asLong(Double d) {
    return d == null ? null : Math.round(d);
  }

  /** The machine the run is on. */
  private static Map<String, Object> machine() {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("cores", Runtime.getRuntime().availableProcessors());
    m.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version"));
    m.put("java", System.getProperty("java.version"));
    m.put(
        "joiner_gc",
        ShapedRecoveryBenchmark.joinerGc().isEmpty()
            ? "-XX:+UseSerialGC " + String.join(" ", ShapedRecoveryBenchmark.HEAP_SHRINK)
            : String.join(" ", ShapedRecoveryBenchmark.joinerGc()));
    try {
      m.put(
          "loadavg", Files.readString(Path.of("/proc/loadavg"), StandardCharsets.US_ASCII).strip());
      Files.readAllLines(Path.of("/proc/meminfo"), StandardCharsets.US_ASCII).stream()
          .filter(l -> l.startsWith("MemTotal:"))
          .findFirst()
          .ifPresent(l -> m.put("memory", l.substring("MemTotal:".length()).strip()));
    } catch (IOException e) {
      m.put("proc", "unreadable: " + e);
    }
    return m;
  }

  String json() {
    Map<String, Object> root = new LinkedHashMap<>();
    root.put("scenarios", scenarios());
    root.put("ratios", ratios());
    root.put("runs", runs);
    root.put("machine", machine());
    root.put("link_rates_measured", linkRates);
    root.put("meta", meta);
    root.put("command", command);
    StringBuilder b = new StringBuilder();
    Report.value(b, root, "");
    return b.append('\n').toString();
  }

  /** The ratios table and the scenario table, in Markdown. */
  String table() {
    StringBuilder b = new StringBuilder();
    b.append("## Shaped recovery benchmark\n\n`").append(command).append("`\n\n");
    b.append("| link | configured Mbit/s | measured Mbit/s |\n|---|---|---|\n");
    linkRates.forEach(
        (p, v) -> {
          Map<?, ?> m = (Map<?, ?>) v;
          b.append("| ").append(p).append(" | ");
          b.append(num(m.get("configured_bits_per_s"), 1e-6)).append(" | ");
          b.append(
              m.containsKey("measured_bits_per_s")
                  ? num(m.get("measured_bits_per_s"), 1e-6)
                  : "FAILED");
          b.append(" |\n");
        });
    b.append("\n| kind | link | baseline | Ratis ÷ Ferry (median) | min | max | pairs |\n");
    b.append("|---|---|---|---|---|---|---|\n");
    for (Map<String, Object> r : ratios()) {
      b.append(
          String.format(
              Locale.ROOT,
              "| %s | %s | %s | %.2f | %.2f | %.2f | %s |%n",
              r.get("kind"),
              r.get("link"),
              r.get("baseline"),
              r.get("ratio_median"),
              r.get("ratio_min"),
              r.get("ratio_max"),
              r.get("pairs")));
    }
    b.append(
        "\n| system | kind | link | status | s (median) | min | max | caught up s | wire MB |"
            + " sources | ideal s | receiver CPU s | receiver heap MB |\n");
    b.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    List<Map<String, Object>> foreground = new ArrayList<>();
    for (Map<String, Object> r : scenarios()) {
      if ("foreground".equals(r.get("kind"))) {
        foreground.add(r);
        continue;
      }
      b.append("| ").append(r.get("system")).append(" | ").append(r.get("kind")).append(" | ");
      b.append(r.get("link")).append(" | ").append(r.get("status")).append(" | ");
      b.append(num(r.get("seconds"), 1)).append(" | ").append(num(r.get("seconds_min"), 1));
      b.append(" | ").append(num(r.get("seconds_max"), 1)).append(" | ");
      b.append(num(r.get("caught_up_seconds"), 1)).append(" | ");
      b.append(num(r.get("wire_bytes"), 1e-6)).append(" | ").append(r.get("sources")).append(" | ");
      b.append(num(r.get("ideal_seconds"), 1)).append(" | ");
      b.append(num(r.get("receiver_cpu_s"), 1)).append(" | ");
      b.append(num(r.get("receiver_heap_max_bytes"), 1.0 / (1 << 20))).append(" |\n");
    }
    foregroundTable(b, foreground);
    for (Map<String, Object> r : scenarios()) {
      if (r.containsKey("errors")) {
        b.append("\nFAILED ")
            .append(r.get("system"))
            .append(' ')
            .append(r.get("kind"))
            .append(' ')
            .append(r.get("link"))
            .append(": ")
            .append(r.get("errors"))
            .append('\n');
      }
    }
    linkFailures.forEach(f -> b.append("\nlink measurement FAILED: ").append(f).append('\n'));
    return b.toString();
  }

  /** The foreground rows beside their targets (ops ratio ≥ 0.80, p99 ratio ≤ 2). */
  private static void foregroundTable(StringBuilder b, List<Map<String, Object>> rows) {
    if (rows.isEmpty()) {
      return;
    }
    b.append(
        "\nForeground: 16 clients, 1 KiB puts, during the join ÷ the window before it (targets:"
            + " ops ratio ≥ 0.80, p99 ratio ≤ 2)\n\n");
    b.append(
        "| system | link | status | join s | before s | ops/s before | ops/s during | ops ratio |"
            + " p99 ms before | p99 ms during | p99 ratio |\n");
    b.append("|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (Map<String, Object> r : rows) {
      b.append("| ").append(r.get("system")).append(" | ").append(r.get("link")).append(" | ");
      b.append(r.get("status"));
      for (String f : FOREGROUND_FIELDS) {
        b.append(" | ").append(num(r.get(f), 1));
      }
      b.append(" |\n");
    }
  }

  private static String num(Object v, double scale) {
    return v instanceof Number n ? String.format(Locale.ROOT, "%.2f", n.doubleValue() * scale) : "";
  }

  /** Rewrites results.json and results.md. */
  void write() throws IOException {
    writeAtomically(out.resolve("results.json"), json());
    writeAtomically(out.resolve("results.md"), table());
  }

  private static void writeAtomically(Path file, String text) throws IOException {
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    Files.writeString(tmp, text, StandardCharsets.UTF_8);
    Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
  }
}
