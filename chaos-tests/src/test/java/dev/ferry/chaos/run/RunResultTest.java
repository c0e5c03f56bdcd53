package dev.ferry.chaos.run;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.chaos.checker.Budget;
import dev.ferry.chaos.checker.CheckReport;
import dev.ferry.chaos.harness.NetworkMode;
import dev.ferry.chaos.history.Op;
import dev.ferry.chaos.history.OpType;
import dev.ferry.chaos.history.Outcome;
import dev.ferry.chaos.nemesis.DiskFullNemesis;
import dev.ferry.chaos.nemesis.ProcessNemesis;
import dev.ferry.chaos.nemesis.Target;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RunResultTest {
  private static final Map<OpType, Map<Outcome, Long>> COUNTS =
      Map.of(OpType.WRITE, Map.of(Outcome.OK, 2L), OpType.READ, Map.of(Outcome.OK, 1L));

  private static RunResult result(List<Op> ops, boolean converged, List<String> errors) {
    return new RunResult(
        "s",
        7,
        NetworkMode.PROXY,
        Duration.ofSeconds(3),
        COUNTS,
        List.of(
            new Fault("kill-leader", "killed n1", null, 1000, -1).healed("restarted n1", 2000),
            new Fault("partition-bridge", "nothing: no leader", null, 3000, -1)),
        "agree",
        converged,
        CheckReport.check(ops, Budget.states(10_000)),
        errors,
        Path.of("target/chaos/s-7"));
  }

  private static final List<Op> GOOD =
      List.of(
          Op.write(0, "r0", 1, Outcome.OK, 1, 2),
          Op.write(0, "r0", 2, Outcome.OK, 3, 4),
          Op.read(1, "r0", Outcome.OK, 2L, 5, 6));

  private static final List<Op> STALE =
      List.of(
          Op.write(0, "r0", 1, Outcome.OK, 1, 2),
          Op.write(0, "r0", 2, Outcome.OK, 3, 4),
          Op.read(1, "r0", Outcome.OK, 1L, 5, 6));

  @Test
  void passesOnlyWhenConvergedCleanAndLinearizable() {
    RunResult ok = result(GOOD, true, List.of());
    assertTrue(ok.passed());
    assertEquals("PASS", ok.verdict());
    assertEquals(3, ok.ops());
    assertEquals(1, ok.effectiveFaults(), "a nemesis that did nothing is not counted");
    assertFalse(result(GOOD, false, List.of()).passed(), "no convergence");
    assertFalse(result(GOOD, true, List.of("nemesis error")).passed(), "an error");
    RunResult stale = result(STALE, true, List.of());
    assertFalse(stale.passed(), "a stale read");
    assertEquals("FAIL", stale.verdict());
  }

  @Test
  void summaryNamesFaultsVerdictAndFiles() {
    String s = result(STALE, true, List.of()).summary();
    assertTrue(s.contains("killed n1"), s);
    assertTrue(s.contains("restarted n1"), s);
    assertTrue(s.contains("NOT_LINEARIZABLE"), s);
    assertTrue(s.contains("target/chaos/s-7"), s);
    assertTrue(s.endsWith("verdict: FAIL"), s);
  }

  @Test
  void countsTheNodesReplacedForAnEmptiedRaftMeta() {
    assertEquals(0, result(GOOD, true, List.of()).replacements());
    String healed =
        "freed n1's disk; it had exited, restarted; n1 could not restart: Ratis left raft-meta"
            + " empty (docs/ratis-workarounds.md); "
            + DiskFullNemesis.REPLACED
            + " (REMOVED n1; added n1)";
    RunResult r =
        new RunResult(
            "s",
            7,
            NetworkMode.NETNS,
            Duration.ofSeconds(3),
            COUNTS,
            List.of(
                new Fault("disk-full-leader", "filled n1's disk", null, 1000, -1)
                    .healed(healed, 2000),
                new Fault("disk-full-follower", "filled n2's disk", null, 3000, -1)
                    .healed("freed n2's disk", 4000)),
            "agree",
            true,
            CheckReport.check(GOOD, Budget.states(10_000)),
            List.of(),
            Path.of("target/chaos/s-7"));
    assertEquals(1, r.replacements());
    assertTrue(r.passed(), "a replacement is no failure by itself");
    assertTrue(r.summary().contains("1 node(s) replaced after Ratis left raft-meta empty"));
  }

  @Test
  void scenarioValidatesItsShape() {
    assertThrows(IllegalStateException.class, () -> Scenario.builder("x").build(), "no nemesis");
    assertThrows(
        IllegalArgumentException.class,
        () ->
            Scenario.builder("Bad Name")
                .nemesis(() -> new ProcessNemesis(ProcessNemesis.Action.KILL, Target.LEADER))
                .build());
    Scenario s =
        Scenario.builder("ok")
            .nemesis(() -> new ProcessNemesis(ProcessNemesis.Action.KILL, Target.LEADER))
            .build();
    assertEquals(1, s.combos().get().size());
    assertTrue(
        s.combos().get().get(0).get(0) != s.combos().get().get(0).get(0),
        "fresh nemeses for each run");
    assertEquals(Duration.ofSeconds(9), s.withDuration(Duration.ofSeconds(9)).duration());
  }

  @Test
  void theCiSuiteFitsItsBudget() {
    long seconds = Scenarios.ci().stream().mapToLong(s -> s.duration().toSeconds()).sum();
    assertTrue(seconds <= 300, "CI scenarios run " + seconds + " s of workload");
  }
}
