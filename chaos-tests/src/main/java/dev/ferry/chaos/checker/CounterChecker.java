package dev.ferry.chaos.checker;

import dev.ferry.chaos.history.History;
import dev.ferry.chaos.history.Op;
import dev.ferry.chaos.history.OpType;
import dev.ferry.chaos.history.Outcome;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Checks counters for lost and doubly applied increments, in O(n log n), without the search of
 * {@link LinearizabilityChecker}.
 *
 * <p>A counter key is a key with INCREMENT operations and otherwise only READs; other keys are left
 * alone, and counter keys that are also written, CAS'd or used as sets, or have an increment delta
 * that is not positive, are skipped with a note. A read of an absent counter counts as 0.
 *
 * <p>Bounds: for an OK read invoked at {@code t0} that completed at {@code t1}, the value must be
 * at least the sum of the deltas of the OK increments that completed before {@code t0} (else {@link
 * Anomaly.Kind#LOST_INCREMENT}) and at most the sum of the deltas of the OK and UNKNOWN increments
 * invoked by {@code t1} (else {@link Anomaly.Kind#DOUBLE_APPLY}). For the final read, after every
 * increment, that is {@code [#ok, #ok + #unknown]} with increments of 1. An OK increment's result
 * is bounded the same way (its own delta counted in the lower bound), and since every delta is
 * positive no two OK increments may return the same value (else DOUBLE_APPLY). FAIL increments
 * count nowhere. Intervals that touch count as concurrent, as in {@link LinearizabilityChecker}.
 *
 * <p>Stateless and thread-safe.
 */
public final class CounterChecker {
  /** Checks the counters of {@code history}. */
  public AnomalyResult check(History history) {
    return check(history.ops());
  }

  /** Checks the counters among {@code ops}, in any order. */
  public AnomalyResult check(List<Op> ops) {
    Map<String, List<Op>> byKey = HistoryOps.byKey(ops);
    long origin = HistoryOps.origin(ops);
    List<String> keys = new ArrayList<>();
    List<Anomaly> anomalies = new ArrayList<>();
    List<String> notes = new ArrayList<>();
    for (Map.Entry<String, List<Op>> e : byKey.entrySet()) {
      List<Op> keyOps = e.getValue();
      String key = e.getKey();
      if (keyOps.stream().noneMatch(op -> op.type() == OpType.INCREMENT)) {
        continue;
      }
      if (keyOps.stream()
          .anyMatch(op -> op.type() != OpType.INCREMENT && op.type() != OpType.READ)) {
        notes.add("counter " + key + ": skipped, it also has writes, CAS or set operations");
        continue;
      }
      if (keyOps.stream().anyMatch(op -> op.type() == OpType.INCREMENT && op.value() <= 0)) {
        notes.add("counter " + key + ": skipped, it has an increment delta <= 0");
        continue;
      }
      keys.add(key);
      anomalies.addAll(checkKey(key, keyOps, origin, notes));
    }
    return new AnomalyResult(keys, anomalies, notes);
  }

  private static List<Anomaly> checkKey(String key, List<Op> ops, long origin, List<String> notes) {
    List<Op> done = new ArrayList<>(); // OK increments, by completion
    List<Op> attempted = new ArrayList<>(); // OK and UNKNOWN increments, by invocation
    List<Op> reads = new ArrayList<>();
    for (Op op : ops) {
      if (op.outcome() == Outcome.FAIL) {
        continue;
      }
      if (op.type() == OpType.READ) {
        if (op.outcome() == Outcome.OK) {
          reads.add(op);
        }
        continue;
      }
      attempted.add(op);
      if (op.outcome() == Outcome.OK) {
        done.add(op);
      }
    }
    done.sort(Comparator.comparingLong(Op::completeNanos));
    attempted.sort(Comparator.comparingLong(Op::invokeNanos));
    reads.sort(Comparator.comparingLong(Op::invokeNanos));
    long[] doneAt = done.stream().mapToLong(Op::completeNanos).toArray();
    long[] doneSum = prefixSums(done);
    long[] attemptedAt = attempted.stream().mapToLong(Op::invokeNanos).toArray();
    long[] attemptedSum = prefixSums(attempted);

    AnomalyCollector found = new AnomalyCollector(key);
    for (Op read : reads) {
      long value = read.result() == null ? 0 : read.result();
      int below = countBelow(doneAt, read.invokeNanos());
      int atMost = countAtMost(attemptedAt, read.completeNanos());
      check(
          found,
          "read",
          read,
          value,
          doneSum[below],
          done.subList(0, below),
          attemptedSum[atMost],
          attempted.subList(0, atMost),
          origin);
    }
    Map<Long, Op> byResult = new HashMap<>();
    for (Op inc : done) {
      if (inc.result() == null) {
        continue;
      }
      int below = countBelow(doneAt, inc.invokeNanos());
      int atMost = countAtMost(attemptedAt, inc.completeNanos());
      check(
          found,
          "increment",
          inc,
          inc.result(),
          doneSum[below] + inc.value(),
          done.subList(0, below),
          attemptedSum[atMost],
          attempted.subList(0, atMost),
          origin);
      Op other = byResult.putIfAbsent(inc.result(), inc);
      if (other != null) {
        found.add(
            Anomaly.Kind.DOUBLE_APPLY,
            "two increments returned "
                + inc.result()
                + ": "
                + OpText.describe(other, origin)
                + " and "
                + OpText.describe(inc, origin),
            List.of(other, inc));
      }
    }
    long ok = done.stream().mapToLong(Op::value).sum();
    long unknown = attempted.stream().mapToLong(Op::value).sum() - ok;
    String note =
        "counter "
            + key
            + ": "
            + done.size()
            + " OK and "
            + (attempted.size() - done.size())
            + " UNKNOWN increments (sum "
            + ok
            + " + "
            + unknown
            + ")";
    if (reads.isEmpty()) {
      note += ", no OK read";
    } else {
      Op last = reads.get(reads.size() - 1);
      note +=
          ", last read "
              + (last.result() == null ? 0 : last.result())
              + " by "
              + OpText.describe(last, origin);
    }
    notes.add(note);
    return found.anomalies();
  }

  private static void check(
      AnomalyCollector found,
      String what,
      Op op,
      long value,
      long lower,
      List<Op> before,
      long upper,
      List<Op> possible,
      long origin) {
    if (value < lower) {
      found.add(
          Anomaly.Kind.LOST_INCREMENT,
          what
              + " "
              + value
              + " is below "
              + lower
              + ", the sum of the OK increments that"
              + " completed before "
              + OpText.describe(op, origin)
              + " began",
          involved(op, before));
    } else if (value > upper) {
      found.add(
          Anomaly.Kind.DOUBLE_APPLY,
          what
              + " "
              + value
              + " is above "
              + upper
              + ", the sum of all increments attempted"
              + " before "
              + OpText.describe(op, origin)
              + " completed",
          involved(op, possible));
    }
  }

  /** {@code op} and the last of {@code others}. */
  private static List<Op> involved(Op op, List<Op> others) {
    List<Op> involved = new ArrayList<>();
    involved.add(op);
    involved.addAll(
        others.subList(Math.max(0, others.size() - Anomaly.MAX_OPS + 1), others.size()));
    return involved;
  }

  private static long[] prefixSums(List<Op> increments) {
    long[] sums = new long[increments.size() + 1];
    for (int i = 0; i < increments.size(); i++) {
      sums[i + 1] = sums[i] + increments.get(i).value();
    }
    return sums;
  }

  /** How many of the sorted {@code times} are {@code < t}. */
  private static int countBelow(long[] times, long t) {
    int i = Arrays.binarySearch(times, t);
    if (i < 0) {
      return -i - 1;
    }
    while (i > 0 && times[i - 1] == t) {
      i--;
    }
    return i;
  }

  /** How many of the sorted {@code times} are {@code <= t}. */
  private static int countAtMost(long[] times, long t) {
    int i = Arrays.binarySearch(times, t);
    if (i < 0) {
      return -i - 1;
    }
    while (i < times.length - 1 && times[i + 1] == t) {
      i++;
    }
    return i + 1;
  }
}
