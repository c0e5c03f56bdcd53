package dev.ferry.bench.move;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.bench.LoadWindow;
import dev.ferry.bench.Scrape;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class MoveResultsTest {
  private static final long S = 1_000_000_000L;

  @TempDir Path dir;

  @Test
  void theWindowBeforeHasTheMovesLengthAndEndsWhereTheMoveStarts() {
    long[][] w = MoveResults.windows(10 * S, 100 * S, 130 * S, 200 * S);
    assertArrayEquals(new long[] {70 * S, 100 * S}, w[0]);
    assertArrayEquals(new long[] {100 * S, 130 * S}, w[1]);
    assertArrayEquals(new long[] {130 * S, 160 * S}, w[2]);
  }

  @Test
  void theWindowsAreCutByTheWarmUpAndTheLoadsEnd() {
    // A move longer than the load before it: the window before starts at the warm-up's end.
    long[][] w = MoveResults.windows(80 * S, 100 * S, 130 * S, 140 * S);
    assertArrayEquals(new long[] {80 * S, 100 * S}, w[0]);
    assertArrayEquals(new long[] {130 * S, 140 * S}, w[2]);
    // The load stopped with the move: no window after.
    assertNull(MoveResults.windows(80 * S, 100 * S, 130 * S, 130 * S)[2]);
    assertThrows(
        IllegalArgumentException.class, () -> MoveResults.windows(0, 100 * S, 100 * S, 200 * S));
    assertThrows(
        IllegalArgumentException.class, () -> MoveResults.windows(101 * S, 100 * S, 120 * S, 200));
  }

  @Test
  void theTimelineCountsEachSecondFromTheMovesStart() {
    // Puts completing at -1.5 s (2 ms), -0.5 s (4 ms), 0.2 s and 0.7 s (1 and 3 ms) around 100 s.
    long zero = 100 * S;
    long[] rec = {
      zero - 3 * S / 2,
      2_000_000,
      zero - S / 2,
      4_000_000,
      zero + S / 5,
      1_000_000,
      zero + 7 * S / 10,
      3_000_000
    };
    List<List<Object>> rows = MoveResults.timeline(List.of(rec), zero, zero - 2 * S, zero + S);
    assertEquals(3, rows.size());
    assertEquals(List.of(-2L, 1L, 2.0), rows.get(0));
    assertEquals(List.of(-1L, 1L, 4.0), rows.get(1));
    assertEquals(List.of(0L, 2L, 3.0), rows.get(2));
  }

  @Test
  void ratiosAreNaNWhereAFigureIsMissing() {
    assertEquals(0.5, MoveResults.ratio(1.0, 2L), 1e-12);
    assertTrue(Double.isNaN(MoveResults.ratio(1.0, 0.0)));
    assertTrue(Double.isNaN(MoveResults.ratio(null, 2.0)));
    assertTrue(Double.isNaN(MoveResults.ratio(Double.NaN, 2.0)));
  }

  @Test
  void theReportHasTheRatiosAndKeepsWhatWasMeasuredWhenAStepFailed() throws Exception {
    Map<String, Object> options = new LinkedHashMap<>();
    options.put("nodes", 4);
    options.put("ranges", 8);
    MoveResults r = new MoveResults(dir, "MoveUnderLoadBenchmark --size 1m", options);
    r.setup().put("state_bytes", 1L << 20);
    r.move().put("move_s", 12.5);
    r.move().put("state_bytes_of_range", 4000L);
    r.move().put("bytes_received", 1000L);
    r.load().put("before", MoveResults.figures(new LoadWindow(1000, 10, 100, 20), 0));
    Map<String, Object> during = MoveResults.figures(new LoadWindow(800, 10, 80, 50), 3);
    Map<String, Object> cores = new LinkedHashMap<>();
    cores.put("n1", 0.5);
    cores.put("n2", 0.25);
    cores.put("benchmark", 0.125);
    cores.put("machine", 1.875);
    during.put("cpu_cores", cores);
    r.load().put("during", during);
    r.error("scrape after the move of n4", new java.io.IOException("connection refused"));
    r.write();

    Map<String, Object> ratios = r.ratios();
    assertEquals(0.8, (double) ratios.get("ops_during_over_before"), 1e-12);
    assertEquals(2.5, (double) ratios.get("p99_during_over_before"), 1e-12);
    assertEquals(0.25, (double) ratios.get("bytes_over_state"), 1e-12);
    String md = Files.readString(dir.resolve("results.md"), StandardCharsets.UTF_8);
    assertTrue(md.contains("| 0.80 | 2.50 | 12.50 s | 0.250 |"), md);
    assertTrue(
        md.contains("| during | 10.0 | 800 | 80 | 50.0 | 3 | 0.50 + 0.25 = 0.75 | 0.13 | 1.88 |"),
        md);
    assertTrue(md.contains("| before | 10.0 | 1000 | 100 | 20.0 | 0 | n/a | n/a | n/a |"), md);
    assertTrue(md.contains("scrape after the move of n4: java.io.IOException: connection refused"));
    String json = Files.readString(dir.resolve("results.json"), StandardCharsets.UTF_8);
    assertTrue(json.contains("\"ops_during_over_before\": 0.8000"), json);
    assertTrue(json.contains("\"command\": \"MoveUnderLoadBenchmark --size 1m\""), json);
  }

  @Test
  void theTransferFiguresComeFromTheTargetsMetrics() {
    Scrape target =
        Scrape.parse(
            String.join(
                "\n",
                "ferry_install_fetched_bytes_total{node=\"n4\",group=\"c.r1\",source=\"n1\"} 300",
                "ferry_install_fetched_bytes_total{node=\"n4\",group=\"c.r1\",source=\"n2\"} 200",
                "ferry_install_fetched_bytes_total{node=\"n4\",group=\"c.r0\",source=\"n2\"} 999",
                "ferry_install_phase_seconds_sum{node=\"n4\",group=\"c.r1\",phase=\"transfer\"} 1.5",
                "ferry_snapshot_size_bytes{node=\"n4\",group=\"c.r1\"} 4000",
                "ferry_install_rebases_total{node=\"n4\",group=\"c.r1\"} 1",
                "ferry_install_holds_total{node=\"n4\",group=\"c.r1\"} 0",
                "ferry_install_avoided_bytes_total{node=\"n4\",group=\"c.r1\",reason=\"dedup\"} 7",
                "ferry_chunk_served_bytes_total{node=\"n4\"} 0"));
    Scrape n1Before = Scrape.parse("ferry_chunk_served_bytes_total{node=\"n1\"} 100\n");
    Scrape n1After = Scrape.parse("ferry_chunk_served_bytes_total{node=\"n1\"} 400\n");
    Map<String, Object> m = new LinkedHashMap<>();
    MoveUnderLoadBenchmark.transferFigures(
        "c.r1", "n4", Map.of("n1", n1Before), Map.of("n1", n1After, "n4", target), m);
    assertEquals(Map.of("n1", 300L, "n2", 200L), m.get("target_metrics_fetched_bytes_per_source"));
    assertEquals(500L, m.get("target_metrics_fetched_bytes"));
    assertEquals(500L, m.get("bytes_received"), "from the metrics when the mover gave none");
    assertEquals(Map.of("transfer", 1.5), m.get("target_install_phases_s"));
    assertEquals(4000L, m.get("target_snapshot_raw_bytes"));
    assertEquals(
        Map.of(
            "ferry_install_rebases_total", 1.0,
            "ferry_install_avoided_bytes_total{reason=dedup}", 7.0),
        m.get("target_install_counters"));
    assertEquals(Map.of("n1", 300L), m.get("served_bytes_per_node"));
  }

  @Test
  void cpuIsInterpolatedBetweenSamples() {
    long[] t = {0, 10 * S, 20 * S};
    double[] v = {0, 5, 15};
    assertEquals(2.5, CpuSampler.at(t, v, 5 * S), 1e-12);
    assertEquals(10, CpuSampler.at(t, v, 15 * S), 1e-12);
    assertEquals(15, CpuSampler.at(t, v, 20 * S), 1e-12);
    assertTrue(Double.isNaN(CpuSampler.at(t, v, 21 * S)));
    assertTrue(Double.isNaN(CpuSampler.at(t, v, -1)));
  }

  @Test
  void theSamplerGivesTheCoresUsedInAWindow() {
    CpuSampler cpu = new CpuSampler(List.of("n1", CpuSampler.MACHINE), () -> new double[0], 0);
    cpu.record(0, new double[] {100, 1000});
    cpu.record(10 * S, new double[] {105, 1015});
    cpu.record(20 * S, new double[] {Double.NaN, 1020}); // n1 gone: keeps 105
    Map<String, Double> c = cpu.cores(5 * S, 15 * S);
    assertEquals(0.25, c.get("n1"), 1e-12); // 102.5 -> 105 in 10 s
    assertEquals(1.0, c.get(CpuSampler.MACHINE), 1e-12); // 1007.5 -> 1017.5
    assertEquals(0.0, cpu.cores(10 * S, 20 * S).get("n1"), 1e-12);
    assertTrue(Double.isNaN(cpu.cores(15 * S, 25 * S).get("n1")), "no sample after 20 s");
  }

  @Test
  void procfsGivesThisProcessesAndTheMachinesCpuSeconds() {
    double[] v = CpuSampler.procfs(List.of(ProcessHandle.current().pid(), -1L)).get();
    assertEquals(3, v.length);
    assertTrue(v[0] > 0, "this JVM has used CPU: " + v[0]);
    assertTrue(Double.isNaN(v[1]), "no process -1");
    assertTrue(v[2] >= v[0], "the machine has been busy at least as long: " + v[2]);
  }
}
