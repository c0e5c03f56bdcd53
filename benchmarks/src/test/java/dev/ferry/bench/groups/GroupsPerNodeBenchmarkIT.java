package dev.ferry.bench.groups;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs the groups-per-node benchmark small (3 node processes × 8 groups, 3 s idle with no settle
 * before it, 2 churn cycles) and checks its output: both files written, every group led and
 * written, every figure present and plausible. No timing, CPU or leader-change verdicts: those are
 * the full run's figures, so the windows here are only as long as a figure needs to exist.
 */
class GroupsPerNodeBenchmarkIT {
  private static final int GROUPS = 8;
  private static final int IDLE_SECONDS = 3;

  /** Two cycles: samples before the first and after the last, the fewest a trend needs. */
  private static final int CYCLES = 2;

  @TempDir Path dir;

  @Test
  void smallRunWritesPlausibleFigures() throws Exception {
    Path out = dir.resolve("out");
    GroupsPerNodeBenchmark.Options o =
        GroupsPerNodeBenchmark.parse(
            new String[] {
              "--groups",
              String.valueOf(GROUPS),
              "--idle",
              String.valueOf(IDLE_SECONDS),
              "--churn",
              String.valueOf(CYCLES),
              "--settle",
              "0",
              "--heap",
              "512m",
              "--out",
              out.toString()
            });
    GroupsResults r = GroupsPerNodeBenchmark.run(o, "GroupsPerNodeBenchmarkIT");

    assertEquals(List.of(), r.errors(), "no phase failed");
    String json = Files.readString(out.resolve("results.json"), StandardCharsets.UTF_8);
    String md = Files.readString(out.resolve("results.md"), StandardCharsets.UTF_8);
    assertTrue(json.contains("\"churn\"") && json.contains("\"idle\""), json);
    assertTrue(md.contains("## " + GROUPS + " groups per node: ok"), md);
    assertTrue(md.contains("## Create/remove churn"), md);

    Map<String, Object> row = r.idle().get(0);
    assertEquals("ok", row.get("status"));
    assertEquals(GROUPS, row.get("groups_written"), "every group took its writes");
    assertEquals(GROUPS, row.get("groups_led_before_idle"), "every group had a leader");
    assertEquals(GROUPS, row.get("groups_led_after_idle"), "every group had a leader after idle");
    assertTrue(((Number) row.get("term_increments_idle")).longValue() >= 0);
    assertTrue(((Number) row.get("idle_window_s")).doubleValue() >= IDLE_SECONDS);
    List<?> nodes = (List<?>) row.get("nodes");
    assertEquals(3, nodes.size());
    int led = 0;
    for (Object o1 : nodes) {
      Map<?, ?> n = (Map<?, ?>) o1;
      String id = (String) n.get("id");
      double cpu = ((Number) n.get("cpu_percent_of_core")).doubleValue();
      assertTrue(cpu >= 0 && cpu <= 100 * Runtime.getRuntime().availableProcessors(), id + cpu);
      assertTrue(((Number) n.get("threads")).intValue() > 10, id + " threads: " + n);
      long heap = ((Number) n.get("heap_after_full_gc_bytes")).longValue();
      assertTrue(heap > 0 && heap < 512L << 20, id + " heap after full GC: " + heap);
      long direct = ((Number) n.get("direct_pool_bytes")).longValue();
      assertTrue(direct > 0, id + " direct memory (Ratis's gRPC uses some): " + direct);
      assertTrue(((Number) n.get("rss_bytes")).longValue() > heap / 2, id + " RSS: " + n);
      assertTrue(!"?".equals(n.get("collector")), id + " collector named in its GC log: " + n);
      led += ((Number) n.get("groups_led")).intValue();
    }
    assertEquals(GROUPS, led, "each group led by exactly one node");

    Map<String, Object> churn = r.churnFigures();
    assertEquals(CYCLES, churn.get("cycles_done"));
    List<?> samples = (List<?>) churn.get("samples");
    assertEquals(
        List.of(0, CYCLES), samples.stream().map(s -> ((Map<?, ?>) s).get("cycle")).toList());
    for (Object s : samples) {
      Map<?, ?> m = (Map<?, ?>) s;
      assertTrue(((Number) m.get("direct_bytes")).longValue() >= 0, m.toString());
      assertTrue(((Number) m.get("threads")).intValue() > 0, m.toString());
    }
    assertTrue(
        churn.get("direct_trend").equals("flat") || churn.get("direct_trend").equals("growing"));
  }
}
