package dev.ferry.chaos.run;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ferry.chaos.checker.Budget;
import dev.ferry.chaos.harness.ChaosCluster;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.DynamicTest;
import org.junit.jupiter.api.TestFactory;

/**
 * The chaos suite: each scenario of {@link Scenarios#ci()} (or, with {@code
 * -Dferry.chaos.suite=extended}, as the {@code chaos} Maven profile sets, {@link
 * Scenarios#extended()}) run with one or more seeds. Prints each run's summary, then a table of all
 * runs. A run fails when the replicas do not converge after healing, the checkers find a violation,
 * or the harness hit an error; its history is kept under {@code target/chaos/<scenario>-<seed>/}.
 *
 * <p>System properties: {@code ferry.chaos.suite} ({@code ci} or {@code extended}), {@code
 * ferry.chaos.seeds} (runs per scenario, default 1), {@code ferry.chaos.seed} (the first seed;
 * default: from the clock, printed), {@code ferry.chaos.scenarios} (comma-separated names to run),
 * {@code ferry.chaos.duration} (seconds, overrides each scenario's), {@code ferry.chaos.dir}
 * (default {@code target/chaos}).
 */
class ChaosSuiteIT {
  private static final List<RunResult> RESULTS = new CopyOnWriteArrayList<>();
  private static final long START = System.nanoTime();

  @TestFactory
  Stream<DynamicTest> scenarios() {
    String suite = System.getProperty("ferry.chaos.suite", "ci");
    List<Scenario> scenarios =
        switch (suite) {
          case "ci" -> Scenarios.ci();
          case "extended" -> Scenarios.extended();
          default -> throw new IllegalArgumentException("ferry.chaos.suite: ci or extended");
        };
    String only = System.getProperty("ferry.chaos.scenarios", "");
    if (!only.isBlank()) {
      Set<String> names =
          Arrays.stream(only.split(",")).map(String::strip).collect(Collectors.toSet());
      scenarios = scenarios.stream().filter(s -> names.contains(s.name())).toList();
    }
    String duration = System.getProperty("ferry.chaos.duration", "");
    if (!duration.isBlank()) {
      Duration d = Duration.ofSeconds(Long.parseLong(duration));
      scenarios = scenarios.stream().map(s -> s.withDuration(d)).toList();
    }
    int seeds = Integer.getInteger("ferry.chaos.seeds", 1);
    long first = Long.getLong("ferry.chaos.seed", System.currentTimeMillis() % 1_000_000);
    System.out.println(
        "chaos suite '"
            + suite
            + "': "
            + scenarios.size()
            + " scenarios x "
            + seeds
            + " seeds from seed "
            + first);
    ChaosRunner runner =
        new ChaosRunner(
            Path.of(System.getProperty("ferry.chaos.dir", "target/chaos")),
            new Budget(500_000, Duration.ofSeconds(20), 128L << 20));
    List<DynamicTest> tests = new ArrayList<>();
    for (Scenario s : scenarios) {
      for (int i = 0; i < seeds; i++) {
        long seed = first + i;
        tests.add(
            DynamicTest.dynamicTest(
                s.name() + " seed " + seed,
                () -> {
                  assumeTrue(
                      !s.fakeTime() || ChaosCluster.fakeTimeAvailable(),
                      s.name() + " needs libfaketime (apt-get install faketime)");
                  assumeTrue(
                      s.diskBytes() == 0 || ChaosCluster.disksAvailable(),
                      s.name() + " needs root (a tmpfs per node)");
                  assumeTrue(
                      s.splitKeys().isEmpty() || ChaosCluster.namespacesAvailable(),
                      s.name() + " needs network namespaces (root, iproute2)");
                  RunResult r = runner.run(s, seed);
                  RESULTS.add(r);
                  System.out.println(r.summary());
                  assertTrue(r.passed(), r.summary());
                }));
      }
    }
    return tests.stream();
  }

  @AfterAll
  static void table() {
    if (RESULTS.isEmpty()) {
      return;
    }
    StringBuilder s = new StringBuilder("\n=== chaos suite summary\n");
    for (RunResult r : RESULTS) {
      s.append(r.line()).append('\n');
    }
    long passed = RESULTS.stream().filter(RunResult::passed).count();
    s.append(
        String.format(
            java.util.Locale.ROOT,
            "%d of %d runs passed, %d ops, %d faults, %.0f s wall%n",
            passed,
            RESULTS.size(),
            RESULTS.stream().mapToLong(RunResult::ops).sum(),
            RESULTS.stream().mapToLong(RunResult::effectiveFaults).sum(),
            (System.nanoTime() - START) / 1e9));
    System.out.println(s);
  }
}
