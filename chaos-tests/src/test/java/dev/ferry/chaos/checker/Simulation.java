package dev.ferry.chaos.checker;

import dev.ferry.chaos.history.Op;
import dev.ferry.chaos.history.OpType;
import dev.ferry.chaos.history.Outcome;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;

/**
 * Generates histories of a correct (linearizable) store: concurrent clients with random timings
 * against a store that applies each operation atomically at a random instant inside its interval.
 * An UNKNOWN operation takes effect, or not, at a random instant after its invocation, possibly
 * after the client gave up on it; its process then retires and a fresh process takes its place, as
 * in Jepsen. Values written are unique per history, so mutations can be made that are certainly not
 * linearizable.
 */
final class Simulation {
  private final Random random;
  private final int processes;
  private final List<String> registers;
  private final List<String> counters;
  private final List<String> sets;
  private final double unknown;
  private final double fail;
  private final int maxLatency;

  private Simulation(Builder b) {
    this.random = new Random(b.seed);
    this.processes = b.processes;
    this.registers = b.registers;
    this.counters = b.counters;
    this.sets = b.sets;
    this.unknown = b.unknown;
    this.fail = b.fail;
    this.maxLatency = b.maxLatency;
  }

  static Builder seed(long seed) {
    return new Builder(seed);
  }

  static final class Builder {
    private final long seed;
    private int processes = 5;
    private List<String> registers = List.of("a", "b", "c");
    private List<String> counters = List.of();
    private List<String> sets = List.of();
    private double unknown = 0.05;
    private double fail = 0.05;
    private int maxLatency = 100;

    private Builder(long seed) {
      this.seed = seed;
    }

    Builder processes(int processes) {
      this.processes = processes;
      return this;
    }

    Builder registers(String... keys) {
      this.registers = List.of(keys);
      return this;
    }

    Builder counters(String... keys) {
      this.counters = List.of(keys);
      return this;
    }

    Builder sets(String... keys) {
      this.sets = List.of(keys);
      return this;
    }

    Builder unknown(double unknown) {
      this.unknown = unknown;
      return this;
    }

    Builder fail(double fail) {
      this.fail = fail;
      return this;
    }

    Builder maxLatency(int maxLatency) {
      this.maxLatency = maxLatency;
      return this;
    }

    List<Op> run(int ops) {
      return new Simulation(this).generate(ops);
    }
  }

  /** An operation being generated: its request, timing and linearization point. */
  private static final class Pending {
    final int process;
    final OpType type;
    final String key;
    final long value;
    final long expected;
    final long invoke;
    final long complete;
    final Outcome outcome;
    final boolean takesEffect;
    final double point;
    Long result;
    Set<Long> resultSet;

    Pending(
        int process,
        OpType type,
        String key,
        long value,
        long expected,
        long invoke,
        long complete,
        Outcome outcome,
        boolean takesEffect,
        double point) {
      this.process = process;
      this.type = type;
      this.key = key;
      this.value = value;
      this.expected = expected;
      this.invoke = invoke;
      this.complete = complete;
      this.outcome = outcome;
      this.takesEffect = takesEffect;
      this.point = point;
    }

    Op toOp() {
      boolean ok = outcome == Outcome.OK;
      long done = outcome == Outcome.UNKNOWN && complete % 3 == 0 ? Long.MAX_VALUE : complete;
      return new Op(
          process,
          type,
          key,
          value,
          expected,
          outcome,
          ok ? result : null,
          ok && type == OpType.READ_SET ? resultSet : null,
          invoke,
          done);
    }
  }

  private List<Op> generate(int count) {
    List<Pending> pending = new ArrayList<>(count);
    long[] clock = new long[processes];
    int[] processId = new int[processes];
    for (int p = 0; p < processes; p++) {
      processId[p] = p;
      clock[p] = random.nextInt(maxLatency);
    }
    int nextProcess = processes;
    long nextValue = 1;
    List<Long> written = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      int p = random.nextInt(processes);
      long invoke = clock[p] + random.nextInt(maxLatency / 2 + 1);
      long complete = invoke + random.nextInt(maxLatency) + 1;
      clock[p] = complete + 1;
      double roll = random.nextDouble();
      Outcome outcome =
          roll < unknown ? Outcome.UNKNOWN : roll < unknown + fail ? Outcome.FAIL : Outcome.OK;
      boolean takesEffect =
          outcome == Outcome.OK || outcome == Outcome.UNKNOWN && random.nextBoolean();
      double point =
          outcome == Outcome.UNKNOWN
              ? invoke + random.nextDouble() * 3 * (complete - invoke)
              : invoke + random.nextDouble() * (complete - invoke);
      OpType type;
      String key;
      long value = 0;
      long expected = 0;
      int kind = random.nextInt(registers.size() + counters.size() + sets.size());
      if (kind < registers.size()) {
        key = registers.get(kind);
        int r = random.nextInt(10);
        type = r < 4 ? OpType.READ : r < 8 ? OpType.WRITE : OpType.CAS;
        if (type == OpType.WRITE || type == OpType.CAS) {
          value = nextValue++;
        }
        if (type == OpType.CAS) {
          expected =
              written.isEmpty() || random.nextInt(5) == 0
                  ? 0
                  : written.get(Math.max(0, written.size() - 1 - random.nextInt(3)));
        }
      } else if (kind < registers.size() + counters.size()) {
        key = counters.get(kind - registers.size());
        type = random.nextInt(3) == 0 ? OpType.READ : OpType.INCREMENT;
        value = type == OpType.INCREMENT ? 1 : 0;
      } else {
        key = sets.get(kind - registers.size() - counters.size());
        type = random.nextInt(4) == 0 ? OpType.READ_SET : OpType.ADD;
        value = type == OpType.ADD ? nextValue++ : 0;
      }
      if (type == OpType.WRITE || type == OpType.CAS) {
        written.add(value);
      }
      pending.add(
          new Pending(
              processId[p],
              type,
              key,
              value,
              expected,
              invoke,
              complete,
              outcome,
              takesEffect,
              point));
      if (outcome == Outcome.UNKNOWN) {
        processId[p] = nextProcess++;
      }
    }
    Map<String, Long> registerState = new HashMap<>();
    Map<String, Set<Long>> setState = new HashMap<>();
    List<Pending> byPoint = new ArrayList<>(pending);
    byPoint.sort(Comparator.comparingDouble(o -> o.point));
    for (Pending o : byPoint) {
      if (!o.takesEffect) {
        continue;
      }
      Long current = registerState.get(o.key);
      switch (o.type) {
        case READ -> o.result = current;
        case WRITE -> registerState.put(o.key, o.value);
        case CAS -> {
          boolean swap = current != null && current == o.expected;
          o.result = swap ? 1L : 0L;
          if (swap) {
            registerState.put(o.key, o.value);
          }
        }
        case INCREMENT -> {
          long now = (current == null ? 0 : current) + o.value;
          registerState.put(o.key, now);
          o.result = random.nextInt(4) == 0 ? null : now;
        }
        case ADD -> setState.computeIfAbsent(o.key, k -> new HashSet<>()).add(o.value);
        case READ_SET -> o.resultSet = new HashSet<>(setState.getOrDefault(o.key, Set.of()));
      }
    }
    List<Op> ops = new ArrayList<>(count);
    for (Pending o : pending) {
      ops.add(o.toOp());
    }
    return ops;
  }
}
