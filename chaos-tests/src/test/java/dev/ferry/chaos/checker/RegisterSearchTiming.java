package dev.ferry.chaos.checker;

import dev.ferry.chaos.history.Op;
import java.util.List;
import java.util.Locale;

/**
 * Times the register search on {@link UnknownHeavyHistories}, by hand (not a test: timings vary
 * with the machine's load):
 *
 * <pre>
 * mvn -B -o -q -pl chaos-tests -am test-compile
 * java -cp chaos-tests/target/classes:chaos-tests/target/test-classes \
 *     dev.ferry.chaos.checker.RegisterSearchTiming [seeds [ops]]
 * </pre>
 */
final class RegisterSearchTiming {
  private RegisterSearchTiming() {}

  public static void main(String[] args) {
    int seeds = args.length > 0 ? Integer.parseInt(args[0]) : 20;
    int size = args.length > 1 ? Integer.parseInt(args[1]) : 83;
    LinearizabilityChecker checker = new LinearizabilityChecker();
    long total = 0;
    long worst = 0;
    int decided = 0;
    for (long seed = 0; seed < seeds; seed++) {
      List<Op> ops = UnknownHeavyHistories.notLinearizable(seed, size);
      LinearizabilityResult r = checker.check(ops);
      long ms = r.elapsed().toMillis();
      total += ms;
      worst = Math.max(worst, ms);
      decided += r.verdict() == Verdict.UNKNOWN ? 0 : 1;
      System.out.printf(
          Locale.ROOT,
          "seed %d: %d ops, %.0f%% of writes and CASes UNKNOWN: %s, %d states, %d ms%n",
          seed,
          ops.size(),
          100 * UnknownHeavyHistories.unknownMutations(ops),
          r.verdict(),
          r.states(),
          ms);
    }
    System.out.printf(
        Locale.ROOT,
        "%d of %d decided; %d ms in all, slowest %d ms%n",
        decided,
        seeds,
        total,
        worst);
  }
}
