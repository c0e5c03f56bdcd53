package dev.ferry.bench.groups;

import dev.ferry.bench.Json;
import dev.ferry.bench.Procfs;
import dev.ferry.bench.StackTraces;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The results of a {@link GroupsPerNodeBenchmark} run, as they come: {@code results.json} (every
 * figure) and {@code results.md} (the tables, beside the targets). Not thread-safe.
 */
final class GroupsResults {
  /** A churn trend above this many bytes per cycle is "growing" (below: "flat"). */
  static final double GROWING_BYTES_PER_CYCLE = 8 << 10;

  private final GroupsPerNodeBenchmark.Options options;
  private final String command;
  private final Map<String, Object> machine = new LinkedHashMap<>();
  private final List<Map<String, Object>> idle = new ArrayList<>();
  private final Map<String, Object> churn = new LinkedHashMap<>();
  private final List<Map<String, String>> errors = new ArrayList<>();

  GroupsResults(GroupsPerNodeBenchmark.Options options, String command) {
    this.options = options;
    this.command = command;
    machine.put("cores", Runtime.getRuntime().availableProcessors());
    machine.put("java", System.getProperty("java.version"));
    machine.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version"));
    machine.put("loadavg_start", Procfs.loadAverage());
  }

  void addIdle(Map<String, Object> row) {
    idle.add(row);
  }

  /** The idle phase's rows, one per group count (live maps). */
  List<Map<String, Object>> idle() {
    return idle;
  }

  /** The churn figures so far. */
  Map<String, Object> churnFigures() {
    return churn;
  }

  /** The errors recorded, by phase. */
  List<Map<String, String>> errors() {
    return List.copyOf(errors);
  }

  void error(String phase, Exception e) {
    errors.add(Map.of("phase", phase, "error", StackTraces.truncated(e)));
  }

  void churn(List<Map<String, Object>> samples, List<Double> cycleMillis) {
    churn.put("samples", samples);
    churn.put("cycles_done", cycleMillis.size());
    churn.put(
        "cycle_ms_median",
        cycleMillis.isEmpty()
            ? null
            : cycleMillis.stream().sorted().toList().get(cycleMillis.size() / 2));
    int from = samples.size() > 2 ? GroupChurn.EVERY : 0; // the first cycles warm pools up
    churn.put("trend_from_cycle", from);
    double direct = GroupChurn.slope(samples, "direct_bytes", from);
    churn.put("direct_bytes_per_cycle", direct);
    churn.put(
        "netty_direct_bytes_per_cycle", GroupChurn.slope(samples, "netty_direct_bytes", from));
    churn.put("threads_per_cycle", GroupChurn.slope(samples, "threads", from));
    churn.put("heap_used_bytes_per_cycle", GroupChurn.slope(samples, "heap_used_bytes", from));
    churn.put(
        "direct_trend",
        Double.isNaN(direct) ? null : direct > GROWING_BYTES_PER_CYCLE ? "growing" : "flat");
  }

  void finish() {
    machine.put("loadavg_end", Procfs.loadAverage());
  }

  /** Writes {@code results.json} and {@code results.md} into the output directory. */
  void write() throws IOException {
    Files.createDirectories(options.out());
    Map<String, Object> root = new LinkedHashMap<>();
    root.put("command", command);
    root.put("options", options.asMap());
    root.put(
        "targets",
        Map.of(
            "leader_changes_idle", 0,
            "cpu_percent_of_core_max", GroupsPerNodeBenchmark.CPU_TARGET_PERCENT,
            "heap_after_full_gc_bytes_max", GroupsPerNodeBenchmark.HEAP_TARGET_BYTES));
    root.put("idle", idle);
    root.put("churn", churn);
    root.put("machine", machine);
    root.put("errors", errors);
    Files.writeString(
        options.out().resolve("results.json"), Json.of(root) + "\n", StandardCharsets.UTF_8);
    Files.writeString(options.out().resolve("results.md"), markdown(), StandardCharsets.UTF_8);
  }

  /** The tables. */
  String markdown() {
    StringBuilder b = new StringBuilder();
    b.append("# Groups per node\n\n`").append(command).append("`\n\n");
    b.append("3 nodes (one JVM each, ")
        .append("-Xmx")
        .append(options.heap())
        .append(", the JVM's default collector), every group on all 3; election timeout ")
        .append(options.election()[0].toMillis())
        .append("–")
        .append(options.election()[1].toMillis())
        .append(" ms; Ratis properties ")
        .append(
            options.raftProperties().isEmpty()
                ? "as FerryNode sets them"
                : options.raftProperties())
        .append("; idle ")
        .append(options.idleSeconds())
        .append(" s after ")
        .append(options.writes())
        .append(" writes to every group. Machine: ")
        .append(machine.get("cores"))
        .append(" cores, load average at start ")
        .append(machine.get("loadavg_start"))
        .append(".\n\n");
    for (Map<String, Object> row : idle) {
      idleTable(b, row);
    }
    churnTable(b);
    if (!errors.isEmpty()) {
      b.append("\n## Errors\n\n");
      for (Map<String, String> e : errors) {
        b.append("- ")
            .append(e.get("phase"))
            .append(": ")
            .append(e.get("error").lines().findFirst().orElse(""))
            .append('\n');
      }
    }
    return b.toString();
  }

  private static void idleTable(StringBuilder b, Map<String, Object> row) {
    b.append("## ").append(row.get("groups")).append(" groups per node: ");
    b.append(row.getOrDefault("status", "running")).append("\n\n");
    if (row.containsKey("start_s")) {
      b.append(
          f(
              "Started (every group led) in %.1f s; %s of %s groups took their writes in %.1f s.%n%n",
              row.get("start_s"),
              row.get("groups_written"),
              row.get("groups"),
              row.getOrDefault("write_s", Double.NaN)));
    }
    if (row.containsKey("term_increments_idle")) {
      long terms = ((Number) row.get("term_increments_idle")).longValue();
      int changed = ((Number) row.get("groups_leader_changed_idle")).intValue();
      b.append(
          f(
              "Idle window %.1f s (load average %s → %s): leader changes (sum of term increments)"
                  + " **%d**, groups whose leader changed %d, groups led before/after %s/%s —"
                  + " target 0: %s.%n%n",
              row.get("idle_window_s"),
              row.get("loadavg_idle_start"),
              row.get("loadavg_idle_end"),
              terms,
              changed,
              row.get("groups_led_before_idle"),
              row.get("groups_led_after_idle"),
              terms == 0 && changed == 0 ? "met" : "**not met**"));
    }
    Object nodes = row.get("nodes");
    if (!(nodes instanceof List<?> list) || list.isEmpty()) {
      return;
    }
    b.append(
        "| node | CPU idle (% of a core) | ≤ 10 % | heap after full GC | ≤ 1 GiB | threads"
            + " (min–max idle) | direct (JVM pool) | Netty direct | RSS | groups led | collector |\n");
    b.append("|---|---|---|---|---|---|---|---|---|---|---|\n");
    for (Object o : list) {
      Map<?, ?> n = (Map<?, ?>) o;
      double cpu = ((Number) n.get("cpu_percent_of_core")).doubleValue();
      Number heap = (Number) n.get("heap_after_full_gc_bytes");
      Number netty = (Number) n.get("netty_direct_bytes");
      List<?> mm = (List<?>) n.get("threads_min_max_idle");
      b.append(
          f(
              "| %s | %.2f | %s | %s | %s | %s (%s–%s) | %s | %s | %s | %s | %s |%n",
              n.get("id"),
              cpu,
              cpu <= GroupsPerNodeBenchmark.CPU_TARGET_PERCENT ? "met" : "**not met**",
              heap == null ? "n/a" : GroupsPerNodeBenchmark.mib(heap.longValue()),
              heap == null || heap.longValue() < 0
                  ? "n/a"
                  : heap.longValue() <= GroupsPerNodeBenchmark.HEAP_TARGET_BYTES
                      ? "met"
                      : "**not met**",
              n.get("threads"),
              mm.get(0),
              mm.get(1),
              n.containsKey("direct_pool_bytes")
                  ? GroupsPerNodeBenchmark.mib(((Number) n.get("direct_pool_bytes")).longValue())
                  : "n/a",
              netty == null || netty.longValue() < 0
                  ? "not counted"
                  : GroupsPerNodeBenchmark.mib(netty.longValue()),
              n.containsKey("rss_bytes")
                  ? GroupsPerNodeBenchmark.mib(((Number) n.get("rss_bytes")).longValue())
                  : "n/a",
              n.get("groups_led"),
              n.get("collector")));
    }
    b.append('\n');
  }

  private void churnTable(StringBuilder b) {
    Object samples = churn.get("samples");
    if (!(samples instanceof List<?> list) || list.isEmpty()) {
      return;
    }
    b.append("## Create/remove churn\n\n");
    b.append(
        f(
            "%s cycles (add a group on 3 nodes in one JVM, 3 writes, remove it everywhere with its"
                + " storage), median %.0f ms a cycle. Sampled after two full collections (3 nodes"
                + " and the client in one JVM):%n%n",
            churn.get("cycles_done"),
            churn.get("cycle_ms_median") == null ? Double.NaN : churn.get("cycle_ms_median")));
    b.append(
        "| cycle | direct (JVM pool) | direct buffers | Netty direct | threads | heap used |\n");
    b.append("|---|---|---|---|---|---|\n");
    for (Object o : list) {
      Map<?, ?> s = (Map<?, ?>) o;
      long netty = ((Number) s.get("netty_direct_bytes")).longValue();
      b.append(
          f(
              "| %s | %s | %s | %s | %s | %s |%n",
              s.get("cycle"),
              GroupsPerNodeBenchmark.mib(((Number) s.get("direct_bytes")).longValue()),
              s.get("direct_buffers"),
              netty < 0 ? "not counted" : GroupsPerNodeBenchmark.mib(netty),
              s.get("threads"),
              GroupsPerNodeBenchmark.mib(((Number) s.get("heap_used_bytes")).longValue())));
    }
    if (churn.get("direct_trend") == null) {
      b.append("\nNo trend: fewer than two samples.\n");
      return;
    }
    b.append(
        f(
            "%nTrend from cycle %s on (least squares): direct memory %.0f bytes per cycle (**%s**;"
                + " growing means more than %.0f bytes per cycle), Netty direct %.0f bytes per"
                + " cycle, threads %.2f per cycle, heap %.0f bytes per cycle.%n",
            churn.get("trend_from_cycle"),
            churn.get("direct_bytes_per_cycle"),
            churn.get("direct_trend"),
            GROWING_BYTES_PER_CYCLE,
            churn.get("netty_direct_bytes_per_cycle"),
            churn.get("threads_per_cycle"),
            churn.get("heap_used_bytes_per_cycle")));
  }

  private static String f(String format, Object... args) {
    return String.format(Locale.ROOT, format, args);
  }
}
