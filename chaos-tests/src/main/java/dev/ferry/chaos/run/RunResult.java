package dev.ferry.chaos.run;

import dev.ferry.chaos.checker.CheckReport;
import dev.ferry.chaos.harness.NetworkMode;
import dev.ferry.chaos.history.OpType;
import dev.ferry.chaos.history.Outcome;
import dev.ferry.chaos.nemesis.DiskFullNemesis;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;

/**
 * What one run of a {@link Scenario} did and found.
 *
 * @param scenario the scenario's name
 * @param seed the seed of the run's random choices (nemesis rounds, targets, workload mix)
 * @param mode the network the nodes ran on
 * @param wall the run's wall time, cluster start to cleanup
 * @param counts operations by type and outcome
 * @param faults the faults injected, in order
 * @param convergence the replicas' agreement after healing, in a line
 * @param converged whether they agreed
 * @param check the checkers' report ({@code null} if the run did not get that far)
 * @param errors harness or nemesis errors, workload anomalies (each fails the run)
 * @param dir where the run's files are (history, node logs)
 */
public record RunResult(
    String scenario,
    long seed,
    NetworkMode mode,
    Duration wall,
    Map<OpType, Map<Outcome, Long>> counts,
    List<Fault> faults,
    String convergence,
    boolean converged,
    CheckReport check,
    List<String> errors,
    Path dir) {

  public RunResult {
    Objects.requireNonNull(scenario, "scenario");
    counts = Map.copyOf(counts);
    faults = List.copyOf(faults);
    errors = List.copyOf(errors);
  }

  /**
   * Whether the run passed: no error, the replicas converged and the checkers found nothing (a
   * linearizability search that ran out of budget passes, with a warning in the summary).
   */
  public boolean passed() {
    return errors.isEmpty()
        && converged
        && check != null
        && check.status() != CheckReport.Status.INVALID;
  }

  /** The number of operations recorded. */
  public long ops() {
    return counts.values().stream()
        .flatMap(m -> m.values().stream())
        .mapToLong(Long::longValue)
        .sum();
  }

  /** The number of operations with this outcome. */
  public long ops(Outcome outcome) {
    return counts.values().stream().mapToLong(m -> m.getOrDefault(outcome, 0L)).sum();
  }

  /** The faults that did something. */
  public long effectiveFaults() {
    return faults.stream().filter(Fault::effective).count();
  }

  /**
   * How many nodes a heal replaced (removed, wiped, re-added) because Ratis had left their {@code
   * raft-meta} empty ({@link DiskFullNemesis#REPLACED}; docs/ratis-workarounds.md).
   */
  public long replacements() {
    return faults.stream()
        .filter(f -> f.healed() != null && f.healed().contains(DiskFullNemesis.REPLACED))
        .count();
  }

  /** The verdict in one word: PASS, PASS? (linearizability undecided) or FAIL. */
  public String verdict() {
    if (!passed()) {
      return "FAIL";
    }
    return check.status() == CheckReport.Status.UNKNOWN ? "PASS?" : "PASS";
  }

  /** A one-line summary, for the suite's table. */
  public String line() {
    return String.format(
        Locale.ROOT,
        "%-30s seed %-20d %-5s %6.1fs %6d ops (%5d ok %4d fail %4d unknown) %3d faults  %s",
        scenario,
        seed,
        mode,
        wall.toMillis() / 1000.0,
        ops(),
        ops(Outcome.OK),
        ops(Outcome.FAIL),
        ops(Outcome.UNKNOWN),
        effectiveFaults(),
        verdict());
  }

  /** The full summary: operations, faults, convergence, checks, errors, verdict. */
  public String summary() {
    StringBuilder s = new StringBuilder();
    s.append(
        String.format(
            Locale.ROOT,
            "=== chaos %s  seed %d  network %s  %.1f s%n",
            scenario,
            seed,
            mode,
            wall.toMillis() / 1000.0));
    s.append("operations: ").append(ops()).append(" (");
    for (Outcome o : Outcome.values()) {
      s.append(o).append(' ').append(ops(o)).append(o == Outcome.UNKNOWN ? ")" : ", ");
    }
    s.append('\n');
    counts.entrySet().stream()
        .sorted(Map.Entry.comparingByKey())
        .forEach(
            e -> {
              long total = e.getValue().values().stream().mapToLong(Long::longValue).sum();
              if (total > 0) {
                s.append(
                    String.format(
                        Locale.ROOT,
                        "  %-9s %6d: ok %d, fail %d, unknown %d%n",
                        e.getKey(),
                        total,
                        e.getValue().getOrDefault(Outcome.OK, 0L),
                        e.getValue().getOrDefault(Outcome.FAIL, 0L),
                        e.getValue().getOrDefault(Outcome.UNKNOWN, 0L)));
              }
            });
    s.append("faults: ").append(effectiveFaults()).append(" injected");
    if (replacements() > 0) {
      s.append(", ")
          .append(replacements())
          .append(" node(s) replaced after Ratis left raft-meta empty");
    }
    s.append('\n');
    for (Fault f : faults) {
      s.append("  ").append(f).append('\n');
    }
    s.append("convergence: ").append(converged ? "OK, " : "FAILED, ").append(convergence);
    s.append('\n');
    if (check != null) {
      s.append(check.summary()).append('\n');
    }
    for (String e : errors) {
      s.append("error: ").append(e).append('\n');
    }
    s.append("files: ").append(dir).append('\n');
    s.append("verdict: ").append(verdict());
    return s.toString();
  }
}
