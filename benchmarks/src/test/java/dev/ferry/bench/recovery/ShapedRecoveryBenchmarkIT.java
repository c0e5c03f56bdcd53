package dev.ferry.bench.recovery;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.kv.testing.NodeLogsOnFailure;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs the shaped multi-process benchmark at 4 MiB: cold joins and delta1 once each on every link
 * profile, foreground (a 2 s window) on the unshaped one (as root: namespaces and tc; otherwise the
 * loopback fallback: unshaped cold joins and foreground only; without the tuned Ratis run, to stay
 * within 3 minutes) and checks its output: every expected row present and not failed, sane figures,
 * and measured link rates near the configured ones. No timing verdicts beyond that.
 */
class ShapedRecoveryBenchmarkIT {
  @TempDir Path dir;

  @Test
  void everyRowIsPresentAndSane() throws Exception {
    try {
      runAndCheck();
    } catch (Throwable t) {
      keepNodeLogs(dir.resolve("work"));
      throw t;
    }
  }

  private void runAndCheck() throws Exception {
    Path out = dir.resolve("out");
    ShapedRecoveryBenchmark.Options o =
        ShapedRecoveryBenchmark.parse(
            new String[] {
              "--size",
              "4m",
              "--repeat",
              "1",
              "--scenarios",
              "cold,delta1,foreground",
              "--fg-window",
              "2",
              "--fg-profiles",
              "unshaped",
              "--ratis-tuning",
              "",
              "--out",
              out.toString(),
              "--work",
              dir.resolve("work").toString(),
              // a 4 MiB join takes seconds; 5 minutes leaves room for a loaded machine without
              // letting a stuck join hold CI for the 20-minute default
              "--timeout",
              "300"
            });
    ShapedResults r = ShapedRecoveryBenchmark.run(o);

    boolean shaped = Boolean.TRUE.equals(r.meta().get("shaped"));
    List<String> links = shaped ? List.of("unshaped", "1gbit", "100mbit") : List.of("unshaped");
    List<String> expected = new ArrayList<>();
    for (String system : List.of("ratis", "ferry")) {
      // delta1 needs namespaces (a partition): without root only cold joins and foreground run.
      for (String kind :
          shaped ? List.of("cold", "delta1", "foreground") : List.of("cold", "foreground")) {
        // foreground on the unshaped link only (--fg-profiles), to stay within 3 minutes
        for (String link : kind.equals("foreground") ? List.of("unshaped") : links) {
          expected.add(system + "|" + kind + "|" + link);
        }
      }
    }
    List<String> seen = new ArrayList<>();
    for (Map<String, Object> row : r.scenarios()) {
      String key = row.get("system") + "|" + row.get("kind") + "|" + row.get("link");
      seen.add(key);
      assertEquals("ok", row.get("status"), key + ": " + row.get("errors"));
      if (row.get("kind").equals("foreground")) {
        assertForeground(key, row);
        continue;
      }
      assertTrue(((Number) row.get("seconds")).doubleValue() > 0, key + " seconds");
      assertTrue(((Number) row.get("wire_bytes")).longValue() > 0, key + " wire bytes");
      assertTrue(((Number) row.get("receiver_cpu_s")).doubleValue() > 0, key + " receiver CPU");
      if (row.get("kind").equals("cold")) {
        assertTrue(
            ((Number) row.get("receiver_heap_max_bytes")).longValue() > 0, key + " receiver heap");
      }
      if (shaped) {
        assertTrue(((Number) row.get("sources")).longValue() >= 1, key + " sources");
      }
    }
    assertEquals(expected.stream().sorted().toList(), seen.stream().sorted().toList());
    for (String link : links) {
      double measured = r.measuredRate(link);
      long configured = ShapedRecoveryBenchmark.PROFILES.get(link);
      assertTrue(measured > 0, link + " measured");
      if (shaped && configured > 0) {
        assertTrue(
            measured > configured / 2.0 && measured < configured * 1.5,
            link + ": measured " + measured + " bit/s for " + configured);
      }
    }
    assertEquals(
        expected.stream().filter(k -> !k.contains("|foreground|")).count() / 2,
        r.ratios().stream().filter(m -> m.get("baseline").equals("ratis")).count(),
        "a Ratis ÷ Ferry ratio per kind and link");
    String json = Files.readString(out.resolve("results.json"));
    for (String field :
        List.of(
            "\"scenarios\"",
            "\"machine\"",
            "\"link_rates_measured\"",
            "\"command\"",
            "\"seconds_min\"",
            "\"seconds_max\"",
            "\"receiver_heap_max_bytes\"")) {
      assertTrue(json.contains(field), field);
    }
    String md = Files.readString(out.resolve("results.md"));
    assertTrue(md.contains("Ratis ÷ Ferry"));
    assertTrue(md.contains("ops ratio ≥ 0.80"), "the foreground table with its targets");
    assertTrue(!r.failed(), "no failure");
  }

  /**
   * Keeps every node log under {@code work} (the {@code @TempDir} is deleted after the test) with
   * {@link NodeLogsOnFailure#keep}: copied to {@code target/failed-node-logs/
   * ShapedRecoveryBenchmarkIT/}, the last 40 lines of each printed.
   */
  private static void keepNodeLogs(Path work) throws IOException {
    if (!Files.isDirectory(work)) {
      return;
    }
    List<Path> logs;
    try (Stream<Path> files = Files.walk(work)) {
      logs = files.filter(f -> f.getFileName().toString().endsWith(".log")).sorted().toList();
    }
    NodeLogsOnFailure.keep(
        Path.of(NodeLogsOnFailure.DEFAULT_DIR), "ShapedRecoveryBenchmarkIT", logs);
  }

  /** Puts completed in both windows; rates, latencies and the join time positive. */
  private static void assertForeground(String key, Map<String, Object> row) {
    for (String f : ShapedResults.FOREGROUND_FIELDS) {
      assertTrue(row.get(f) instanceof Number, key + " " + f + ": " + row.get(f));
      double v = ((Number) row.get(f)).doubleValue();
      assertTrue(v > 0 && Double.isFinite(v), key + " " + f + ": " + v);
    }
  }
}
