package dev.ferry.bench.replace;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReplacementResultsTest {
  @TempDir Path dir;

  private static void fill(Map<String, Object> row, long recreated, double seconds, int sources) {
    row.put("state_bytes_per_group", 64L << 20);
    row.put("groups_moved", 1);
    row.put("recreated_bytes", recreated);
    row.put("replacement_s", seconds);
    row.put("wire_bytes", 50_000_000L);
    row.put("sources_distinct", List.of("n1", "n2", "n3", "n4", "n5").subList(0, sources));
    row.put("sources_max_at_once", sources);
    row.put("moves_failed", List.of());
    row.put(
        "load",
        Map.of(
            "before", Map.of("ops_per_s", 200.0, "p99_ms", 100.0),
            "during", Map.of("ops_per_s", 170.0, "p99_ms", 150.0)));
  }

  @Test
  void derivesThroughputIdealAndRatiosAgainstGroupsOne() {
    Map<String, Object> g1 = Map.of("recreated_bytes", 100_000_000L, "replacement_s", 20.0);
    Map<String, Object> row =
        Map.of(
            "recreated_bytes",
            50_000_000L,
            "replacement_s",
            5.0,
            "wire_bytes",
            20_000_000L,
            "sources_distinct",
            List.of("n1", "n2", "n3", "n4"),
            "load",
            Map.of(
                "before", Map.of("ops_per_s", 200.0, "p99_ms", 100.0),
                "during", Map.of("ops_per_s", 170.0, "p99_ms", 150.0)));

    Map<String, Object> d = ReplacementResults.derived(row, g1, 1_000_000.0);

    assertEquals(10.0, (double) d.get("throughput_mb_per_s"), 1e-9);
    assertEquals(2.0, (double) d.get("throughput_over_g1"), 1e-9);
    // 20 MB over 4 sources at 1 MB/s each: 5 s ideal, and it took 5 s.
    assertEquals(5.0, (double) d.get("ideal_s"), 1e-9);
    assertEquals(1.0, (double) d.get("time_over_ideal"), 1e-9);
    assertEquals(0.85, (double) d.get("ops_during_over_before"), 1e-9);
    assertEquals(1.5, (double) d.get("p99_during_over_before"), 1e-9);
  }

  @Test
  void missingFiguresAreNaNNotErrors() {
    Map<String, Object> d = ReplacementResults.derived(Map.of("error", "x"), null, null);
    assertTrue(Double.isNaN((double) d.get("throughput_mb_per_s")));
    assertTrue(Double.isNaN((double) d.get("throughput_over_g1")));
    assertTrue(Double.isNaN((double) d.get("ideal_s")));
    assertTrue(Double.isNaN((double) d.get("ops_during_over_before")));
  }

  @Test
  void writesATableRowPerProfileAndGroupsWithRatiosWithinTheProfile() throws Exception {
    ReplacementResults r =
        new ReplacementResults(dir, "cmd", Map.of("nodes", 6, "size_bytes", 1L << 30));
    r.linkRate("unshaped", 1e9);
    fill(r.newRow("unshaped", 1), 300_000_000L, 30.0, 2);
    fill(r.newRow("unshaped", 24), 150_000_000L, 10.0, 5);
    r.newRow("unshaped", 96).put("error", "java.io.IOException: boom");
    r.write();

    String md = Files.readString(dir.resolve("results.md"));
    List<String> lines = md.lines().filter(l -> l.startsWith("| unshaped")).toList();
    assertEquals(3, lines.size(), md);
    assertTrue(lines.get(0).contains("| 10.00 MB/s | 1.00 | 2 / 2 |"), lines.get(0));
    assertTrue(lines.get(1).contains("| 15.00 MB/s | 1.50 | 5 / 5 |"), lines.get(1));
    assertTrue(lines.get(1).contains("| 0.85 | 1.50 | 0 |"), lines.get(1));
    assertTrue(lines.get(2).contains("| n/a MB/s | n/a |"), lines.get(2));
    assertTrue(md.contains("- error: \"java.io.IOException: boom\""), md);
    String json = Files.readString(dir.resolve("results.json"));
    assertTrue(json.contains("\"throughput_over_g1\""), json);
  }
}
