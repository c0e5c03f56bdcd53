package dev.ferry.kv.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.function.Function;
import java.util.regex.Pattern;

/**
 * Counts what nodes log per event (start, a membership add, …): INFO and WARN lines and stack trace
 * lines, from the nodes' log files, so a test can hold the logs to an operator's budget.
 *
 * <p>Call {@link #event(String)} after each event: the lines each node logged since the previous
 * call are counted under that event's name.
 */
public final class NodeLogs {
  private static final Pattern INFO =
      Pattern.compile("^(\\d\\d:\\d\\d:\\d\\d\\.\\d+ INFO |INFO: )");
  private static final Pattern WARN =
      Pattern.compile("^(\\d\\d:\\d\\d:\\d\\d\\.\\d+ (WARN|ERROR) |(WARNING|SEVERE): )");
  private static final Pattern TRACE =
      Pattern.compile("^(\\s+at |\\s*Caused by: |\\s+\\.\\.\\. \\d+ more)");

  /** What one node logged during one event. */
  public record Count(int info, int warn, int traceLines, List<String> warnings) {}

  private final Function<String, Path> logOf;
  private final Map<String, Integer> seen = new LinkedHashMap<>();
  private final Map<String, Map<String, Count>> events = new LinkedHashMap<>();

  /** Reads node {@code id}'s log at {@code logOf.apply(id)}. */
  public NodeLogs(Function<String, Path> logOf) {
    this.logOf = logOf;
  }

  /** Counts, per node in {@code ids}, what was logged since the last event, as {@code name}. */
  public Map<String, Count> event(String name, List<String> ids) throws IOException {
    Map<String, Count> counts = new LinkedHashMap<>();
    for (String id : ids) {
      Path log = logOf.apply(id);
      List<String> lines =
          Files.exists(log) ? Files.readAllLines(log, StandardCharsets.UTF_8) : List.of();
      int from = Math.min(seen.getOrDefault(id, 0), lines.size());
      seen.put(id, lines.size());
      counts.put(id, count(lines.subList(from, lines.size())));
    }
    events.put(name, counts);
    return counts;
  }

  /** Counts one stretch of log lines. */
  public static Count count(List<String> lines) {
    int info = 0;
    int trace = 0;
    List<String> warnings = new ArrayList<>();
    for (String l : lines) {
      if (INFO.matcher(l).find()) {
        info++;
      } else if (WARN.matcher(l).find()) {
        warnings.add(l);
      } else if (TRACE.matcher(l).find()) {
        trace++;
      }
    }
    return new Count(info, warnings.size(), trace, warnings);
  }

  /** Every WARN or ERROR line of every event. */
  public List<String> warnings() {
    List<String> all = new ArrayList<>();
    events.values().forEach(m -> m.values().forEach(c -> all.addAll(c.warnings())));
    return all;
  }

  /** Stack trace lines over every event. */
  public int traceLines() {
    return events.values().stream()
        .flatMap(m -> m.values().stream())
        .mapToInt(Count::traceLines)
        .sum();
  }

  /** A table of the counts: one row per event and node. */
  public String table() {
    StringBuilder b =
        new StringBuilder(
            String.format(
                Locale.ROOT, "%-10s %-4s %5s %5s %6s%n", "event", "node", "INFO", "WARN", "trace"));
    events.forEach(
        (event, counts) ->
            counts.forEach(
                (id, c) ->
                    b.append(
                        String.format(
                            Locale.ROOT,
                            "%-10s %-4s %5d %5d %6d%n",
                            event,
                            id,
                            c.info(),
                            c.warn(),
                            c.traceLines()))));
    return b.toString();
  }
}
