package dev.ferry.chaos.checker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.chaos.history.Op;
import dev.ferry.chaos.history.Outcome;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

class CounterCheckerTest {
  private static final Outcome OK = Outcome.OK;
  private static final Outcome UNKNOWN = Outcome.UNKNOWN;
  private static final Outcome FAIL = Outcome.FAIL;

  private final CounterChecker checker = new CounterChecker();

  /** Three OK, two UNKNOWN and one FAIL increment of c, all before t = 100. */
  private static List<Op> increments() {
    List<Op> ops = new ArrayList<>();
    ops.add(Op.increment(0, "c", 1, OK, null, 0, 10));
    ops.add(Op.increment(1, "c", 1, OK, null, 5, 15));
    ops.add(Op.increment(0, "c", 1, OK, null, 20, 30));
    ops.add(Op.increment(2, "c", 1, UNKNOWN, null, 25, Long.MAX_VALUE));
    ops.add(Op.increment(3, "c", 1, UNKNOWN, null, 40, 50));
    ops.add(Op.increment(4, "c", 1, FAIL, null, 60, 70));
    return ops;
  }

  private AnomalyResult withFinalRead(Long value) {
    List<Op> ops = increments();
    ops.add(Op.read(5, "c", OK, value, 100, 110));
    return checker.check(ops);
  }

  @Test
  void finalReadWithinOkAndOkPlusUnknownIsFine() {
    for (long v = 3; v <= 5; v++) {
      AnomalyResult r = withFinalRead(v);
      assertEquals(List.of(), r.anomalies(), "final read " + v);
      assertEquals(List.of("c"), r.keys());
    }
    assertTrue(withFinalRead(5L).notes().get(0).contains("3 OK and 2 UNKNOWN"));
  }

  @Test
  void finalReadBelowOkIsALostIncrement() {
    AnomalyResult r = withFinalRead(2L);
    assertEquals(1, r.anomalies().size());
    Anomaly a = r.anomalies().get(0);
    assertEquals(Anomaly.Kind.LOST_INCREMENT, a.kind());
    assertEquals("c", a.key());
    assertTrue(a.description().contains("read 2 is below 3"), a.description());
    assertEquals(Anomaly.Kind.LOST_INCREMENT, withFinalRead(null).anomalies().get(0).kind());
  }

  @Test
  void finalReadAboveOkPlusUnknownIsADoubleApply() {
    AnomalyResult r = withFinalRead(6L);
    assertEquals(1, r.anomalies(Anomaly.Kind.DOUBLE_APPLY).size());
    assertTrue(
        r.anomalies().get(0).description().contains("read 6 is above 5"),
        r.anomalies().get(0).description());
  }

  @Test
  void duplicateIncrementResultIsADoubleApply() {
    List<Op> ops =
        List.of(
            Op.increment(0, "c", 1, OK, 1L, 0, 10),
            Op.increment(1, "c", 1, OK, 1L, 5, 15),
            Op.increment(2, "c", 1, OK, 2L, 5, 15));
    List<Anomaly> found = checker.check(ops).anomalies();
    assertEquals(1, found.size());
    assertEquals(Anomaly.Kind.DOUBLE_APPLY, found.get(0).kind());
    assertTrue(found.get(0).description().contains("two increments returned 1"));
    assertEquals(2, found.get(0).ops().size());
  }

  @Test
  void incrementResultsAreBounded() {
    List<Op> lost =
        List.of(
            Op.increment(0, "c", 1, OK, 1L, 0, 10),
            Op.increment(1, "c", 1, OK, 2L, 20, 30),
            Op.increment(0, "c", 1, OK, 2L, 40, 50));
    assertEquals(Anomaly.Kind.LOST_INCREMENT, checker.check(lost).anomalies().get(0).kind());
    List<Op> doubled =
        List.of(Op.increment(0, "c", 1, OK, 1L, 0, 10), Op.increment(1, "c", 1, OK, 3L, 20, 30));
    assertEquals(Anomaly.Kind.DOUBLE_APPLY, checker.check(doubled).anomalies().get(0).kind());
  }

  @Test
  void manyCasesOfOneKindMakeOneAnomaly() {
    List<Op> ops = increments();
    for (int i = 0; i < 30; i++) {
      ops.add(Op.read(5, "c", OK, 9L, 100 + 10 * i, 105 + 10 * i));
    }
    List<Anomaly> found = checker.check(ops).anomalies();
    assertEquals(1, found.size());
    assertTrue(found.get(0).description().startsWith("30 cases, first: read 9"));
    assertEquals(Anomaly.MAX_OPS, found.get(0).ops().size());
  }

  @Test
  void keysThatAreNotPureCountersAreSkipped() {
    AnomalyResult r =
        checker.check(
            List.of(
                Op.increment(0, "c", 1, OK, 1L, 0, 10),
                Op.write(0, "c", 7, OK, 20, 30),
                Op.increment(0, "d", -1, OK, -1L, 0, 10),
                Op.write(0, "x", 1, OK, 0, 1)));
    assertEquals(List.of(), r.keys());
    assertEquals(List.of(), r.anomalies());
    assertEquals(2, r.notes().size());
  }

  @Test
  void generatedHistoriesOfACorrectCounterHaveNoAnomalies() {
    for (long seed = 0; seed < 50; seed++) {
      List<Op> ops = Simulation.seed(seed).registers().counters("c", "d").unknown(0.2).run(1000);
      AnomalyResult r = checker.check(ops);
      assertEquals(List.of(), r.anomalies(), "seed " + seed);
      assertEquals(List.of("c", "d"), r.keys());
    }
  }

  /** Every anomaly is a linearizability violation, so a linearizable history has none. */
  @Test
  void neverFlagsALinearizableHistory() {
    int anomalous = 0;
    for (long seed = 0; seed < 3000; seed++) {
      Random random = new Random(seed);
      List<Op> ops = new ArrayList<>();
      long[] clock = new long[3];
      int count = 1 + random.nextInt(8);
      for (int i = 0; i < count; i++) {
        int p = random.nextInt(3);
        long invoke = clock[p] + random.nextInt(3);
        long complete = invoke + random.nextInt(6);
        clock[p] = complete + random.nextInt(2);
        Outcome outcome = Outcome.values()[random.nextInt(3)];
        boolean ok = outcome == OK;
        if (random.nextInt(3) == 0) {
          Long value = ok ? (random.nextInt(5) == 0 ? null : (long) random.nextInt(5)) : null;
          ops.add(Op.read(p, "c", outcome, value, invoke, complete));
        } else {
          Long result = ok && random.nextBoolean() ? (long) (1 + random.nextInt(5)) : null;
          ops.add(Op.increment(p, "c", 1 + random.nextInt(2), outcome, result, invoke, complete));
        }
      }
      boolean flagged = !checker.check(ops).anomalies().isEmpty();
      if (flagged) {
        anomalous++;
        assertEquals(
            Verdict.NOT_LINEARIZABLE, BruteForceChecker.check(ops), "seed " + seed + ": " + ops);
      }
    }
    assertTrue(anomalous > 500, "anomalous " + anomalous);
  }
}
