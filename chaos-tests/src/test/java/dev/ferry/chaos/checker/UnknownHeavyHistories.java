package dev.ferry.chaos.checker;

import dev.ferry.chaos.history.Op;
import dev.ferry.chaos.history.OpType;
import dev.ferry.chaos.history.Outcome;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Histories like those of chaos runs with pauses and partitions: one register, a few clients, a
 * large share of UNKNOWN writes and CASes (timed out, taking effect later or never), made not
 * linearizable by a read of a value nobody wrote near the end, so the search must refute every way
 * to order what came before. The kind of history issue 17 reported as slow.
 */
final class UnknownHeavyHistories {
  private UnknownHeavyHistories() {}

  /**
   * {@code ops} operations by 5 clients on register "x", with 30% of all operations UNKNOWN (so
   * about 20-40% of the writes and CASes), and one of the last three OK reads changed to read
   * 999999.
   */
  static List<Op> notLinearizable(long seed, int ops) {
    List<Op> history =
        new ArrayList<>(
            Simulation.seed(seed).processes(5).registers("x").unknown(0.3).fail(0.05).run(ops));
    List<Integer> reads = new ArrayList<>();
    for (int i = 0; i < history.size(); i++) {
      if (history.get(i).type() == OpType.READ && history.get(i).outcome() == Outcome.OK) {
        reads.add(i);
      }
    }
    int i = reads.get(reads.size() - 1 - new Random(seed).nextInt(Math.min(3, reads.size())));
    Op read = history.get(i);
    history.set(
        i,
        Op.read(
            read.process(),
            read.key(),
            Outcome.OK,
            999_999L,
            read.invokeNanos(),
            read.completeNanos()));
    return history;
  }

  /** The share of writes and CASes in {@code history} that are UNKNOWN. */
  static double unknownMutations(List<Op> history) {
    long mutations = history.stream().filter(op -> op.type() != OpType.READ).count();
    long unknown =
        history.stream()
            .filter(op -> op.type() != OpType.READ && op.outcome() == Outcome.UNKNOWN)
            .count();
    return (double) unknown / mutations;
  }
}
