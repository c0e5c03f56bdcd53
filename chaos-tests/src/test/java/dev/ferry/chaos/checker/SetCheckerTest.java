package dev.ferry.chaos.checker;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.chaos.history.Op;
import dev.ferry.chaos.history.Outcome;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

class SetCheckerTest {
  private static final Outcome OK = Outcome.OK;
  private static final Outcome UNKNOWN = Outcome.UNKNOWN;
  private static final Outcome FAIL = Outcome.FAIL;

  private final SetChecker checker = new SetChecker();

  /** Adds 1, 2 (OK), 3 (UNKNOWN), 4 (FAIL), and 5 (OK, concurrent with the final read). */
  private static List<Op> adds() {
    List<Op> ops = new ArrayList<>();
    ops.add(Op.add(0, "s", 1, OK, 0, 10));
    ops.add(Op.add(1, "s", 2, OK, 5, 15));
    ops.add(Op.add(2, "s", 3, UNKNOWN, 20, Long.MAX_VALUE));
    ops.add(Op.add(3, "s", 4, FAIL, 30, 40));
    ops.add(Op.add(4, "s", 5, OK, 95, 120));
    return ops;
  }

  private AnomalyResult withFinalRead(Long... elements) {
    List<Op> ops = adds();
    ops.add(Op.readSet(5, "s", OK, Set.of(elements), 100, 110));
    return checker.check(ops);
  }

  @Test
  void unknownAndConcurrentAddsMayBeMissing() {
    assertEquals(List.of(), withFinalRead(1L, 2L).anomalies());
    assertEquals(List.of(), withFinalRead(1L, 2L, 3L, 5L).anomalies());
    AnomalyResult r = withFinalRead(1L, 2L, 3L);
    assertEquals(List.of("s"), r.keys());
    assertTrue(r.notes().get(0).contains("3 OK, 1 UNKNOWN, 1 FAIL adds"), r.notes().toString());
  }

  @Test
  void okAddMissingFromTheFinalReadIsALostWrite() {
    List<Anomaly> found = withFinalRead(1L, 3L).anomalies();
    assertEquals(1, found.size());
    Anomaly a = found.get(0);
    assertEquals(Anomaly.Kind.LOST_WRITE, a.kind());
    assertTrue(a.description().startsWith("element 2, shown by p1 ADD s 2 OK"), a.description());
    assertEquals(2, a.ops().size());
  }

  @Test
  void failedAddPresentIsFlagged() {
    assertEquals(
        Anomaly.Kind.FAILED_ADD_PRESENT, withFinalRead(1L, 2L, 4L).anomalies().get(0).kind());
  }

  @Test
  void elementNeverAddedOrAddedLaterIsAPhantom() {
    assertEquals(
        Anomaly.Kind.PHANTOM_ELEMENT, withFinalRead(1L, 2L, 99L).anomalies().get(0).kind());
    List<Op> ops = adds();
    ops.add(Op.readSet(5, "s", OK, Set.of(1L, 2L, 6L), 100, 110));
    ops.add(Op.add(6, "s", 6, OK, 111, 120));
    List<Anomaly> found = checker.check(ops).anomalies();
    assertEquals(1, found.size());
    assertEquals(Anomaly.Kind.PHANTOM_ELEMENT, found.get(0).kind());
    assertTrue(found.get(0).description().contains("added only after"));
  }

  @Test
  void elementSeenThenMissingIsStaleOrLost() {
    List<Op> stale = adds();
    stale.add(Op.readSet(5, "s", OK, Set.of(1L, 2L, 3L), 50, 60));
    stale.add(Op.readSet(6, "s", OK, Set.of(1L, 2L), 70, 80));
    stale.add(Op.readSet(5, "s", OK, Set.of(1L, 2L, 3L), 100, 110));
    List<Anomaly> found = checker.check(stale).anomalies();
    assertEquals(1, found.size());
    assertEquals(Anomaly.Kind.STALE_READ, found.get(0).kind());
    assertTrue(found.get(0).description().startsWith("element 3, shown by p5 READ_SET"));

    List<Op> lost = adds();
    lost.add(Op.readSet(5, "s", OK, Set.of(1L, 2L, 3L), 50, 60));
    lost.add(Op.readSet(6, "s", OK, Set.of(1L, 2L), 70, 80));
    lost.add(Op.readSet(5, "s", OK, Set.of(1L, 2L), 100, 110));
    found = checker.check(lost).anomalies();
    assertEquals(1, found.size(), found.toString());
    assertEquals(Anomaly.Kind.LOST_WRITE, found.get(0).kind());
    assertTrue(found.get(0).description().contains("missing from the final read"));
  }

  @Test
  void aSetWithoutReadsIsNotedAndMixedKeysAreSkipped() {
    AnomalyResult r =
        checker.check(
            List.of(
                Op.add(0, "s", 1, OK, 0, 10),
                Op.add(0, "m", 1, OK, 0, 10),
                Op.write(0, "m", 1, OK, 20, 30)));
    assertEquals(List.of("s"), r.keys());
    assertEquals(List.of(), r.anomalies());
    assertEquals(2, r.notes().size());
    assertTrue(r.notes().get(1).contains("no OK read"), r.notes().toString());
  }

  @Test
  void generatedHistoriesOfACorrectSetHaveNoAnomalies() {
    for (long seed = 0; seed < 50; seed++) {
      List<Op> ops = Simulation.seed(seed).registers().sets("s", "t").unknown(0.2).run(1000);
      AnomalyResult r = checker.check(ops);
      assertEquals(List.of(), r.anomalies(), "seed " + seed);
      assertEquals(List.of("s", "t"), r.keys());
    }
  }

  /** Issue 17's smallest case: 2 is read without 1, though add(1) completed before add(2) began. */
  @Test
  void aReadHoldingALaterElementButNotAnEarlierOneIsOutOfOrder() {
    List<Op> ops =
        List.of(
            Op.add(0, "s", 1, OK, 100, 250),
            Op.add(1, "s", 2, OK, 300, 400),
            Op.readSet(2, "s", OK, Set.of(2L), 200, 500));
    List<Anomaly> found = checker.check(ops).anomalies();
    assertEquals(1, found.size(), found.toString());
    assertEquals(Anomaly.Kind.OUT_OF_ORDER, found.get(0).kind());
    assertTrue(
        found.get(0).description().startsWith("p2 READ_SET s -> 1 elements OK")
            && found.get(0).description().contains("holds 2 but not 1, though p0 ADD s 1 OK"),
        found.get(0).description());
    assertFalse(SetChecker.linearizable(ops));
    assertEquals(Verdict.NOT_LINEARIZABLE, BruteForceChecker.check(ops));
    assertEquals(CheckReport.Status.INVALID, CheckReport.check(ops, Budget.DEFAULT).status());
    // With the adds concurrent, or add(2) UNKNOWN and invoked first, it is linearizable.
    List<Op> concurrent =
        List.of(
            Op.add(0, "s", 1, OK, 100, 250),
            Op.add(1, "s", 2, OK, 250, 400),
            Op.readSet(2, "s", OK, Set.of(2L), 200, 500));
    assertEquals(List.of(), checker.check(concurrent).anomalies());
    assertTrue(SetChecker.linearizable(concurrent));
  }

  @Test
  void readsThatEachLackAnElementTheOtherHoldsAreIncomparable() {
    List<Op> ops =
        List.of(
            Op.add(0, "s", 1, OK, 0, 100),
            Op.add(1, "s", 2, UNKNOWN, 0, Long.MAX_VALUE),
            Op.readSet(2, "s", OK, Set.of(1L), 10, 90),
            Op.readSet(3, "s", OK, Set.of(2L), 10, 90));
    List<Anomaly> found = checker.check(ops).anomalies();
    assertEquals(1, found.size(), found.toString());
    assertEquals(Anomaly.Kind.INCOMPARABLE_READS, found.get(0).kind());
    assertTrue(found.get(0).description().contains("holds 1 but not 2"), found.toString());
    assertFalse(SetChecker.linearizable(ops));
    assertEquals(Verdict.NOT_LINEARIZABLE, BruteForceChecker.check(ops));
  }

  /**
   * The set verdict is exact: on random small histories (adds OK, UNKNOWN — some never completing —
   * and FAIL, of 4 elements with repeats; reads of random subsets or of a simulated correct set),
   * anomalies are found, and {@link SetChecker#linearizable} says no, exactly when brute force
   * finds no linearization.
   */
  @Test
  void anomaliesAreFoundExactlyWhenNotLinearizable() {
    int anomalous = 0;
    for (long seed = 0; seed < 20_000; seed++) {
      Random random = new Random(seed);
      List<Op> ops = new ArrayList<>();
      long[] clock = new long[3];
      Set<Long> applied = new HashSet<>();
      boolean simulate = random.nextBoolean();
      int count = 1 + random.nextInt(8);
      for (int i = 0; i < count; i++) {
        int p = random.nextInt(3);
        long invoke = clock[p] + random.nextInt(3);
        long complete = invoke + random.nextInt(6);
        clock[p] = complete + random.nextInt(2);
        Outcome outcome = Outcome.values()[random.nextInt(3)];
        if (outcome == UNKNOWN && random.nextBoolean()) {
          complete = Long.MAX_VALUE;
        }
        if (random.nextInt(3) == 0) {
          Set<Long> elements = null;
          if (outcome == OK) {
            elements = new HashSet<>();
            for (long e = 0; e < 4; e++) {
              if (simulate
                  ? applied.contains(e) != (random.nextInt(6) == 0)
                  : random.nextBoolean()) {
                elements.add(e);
              }
            }
          }
          ops.add(Op.readSet(p, "s", outcome, elements, invoke, complete));
        } else {
          long element = random.nextInt(4);
          if (outcome == OK || outcome == UNKNOWN && random.nextBoolean()) {
            applied.add(element);
          }
          ops.add(Op.add(p, "s", element, outcome, invoke, complete));
        }
      }
      boolean flagged = !checker.check(ops).anomalies().isEmpty();
      Verdict expected = BruteForceChecker.check(ops);
      assertEquals(expected == Verdict.NOT_LINEARIZABLE, flagged, "seed " + seed + ": " + ops);
      assertEquals(expected == Verdict.LINEARIZABLE, SetChecker.linearizable(ops), "seed " + seed);
      anomalous += flagged ? 1 : 0;
    }
    assertTrue(anomalous > 4000 && anomalous < 16_000, "anomalous " + anomalous);
  }
}
