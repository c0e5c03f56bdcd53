package dev.ferry.bench.recovery;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The benchmark's bookkeeping without a cluster: report, pairs, scenarios, cleanup, keys. */
class RecoveryReportTest {
  @TempDir Path dir;

  private static Measurement row(String id, double seconds, List<long[]> progress) {
    return new Measurement(
        id, id + " label", seconds, 10, 1 << 20, Map.of("n1", 10L), Map.of(), progress);
  }

  @Test
  void failuresAndPairsAreWrittenAndAChartFailureLosesNothing() throws Exception {
    Report r =
        new Report(
            Map.of("stateBytes", 1),
            List.of(row("a", 2.0, List.of()), row("b", 1.0, List.of(new long[] {0, 1}))),
            List.of(new Report.Failure("delta1", "boom | with a pipe\nand a line")),
            List.of(
                new Report.Pairs(
                    "cold-join",
                    "cold join",
                    Arrays.asList(2.0, 3.0, null),
                    List.of(1.0, 1.0, 1.0))));
    Path out = dir.resolve("out");
    r.write(out);
    String md = Files.readString(out.resolve("results.md"));
    String json = Files.readString(out.resolve("results.json"));
    assertTrue(md.contains("delta1: FAILED"), md);
    assertTrue(md.contains("boom \\| with a pipe and a line"), md);
    assertTrue(md.contains("| cold join | 2 | 2.50× | 2.00× | 3.00× | 2.00, 3.00, failed |"), md);
    assertTrue(json.contains("\"failures\": ["), json);
    assertTrue(json.contains("\"ratisSeconds\": [2.0000, 3.0000, null]"), json);
    assertEquals(2.5, r.pairs("cold-join").orElseThrow().median(), 1e-9);
    // A chart whose target cannot be written (a directory of that name) fails alone.
    Files.createDirectories(out.resolve("b-sources.png"));
    r.writeCharts(out);
    assertEquals(md, Files.readString(out.resolve("results.md")));
  }

  @Test
  void scenariosParseLettersAndNames() {
    assertEquals(
        Set.of("a", "b", "delta1", "restart"),
        RecoveryBenchmark.parseScenarios("ab,delta1,restart"));
    assertEquals(9, RecoveryBenchmark.parseScenarios(RecoveryBenchmark.ALL).size());
    assertThrows(IllegalArgumentException.class, () -> RecoveryBenchmark.parseScenarios("g"));
  }

  @Test
  void deleteTreeToleratesMissingAndNestedDirectories() throws Exception {
    RecoveryBenchmark.deleteTree(dir.resolve("missing"));
    Path d = dir.resolve("x/y/z");
    Files.createDirectories(d);
    Files.writeString(d.resolve("f"), "data");
    RecoveryBenchmark.deleteTree(dir.resolve("x"));
    assertFalse(Files.exists(dir.resolve("x")));
  }

  @Test
  void keysShareAPrefixAreUniqueAndDeterministic() {
    StateGenerator g = new StateGenerator(4L << 20, 7);
    Set<String> seen = new HashSet<>();
    for (int i = 0; i < g.keys(); i++) {
      byte[] k = g.key(i);
      assertEquals(StateGenerator.KEY_BYTES, k.length);
      String s = new String(k, StandardCharsets.US_ASCII);
      assertTrue(s.matches("user:[0-9a-f]{16}"), s);
      assertTrue(seen.add(s), "duplicate " + s);
    }
    assertArrayEquals(g.key(5), new StateGenerator(4L << 20, 7).key(5));
    assertFalse(Arrays.equals(g.key(5), new StateGenerator(4L << 20, 8).key(5)));
    assertEquals(StateGenerator.ENTRY_BYTES, g.key(3).length + g.value(3, 0).length);
  }
}
