package dev.ferry.chaos.checker;

import dev.ferry.chaos.history.History;
import dev.ferry.chaos.history.Op;
import dev.ferry.chaos.history.Outcome;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Everything the checkers found in one history, with a short human-readable {@link #summary()}.
 *
 * @param ops how many operations the history has
 * @param outcomes how many operations had each outcome (every outcome present, maybe 0)
 * @param processes how many distinct processes issued operations
 * @param keys how many distinct keys the operations address
 * @param linearizability the {@link LinearizabilityChecker} result for the register and counter
 *     keys
 * @param counters the {@link CounterChecker} result
 * @param sets the {@link SetChecker} result
 */
public record CheckReport(
    int ops,
    Map<Outcome, Integer> outcomes,
    int processes,
    int keys,
    LinearizabilityResult linearizability,
    AnomalyResult counters,
    AnomalyResult sets) {

  /** The most problems {@link #summary()} spells out. */
  static final int MAX_PROBLEMS_SHOWN = 10;

  /** The overall outcome of a check. */
  public enum Status {
    /** Linearizable, and neither counters nor sets show an anomaly. */
    VALID,
    /** Not linearizable, or an anomaly was found. */
    INVALID,
    /** No anomaly found, but the linearizability search ran out of budget on some key. */
    UNKNOWN
  }

  /** Validates the report and copies the map. */
  public CheckReport {
    Objects.requireNonNull(linearizability, "linearizability");
    Objects.requireNonNull(counters, "counters");
    Objects.requireNonNull(sets, "sets");
    Map<Outcome, Integer> copy = new EnumMap<>(Outcome.class);
    for (Outcome o : Outcome.values()) {
      copy.put(o, outcomes.getOrDefault(o, 0));
    }
    outcomes = Map.copyOf(copy);
  }

  /** Runs every checker on {@code history} with {@link Budget#DEFAULT}. */
  public static CheckReport check(History history) {
    return check(history.ops(), Budget.DEFAULT);
  }

  /**
   * Runs every checker on {@code ops}, giving the linearizability search {@code budget} per key.
   * Blocks until done.
   *
   * @throws IllegalArgumentException if a key has both register and set operations
   */
  public static CheckReport check(List<Op> ops, Budget budget) {
    Map<Outcome, Integer> outcomes = new EnumMap<>(Outcome.class);
    for (Op op : ops) {
      outcomes.merge(op.outcome(), 1, Integer::sum);
    }
    int processes = (int) ops.stream().mapToInt(Op::process).distinct().count();
    int keys = (int) ops.stream().map(Op::key).distinct().count();
    return new CheckReport(
        ops.size(),
        outcomes,
        processes,
        keys,
        new LinearizabilityChecker(budget).check(ops),
        new CounterChecker().check(ops),
        new SetChecker().check(ops));
  }

  /** The overall outcome. */
  public Status status() {
    if (linearizability.verdict() == Verdict.NOT_LINEARIZABLE
        || !counters.anomalies().isEmpty()
        || !sets.anomalies().isEmpty()) {
      return Status.INVALID;
    }
    return linearizability.verdict() == Verdict.UNKNOWN ? Status.UNKNOWN : Status.VALID;
  }

  /**
   * One line per problem: each key that is not LINEARIZABLE (with its explanation, which may span
   * lines), then each anomaly.
   */
  public List<String> problems() {
    List<String> problems = new ArrayList<>();
    for (KeyResult k : linearizability.keys()) {
      if (k.verdict() != Verdict.LINEARIZABLE) {
        problems.add(k.verdict() + " " + k.explanation());
      }
    }
    for (Anomaly a : counters.anomalies()) {
      problems.add(a.kind() + " counter " + a.key() + ": " + a.description());
    }
    for (Anomaly a : sets.anomalies()) {
      problems.add(a.kind() + " set " + a.key() + ": " + a.description());
    }
    return problems;
  }

  /**
   * A short report: the history's size, the linearizability verdicts per key, the counter and set
   * checks, their notes and the first {@value #MAX_PROBLEMS_SHOWN} problems, then the status.
   */
  public String summary() {
    StringBuilder s = new StringBuilder();
    s.append("history: ")
        .append(ops)
        .append(" ops (OK ")
        .append(outcomes.get(Outcome.OK))
        .append(", FAIL ")
        .append(outcomes.get(Outcome.FAIL))
        .append(", UNKNOWN ")
        .append(outcomes.get(Outcome.UNKNOWN))
        .append(") by ")
        .append(processes)
        .append(" processes on ")
        .append(keys)
        .append(" keys\n");
    s.append("linearizability: ")
        .append(linearizability.verdict())
        .append(" over ")
        .append(linearizability.keys().size())
        .append(linearizability.keys().size() == 1 ? " register key (" : " register keys (");
    for (Verdict v : Verdict.values()) {
      s.append(v).append(' ').append(linearizability.count(v));
      s.append(v == Verdict.UNKNOWN ? "" : ", ");
    }
    s.append("), ")
        .append(linearizability.states())
        .append(" states in ")
        .append(linearizability.elapsed().toMillis())
        .append(" ms\n");
    appendAnomalies(s, "counters", counters);
    appendAnomalies(s, "sets", sets);
    List<String> problems = problems();
    if (!problems.isEmpty()) {
      s.append("problems:\n");
      for (String p : problems.subList(0, Math.min(problems.size(), MAX_PROBLEMS_SHOWN))) {
        s.append("  ").append(p.replace("\n", "\n  ")).append('\n');
      }
      if (problems.size() > MAX_PROBLEMS_SHOWN) {
        s.append("  ... and ").append(problems.size() - MAX_PROBLEMS_SHOWN).append(" more\n");
      }
    }
    return s.append("status: ").append(status()).toString();
  }

  private static void appendAnomalies(StringBuilder s, String what, AnomalyResult result) {
    s.append(what)
        .append(": ")
        .append(count(result.keys().size(), "key", "keys"))
        .append(", ")
        .append(count(result.anomalies().size(), "anomaly", "anomalies"))
        .append('\n');
    for (String note : result.notes()) {
      s.append("  ").append(note).append('\n');
    }
  }

  private static String count(int n, String one, String many) {
    return n + " " + (n == 1 ? one : many);
  }

  @Override
  public String toString() {
    return summary();
  }
}
