package dev.ferry.chaos.checker;

import dev.ferry.chaos.history.Op;
import dev.ferry.chaos.history.Outcome;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * A deliberately naive linearizability checker, written independently of {@link RegisterSearch} to
 * cross-check it (and the counter and set checkers) on small histories.
 *
 * <p>It tries every sequence of the history's operations that respects real time: an OK operation
 * that completed before another was invoked comes first. Every OK operation must appear once; each
 * UNKNOWN operation appears once or not at all; FAIL operations do not appear. A sequence that
 * breaks the model is abandoned at its first illegal step. The whole history is one object (a map
 * of registers and a map of sets), so there is no partition by key, no memo and no event list. The
 * model is the one stated on {@link LinearizabilityChecker}, plus sets: ADD inserts its element, an
 * OK READ_SET returns exactly the elements inserted (an absent set is empty).
 *
 * <p>Cost grows factorially; limited to {@value #MAX_OPS} operations.
 */
final class BruteForceChecker {
  static final int MAX_OPS = 10;

  private final Op[] ops;
  private final int[] predecessors; // bit a of predecessors[b]: OK op a completed before b began
  private final int required; // the OK ops

  private BruteForceChecker(List<Op> history) {
    this.ops = history.stream().filter(op -> op.outcome() != Outcome.FAIL).toArray(Op[]::new);
    if (ops.length > MAX_OPS) {
      throw new IllegalArgumentException(
          "brute force is for at most " + MAX_OPS + " ops, not " + ops.length);
    }
    predecessors = new int[ops.length];
    int ok = 0;
    for (int a = 0; a < ops.length; a++) {
      if (ops[a].outcome() == Outcome.OK) {
        ok |= 1 << a;
        for (int b = 0; b < ops.length; b++) {
          if (ops[a].completeNanos() < ops[b].invokeNanos()) {
            predecessors[b] |= 1 << a;
          }
        }
      }
    }
    required = ok;
  }

  /**
   * LINEARIZABLE or NOT_LINEARIZABLE for {@code history} (at most {@value #MAX_OPS} operations that
   * are not FAIL).
   */
  static Verdict check(List<Op> history) {
    BruteForceChecker checker = new BruteForceChecker(history);
    return checker.extend(0, new World(Map.of(), Map.of()))
        ? Verdict.LINEARIZABLE
        : Verdict.NOT_LINEARIZABLE;
  }

  private boolean extend(int placed, World world) {
    if ((placed & required) == required) {
      return true;
    }
    for (int b = 0; b < ops.length; b++) {
      if ((placed & (1 << b)) == 0 && (predecessors[b] & ~placed) == 0) {
        World after = world.apply(ops[b]);
        if (after != null && extend(placed | (1 << b), after)) {
          return true;
        }
      }
    }
    return false;
  }

  /** The sequential object: registers (absent when missing) and sets. */
  private record World(Map<String, Long> registers, Map<String, Set<Long>> sets) {
    /** The world after {@code op}, or null if {@code op} cannot happen here. */
    World apply(Op op) {
      boolean ok = op.outcome() == Outcome.OK;
      Long current = registers.get(op.key());
      switch (op.type()) {
        case READ:
          return !ok || Objects.equals(op.result(), current) ? this : null;
        case WRITE:
          return withRegister(op.key(), op.value());
        case CAS:
          boolean equal = current != null && current.longValue() == op.expected();
          if (ok && (op.result() == 1L) != equal) {
            return null;
          }
          return equal ? withRegister(op.key(), op.value()) : this;
        case INCREMENT:
          long sum = (current == null ? 0L : current) + op.value();
          if (ok && op.result() != null && op.result().longValue() != sum) {
            return null;
          }
          return withRegister(op.key(), sum);
        case ADD:
          Set<Long> elements = new HashSet<>(sets.getOrDefault(op.key(), Set.of()));
          elements.add(op.value());
          Map<String, Set<Long>> newSets = new HashMap<>(sets);
          newSets.put(op.key(), elements);
          return new World(registers, newSets);
        case READ_SET:
          return !ok || op.resultSet().equals(sets.getOrDefault(op.key(), Set.of())) ? this : null;
        default:
          throw new IllegalArgumentException("unknown op type " + op.type());
      }
    }

    private World withRegister(String key, long value) {
      Map<String, Long> newRegisters = new HashMap<>(registers);
      newRegisters.put(key, value);
      return new World(newRegisters, sets);
    }
  }
}
