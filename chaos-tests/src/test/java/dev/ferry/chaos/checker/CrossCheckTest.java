package dev.ferry.chaos.checker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.chaos.history.Op;
import dev.ferry.chaos.history.OpType;
import dev.ferry.chaos.history.Outcome;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * The Porcupine-style checker, with each search order, against the brute-force one on thousands of
 * small histories.
 */
class CrossCheckTest {
  private static final int HISTORIES = 4000;
  private static final Long[] READ_RESULTS = {null, 0L, 1L, 2L, 3L};

  private final List<LinearizabilityChecker> checkers =
      List.of(
          new LinearizabilityChecker(),
          new LinearizabilityChecker(Budget.DEFAULT, RegisterSearch.Order.INVOCATION),
          new LinearizabilityChecker(Budget.DEFAULT, RegisterSearch.Order.OK_FIRST),
          // The observer rule off (0), and on and off from node to node (1, 2).
          new LinearizabilityChecker(Budget.DEFAULT, RegisterSearch.Order.INVOCATION, 0),
          new LinearizabilityChecker(Budget.DEFAULT, RegisterSearch.Order.INVOCATION, 1),
          new LinearizabilityChecker(Budget.DEFAULT, RegisterSearch.Order.OK_FIRST, 2));

  @Test
  void agreesOnRandomHistories() {
    Map<Verdict, Integer> seen = new EnumMap<>(Verdict.class);
    for (long seed = 0; seed < HISTORIES; seed++) {
      List<Op> ops = random(new Random(seed));
      seen.merge(crossCheck(ops, seed), 1, Integer::sum);
    }
    assertMixed(seen);
  }

  @Test
  void agreesOnSimulatedHistoriesWithAndWithoutACorruptedRead() {
    Map<Verdict, Integer> seen = new EnumMap<>(Verdict.class);
    for (long seed = 0; seed < HISTORIES; seed++) {
      Random random = new Random(seed);
      List<Op> ops =
          new ArrayList<>(
              Simulation.seed(seed)
                  .processes(2 + random.nextInt(2))
                  .registers(random.nextBoolean() ? new String[] {"x"} : new String[] {"x", "y"})
                  .counters("c")
                  .unknown(0.25)
                  .fail(0.1)
                  .maxLatency(8)
                  .run(1 + random.nextInt(8)));
      if (random.nextBoolean()) {
        for (int i = 0; i < ops.size(); i++) {
          Op op = ops.get(i);
          if (op.type() == OpType.READ && op.outcome() == Outcome.OK) {
            Long result = READ_RESULTS[random.nextInt(READ_RESULTS.length)];
            ops.set(
                i,
                Op.read(
                    op.process(),
                    op.key(),
                    Outcome.OK,
                    result,
                    op.invokeNanos(),
                    op.completeNanos()));
            break;
          }
        }
      }
      seen.merge(crossCheck(ops, seed), 1, Integer::sum);
    }
    assertMixed(seen);
  }

  /**
   * The pruning of UNKNOWN operations (one is linearized only right before an operation that
   * observes it) against brute force: one register, up to 9 operations of which about half the
   * writes and CASes are UNKNOWN, values 0-2 so that UNKNOWN writes collide with OK ones and with
   * each other, and random read results.
   */
  @Test
  void agreesOnHistoriesWithManyUnknownWritesAndCases() {
    Map<Verdict, Integer> seen = new EnumMap<>(Verdict.class);
    for (long seed = 0; seed < 2 * HISTORIES; seed++) {
      Random random = new Random(seed);
      int count = 3 + random.nextInt(7);
      int processes = 2 + random.nextInt(3);
      long[] clock = new long[processes];
      List<Op> ops = new ArrayList<>(count);
      for (int i = 0; i < count; i++) {
        long[] at = nextInterval(random, clock); // process, invocation, completion
        int kind = random.nextInt(10);
        boolean unknown = kind >= 3 && random.nextBoolean();
        Outcome outcome = unknown ? Outcome.UNKNOWN : Outcome.OK;
        long value = random.nextInt(3);
        ops.add(
            kind < 3
                ? Op.read(
                    (int) at[0], "x", Outcome.OK, READ_RESULTS[random.nextInt(4)], at[1], at[2])
                : kind < 7
                    ? Op.write((int) at[0], "x", value, outcome, at[1], at[2])
                    : Op.cas(
                        (int) at[0],
                        "x",
                        random.nextInt(3),
                        value,
                        outcome,
                        unknown ? null : random.nextBoolean(),
                        at[1],
                        at[2]));
      }
      seen.merge(crossCheck(ops, seed), 1, Integer::sum);
    }
    assertMixed(seen);
  }

  private Verdict crossCheck(List<Op> ops, long seed) {
    Verdict expected = BruteForceChecker.check(ops);
    for (LinearizabilityChecker checker : checkers) {
      LinearizabilityResult result = checker.check(ops);
      assertEquals(expected, result.verdict(), () -> "seed " + seed + "\n" + describe(ops));
    }
    return expected;
  }

  private static void assertMixed(Map<Verdict, Integer> seen) {
    int linearizable = seen.getOrDefault(Verdict.LINEARIZABLE, 0);
    int not = seen.getOrDefault(Verdict.NOT_LINEARIZABLE, 0);
    assertTrue(linearizable > HISTORIES / 5 && not > HISTORIES / 5, seen::toString);
  }

  /**
   * Up to 8 operations by 2-3 processes on 1-3 keys, with small values and times so that values
   * collide and intervals touch, and random results, so that about half are not linearizable.
   */
  private static List<Op> random(Random random) {
    int count = 1 + random.nextInt(8);
    int processes = 2 + random.nextInt(2);
    String[] keys = {"x", "y", "z"};
    int keyCount = 1 + random.nextInt(3);
    long[] clock = new long[processes];
    List<Op> ops = new ArrayList<>(count);
    for (int i = 0; i < count; i++) {
      long[] interval = nextInterval(random, clock);
      int p = (int) interval[0];
      long invoke = interval[1];
      long complete = interval[2];
      String key = keys[random.nextInt(keyCount)];
      int o = random.nextInt(20);
      Outcome outcome = o < 12 ? Outcome.OK : o < 17 ? Outcome.UNKNOWN : Outcome.FAIL;
      boolean ok = outcome == Outcome.OK;
      if (outcome == Outcome.UNKNOWN && random.nextBoolean()) {
        complete = Long.MAX_VALUE;
      }
      long value = random.nextInt(3);
      Op op =
          switch (random.nextInt(4)) {
            case 0 ->
                Op.read(
                    p, key, outcome, ok ? READ_RESULTS[random.nextInt(5)] : null, invoke, complete);
            case 1 -> Op.write(p, key, value, outcome, invoke, complete);
            case 2 ->
                Op.cas(
                    p,
                    key,
                    random.nextInt(3),
                    value,
                    outcome,
                    ok ? random.nextBoolean() : null,
                    invoke,
                    complete);
            default ->
                Op.increment(
                    p,
                    key,
                    1 + random.nextInt(2),
                    outcome,
                    ok && random.nextBoolean() ? (Long) (long) (1 + random.nextInt(4)) : null,
                    invoke,
                    complete);
          };
      ops.add(op);
    }
    return ops;
  }

  /**
   * The next operation's process, invocation and completion: a random process of {@code clock}
   * (each one's time), with small gaps so that intervals touch.
   */
  private static long[] nextInterval(Random random, long[] clock) {
    int p = random.nextInt(clock.length);
    long invoke = clock[p] + random.nextInt(3);
    long complete = invoke + random.nextInt(6);
    clock[p] = complete + random.nextInt(2);
    return new long[] {p, invoke, complete};
  }

  private static String describe(List<Op> ops) {
    StringBuilder s = new StringBuilder();
    for (Op op : ops) {
      s.append(OpText.describe(op, 0)).append('\n');
    }
    return s.toString();
  }
}
