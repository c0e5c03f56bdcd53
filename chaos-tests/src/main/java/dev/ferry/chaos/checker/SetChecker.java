package dev.ferry.chaos.checker;

import dev.ferry.chaos.history.History;
import dev.ferry.chaos.history.Op;
import dev.ferry.chaos.history.OpType;
import dev.ferry.chaos.history.Outcome;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Checks sets (ADD, READ_SET) for linearizability, without the search of {@link
 * LinearizabilityChecker}, and names what went wrong: lost writes, stale reads, phantom elements,
 * reads out of order with the adds, reads that contradict each other.
 *
 * <p>A set key is a key with ADD or READ_SET operations; one that also has register operations is
 * skipped with a note. The final read is the OK READ_SET invoked last. For each OK read:
 *
 * <ul>
 *   <li>each element it holds must have an ADD that is not FAIL (else {@link
 *       Anomaly.Kind#FAILED_ADD_PRESENT} if all its adds FAILed, {@link
 *       Anomaly.Kind#PHANTOM_ELEMENT} if it has none) invoked no later than the read completed
 *       (else PHANTOM_ELEMENT);
 *   <li>each element known before the read began (its add completed OK, or an earlier read that
 *       completed had it) must be in the read: if it is missing from the final read it is a {@link
 *       Anomaly.Kind#LOST_WRITE}; if only an earlier read misses it, a {@link
 *       Anomaly.Kind#STALE_READ}.
 * </ul>
 *
 * So every OK add that completed before the final read began must be in it; UNKNOWN adds may or may
 * not be. Further, {@link Anomaly.Kind#OUT_OF_ORDER}: a read holds e but lacks f though an add of f
 * completed OK before any add of e was invoked; and {@link Anomaly.Kind#INCOMPARABLE_READS}: two
 * reads each hold an element the other lacks. Intervals that touch count as concurrent, as in
 * {@link LinearizabilityChecker}.
 *
 * <p>Exactness: a set key is linearizable (model: initially empty, ADD inserts its element, an OK
 * READ_SET returns exactly the elements inserted; FAIL ops did not happen; UNKNOWN adds take effect
 * at any time after their invocation or never) if and only if none of these anomalies is found.
 * Proof sketch, and the check {@link #linearizable} that decides it directly: a linearization is a
 * choice of points, one in each OK operation's interval (ties ordered freely), with each element e
 * taking effect at a point t(e) in [L(e), U(e)] — L the earliest invocation of a non-FAIL add of e,
 * U the earliest completion of an OK add of e (or never, if e has no OK add) — and each read at a
 * point p(r) in its interval, such that e is in r exactly when t(e) comes before p(r). The sets
 * read must then form a chain; grouping equal sets and sorting by inclusion, the elements first
 * seen by group i must come after every read of group i-1 and before every read of group i, and the
 * elements no read holds after every read. These layers are totally ordered, so points exist iff no
 * node's upper bound is below the lower bound of a node in an earlier layer; each such pair is one
 * of the anomalies above (element before read: PHANTOM_ELEMENT or FAILED_ADD_PRESENT; read before
 * element: LOST_WRITE or STALE_READ; read before read: STALE_READ or LOST_WRITE; element before
 * element: OUT_OF_ORDER), and a broken chain is INCOMPARABLE_READS. {@code SetCheckerTest} checks
 * both against brute force.
 *
 * <p>Stateless and thread-safe. Cost is O(reads × elements).
 */
public final class SetChecker {
  /** Checks the sets of {@code history}. */
  public AnomalyResult check(History history) {
    return check(history.ops());
  }

  /** Checks the sets among {@code ops}, in any order. */
  public AnomalyResult check(List<Op> ops) {
    Map<String, List<Op>> byKey = HistoryOps.byKey(ops);
    long origin = HistoryOps.origin(ops);
    List<String> keys = new ArrayList<>();
    List<Anomaly> anomalies = new ArrayList<>();
    List<String> notes = new ArrayList<>();
    for (Map.Entry<String, List<Op>> e : byKey.entrySet()) {
      String key = e.getKey();
      List<Op> keyOps = e.getValue();
      if (keyOps.stream().noneMatch(SetChecker::isSetOp)) {
        continue;
      }
      if (!keyOps.stream().allMatch(SetChecker::isSetOp)) {
        notes.add("set " + key + ": skipped, it also has register operations");
        continue;
      }
      keys.add(key);
      anomalies.addAll(checkKey(key, keyOps, origin, notes));
    }
    return new AnomalyResult(keys, anomalies, notes);
  }

  private static boolean isSetOp(Op op) {
    return op.type() == OpType.ADD || op.type() == OpType.READ_SET;
  }

  private static List<Anomaly> checkKey(String key, List<Op> ops, long origin, List<String> notes) {
    Map<Long, List<Op>> adds = new HashMap<>();
    List<Op> reads = new ArrayList<>();
    int[] outcomes = new int[Outcome.values().length];
    for (Op op : ops) {
      if (op.type() == OpType.ADD) {
        adds.computeIfAbsent(op.value(), k -> new ArrayList<>()).add(op);
        outcomes[op.outcome().ordinal()]++;
      } else if (op.outcome() == Outcome.OK) {
        reads.add(op);
      }
    }
    reads.sort(Comparator.comparingLong(Op::invokeNanos).thenComparingLong(Op::completeNanos));
    String counts =
        "set "
            + key
            + ": "
            + outcomes[Outcome.OK.ordinal()]
            + " OK, "
            + outcomes[Outcome.UNKNOWN.ordinal()]
            + " UNKNOWN, "
            + outcomes[Outcome.FAIL.ordinal()]
            + " FAIL adds";
    if (reads.isEmpty()) {
      notes.add(counts + ", no OK read: nothing to check");
      return List.of();
    }
    Op last = reads.get(reads.size() - 1);
    Set<Long> finalElements = last.resultSet();

    // Evidence that an element is in the set, in the order it becomes known: an OK add's
    // completion, or a read's completion for each element it holds.
    List<Op> evidence = new ArrayList<>();
    for (List<Op> attempts : adds.values()) {
      for (Op add : attempts) {
        if (add.outcome() == Outcome.OK) {
          evidence.add(add);
        }
      }
    }
    evidence.addAll(reads);
    evidence.sort(Comparator.comparingLong(Op::completeNanos));

    AnomalyCollector found = new AnomalyCollector(key);
    Map<Long, Op> known = new LinkedHashMap<>(); // element -> first op that showed it
    int next = 0;
    for (Op read : reads) {
      while (next < evidence.size() && evidence.get(next).completeNanos() < read.invokeNanos()) {
        Op shows = evidence.get(next++);
        if (shows.type() == OpType.ADD) {
          known.putIfAbsent(shows.value(), shows);
        } else {
          for (long element : shows.resultSet()) {
            known.putIfAbsent(element, shows);
          }
        }
      }
      for (long element : read.resultSet()) {
        checkPresent(found, element, read, adds.getOrDefault(element, List.of()), origin);
      }
      for (Map.Entry<Long, Op> k : known.entrySet()) {
        long element = k.getKey();
        if (read.resultSet().contains(element)) {
          continue;
        }
        boolean lost = !finalElements.contains(element);
        if (lost && read != last) {
          continue; // reported once, against the final read
        }
        found.add(
            lost ? Anomaly.Kind.LOST_WRITE : Anomaly.Kind.STALE_READ,
            "element "
                + element
                + ", shown by "
                + OpText.describe(k.getValue(), origin)
                + ", is missing from "
                + (lost ? "the final read " : "")
                + OpText.describe(read, origin),
            List.of(k.getValue(), read));
      }
    }
    checkOrder(found, adds, reads, origin);
    notes.add(
        counts
            + "; final read has "
            + finalElements.size()
            + " elements: "
            + OpText.describe(last, origin)
            + (linearizable(ops) ? "; linearizable" : "; not linearizable"));
    return found.anomalies();
  }

  /** Finds OUT_OF_ORDER and INCOMPARABLE_READS among the OK {@code reads}. */
  private static void checkOrder(
      AnomalyCollector found, Map<Long, List<Op>> adds, List<Op> reads, long origin) {
    // The earliest OK add of each element, by completion.
    List<Op> firstOk = new ArrayList<>();
    for (List<Op> attempts : adds.values()) {
      attempts.stream()
          .filter(add -> add.outcome() == Outcome.OK)
          .min(Comparator.comparingLong(Op::completeNanos))
          .ifPresent(firstOk::add);
    }
    firstOk.sort(Comparator.comparingLong(Op::completeNanos));
    for (Op read : reads) {
      Op latest = null; // the add of an element of the read invoked latest (earliest per element)
      for (long element : read.resultSet()) {
        Op earliest = earliestAttempt(adds.getOrDefault(element, List.of()));
        if (earliest != null
            && earliest.invokeNanos() <= read.completeNanos()
            && (latest == null || earliest.invokeNanos() > latest.invokeNanos())) {
          latest = earliest;
        }
      }
      if (latest == null) {
        continue;
      }
      for (Op add : firstOk) {
        if (add.completeNanos() >= latest.invokeNanos()) {
          break;
        }
        if (add.completeNanos() >= read.invokeNanos() && !read.resultSet().contains(add.value())) {
          found.add(
              Anomaly.Kind.OUT_OF_ORDER,
              OpText.describe(read, origin)
                  + " holds "
                  + latest.value()
                  + " but not "
                  + add.value()
                  + ", though "
                  + OpText.describe(add, origin)
                  + " completed before the first add of "
                  + latest.value()
                  + ", "
                  + OpText.describe(latest, origin)
                  + ", was invoked",
              List.of(add, latest, read));
          break;
        }
      }
    }
    List<Op> bySize = new ArrayList<>(reads);
    bySize.sort(Comparator.comparingInt(r -> r.resultSet().size()));
    for (int i = 1; i < bySize.size(); i++) {
      Op smaller = bySize.get(i - 1);
      Op larger = bySize.get(i);
      if (larger.resultSet().containsAll(smaller.resultSet())) {
        continue;
      }
      long onlySmaller =
          smaller.resultSet().stream()
              .filter(e -> !larger.resultSet().contains(e))
              .findFirst()
              .orElseThrow();
      long onlyLarger =
          larger.resultSet().stream()
              .filter(e -> !smaller.resultSet().contains(e))
              .findFirst()
              .orElseThrow();
      found.add(
          Anomaly.Kind.INCOMPARABLE_READS,
          OpText.describe(smaller, origin)
              + " holds "
              + onlySmaller
              + " but not "
              + onlyLarger
              + ", and "
              + OpText.describe(larger, origin)
              + " holds "
              + onlyLarger
              + " but not "
              + onlySmaller,
          List.of(smaller, larger));
    }
  }

  /** The add among {@code attempts} that is not FAIL and was invoked first; null if none. */
  private static Op earliestAttempt(List<Op> attempts) {
    Op earliest = null;
    for (Op add : attempts) {
      if (add.outcome() != Outcome.FAIL
          && (earliest == null || add.invokeNanos() < earliest.invokeNanos())) {
        earliest = add;
      }
    }
    return earliest;
  }

  /**
   * Whether the set operations {@code ops} of one key are linearizable, decided directly as the
   * class comment describes: sets read form a chain, and no node of the layered order has an upper
   * bound below the lower bound of a node in an earlier layer. O(n log n + reads × elements).
   */
  static boolean linearizable(List<Op> ops) {
    Map<Long, long[]> bounds = new HashMap<>(); // element -> {L, U}
    List<Op> reads = new ArrayList<>();
    for (Op op : ops) {
      if (op.type() == OpType.READ_SET) {
        if (op.outcome() == Outcome.OK) {
          reads.add(op);
        }
      } else if (op.outcome() != Outcome.FAIL) {
        long[] b =
            bounds.computeIfAbsent(op.value(), e -> new long[] {Long.MAX_VALUE, Long.MAX_VALUE});
        b[0] = Math.min(b[0], op.invokeNanos());
        if (op.outcome() == Outcome.OK) {
          b[1] = Math.min(b[1], op.completeNanos());
        }
      }
    }
    reads.sort(Comparator.comparingInt(r -> r.resultSet().size()));
    List<Set<Long>> groups = new ArrayList<>(); // distinct sets read, a chain by inclusion
    List<List<Op>> groupReads = new ArrayList<>();
    for (Op read : reads) {
      Set<Long> last = groups.isEmpty() ? Set.of() : groups.get(groups.size() - 1);
      if (!read.resultSet().containsAll(last)) {
        return false;
      }
      if (groups.isEmpty() || !read.resultSet().equals(last)) {
        groups.add(read.resultSet());
        groupReads.add(new ArrayList<>());
      }
      groupReads.get(groupReads.size() - 1).add(read);
    }
    int m = groups.size();
    List<List<long[]>> layerElements = new ArrayList<>(); // per group, then "in no read"
    for (int i = 0; i <= m; i++) {
      layerElements.add(new ArrayList<>());
    }
    Set<Long> placed = new java.util.HashSet<>();
    for (int i = 0; i < m; i++) {
      for (long element : groups.get(i)) {
        if (placed.add(element)) {
          long[] b = bounds.get(element);
          if (b == null) {
            return false; // read but never added (or only by FAIL adds)
          }
          layerElements.get(i).add(b);
        }
      }
    }
    for (Map.Entry<Long, long[]> e : bounds.entrySet()) {
      if (!placed.contains(e.getKey()) && e.getValue()[1] != Long.MAX_VALUE) {
        layerElements.get(m).add(e.getValue());
      }
    }
    long before = Long.MIN_VALUE; // the greatest lower bound of all earlier layers
    for (int i = 0; i <= m; i++) {
      long layer = Long.MIN_VALUE;
      for (long[] b : layerElements.get(i)) {
        if (Math.max(b[0], before) > b[1]) {
          return false;
        }
        layer = Math.max(layer, b[0]);
      }
      before = Math.max(before, layer);
      if (i < m) {
        layer = Long.MIN_VALUE;
        for (Op read : groupReads.get(i)) {
          if (Math.max(read.invokeNanos(), before) > read.completeNanos()) {
            return false;
          }
          layer = Math.max(layer, read.invokeNanos());
        }
        before = Math.max(before, layer);
      }
    }
    return true;
  }

  private static void checkPresent(
      AnomalyCollector found, long element, Op read, List<Op> attempts, long origin) {
    if (attempts.isEmpty()) {
      found.add(
          Anomaly.Kind.PHANTOM_ELEMENT,
          "element " + element + " was never added but is in " + OpText.describe(read, origin),
          List.of(read));
      return;
    }
    boolean anyAttempt = false;
    for (Op add : attempts) {
      if (add.outcome() != Outcome.FAIL) {
        anyAttempt = true;
        if (add.invokeNanos() <= read.completeNanos()) {
          return;
        }
      }
    }
    List<Op> involved = new ArrayList<>(attempts);
    involved.add(read);
    found.add(
        anyAttempt ? Anomaly.Kind.PHANTOM_ELEMENT : Anomaly.Kind.FAILED_ADD_PRESENT,
        anyAttempt
            ? "element "
                + element
                + " was added only after "
                + OpText.describe(read, origin)
                + " completed"
            : "element "
                + element
                + " whose adds all FAILed is in "
                + OpText.describe(read, origin),
        involved);
  }
}
