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
 * Checks sets of unique inserts (ADD, READ_SET) for lost writes, stale reads and phantom elements,
 * without the search of {@link LinearizabilityChecker}.
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
 * not be. Intervals that touch count as concurrent, as in {@link LinearizabilityChecker}.
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
    notes.add(
        counts
            + "; final read has "
            + finalElements.size()
            + " elements: "
            + OpText.describe(last, origin));
    return found.anomalies();
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
