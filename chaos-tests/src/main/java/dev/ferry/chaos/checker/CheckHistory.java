package dev.ferry.chaos.checker;

import dev.ferry.chaos.history.History;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Checks a saved history from the command line and prints the {@link CheckReport} summary.
 *
 * <pre>
 * java -cp chaos-tests/target/classes dev.ferry.chaos.checker.CheckHistory history.txt \
 *     [maxStatesPerKey [maxSecondsPerKey]]
 * </pre>
 *
 * Exit status: 0 VALID, 1 INVALID, 2 UNKNOWN, 3 unreadable history or bad arguments.
 */
public final class CheckHistory {
  private CheckHistory() {}

  /**
   * Loads, checks and reports on the history named by {@code args[0]}; exits with the status
   * described on the class.
   */
  public static void main(String[] args) {
    System.exit(run(args, System.out, System.err));
  }

  /** Does the work of {@link #main} and returns the exit status. */
  static int run(String[] args, PrintStream out, PrintStream err) {
    if (args.length < 1 || args.length > 3) {
      err.println("usage: CheckHistory <history-file> [maxStatesPerKey [maxSecondsPerKey]]");
      return 3;
    }
    Budget budget;
    try {
      long states = args.length > 1 ? Long.parseLong(args[1]) : Budget.DEFAULT.maxStatesPerKey();
      Duration time =
          args.length > 2
              ? Duration.ofSeconds(Long.parseLong(args[2]))
              : Budget.DEFAULT.maxTimePerKey();
      budget = new Budget(states, time, Budget.DEFAULT_MEMO_BYTES);
    } catch (IllegalArgumentException e) {
      err.println("bad budget: " + e.getMessage());
      return 3;
    }
    History history;
    try {
      history = History.load(Path.of(args[0]));
    } catch (IOException e) {
      err.println("cannot read history: " + e.getMessage());
      return 3;
    }
    CheckReport report;
    try {
      report = CheckReport.check(history.ops(), budget);
    } catch (IllegalArgumentException e) {
      err.println("cannot check history: " + e.getMessage());
      return 3;
    }
    out.println(report.summary());
    return switch (report.status()) {
      case VALID -> 0;
      case INVALID -> 1;
      case UNKNOWN -> 2;
    };
  }
}
