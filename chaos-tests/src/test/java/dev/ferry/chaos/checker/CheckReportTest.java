package dev.ferry.chaos.checker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.chaos.history.History;
import dev.ferry.chaos.history.Op;
import dev.ferry.chaos.history.Outcome;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CheckReportTest {
  @TempDir Path dir;

  private static List<Op> correct() {
    return Simulation.seed(1)
        .processes(5)
        .registers("a", "b")
        .counters("c")
        .sets("s")
        .unknown(0.05)
        .run(2000);
  }

  @Test
  void aCorrectHistoryIsValid() {
    CheckReport report = CheckReport.check(History.of(correct()));
    assertEquals(CheckReport.Status.VALID, report.status(), report.summary());
    assertEquals(2000, report.ops());
    assertEquals(4, report.keys());
    assertEquals(
        2000,
        report.outcomes().get(Outcome.OK)
            + report.outcomes().get(Outcome.FAIL)
            + report.outcomes().get(Outcome.UNKNOWN));
    assertEquals(List.of(), report.problems());
    String summary = report.summary();
    assertTrue(summary.startsWith("history: 2000 ops (OK "), summary);
    assertTrue(
        summary.contains(
            "linearizability: LINEARIZABLE over 3 register keys (LINEARIZABLE 3, NOT_LINEARIZABLE"
                + " 0, UNKNOWN 0)"),
        summary);
    assertTrue(summary.contains("counters: 1 key, 0 anomalies\n  counter c: "), summary);
    assertTrue(summary.contains("sets: 1 key, 0 anomalies\n  set s: "), summary);
    assertTrue(summary.endsWith("status: VALID"), summary);
  }

  @Test
  void problemsAreListedAndMakeTheHistoryInvalid() {
    List<Op> ops = new ArrayList<>(correct());
    ops.add(Op.read(100, "a", Outcome.OK, -5L, 0, 1));
    ops.add(Op.readSet(101, "s", Outcome.OK, Set.of(-7L), Long.MAX_VALUE - 2, Long.MAX_VALUE - 1));
    CheckReport report = CheckReport.check(ops, Budget.DEFAULT);
    assertEquals(CheckReport.Status.INVALID, report.status());
    List<String> problems = report.problems();
    assertTrue(problems.get(0).startsWith("NOT_LINEARIZABLE key a: "), problems.get(0));
    assertTrue(
        problems.stream().anyMatch(p -> p.startsWith("LOST_WRITE set s: ")), problems::toString);
    assertTrue(
        problems.stream().anyMatch(p -> p.startsWith("PHANTOM_ELEMENT set s: element -7")),
        problems::toString);
    assertTrue(report.summary().contains("problems:\n  NOT_LINEARIZABLE key a: "));
    assertTrue(report.summary().endsWith("status: INVALID"));
  }

  @Test
  void anExhaustedBudgetMakesTheHistoryUnknown() {
    CheckReport report = CheckReport.check(correct(), Budget.states(3));
    assertEquals(CheckReport.Status.UNKNOWN, report.status());
    assertTrue(report.problems().get(0).startsWith("UNKNOWN key a: search budget exhausted"));
  }

  @Test
  void manyProblemsAreCappedInTheSummary() {
    List<Op> ops = new ArrayList<>();
    for (int i = 0; i < 15; i++) {
      ops.add(Op.read(i, "k" + i, Outcome.OK, 1L, 0, 1));
    }
    CheckReport report = CheckReport.check(ops, Budget.DEFAULT);
    assertEquals(15, report.problems().size());
    assertTrue(report.summary().contains("  ... and 5 more\n"), report.summary());
  }

  @Test
  void checkHistoryMainReportsASavedHistory() throws IOException {
    Path good = dir.resolve("good.txt");
    History.of(correct()).save(good);
    Path bad = dir.resolve("bad.txt");
    History.of(List.of(Op.read(0, "a", Outcome.OK, 1L, 0, 1))).save(bad);
    Path broken = dir.resolve("broken.txt");
    Files.writeString(broken, "ferry-history 1\nnonsense\n");

    assertEquals(0, run(good.toString()).status);
    Run invalid = run(bad.toString());
    assertEquals(1, invalid.status);
    assertTrue(invalid.out.contains("status: INVALID"), invalid.out);
    assertEquals(2, run(good.toString(), "2").status);
    Run unreadable = run(broken.toString());
    assertEquals(3, unreadable.status);
    assertTrue(unreadable.err.contains("broken.txt:2: "), unreadable.err);
    assertEquals(3, run().status);
    assertEquals(3, run(good.toString(), "0").status);
    assertEquals(3, run(good.toString(), "x").status);
  }

  private record Run(int status, String out, String err) {}

  private static Run run(String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int status =
        CheckHistory.run(
            args,
            new PrintStream(out, true, StandardCharsets.UTF_8),
            new PrintStream(err, true, StandardCharsets.UTF_8));
    return new Run(
        status, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }
}
