package dev.ferry.bench.move;

import dev.ferry.bench.Json;
import dev.ferry.bench.LoadWindow;
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
 * The results of a {@link MoveUnderLoadBenchmark} run as they come: {@code results.json} (every
 * figure) and {@code results.md} (the ratios table and the move's figures). Whatever was measured
 * is written, also when a later step failed (its error is recorded). Not thread-safe.
 */
public final class MoveResults {
  private final Path out;
  private final String command;
  private final Map<String, Object> options;
  private final Map<String, Object> machine = new LinkedHashMap<>();
  private final Map<String, Object> setup = new LinkedHashMap<>();
  private final Map<String, Object> move = new LinkedHashMap<>();
  private final Map<String, Object> load = new LinkedHashMap<>();
  private final List<Map<String, String>> errors = new ArrayList<>();

  MoveResults(Path out, String command, Map<String, Object> options) {
    this.out = out;
    this.command = command;
    this.options = options;
    machine.put("cores", Runtime.getRuntime().availableProcessors());
    machine.put("java", System.getProperty("java.version"));
    machine.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version"));
    machine.put("benchmark_jvm_max_heap_bytes", Runtime.getRuntime().maxMemory());
    machine.put(
        "benchmark_jvm_args",
        java.lang.management.ManagementFactory.getRuntimeMXBean().getInputArguments());
    machine.put("loadavg_start", Procfs.loadAverage());
  }

  /** The machine facts (load averages at the steps, live map). */
  Map<String, Object> machine() {
    return machine;
  }

  /** The cluster and its state (live map). */
  Map<String, Object> setup() {
    return setup;
  }

  /** The move's figures (live map). */
  Map<String, Object> move() {
    return move;
  }

  /** The clients' figures (live map). */
  Map<String, Object> load() {
    return load;
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
   * The measurement windows, nanoTime: the move is [{@code moveStart}, {@code moveEnd}); the window
   * before it has the move's length and ends where it starts, but does not begin before {@code
   * measureFrom} (the end of the clients' warm-up), so it is shorter if the move took longer than
   * the load ran before it; the window after begins where the move ends, with the move's length,
   * but does not end after {@code loadEnd}. Pure.
   *
   * @return {before, during, after} as {from, to} pairs; after is null if the load stopped with the
   *     move
   */
  public static long[][] windows(long measureFrom, long moveStart, long moveEnd, long loadEnd) {
    if (!(measureFrom <= moveStart && moveStart < moveEnd && moveEnd <= loadEnd)) {
      throw new IllegalArgumentException(
          "windows out of order: "
              + measureFrom
              + ", "
              + moveStart
              + ", "
              + moveEnd
              + ", "
              + loadEnd);
    }
    long d = moveEnd - moveStart;
    long[] before = {Math.max(measureFrom, moveStart - d), moveStart};
    long[] after = loadEnd > moveEnd ? new long[] {moveEnd, Math.min(loadEnd, moveEnd + d)} : null;
    return new long[][] {before, {moveStart, moveEnd}, after};
  }

  /** A window's figures for the JSON file. */
  public static Map<String, Object> figures(LoadWindow w, long failures) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("seconds", w.seconds());
    m.put("ops", w.ops());
    m.put("ops_per_s", w.opsPerSecond());
    m.put("p99_ms", w.p99Millis());
    m.put("failed_puts", failures);
    return m;
  }

  /**
   * Completed puts per second of the run and their p99, second by second, relative to {@code zero}
   * (the move's start): {@code [second, ops, p99 ms]} rows from {@code from} to {@code to}. Pure.
   */
  public static List<List<Object>> timeline(List<long[]> records, long zero, long from, long to) {
    List<List<Object>> rows = new ArrayList<>();
    long s = 1_000_000_000L;
    long first = Math.floorDiv(from - zero, s);
    for (long k = first; zero + k * s < to; k++) {
      long a = Math.max(from, zero + k * s);
      long b = Math.min(to, zero + (k + 1) * s);
      if (b <= a) {
        continue;
      }
      LoadWindow w = LoadWindow.of(records, a, b);
      rows.add(List.of(k, w.ops(), w.p99Millis()));
    }
    return rows;
  }

  /** {@code a / b}, NaN if either is not a positive finite number. */
  public static double ratio(Object a, Object b) {
    if (!(a instanceof Number x) || !(b instanceof Number y)) {
      return Double.NaN;
    }
    double p = x.doubleValue();
    double q = y.doubleValue();
    return Double.isFinite(p) && Double.isFinite(q) && q > 0 && p >= 0 ? p / q : Double.NaN;
  }

  /** Writes {@code results.json} and {@code results.md} into the output directory. */
  void write() throws IOException {
    Files.createDirectories(out);
    Map<String, Object> root = new LinkedHashMap<>();
    root.put("command", command);
    root.put("options", options);
    root.put("ratios", ratios());
    root.put("setup", setup);
    root.put("move", move);
    root.put("load", load);
    root.put("machine", machine);
    root.put("errors", errors);
    Files.writeString(out.resolve("results.json"), Json.of(root) + "\n", StandardCharsets.UTF_8);
    Files.writeString(out.resolve("results.md"), markdown(), StandardCharsets.UTF_8);
  }

  /** The headline ratios (NaN where a figure is missing). */
  Map<String, Object> ratios() {
    Map<String, Object> before = window("before");
    Map<String, Object> during = window("during");
    Map<String, Object> r = new LinkedHashMap<>();
    r.put("ops_during_over_before", ratio(during.get("ops_per_s"), before.get("ops_per_s")));
    r.put("p99_during_over_before", ratio(during.get("p99_ms"), before.get("p99_ms")));
    r.put("move_s", move.getOrDefault("move_s", Double.NaN));
    r.put("bytes_over_state", ratio(move.get("bytes_received"), move.get("state_bytes_of_range")));
    return r;
  }

  @SuppressWarnings("unchecked")
  private Map<String, Object> window(String name) {
    Object w = load.get(name);
    return w instanceof Map<?, ?> m ? (Map<String, Object>) m : Map.of();
  }

  /** The report. */
  String markdown() {
    StringBuilder b = new StringBuilder();
    b.append("# A replica move under load\n\n`").append(command).append("`\n\n");
    b.append(
        String.format(
            Locale.ROOT,
            "%s nodes (one JVM each, %s), %s ranges at replication %s, %s of state (%s keys, %s-byte"
                + " values); %s clients putting %s-byte values to random keys across all ranges."
                + " Machine: %s cores, shared with other work: load average %s at the start, %s"
                + " before the move, %s after it, %s at the end.\n\n",
            options.get("nodes"),
            options.get("node_jvm"),
            options.get("ranges"),
            options.get("replication"),
            mib(setup.get("state_bytes")),
            setup.getOrDefault("keys", "?"),
            options.get("value_bytes"),
            options.get("clients"),
            options.get("value_bytes"),
            machine.get("cores"),
            machine.get("loadavg_start"),
            machine.getOrDefault("loadavg_move_start", "?"),
            machine.getOrDefault("loadavg_move_end", "?"),
            machine.getOrDefault("loadavg_end", "?")));
    Map<String, Object> r = ratios();
    b.append("| ops/s during ÷ before | p99 during ÷ before | move time | bytes received ÷ range's")
        .append(" state |\n|---|---|---|---|\n");
    b.append(
        String.format(
            Locale.ROOT,
            "| %s | %s | %s s | %s |\n\n",
            num(r.get("ops_during_over_before"), "%.2f"),
            num(r.get("p99_during_over_before"), "%.2f"),
            num(r.get("move_s"), "%.2f"),
            num(r.get("bytes_over_state"), "%.3f")));
    b.append(
        "| window | length s | puts | ops/s | p99 ms | failed puts | CPU of the nodes (cores) |"
            + " benchmark JVM | machine busy (of "
            + machine.get("cores")
            + ") |\n|---|---|---|---|---|---|---|---|---|\n");
    for (String name : List.of("before", "during", "after")) {
      Map<String, Object> w = window(name);
      if (w.isEmpty()) {
        continue;
      }
      b.append(
          String.format(
              Locale.ROOT,
              "| %s | %s | %s | %s | %s | %s | %s | %s | %s |\n",
              name,
              num(w.get("seconds"), "%.1f"),
              w.get("ops"),
              num(w.get("ops_per_s"), "%.0f"),
              num(w.get("p99_ms"), "%.1f"),
              w.get("failed_puts"),
              nodeCores(w.get("cpu_cores")),
              w.get("cpu_cores") instanceof Map<?, ?> c ? num(c.get("benchmark"), "%.2f") : "n/a",
              w.get("cpu_cores") instanceof Map<?, ?> c ? num(c.get("machine"), "%.2f") : "n/a"));
    }
    b.append("\n## The move\n\n");
    b.append(
        String.format(
            Locale.ROOT,
            "%s: replica on %s (leader before: %s) to %s in %s s; %s received from %s against %s"
                + " of the range's state written (%s in the target's installed snapshot).\n\n",
            move.getOrDefault("group", "?"),
            move.getOrDefault("from", "?"),
            move.getOrDefault("leader_before", "?"),
            move.getOrDefault("to", "?"),
            num(move.get("move_s"), "%.2f"),
            mib(move.get("bytes_received")),
            Json.of(move.getOrDefault("sources", List.of())),
            mib(move.get("state_bytes_of_range")),
            mib(move.get("target_snapshot_raw_bytes"))));
    for (Map.Entry<String, Object> e : move.entrySet()) {
      if (!e.getKey().equals("steps")) {
        b.append("- ").append(e.getKey()).append(": ").append(Json.of(e.getValue())).append('\n');
      }
    }
    if (move.get("steps") instanceof List<?> steps) {
      b.append("\nSteps (ms from the move's start):\n\n");
      for (Object s : steps) {
        b.append("- ").append(s).append('\n');
      }
    }
    b.append("\n## Setup\n\n");
    for (Map.Entry<String, Object> e : setup.entrySet()) {
      if (!e.getKey().equals("map")) {
        b.append("- ").append(e.getKey()).append(": ").append(Json.of(e.getValue())).append('\n');
      }
    }
    if (setup.get("map") instanceof String map) {
      b.append("\nThe cluster map:\n\n```\n").append(map.strip()).append("\n```\n");
    }
    if (load.containsKey("failure_kinds")) {
      b.append("\nFailed puts by kind: ").append(Json.of(load.get("failure_kinds"))).append('\n');
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

  /** Each node's cores and their sum, e.g. {@code 0.31 + 0.42 = 0.73}, from a window's map. */
  public static String nodeCores(Object cpu) {
    if (!(cpu instanceof Map<?, ?> c)) {
      return "n/a";
    }
    List<String> parts = new ArrayList<>();
    double sum = 0;
    for (Map.Entry<?, ?> e : c.entrySet()) {
      String k = String.valueOf(e.getKey());
      if (!k.equals(CpuSampler.MACHINE)
          && !k.equals("benchmark")
          && e.getValue() instanceof Number n) {
        parts.add(num(n, "%.2f"));
        sum += n.doubleValue();
      }
    }
    return parts.isEmpty() ? "n/a" : String.join(" + ", parts) + " = " + num(sum, "%.2f");
  }

  /** {@code v} formatted with {@code format} (Locale.ROOT), "n/a" if not a finite number. */
  public static String num(Object v, String format) {
    if (v instanceof Number n && Double.isFinite(n.doubleValue())) {
      return String.format(Locale.ROOT, format, n.doubleValue());
    }
    return "n/a";
  }

  /** Bytes as MiB with one decimal, "?" if not a number. */
  public static String mib(Object bytes) {
    return bytes instanceof Number n
        ? String.format(Locale.ROOT, "%.1f MiB", n.doubleValue() / (1 << 20))
        : "?";
  }
}
