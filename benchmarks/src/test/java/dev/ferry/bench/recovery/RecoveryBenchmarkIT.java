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

/** Runs every scenario of the recovery benchmark end to end on a tiny state. */
class RecoveryBenchmarkIT {
  @TempDir Path dir;

  @Test
  void everyScenarioRunsAndReportsSaneNumbers() throws Exception {
    long size = 4L << 20;
    Path out = dir.resolve("out");
    Report r =
        RecoveryBenchmark.run(
            new RecoveryBenchmark.Options(
                size, size, 0, out, dir.resolve("work"), "abcdef", Map.of(), BenchData.SEED));

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
            "c.10pct-range")) {
      Measurement m = r.find(id).orElseThrow(() -> new AssertionError("no row " + id));
      assertTrue(m.seconds() > 0, id);
      assertTrue(m.wireBytes() > 0, id);
      assertTrue(json.contains("\"id\": \"" + id + "\""), id);
      assertTrue(table.contains(m.label()), id);
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
    for (String id : List.of("c.1pct-random", "c.10pct-range")) {
      Measurement d = r.find(id).orElseThrow();
      assertTrue(d.wireBytes() < join.wireBytes(), id + " fetched less than a full join");
      assertTrue(d.extra().containsKey("digest"), id + " converged");
    }
    assertTrue(r.find("d").orElseThrow().megabytesPerSecond() > 0);
  }
}
