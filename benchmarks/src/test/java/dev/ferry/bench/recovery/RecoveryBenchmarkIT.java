package dev.ferry.bench.recovery;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.bench.BenchData;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs every scenario of the recovery benchmark end to end on a tiny state, once each ({@code
 * --repeat 1}), and checks that the output files hold every row. No timing verdicts: the waits have
 * generous deadlines and the numbers only have to be sane.
 */
class RecoveryBenchmarkIT {
  @TempDir Path dir;

  @Test
  void everyScenarioRunsAndReportsSaneNumbers() throws Exception {
    long size = 4L << 20;
    Path out = dir.resolve("out");
    Report r =
        RecoveryBenchmark.run(
            new RecoveryBenchmark.Options(
                size,
                size,
                0,
                out,
                dir.resolve("work"),
                RecoveryBenchmark.parseScenarios(RecoveryBenchmark.ALL),
                Map.of(),
                BenchData.SEED,
                1));

    assertEquals(List.of(), r.failures(), "no scenario failed");
    for (String f : List.of("results.json", "results.md", "b-sources.png")) {
      assertTrue(Files.size(out.resolve(f)) > 0, f);
    }
    String json = Files.readString(out.resolve("results.json"));
    String table = Files.readString(out.resolve("results.md"));
    for (String id :
        List.of(
            "a",
            "d",
            "b",
            "b.voter",
            "e.1000mbit.compressed",
            "e.1000mbit.raw",
            "e.100mbit.compressed",
            "e.100mbit.raw",
            "f.1",
            "f.3",
            "c.1pct-random",
            "c.1pct-range",
            "c.10pct-random",
            "c.10pct-range",
            "delta1.ratis",
            "delta1",
            "restart-delta1",
            "restart",
            "restart.single-thread")) {
      Measurement m = r.find(id).orElseThrow(() -> new AssertionError("no row " + id));
      assertTrue(m.seconds() > 0, id);
      if (!id.startsWith("restart")) {
        assertTrue(m.wireBytes() > 0, id);
      }
      assertTrue(json.contains("\"id\": \"" + id + "\""), id);
      assertTrue(table.contains(m.label()), id);
    }
    for (String pairs : List.of("cold-join", "delta1")) {
      Report.Pairs p = r.pairs(pairs).orElseThrow(() -> new AssertionError("no pairs " + pairs));
      assertEquals(1, p.ratios().size(), pairs);
      assertTrue(p.median() > 0, pairs);
      assertTrue(table.contains(p.label()), pairs);
      assertTrue(json.contains("\"id\": \"" + pairs + "\""), pairs);
    }

    long state = new StateGenerator(size, BenchData.SEED).rawBytes();
    Measurement ratis = r.find("a").orElseThrow();
    assertTrue(ratis.wireBytes() >= state, "Ratis ships the whole uncompressed state");
    Measurement join = r.find("b").orElseThrow();
    assertEquals(state, join.stateBytes());
    assertTrue(join.wireBytes() < state, "compressed chunks: " + join.wireBytes());
    assertTrue(join.extra().containsKey("digest"), "the joiner's digest was verified");
    assertTrue(
        r.find("b.voter").orElseThrow().seconds() >= join.seconds(), "voter after caught up");
    assertEquals(1, r.find("f.1").orElseThrow().perSource().size());
    assertEquals(3, r.find("f.3").orElseThrow().perSource().size());
    assertTrue(
        r.find("e.100mbit.raw").orElseThrow().wireBytes() >= state, "raw shipping is uncompressed");
    // No "fetched less than a full join" check: a delta that lands on a capture which rewrites a
    // shard in full (more than maxRunsPerShard runs) fetches that shard whole, and at this size the
    // purge padding adds captures; the byte ratios are for the full-size runs.
    for (String id :
        List.of(
            "c.1pct-random",
            "c.1pct-range",
            "c.10pct-random",
            "c.10pct-range",
            "delta1",
            "restart-delta1")) {
      Measurement d = r.find(id).orElseThrow();
      assertTrue(d.extra().containsKey("digest"), id + " converged");
    }
    Measurement delta1 = r.find("delta1").orElseThrow();
    double notified = (Double) delta1.extra().get("notificationSeconds");
    assertTrue(notified >= 0 && notified <= delta1.seconds(), "notification within the catch-up");
    assertTrue(r.find("delta1.ratis").orElseThrow().wireBytes() >= state, "Ratis ships it all");
    assertTrue(r.find("restart-delta1").orElseThrow().extra().containsKey("targetSeconds"));
    Measurement restart = r.find("restart").orElseThrow();
    assertEquals(state, restart.stateBytes());
    assertTrue(restart.extra().containsKey("timesSingleThreaded"));
    assertTrue(r.find("d").orElseThrow().megabytesPerSecond() > 0);
  }
}
