package dev.ferry.chaos.checker;

import dev.ferry.chaos.history.Op;
import dev.ferry.chaos.history.OpType;
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
 * Porcupine's linearizability search (Athalye 2017, after Lowe, "Testing for linearizability",
 * 2017) over the operations on one register, with a sequential model of READ, WRITE, CAS and
 * INCREMENT.
 *
 * <p>List and walk: each operation becomes a call entry at its invocation and a return entry at its
 * completion, in a doubly linked list sorted by time (a call before a return at equal times:
 * operations that touch are concurrent). An UNKNOWN operation returns at infinity: it may take
 * effect any time after its invocation, or never. The search walks the list from its head: a call
 * entry whose operation is legal in the current model state is linearized (lifted out of the list
 * with its return, and the state and the call pushed on a stack) and the walk restarts from the
 * head; reaching a return entry means the operations tried so far cannot precede it, so the search
 * backtracks by popping the stack and trying the next call after the popped one. The search
 * succeeds once every OK operation is linearized: every UNKNOWN operation is legal in every state,
 * so those left can take effect after all the others, which nothing observes, the same as never. It
 * fails when it must backtrack from the empty stack.
 *
 * <p>Order: {@link Order#INVOCATION} tries the calls that may come next in list order, as Porcupine
 * does; {@link Order#OK_FIRST} tries every OK operation before any UNKNOWN one, so that an UNKNOWN
 * operation is linearized only when the OK operations cannot go on without it. The order changes
 * what is explored first, not what is explored. On registers, an UNKNOWN write most often took
 * effect near its invocation and, if it did not, the next read refutes it, so invocation order is
 * fast; on counters, increments commute and no single read refutes one, so trying UNKNOWN
 * increments early explores every count at every step, and OK_FIRST is fast.
 *
 * <p>Reads: at each new node the search first looks for a call that may come next, is OK, leaves
 * the state unchanged (a READ, or a CAS that did not swap) and is legal now. If there is one it is
 * linearized without trying anything else, and if that fails the node fails: in any way to finish
 * from the node, that operation can be moved to the front, because it changes nothing and all it
 * must follow is already linearized. Concurrent reads of the same value then cost one path, not
 * every subset.
 *
 * <p>Memo: Porcupine memoizes (set of linearized operations, model state) and cuts off a state seen
 * before. Here a state is also cut off when a state that failed had the same model state, the same
 * linearized OK operations and a subset of its linearized UNKNOWN operations: any way to finish
 * from the new state would finish from the failed one too (the same operations in the same order;
 * the extra UNKNOWN operations need not happen). This keeps UNKNOWN writes that never took effect
 * from multiplying the search. The OK set is a bitset over the OK operations in invocation order,
 * hashed incrementally (Zobrist) and stored compactly: the words before the first unlinearized
 * operation are all ones and are left out. The UNKNOWN sets with which one (OK set, state) failed
 * are kept in an index ({@link FailedSets}): an exact revisit is a hash lookup, and a subset is
 * looked for only among the sets whose highest UNKNOWN operation the query holds.
 *
 * <p>Symmetry: UNKNOWN operations with the same type, value and expected value (typically UNKNOWN
 * increments of 1) have the same effect and no return, so they are interchangeable except for their
 * invocation times. Any linearization can be rearranged so that such twins take effect in the order
 * of their invocations (the earlier-invoked twin takes the place of a later one, which moves later
 * or drops out), so the search only linearizes a twin after every earlier-invoked twin: k pending
 * UNKNOWN increments give k + 1 choices, not 2^k.
 *
 * <p>Observed UNKNOWN operations: an UNKNOWN operation u is linearized only if it changes the state
 * (from b to a), and then the next operation x must observe it: x is legal in a and not legal in b
 * with the same resulting state (else u can be left out), nor, if x is OK, legal in b with u
 * applied after it giving the same state (else u can move after x; an UNKNOWN operation never
 * returns, so it may always move later). Any linearization can be rewritten into this form: each
 * rewrite drops an UNKNOWN operation or moves one later past an OK one, so rewriting ends. Before
 * linearizing u, a look-ahead checks that some call that may come next observes it, directly or
 * through one other UNKNOWN call ({@value #OBSERVER_CHAIN} in all); else u is skipped. A state
 * entered by such a u admits fewer continuations than the same state reached otherwise, so it is
 * memoized apart, with b; a failed unrestricted state with a subset of its UNKNOWN operations still
 * cuts it off, never the other way round. The look-ahead costs the square of the UNKNOWN calls that
 * may come next, so the rule applies only while there are at most {@link #OBSERVED_WINDOW}; beyond
 * that UNKNOWN operations are linearized freely (the arguments above are per node, so mixing is
 * sound). The effect: an UNKNOWN write waits for the read that shows its value instead of being
 * tried at every step.
 *
 * <p>Model: the register is absent or holds a long. READ returns the value ({@code null}: absent).
 * WRITE sets it. CAS swaps if the register is present and equals the expected value; an OK CAS with
 * result 1 must swap, with result 0 must not; an UNKNOWN CAS swaps if it matches. INCREMENT adds
 * its delta (absent counts as 0, as in Ferry's key-value store) and an OK result must equal the new
 * value. Every UNKNOWN operation is legal in every state.
 *
 * <p>Not thread-safe: one search per thread, used once.
 */
final class RegisterSearch {
  /** Which of the calls that may come next the search tries first. */
  enum Order {
    /** In the order of the event list, as Porcupine does. */
    INVOCATION,
    /** OK operations first, then UNKNOWN ones. */
    OK_FIRST;

    /** The faster order for {@code ops}: OK_FIRST on counters, INVOCATION otherwise. */
    static Order forOps(List<Op> ops) {
      return ops.stream().anyMatch(op -> op.type() == OpType.INCREMENT) ? OK_FIRST : INVOCATION;
    }
  }

  private static final int NIL = -1;
  private static final int OBSERVER_CHAIN = 2;

  /** Default for the most UNKNOWN calls that may come next for the observer rule to apply. */
  static final int OBSERVED_WINDOW = 16;

  private final int[] chain = new int[OBSERVER_CHAIN];

  /** Estimated bytes of a memo state beyond its bitsets: objects, lists and hash table slots. */
  private static final long STATE_OVERHEAD = 160;

  private final String key;
  private final Op[] ops; // the OK ops (ids 0..okCount-1), then the UNKNOWN ops, each by invocation
  private final int okCount;
  private final Budget budget;
  private final boolean okFirst;
  private final long origin;
  private final int observedWindow;
  private long listVersion; // changes with every lift and unlift
  private long fewCountedAt = -1;
  private boolean few;

  // Entries 0..2n-1; entry 2n is the head sentinel.
  private final int head;
  private final int[] next;
  private final int[] prev;
  private final int[] opOf;
  private final int[] match; // call entry -> its return entry; NIL for a return entry
  private final long[] zobrist; // per OK op
  private final int[] twinBefore; // previous interchangeable UNKNOWN op by invocation, or NIL

  // Search state: the linearized sets and the model state reached by step().
  private final long[] okBits;
  private final long lastWordMask; // the valid bits of okBits' last word
  private int lowWord; // okBits[w] is full for every w < lowWord
  private int topWord; // okBits[w] == 0 for every w > topWord
  private long okHash;
  private final long[] unknownBits;
  private boolean nextPresent;
  private long nextValue;

  // Depth-first search: the current node, the stack of nodes above it, the memo and the budget.
  private boolean present;
  private long value;
  private int depth;
  private int okDone;
  private final int[] stackEntry;
  private final boolean[] stackPresent;
  private final long[] stackValue;
  private final boolean[] stackForced;
  private final boolean[] stackRestricts; // the node above was entered by an observed UNKNOWN op
  private final FailedSets[] stackBucket; // where each node's UNKNOWN set goes when it fails
  private final long[][] stackUnknown;
  private final Map<MemoKey, FailedSets> memo = new HashMap<>();
  private final MemoKey probe = new MemoKey();
  private long states;
  private long memoBytes;
  private final long deadline;
  private boolean outOfBudget;
  private int[] best = new int[0];
  private boolean bestPresent;
  private long bestValue;

  /**
   * A search over {@code partition}, the OK and UNKNOWN operations on {@code key}; times in
   * explanations are relative to {@code origin}.
   */
  RegisterSearch(String key, List<Op> partition, Budget budget, Order order, long origin) {
    this(key, partition, budget, order, origin, OBSERVED_WINDOW);
  }

  /**
   * As above, applying the observer rule only while at most {@code observedWindow} UNKNOWN calls
   * may come next (0: never); for tests.
   */
  RegisterSearch(
      String key, List<Op> partition, Budget budget, Order order, long origin, int observedWindow) {
    this.key = key;
    this.observedWindow = observedWindow;
    this.budget = budget;
    this.okFirst = order == Order.OK_FIRST;
    this.origin = origin;
    Comparator<Op> byInvocation =
        Comparator.comparingLong(Op::invokeNanos).thenComparingLong(Op::completeNanos);
    List<Op> ordered = new ArrayList<>(partition.size());
    partition.stream()
        .filter(op -> op.outcome() == Outcome.OK)
        .sorted(byInvocation)
        .forEach(ordered::add);
    okCount = ordered.size();
    partition.stream()
        .filter(op -> op.outcome() == Outcome.UNKNOWN)
        .sorted(byInvocation)
        .forEach(ordered::add);
    if (ordered.size() != partition.size()) {
      throw new IllegalArgumentException("FAIL operations are not searched: " + partition);
    }
    ops = ordered.toArray(new Op[0]);
    int n = ops.length;
    okBits = new long[Math.max(1, (okCount + 63) >>> 6)];
    lastWordMask = (okCount & 63) == 0 ? -1L : (1L << (okCount & 63)) - 1;
    unknownBits = new long[(n - okCount + 63) >>> 6];
    head = 2 * n;
    next = new int[2 * n + 1];
    prev = new int[2 * n + 1];
    opOf = new int[2 * n];
    match = new int[2 * n];
    zobrist = new long[okCount];
    for (int i = 0; i < okCount; i++) {
      zobrist[i] = mix(0x9E3779B97F4A7C15L * (i + 1));
    }
    long[][] events = new long[2 * n][];
    for (int i = 0; i < n; i++) {
      long returns = i < okCount ? ops[i].completeNanos() : Long.MAX_VALUE;
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
    stackEntry = new int[n];
    stackPresent = new boolean[n];
    stackValue = new long[n];
    stackForced = new boolean[n];
    stackRestricts = new boolean[n];
    stackBucket = new FailedSets[n];
    stackUnknown = new long[n][];
    deadline = System.nanoTime() + budget.maxTimePerKey().toNanos();
    twinBefore = new int[n];
    Arrays.fill(twinBefore, NIL);
    Map<List<Long>, Integer> lastTwin = new HashMap<>();
    for (int op = okCount; op < n; op++) { // UNKNOWN ops, by invocation
      List<Long> kind =
          List.of((long) ops[op].type().ordinal(), ops[op].value(), ops[op].expected());
      Integer previous = lastTwin.put(kind, op);
      twinBefore[op] = previous == null ? NIL : previous;
    }
  }

  KeyResult run() {
    int entry = next[head];
    boolean unknownPass = false; // OK_FIRST: trying the UNKNOWN calls
    boolean fresh = true; // at a node not yet looked at
    while (okDone < okCount) {
      boolean nodeFailed = false;
      if (fresh) {
        fresh = false;
        int forced = forcedCall();
        if (forced != NIL) {
          if (linearize(forced, true)) {
            fresh = true;
            entry = next[head];
            unknownPass = false;
            continue;
          }
          if (outOfBudget) {
            return unknown();
          }
          nodeFailed = true;
        }
      }
      if (!nodeFailed && match[entry] != NIL) {
        int op = opOf[entry];
        if (okFirst && (op >= okCount) != unknownPass) {
          entry = next[entry];
        } else if (linearize(entry, false)) {
          fresh = true;
          entry = next[head];
          unknownPass = false;
        } else if (outOfBudget) {
          return unknown();
        } else {
          entry = next[entry];
        }
      } else if (!nodeFailed && okFirst && !unknownPass) {
        unknownPass = true;
        entry = next[head];
      } else {
        int popped;
        do {
          if (depth == 0) {
            return notLinearizable();
          }
          popped = pop();
        } while (stackForced[depth]);
        entry = next[popped];
        unknownPass = opOf[popped] >= okCount;
      }
    }
    return new KeyResult(key, Verdict.LINEARIZABLE, ops.length, states, List.of(), List.of(), "");
  }

  /**
   * A call that may come next, is OK, leaves the state as it is (a READ, or a CAS that did not
   * swap) and is legal now; NIL if none. Linearizing it at once loses nothing: in any way to finish
   * from here it can be moved to the front, since it changes nothing and nothing it must follow is
   * still pending. So the search commits to it, and if that fails, the node fails.
   */
  private int forcedCall() {
    for (int e = next[head]; match[e] != NIL; e = next[e]) {
      int op = opOf[e];
      if (op < okCount
          && (ops[op].type() == OpType.READ || ops[op].type() == OpType.CAS && !ops[op].swapped())
          && step(present, value, ops[op])
          && allowedAfterUnknown(ops[op])) {
        return e;
      }
    }
    return NIL;
  }

  /**
   * Linearizes the call {@code entry} if it is legal, allowed by its twins and not cut off by the
   * memo, pushing the current node; returns whether it did. Sets {@link #outOfBudget} instead when
   * the new state would exceed the budget.
   */
  private boolean linearize(int entry, boolean forced) {
    int op = opOf[entry];
    int twin = twinBefore[op];
    if (twin != NIL && !isLinearized(twin) || !allowedAfterUnknown(ops[op])) {
      return false;
    }
    if (!step(present, value, ops[op])) {
      return false;
    }
    if (op >= okCount && sameState(nextPresent, nextValue, present, value)) {
      return false;
    }
    boolean restricts = op >= okCount && fewUnknownCalls();
    if (restricts) {
      boolean aPresent = nextPresent;
      long aValue = nextValue;
      if (!hasObserver(entry, present, value, aPresent, aValue, 1)) {
        return false;
      }
      nextPresent = aPresent;
      nextValue = aValue;
    }
    flip(op);
    probe.view(this, nextPresent, nextValue, restricts, present, value);
    FailedSets seen = memo.get(probe);
    if (seen != null && seen.hasSubsetOf(unknownBits) || restricts && dominatedByUnrestricted()) {
      flip(op);
      return false;
    }
    probe.view(this, nextPresent, nextValue, restricts, present, value);
    long bytes = 8L * unknownBits.length + STATE_OVERHEAD + (seen == null ? 8L * probe.words() : 0);
    if (states + 1 > budget.maxStatesPerKey()
        || memoBytes + bytes > budget.maxMemoBytesPerKey()
        || ((states & 0xFFF) == 0 && System.nanoTime() - deadline > 0)) {
      flip(op);
      outOfBudget = true;
      return false;
    }
    states++;
    memoBytes += bytes;
    if (seen == null) {
      seen = new FailedSets();
      memo.put(probe.copy(), seen);
    }
    stackBucket[depth] = seen;
    stackUnknown[depth] = unknownBits.clone();
    stackEntry[depth] = entry;
    stackPresent[depth] = present;
    stackValue[depth] = value;
    stackForced[depth] = forced;
    stackRestricts[depth] = restricts;
    depth++;
    present = nextPresent;
    value = nextValue;
    if (op < okCount) {
      okDone++;
    }
    lift(entry);
    if (depth > best.length) {
      best = new int[depth];
      for (int i = 0; i < depth; i++) {
        best[i] = opOf[stackEntry[i]];
      }
      bestPresent = present;
      bestValue = value;
    }
    return true;
  }

  private boolean dominatedByUnrestricted() {
    probe.view(this, nextPresent, nextValue, false, false, 0);
    FailedSets seen = memo.get(probe);
    return seen != null && seen.hasSubsetOf(unknownBits);
  }

  /**
   * Whether {@code x} may come next. Right after an UNKNOWN operation u took the register from
   * state b to the current state, x must observe u: not be legal from b with the same outcome (then
   * u can be dropped), and, if x is OK, not be legal from b with u applied after it giving the same
   * state (then u can move after x).
   */
  private boolean allowedAfterUnknown(Op x) {
    if (depth == 0 || !stackRestricts[depth - 1]) {
      return true;
    }
    return observes(
        ops[opOf[stackEntry[depth - 1]]],
        stackPresent[depth - 1],
        stackValue[depth - 1],
        present,
        value,
        x);
  }

  /**
   * Whether, after UNKNOWN operation {@code u} took the register from state b to state a, {@code x}
   * may come next: it is legal in a and observes u. It does not if it is also legal in b and leaves
   * the same state from b as from a (then u can be left out), nor if it is OK, legal in b, and u
   * applied after it leaves that same state (then u can move after x). Overwrites next*.
   */
  private boolean observes(
      Op u, boolean bPresent, long bValue, boolean aPresent, long aValue, Op x) {
    if (!step(aPresent, aValue, x)) {
      return false;
    }
    boolean xaPresent = nextPresent;
    long xaValue = nextValue;
    if (!step(bPresent, bValue, x)) {
      return true;
    }
    if (sameState(nextPresent, nextValue, xaPresent, xaValue)) {
      return false;
    }
    if (x.outcome() != Outcome.OK) {
      return true;
    }
    step(nextPresent, nextValue, u);
    return !sameState(nextPresent, nextValue, xaPresent, xaValue);
  }

  /**
   * Whether some call other than {@code entry} that may come next would observe the UNKNOWN
   * operation of {@code entry} taking the register from state b to state a, directly or through a
   * chain of other UNKNOWN calls each observing the one before and ending in an OK call (chains
   * longer than {@value #OBSERVER_CHAIN} count as observed); if none, that operation need not be
   * linearized now. Overwrites next*.
   */
  private boolean hasObserver(
      int entry, boolean bPresent, long bValue, boolean aPresent, long aValue, int length) {
    if (length > OBSERVER_CHAIN) {
      return true;
    }
    Op u = ops[opOf[entry]];
    chain[length - 1] = entry;
    for (int e = next[head]; e != NIL && match[e] != NIL; e = next[e]) {
      if (inChain(e, length) || !observes(u, bPresent, bValue, aPresent, aValue, ops[opOf[e]])) {
        continue;
      }
      if (opOf[e] < okCount) {
        return true;
      }
      step(aPresent, aValue, ops[opOf[e]]);
      if (hasObserver(e, aPresent, aValue, nextPresent, nextValue, length + 1)) {
        return true;
      }
    }
    return false;
  }

  /**
   * Whether at most {@link #observedWindow} UNKNOWN calls may come next; counted once per list
   * change.
   */
  private boolean fewUnknownCalls() {
    if (fewCountedAt != listVersion) {
      fewCountedAt = listVersion;
      int unknownCalls = 0;
      few = true;
      for (int e = next[head]; e != NIL && match[e] != NIL; e = next[e]) {
        if (opOf[e] >= okCount && ++unknownCalls > observedWindow) {
          few = false;
          break;
        }
      }
    }
    return few;
  }

  private boolean inChain(int e, int length) {
    for (int i = 0; i < length; i++) {
      if (chain[i] == e) {
        return true;
      }
    }
    return false;
  }

  private static boolean sameState(boolean aPresent, long aValue, boolean bPresent, long bValue) {
    return aPresent == bPresent && (!aPresent || aValue == bValue);
  }

  /** Undoes the last linearization, marking its state failed; returns its call entry. */
  private int pop() {
    depth--;
    stackBucket[depth].add(stackUnknown[depth]);
    stackUnknown[depth] = null;
    int entry = stackEntry[depth];
    present = stackPresent[depth];
    value = stackValue[depth];
    int op = opOf[entry];
    if (op < okCount) {
      okDone--;
    }
    flip(op);
    unlift(entry);
    return entry;
  }

  private boolean isLinearized(int op) {
    return op < okCount
        ? (okBits[op >>> 6] & 1L << op) != 0
        : (unknownBits[(op - okCount) >>> 6] & 1L << (op - okCount)) != 0;
  }

  /** Adds {@code op} to the linearized set, or removes it. */
  private void flip(int op) {
    if (op >= okCount) {
      unknownBits[(op - okCount) >>> 6] ^= 1L << (op - okCount);
      return;
    }
    int w = op >>> 6;
    okBits[w] ^= 1L << op;
    okHash ^= zobrist[op];
    if ((okBits[w] & 1L << op) != 0) {
      topWord = Math.max(topWord, w);
      while (lowWord < okBits.length && okBits[lowWord] == fullWord(lowWord)) {
        lowWord++;
      }
    } else {
      lowWord = Math.min(lowWord, w);
      while (topWord > 0 && okBits[topWord] == 0) {
        topWord--;
      }
    }
  }

  private long fullWord(int w) {
    return w == okBits.length - 1 ? lastWordMask : -1L;
  }

  private static boolean subset(long[] a, long[] b) {
    for (int w = 0; w < a.length; w++) {
      if ((a[w] & ~b[w]) != 0) {
        return false;
      }
    }
    return true;
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
    listVersion++;
    next[prev[call]] = next[call];
    prev[next[call]] = prev[call];
    int ret = match[call];
    next[prev[ret]] = next[ret];
    if (next[ret] != NIL) {
      prev[next[ret]] = prev[ret];
    }
  }

  private void unlift(int call) {
    listVersion++;
    int ret = match[call];
    next[prev[ret]] = ret;
    if (next[ret] != NIL) {
      prev[next[ret]] = ret;
    }
    next[prev[call]] = call;
    prev[next[call]] = call;
  }

  private KeyResult unknown() {
    return new KeyResult(
        key,
        Verdict.UNKNOWN,
        ops.length,
        states,
        List.of(),
        List.of(),
        "key "
            + key
            + ": search budget exhausted after "
            + states
            + " states and about "
            + (memoBytes >> 20)
            + " MiB of memo (budget: "
            + budget.maxStatesPerKey()
            + " states, "
            + (budget.maxMemoBytesPerKey() >> 20)
            + " MiB, "
            + budget.maxTimePerKey()
            + ")");
  }

  private KeyResult notLinearizable() {
    boolean[] done = new boolean[ops.length];
    List<Op> prefix = new ArrayList<>(best.length);
    for (int op : best) {
      done[op] = true;
      prefix.add(ops[op]);
    }
    long firstReturn = Long.MAX_VALUE;
    int blocking = NIL;
    for (int i = 0; i < okCount; i++) {
      if (!done[i] && ops[i].completeNanos() < firstReturn) {
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
    s.append("\n  leaving the register ").append(bestPresent ? "= " + bestValue : "absent");
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

  /**
   * The sets of linearized UNKNOWN operations with which one memo key (OK set, state) failed,
   * indexed for the question the search asks at every step: did it fail with a subset of this set?
   * (A state equal to one still being explored cannot come up: those are the current node and its
   * ancestors, which have fewer operations linearized.) An exact revisit is a hash lookup; other
   * sets are filed under their highest UNKNOWN operation, and a query looks only under the
   * operations it holds.
   */
  private static final class FailedSets {
    private boolean empty; // failed with no UNKNOWN operation: every set is dominated
    private final Set<List<Long>> exact = new HashSet<>();
    private final Map<Integer, List<long[]>> byHighest = new HashMap<>();

    void add(long[] unknown) {
      int highest = highest(unknown);
      if (highest < 0) {
        empty = true;
      } else if (exact.add(asList(unknown))) {
        byHighest.computeIfAbsent(highest, h -> new ArrayList<>(2)).add(unknown);
      }
    }

    boolean hasSubsetOf(long[] unknown) {
      if (empty) {
        return true;
      }
      if (exact.isEmpty()) {
        return false;
      }
      if (exact.contains(asList(unknown))) {
        return true;
      }
      for (int w = 0; w < unknown.length; w++) {
        for (long bits = unknown[w]; bits != 0; bits &= bits - 1) {
          List<long[]> filed = byHighest.get(w * 64 + Long.numberOfTrailingZeros(bits));
          if (filed != null) {
            for (long[] failed : filed) {
              if (subset(failed, unknown)) {
                return true;
              }
            }
          }
        }
      }
      return false;
    }

    private static int highest(long[] bits) {
      for (int w = bits.length - 1; w >= 0; w--) {
        if (bits[w] != 0) {
          return w * 64 + 63 - Long.numberOfLeadingZeros(bits[w]);
        }
      }
      return -1;
    }

    private static List<Long> asList(long[] bits) {
      Long[] boxed = new Long[bits.length];
      for (int i = 0; i < bits.length; i++) {
        boxed[i] = bits[i];
      }
      return Arrays.asList(boxed);
    }
  }

  /**
   * A memo key: the set of linearized OK operations and the model state. The set is the words
   * {@code bits[from..to)}, standing for word {@code lowWord} onwards of the full bitset (all
   * earlier words full, all later ones empty). A probe views the live bitset; a stored key owns a
   * copy.
   */
  private static final class MemoKey {
    private long[] bits = new long[0];
    private int from;
    private int to;
    private int lowWord;
    private long hash;
    private boolean present;
    private long value;
    private boolean restricted;
    private boolean beforePresent;
    private long beforeValue;

    void view(
        RegisterSearch search,
        boolean present,
        long value,
        boolean restricted,
        boolean beforePresent,
        long beforeValue) {
      this.restricted = restricted;
      this.beforePresent = restricted && beforePresent;
      this.beforeValue = restricted && beforePresent ? beforeValue : 0;
      this.bits = search.okBits;
      this.lowWord = search.lowWord;
      this.from = Math.min(search.lowWord, search.okBits.length);
      this.to = Math.max(this.from, search.topWord + 1);
      this.hash = search.okHash;
      this.present = present;
      this.value = present ? value : 0;
    }

    int words() {
      return to - from;
    }

    MemoKey copy() {
      MemoKey copy = new MemoKey();
      copy.bits = Arrays.copyOfRange(bits, from, to);
      copy.from = 0;
      copy.to = copy.bits.length;
      copy.lowWord = lowWord;
      copy.hash = hash;
      copy.present = present;
      copy.value = value;
      copy.restricted = restricted;
      copy.beforePresent = beforePresent;
      copy.beforeValue = beforeValue;
      return copy;
    }

    @Override
    public int hashCode() {
      long before = restricted ? (beforePresent ? beforeValue * 37 + 2 : 1) : 0;
      return Long.hashCode(
          mix(hash + (present ? value * 31 + 1 : 0) + before * 0x9E3779B97F4A7C15L));
    }

    @Override
    public boolean equals(Object o) {
      return o instanceof MemoKey m
          && m.hash == hash
          && m.present == present
          && m.value == value
          && m.restricted == restricted
          && m.beforePresent == beforePresent
          && m.beforeValue == beforeValue
          && m.lowWord == lowWord
          && Arrays.equals(m.bits, m.from, m.to, bits, from, to);
    }
  }
}
