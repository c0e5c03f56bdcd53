package dev.ferry.kv.cli;

import java.io.PrintWriter;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * The {@code ferry} command line: {@code ferry server}, {@code ferry kv}, {@code ferry shard} (the
 * cluster map of a sharded cluster), {@code ferry admin}, {@code ferry demo}, and {@code ferry
 * call} / {@code ferry query} (raw requests to any Ferry state machine). Bad arguments print a
 * one-line error and exit with status 2.
 */
@Command(
    name = "ferry",
    mixinStandardHelpOptions = true,
    version = "ferry 0.1.0",
    description = "Replicated state machines on Apache Ratis with fast, verified state transfer.",
    subcommands = {
      ServerCommand.class,
      KvCommand.class,
      ShardCommand.class,
      AdminCommand.class,
      DemoCommand.class,
      CallCommand.class,
      QueryCommand.class
    })
public final class FerryCli implements Runnable {
  /**
   * gRPC's Netty transport logs an INFO record through java.util.logging when its first channel is
   * made ("Epoll available during static init of TcpMetrics"), two lines on stderr for every client
   * command; held here so that the level set on it is not lost with a collected logger. A server
   * routes gRPC's records through its own log (FerryServer), where this one is DEBUG.
   */
  private static final java.util.logging.Logger GRPC_TCP_METRICS =
      java.util.logging.Logger.getLogger("org.apache.ratis.thirdparty.io.grpc.netty.TcpMetrics");

  /** Entry point. */
  public static void main(String[] args) {
    GRPC_TCP_METRICS.setLevel(java.util.logging.Level.WARNING);
    System.exit(run(args));
  }

  /** Runs the CLI and returns its exit status (for tests). */
  public static int run(String... args) {
    return run(new CommandLine(new FerryCli()), args);
  }

  /**
   * Runs the CLI with its commands' output and errors going to {@code out} and {@code err} (for
   * tests; the commands that print through picocli use them) and returns its exit status.
   */
  public static int run(PrintWriter out, PrintWriter err, String... args) {
    CommandLine cli = new CommandLine(new FerryCli());
    cli.setOut(out);
    cli.setErr(err);
    return run(cli, args);
  }

  private static int run(CommandLine cli, String... args) {
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
