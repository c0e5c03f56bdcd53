package dev.ferry.chaos.checker;

import dev.ferry.chaos.history.History;
import dev.ferry.chaos.history.Op;
import dev.ferry.chaos.history.OpType;
import dev.ferry.chaos.history.Outcome;
import java.time.Duration;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeMap;

/**
 * Checks that the register operations of a history (READ, WRITE, CAS, INCREMENT) are linearizable,
 * key by key.
 *
 * <p>Linearizability is compositional (Herlihy and Wing): a history is linearizable exactly when
 * its restriction to each key is, so each key is searched on its own with the algorithm of
 * Porcupine (depth-first search for a linearization with memoization; details and the optimizations
 * that keep it fast in {@code docs/chaos-checker.md}) against a register model: absent initially,
 * READ returns the value ({@code null} result: absent), WRITE sets it, CAS swaps if the register is
 * present and equal to the expected value (an OK CAS with result 1 must have swapped, with result 0
 * must not have), INCREMENT adds its delta to the value (absent counts as 0) and an OK INCREMENT's
 * result, if any, must be the new value.
 *
 * <p>Outcomes: a FAIL operation did not happen and is left out. An UNKNOWN operation may take
 * effect at any time after its invocation, or never. Before the search, UNKNOWN operations that
 * cannot change the verdict are left out: UNKNOWN reads, and (on a key with only reads and writes)
 * UNKNOWN writes of a value no read returned.
 *
 * <p>ADD and READ_SET keys are not checked here (see {@link SetChecker}); a key that mixes set and
 * register operations is rejected. Counter keys are checked here as registers, which can be
 * expensive with very many UNKNOWN increments; {@link CounterChecker} checks them in O(n log n),
 * less completely.
 *
 * <p>Thread-safe and stateless: {@link #check} may be called concurrently; it runs on the caller's
 * thread, one key after another, and blocks until done or out of budget.
 */
public final class LinearizabilityChecker {
  private static final Set<OpType> REGISTER_OPS =
      EnumSet.of(OpType.READ, OpType.WRITE, OpType.CAS, OpType.INCREMENT);

  private final Budget budget;
  private final RegisterSearch.Order order; // null: chosen per key
  private final int observedWindow;

  /** A checker with {@link Budget#DEFAULT}. */
  public LinearizabilityChecker() {
    this(Budget.DEFAULT);
  }

  /** A checker that gives each key at most {@code budget}. */
  public LinearizabilityChecker(Budget budget) {
    this(budget, null);
  }

  /** A checker that searches every key in {@code order}, or picks per key if null; for tests. */
  LinearizabilityChecker(Budget budget, RegisterSearch.Order order) {
    this(budget, order, RegisterSearch.OBSERVED_WINDOW);
  }

  /**
   * A checker as above whose search applies the rule that an UNKNOWN operation is linearized only
   * right before an operation that observes it while at most {@code observedWindow} UNKNOWN calls
   * may come next; for tests.
   */
  LinearizabilityChecker(Budget budget, RegisterSearch.Order order, int observedWindow) {
    this.budget = Objects.requireNonNull(budget, "budget");
    this.order = order;
    this.observedWindow = observedWindow;
  }

  /** Checks the operations of {@code history}; see {@link #check(List)}. */
  public LinearizabilityResult check(History history) {
    return check(history.ops());
  }

  /**
   * Checks {@code ops}, in any order.
   *
   * @throws IllegalArgumentException if a key has both register and set operations
   */
  public LinearizabilityResult check(List<Op> ops) {
    long start = System.nanoTime();
    long origin = HistoryOps.origin(ops);
    Map<String, List<Op>> byKey = new TreeMap<>();
    Set<String> setKeys = new HashSet<>();
    for (Op op : ops) {
      if (REGISTER_OPS.contains(op.type())) {
        byKey.computeIfAbsent(op.key(), k -> new ArrayList<>()).add(op);
      } else {
        setKeys.add(op.key());
      }
    }
    Verdict verdict = Verdict.LINEARIZABLE;
    List<KeyResult> results = new ArrayList<>(byKey.size());
    for (Map.Entry<String, List<Op>> e : byKey.entrySet()) {
      if (setKeys.contains(e.getKey())) {
        throw new IllegalArgumentException(
            "key has both register and set operations: " + e.getKey());
      }
      List<Op> relevant = relevant(e.getValue());
      RegisterSearch.Order keyOrder = order != null ? order : RegisterSearch.Order.forOps(relevant);
      KeyResult r =
          new RegisterSearch(e.getKey(), relevant, budget, keyOrder, origin, observedWindow).run();
      results.add(r);
      verdict = verdict.and(r.verdict());
    }
    return new LinearizabilityResult(verdict, results, Duration.ofNanos(System.nanoTime() - start));
  }

  /** The operations of one key that can affect its verdict. */
  static List<Op> relevant(List<Op> ops) {
    boolean readsAndWritesOnly = true;
    Set<Long> readValues = new HashSet<>();
    for (Op op : ops) {
      if (op.outcome() == Outcome.FAIL) {
        continue;
      }
      if (op.type() == OpType.CAS || op.type() == OpType.INCREMENT) {
        readsAndWritesOnly = false;
      } else if (op.type() == OpType.READ && op.result() != null) {
        readValues.add(op.result());
      }
    }
    List<Op> relevant = new ArrayList<>(ops.size());
    for (Op op : ops) {
      boolean irrelevant =
          op.outcome() == Outcome.FAIL
              || op.outcome() == Outcome.UNKNOWN
                  && (op.type() == OpType.READ
                      || readsAndWritesOnly
                          && op.type() == OpType.WRITE
                          && !readValues.contains(op.value()));
      if (!irrelevant) {
        relevant.add(op);
      }
    }
    return relevant;
  }
}
