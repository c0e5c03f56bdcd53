package dev.ferry.kv.cli;

import java.util.ArrayList;
import java.util.List;

/** Runs {@code ferry server} for one node on a data directory that cannot exist, plus options. */
final class ServerArgs {
  private ServerArgs() {}

  /** The exit status of {@code ferry server --id n1 ... <extra>} (2: a bad argument). */
  static int exitWith(String... extra) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "server",
                "--id",
                "n1",
                "--peers",
                "n1=127.0.0.1:9100",
                "--data",
                "/nonexistent/ferry-cli-test"));
    args.addAll(List.of(extra));
    return FerryCli.run(args.toArray(String[]::new));
  }
}
