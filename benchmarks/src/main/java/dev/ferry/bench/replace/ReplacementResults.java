package dev.ferry.bench.replace;

import static dev.ferry.bench.move.MoveResults.mib;
import static dev.ferry.bench.move.MoveResults.num;
import static dev.ferry.bench.move.MoveResults.ratio;

import dev.ferry.bench.Json;
import dev.ferry.bench.Procfs;
import dev.ferry.bench.StackTraces;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The results of a {@link NodeReplacementBenchmark} run as they come: {@code results.json} (every
 * figure) and {@code results.md} (the table per profile and G, ratios against G = 1 of the same
 * profile). Whatever was measured is written, also when a later step failed. Not thread-safe.
 */
final class ReplacementResults {
  private final Path out;
  private final String command;
  private final Map<String, Object> options;
  private final Map<String, Object> machine = new LinkedHashMap<>();
  private final Map<String, Double> linkRates = new LinkedHashMap<>();
  private final List<Map<String, Object>> rows = new ArrayList<>();
  private final List<Map<String, String>> errors = new ArrayList<>();

  ReplacementResults(Path out, String command, Map<String, Object> options) {
    this.out = out;
    this.command = command;
    this.options = options;
    machine.put("cores", Runtime.getRuntime().availableProcessors());
    machine.put("java", System.getProperty("java.version"));
    machine.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version"));
    machine.put(
        "benchmark_jvm_args",
        java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments());
    machine.put("loadavg_start", Procfs.loadAverage());
  }

  Map<String, Object> machine() {
    return machine;
  }

  /** A new row (live map) for {@code profile} and {@code groups}. */
  Map<String, Object> newRow(String profile, int groups) {
    Map<String, Object> row = new LinkedHashMap<>();
    row.put("profile", profile);
    row.put("groups", groups);
    rows.add(row);
    return row;
  }

  /** The measured raw rate of one link of {@code profile}, bytes per second. */
  void linkRate(String profile, double bytesPerSecond) {
    linkRates.put(profile, bytesPerSecond);
  }

  List<Map<String, String>> errors() {
    return List.copyOf(errors);
  }

  void error(String step, Throwable e) {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("step", step);
    m.put("error", StackTraces.truncated(e));
    errors.add(m);
  }

  /**
   * The derived figures of {@code row} (pure): throughput (re-created bytes ÷ replacement time, MB
   * = 10^6 bytes), the ideal time (wire bytes ÷ (distinct sources × the link rate)) and time ÷
   * ideal, the foreground ratios during ÷ before, and the throughput against {@code g1} (the same
   * profile's G = 1 row, may be null). NaN where a figure is missing.
   */
  static Map<String, Object> derived(
      Map<String, Object> row, Map<String, Object> g1, Double linkBytesPerSecond) {
    Map<String, Object> d = new LinkedHashMap<>();
    double mbps = throughput(row);
    d.put("throughput_mb_per_s", mbps);
    d.put("throughput_over_g1", g1 == null ? Double.NaN : ratio(mbps, throughput(g1)));
    d.put(
        "throughput_while_flowing_mb_per_s",
        ratio(row.get("recreated_bytes"), row.get("bytes_flowing_s")) / 1e6);
    int sources = row.get("sources_distinct") instanceof List<?> l ? l.size() : 0;
    double ideal =
        linkBytesPerSecond == null || sources == 0
            ? Double.NaN
            : ratio(row.get("wire_bytes"), linkBytesPerSecond * sources);
    d.put("ideal_s", ideal);
    d.put("time_over_ideal", ratio(row.get("replacement_s"), ideal));
    d.put(
        "ops_during_over_before",
        ratio(window(row, "during", "ops_per_s"), window(row, "before", "ops_per_s")));
    d.put(
        "p99_during_over_before",
        ratio(window(row, "during", "p99_ms"), window(row, "before", "p99_ms")));
    return d;
  }

  private static double throughput(Map<String, Object> row) {
    return ratio(row.get("recreated_bytes"), row.get("replacement_s")) / 1e6;
  }

  private static Object window(Map<String, Object> row, String name, String figure) {
    return row.get("load") instanceof Map<?, ?> l && l.get(name) instanceof Map<?, ?> w
        ? w.get(figure)
        : null;
  }

  private Map<String, Object> g1(String profile) {
    for (Map<String, Object> r : rows) {
      if (r.get("profile").equals(profile) && Integer.valueOf(1).equals(r.get("groups"))) {
        return r;
      }
    }
    return null;
  }

  /** Writes {@code results.json} and {@code results.md} into the output directory. */
  void write() throws IOException {
    Files.createDirectories(out);
    List<Map<String, Object>> withDerived = new ArrayList<>();
    for (Map<String, Object> r : rows) {
      Map<String, Object> x = new LinkedHashMap<>(r);
      x.put("derived", derived(r, g1((String) r.get("profile")), linkRates.get(r.get("profile"))));
      withDerived.add(x);
    }
    Map<String, Object> root = new LinkedHashMap<>();
    root.put("command", command);
    root.put("options", options);
    root.put("link_rates_bytes_per_s", linkRates);
    root.put("rows", withDerived);
    root.put("machine", machine);
    root.put("errors", errors);
    Files.writeString(out.resolve("results.json"), Json.of(root) + "\n", StandardCharsets.UTF_8);
    Files.writeString(out.resolve("results.md"), markdown(), StandardCharsets.UTF_8);
  }

  /** The report. */
  String markdown() {
    StringBuilder b = new StringBuilder();
    b.append("# Node replacement vs number of groups\n\n`").append(command).append("`\n\n");
    b.append(
        String.format(
            Locale.ROOT,
            "%s nodes + the new one (one JVM each, %s), replication 3, %s of state in total (%s-byte"
                + " values) split evenly over G groups; one node killed and every group with a"
                + " replica on it moved to the new node, %s moves at once; %s clients putting to"
                + " random keys throughout. Machine: %s cores, shared with other work: load"
                + " average %s at the start, %s at the end. Link rates measured (raw TCP, one"
                + " connection): %s.\n\n",
            options.get("nodes"),
            options.get("node_jvm"),
            mib(options.get("size_bytes")),
            options.get("value_bytes"),
            options.get("parallel_moves"),
            options.get("clients"),
            machine.get("cores"),
            machine.get("loadavg_start"),
            machine.getOrDefault("loadavg_end", "?"),
            rates()));
    b.append(table());
    for (Map<String, Object> r : rows) {
      b.append(
          String.format(
              Locale.ROOT,
              "\n## %s, G = %s\n\n- replaced %s by %s: %s groups moved, %s written to them, %s"
                  + " re-created, %s on the wire %s; served %s\n- load average at the start %s,"
                  + " replacement start %s, end %s\n",
              r.get("profile"),
              r.get("groups"),
              r.getOrDefault("replaced", "?"),
              r.getOrDefault("new_node", "?"),
              r.getOrDefault("groups_moved", "?"),
              mib(r.get("state_bytes_of_moved_groups")),
              mib(r.get("recreated_bytes")),
              mib(r.get("wire_bytes")),
              Json.of(r.getOrDefault("wire_bytes_per_source", Map.of())),
              Json.of(r.getOrDefault("served_bytes_per_node", Map.of())),
              r.getOrDefault("loadavg_start", "?"),
              r.getOrDefault("loadavg_replacement_start", "?"),
              r.getOrDefault("loadavg_replacement_end", "?")));
      for (String k : List.of("cluster_start_s", "preload_s", "moves_failed", "error")) {
        if (r.containsKey(k)) {
          b.append("- ").append(k).append(": ").append(Json.of(r.get(k))).append('\n');
        }
      }
    }
    if (!errors.isEmpty()) {
      b.append("\n## Errors\n\n");
      for (Map<String, String> e : errors) {
        String first = e.get("error").lines().findFirst().orElse("");
        b.append("- ").append(e.get("step")).append(": ").append(first).append('\n');
      }
    }
    return b.toString();
  }

  private String rates() {
    List<String> parts = new ArrayList<>();
    linkRates.forEach((p, v) -> parts.add(p + " " + num(v * 8 / 1e6, "%.0f") + " Mbit/s"));
    return parts.isEmpty() ? "none" : String.join(", ", parts);
  }

  /** The headline table, one line per row (pure given the rows). */
  String table() {
    StringBuilder b = new StringBuilder();
    b.append(
        "| profile | G | state per group | groups moved | re-created | time | bytes flowing |"
            + " throughput |"
            + " ÷ G=1 | sources max at once / distinct | wire | ideal | time ÷ ideal | fg ops"
            + " during ÷ before | p99 during ÷ before | failed moves |\n"
            + "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (Map<String, Object> r : rows) {
      String profile = (String) r.get("profile");
      Map<String, Object> d = derived(r, g1(profile), linkRates.get(profile));
      int distinct = r.get("sources_distinct") instanceof List<?> l ? l.size() : 0;
      b.append(
          String.format(
              Locale.ROOT,
              "| %s | %s | %s | %s | %s | %s s | %s s | %s MB/s | %s | %s / %s | %s | %s s | %s | %s |"
                  + " %s | %s |\n",
              profile,
              r.get("groups"),
              mib(r.get("state_bytes_per_group")),
              r.getOrDefault("groups_moved", "?"),
              mib(r.get("recreated_bytes")),
              num(r.get("replacement_s"), "%.1f"),
              num(r.get("bytes_flowing_s"), "%.1f"),
              num(d.get("throughput_mb_per_s"), "%.2f"),
              num(d.get("throughput_over_g1"), "%.2f"),
              r.getOrDefault("sources_max_at_once", "?"),
              r.containsKey("sources_distinct") ? distinct : "?",
              mib(r.get("wire_bytes")),
              num(d.get("ideal_s"), "%.2f"),
              num(d.get("time_over_ideal"), "%.1f"),
              num(d.get("ops_during_over_before"), "%.2f"),
              num(d.get("p99_during_over_before"), "%.2f"),
              r.get("moves_failed") instanceof List<?> f ? f.size() : "?"));
    }
    return b.toString();
  }
}
