package dev.ferry.kv.cli;

import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code ferry} command line: {@code ferry server}, {@code ferry kv}, {@code ferry demo}. Bad
 * arguments print a one-line error and exit with status 2.
 */
@Command(
    name = "ferry",
    mixinStandardHelpOptions = true,
    version = "ferry 0.1.0",
    description = "Replicated state machines on Apache Ratis with fast, verified state transfer.",
    subcommands = {ServerCommand.class, KvCommand.class, AdminCommand.class, DemoCommand.class})
public final class FerryCli implements Runnable {

  /** Entry point. */
  public static void main(String[] args) {
    System.exit(run(args));
  }

  /** Runs the CLI and returns its exit status (for tests). */
  public static int run(String... args) {
    CommandLine cli = new CommandLine(new FerryCli());
    cli.setParameterExceptionHandler(
        (ex, a) -> {
          PrintWriter err = ex.getCommandLine().getErr();
          err.println("ferry: " + ex.getMessage());
          err.flush();
          return 2;
        });
    cli.setExecutionExceptionHandler(
        (ex, commandLine, parseResult) -> {
          PrintWriter err = commandLine.getErr();
          if (ex instanceof IllegalArgumentException) {
            err.println("ferry: " + ex.getMessage());
            err.flush();
            return 2;
          }
          err.println("ferry: " + ex);
          err.flush();
          return 1;
        });
    return cli.execute(args);
  }

  @Override
  public void run() {
    new CommandLine(this).usage(System.out);
  }
}
