package dev.ferry.chaos.checker;

import dev.ferry.chaos.history.Op;
import dev.ferry.chaos.history.Outcome;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Porcupine's linearizability search (Athalye, after Lowe's "Testing for linearizability", 2017)
 * over the operations on one register, with a sequential model of READ, WRITE, CAS and INCREMENT.
 *
 * <p>Each operation becomes a call entry at its invocation and a return entry at its completion, in
 * a doubly linked list sorted by time (a call before a return at equal times: operations that touch
 * are concurrent). An UNKNOWN operation returns at infinity: it may take effect any time after its
 * invocation, and taking effect after every other operation is the same as never taking effect,
 * because nothing observes it. The search walks the list from its head: a call entry whose
 * operation is legal in the current model state is linearized (lifted out of the list with its
 * return, and the state and the call pushed on a stack) and the walk restarts from the head;
 * reaching a return entry means the operations tried so far cannot precede it, so the search
 * backtracks by popping the stack and trying the next call after the popped one. The list empties
 * exactly when every operation is linearized. A memo of (set of linearized operations, model state)
 * pairs cuts off revisits; the set is a bitset, hashed incrementally (Zobrist).
 *
 * <p>Model: the register is absent or holds a long. READ returns the value ({@code null}: absent).
 * WRITE sets it. CAS swaps if the register is present and equals the expected value; an OK CAS with
 * result 1 must swap, with result 0 must not; an UNKNOWN CAS swaps if it matches. INCREMENT adds
 * its delta (absent counts as 0, as in Ferry's key-value store) and an OK result must equal the new
 * value.
 *
 * <p>Not thread-safe: one search per thread, used once.
 */
final class RegisterSearch {
  private static final int NIL = -1;

  private final String key;
  private final Op[] ops;
  private final Budget budget;
  private final long origin;

  // Entries 0..2n-1; entry 2n is the head sentinel.
  private final int head;
  private final int[] next;
  private final int[] prev;
  private final int[] opOf;
  private final int[] match; // call entry -> its return entry; NIL for a return entry
  private final long[] zobrist;
  private final int[] twinBefore; // previous interchangeable UNKNOWN op by invocation, or NIL

  // Model state written by step().
  private boolean nextPresent;
  private long nextValue;

  RegisterSearch(String key, List<Op> partition, Budget budget, long origin) {
    this.key = key;
    this.ops = partition.toArray(new Op[0]);
    this.budget = budget;
    this.origin = origin;
    int n = ops.length;
    head = 2 * n;
    next = new int[2 * n + 1];
    prev = new int[2 * n + 1];
    opOf = new int[2 * n];
    match = new int[2 * n];
    zobrist = new long[n];
    long[][] events = new long[2 * n][];
    for (int i = 0; i < n; i++) {
      zobrist[i] = mix(0x9E3779B97F4A7C15L * (i + 1));
      long returns = ops[i].outcome() == Outcome.UNKNOWN ? Long.MAX_VALUE : ops[i].completeNanos();
      events[2 * i] = new long[] {ops[i].invokeNanos(), 0, i};
      events[2 * i + 1] = new long[] {returns, 1, i};
    }
    Arrays.sort(
        events,
        Comparator.<long[]>comparingLong(e -> e[0])
            .thenComparingLong(e -> e[1])
            .thenComparingLong(e -> e[2]));
    int[] callEntry = new int[n];
    int[] returnEntry = new int[n];
    for (int e = 0; e < 2 * n; e++) {
      int op = (int) events[e][2];
      opOf[e] = op;
      if (events[e][1] == 0) {
        callEntry[op] = e;
      } else {
        returnEntry[op] = e;
      }
      prev[e] = e == 0 ? head : e - 1;
      next[e] = e == 2 * n - 1 ? NIL : e + 1;
    }
    next[head] = n == 0 ? NIL : 0;
    prev[head] = NIL;
    Arrays.fill(match, NIL);
    for (int i = 0; i < n; i++) {
      match[callEntry[i]] = returnEntry[i];
    }
    twinBefore = new int[n];
    Arrays.fill(twinBefore, NIL);
    Map<List<Long>, Integer> lastTwin = new HashMap<>();
    Integer[] byInvoke = new Integer[n];
    for (int i = 0; i < n; i++) {
      byInvoke[i] = i;
    }
    Arrays.sort(byInvoke, Comparator.comparingLong(i -> ops[i].invokeNanos()));
    for (int i : byInvoke) {
      if (ops[i].outcome() == Outcome.UNKNOWN) {
        List<Long> kind =
            List.of((long) ops[i].type().ordinal(), ops[i].value(), ops[i].expected());
        Integer previous = lastTwin.put(kind, i);
        twinBefore[i] = previous == null ? NIL : previous;
      }
    }
  }

  KeyResult run() {
    int n = ops.length;
    long[] bits = new long[(n + 63) >>> 6];
    long hash = 0;
    boolean present = false;
    long value = 0;
    int[] stackEntry = new int[n];
    boolean[] stackPresent = new boolean[n];
    long[] stackValue = new long[n];
    int depth = 0;
    int[] best = new int[0];
    boolean bestPresent = false;
    long bestValue = 0;
    Set<MemoKey> memo = new HashSet<>();
    MemoKey probe = new MemoKey(bits);
    long states = 0;
    long deadline = System.nanoTime() + budget.maxTimePerKey().toNanos();

    int entry = next[head];
    while (next[head] != NIL) {
      if (match[entry] != NIL) {
        int op = opOf[entry];
        int twin = twinBefore[op];
        if ((twin == NIL || (bits[twin >>> 6] & 1L << twin) != 0)
            && step(present, value, ops[op])) {
          bits[op >>> 6] |= 1L << op;
          hash ^= zobrist[op];
          probe.set(hash, nextPresent, nextValue);
          if (memo.contains(probe)) {
            bits[op >>> 6] &= ~(1L << op);
            hash ^= zobrist[op];
            entry = next[entry];
          } else {
            if (++states > budget.maxStatesPerKey()
                || ((states & 0xFFF) == 0 && System.nanoTime() - deadline > 0)) {
              return unknown(states - 1);
            }
            memo.add(probe.copy());
            stackEntry[depth] = entry;
            stackPresent[depth] = present;
            stackValue[depth] = value;
            depth++;
            present = nextPresent;
            value = nextValue;
            lift(entry);
            if (depth > best.length) {
              best = new int[depth];
              for (int i = 0; i < depth; i++) {
                best[i] = opOf[stackEntry[i]];
              }
              bestPresent = present;
              bestValue = value;
            }
            entry = next[head];
          }
        } else {
          entry = next[entry];
        }
      } else {
        if (depth == 0) {
          return notLinearizable(states, best, bestPresent, bestValue);
        }
        depth--;
        entry = stackEntry[depth];
        present = stackPresent[depth];
        value = stackValue[depth];
        int op = opOf[entry];
        bits[op >>> 6] &= ~(1L << op);
        hash ^= zobrist[op];
        unlift(entry);
        entry = next[entry];
      }
    }
    return new KeyResult(key, Verdict.LINEARIZABLE, n, states, List.of(), List.of(), "");
  }

  /** Applies {@code op} to the state; returns whether it is legal, with the result in next*. */
  private boolean step(boolean present, long value, Op op) {
    nextPresent = present;
    nextValue = value;
    boolean ok = op.outcome() == Outcome.OK;
    switch (op.type()) {
      case READ -> {
        if (!ok) {
          return true;
        }
        return op.result() == null ? !present : present && op.result() == value;
      }
      case WRITE -> {
        nextPresent = true;
        nextValue = op.value();
        return true;
      }
      case CAS -> {
        boolean matches = present && value == op.expected();
        if (ok && op.swapped() != matches) {
          return false;
        }
        if (matches) {
          nextPresent = true;
          nextValue = op.value();
        }
        return true;
      }
      case INCREMENT -> {
        long now = (present ? value : 0) + op.value();
        if (ok && op.result() != null && op.result() != now) {
          return false;
        }
        nextPresent = true;
        nextValue = now;
        return true;
      }
      default -> throw new IllegalArgumentException("not a register operation: " + op);
    }
  }

  private void lift(int call) {
    next[prev[call]] = next[call];
    prev[next[call]] = prev[call];
    int ret = match[call];
    next[prev[ret]] = next[ret];
    if (next[ret] != NIL) {
      prev[next[ret]] = prev[ret];
    }
  }

  private void unlift(int call) {
    int ret = match[call];
    next[prev[ret]] = ret;
    if (next[ret] != NIL) {
      prev[next[ret]] = ret;
    }
    next[prev[call]] = call;
    prev[next[call]] = call;
  }

  private KeyResult unknown(long states) {
    return new KeyResult(
        key,
        Verdict.UNKNOWN,
        ops.length,
        states,
        List.of(),
        List.of(),
        "search budget exhausted after "
            + states
            + " states ("
            + budget.maxStatesPerKey()
            + " states or "
            + budget.maxTimePerKey()
            + " allowed)");
  }

  private KeyResult notLinearizable(long states, int[] best, boolean present, long value) {
    boolean[] done = new boolean[ops.length];
    List<Op> prefix = new ArrayList<>(best.length);
    for (int op : best) {
      done[op] = true;
      prefix.add(ops[op]);
    }
    long firstReturn = Long.MAX_VALUE;
    int blocking = NIL;
    for (int i = 0; i < ops.length; i++) {
      if (!done[i] && ops[i].outcome() == Outcome.OK && ops[i].completeNanos() < firstReturn) {
        firstReturn = ops[i].completeNanos();
        blocking = i;
      }
    }
    List<Op> stuck = new ArrayList<>();
    for (int i = 0; i < ops.length; i++) {
      if (!done[i] && ops[i].invokeNanos() <= firstReturn) {
        stuck.add(ops[i]);
      }
    }
    stuck.sort(Comparator.comparingLong(Op::invokeNanos));
    StringBuilder s = new StringBuilder();
    s.append("key ")
        .append(key)
        .append(": at most ")
        .append(best.length)
        .append(" of ")
        .append(ops.length)
        .append(" operations linearize");
    if (!prefix.isEmpty()) {
      s.append(", ending with\n")
          .append(
              OpText.lines(
                  prefix.subList(Math.max(0, prefix.size() - 5), prefix.size()), origin, "    "));
    }
    s.append("\n  leaving the register ").append(present ? "= " + value : "absent");
    if (blocking != NIL) {
      s.append("; none of these can come next, before ")
          .append(OpText.describe(ops[blocking], origin))
          .append(" completes:\n")
          .append(OpText.lines(stuck, origin, "    "));
    }
    return new KeyResult(
        key, Verdict.NOT_LINEARIZABLE, ops.length, states, prefix, stuck, s.toString());
  }

  /** SplitMix64's finalizer: a bijective 64-bit mix. */
  private static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return z ^ (z >>> 31);
  }

  /** A memo entry: the linearized set (compared in full) and the model state. */
  private static final class MemoKey {
    private final long[] bits;
    private long hash;
    private boolean present;
    private long value;

    MemoKey(long[] bits) {
      this.bits = bits;
    }

    void set(long hash, boolean present, long value) {
      this.hash = hash;
      this.present = present;
      this.value = value;
    }

    MemoKey copy() {
      MemoKey copy = new MemoKey(bits.clone());
      copy.set(hash, present, value);
      return copy;
    }

    @Override
    public int hashCode() {
      return Long.hashCode(mix(hash + (present ? value * 31 + 1 : 0)));
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof MemoKey m
          && m.hash == hash
          && m.present == present
          && (!present || m.value == value)
          && Arrays.equals(m.bits, bits);
    }
  }
}
