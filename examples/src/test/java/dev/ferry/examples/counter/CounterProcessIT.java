package dev.ferry.examples.counter;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.kv.cli.FerryCli;
import dev.ferry.kv.cluster.ProcessCluster;
import dev.ferry.kv.testing.NodeLogsOnFailure;
import java.io.File;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * The counter run as a user runs it: three {@code ferry server --state-machine counter} processes
 * that find the counter only through {@code --classpath} (its classes are taken off the servers'
 * own class path), driven with {@code ferry call} and {@code ferry query}, and a node killed and
 * restarted.
 */
@ExtendWith(NodeLogsOnFailure.class)
class CounterProcessIT {
  private static final Duration WAIT = Duration.ofSeconds(120);
  private static final Path CLASSES = Path.of("target/classes").toAbsolutePath();

  @TempDir Path dir;

  @Test
  void ferryServerRunsTheCounterFromItsClasspath() throws Exception {
    assertTrue(
        Files.exists(CLASSES.resolve("META-INF/services")), "the examples are built: " + CLASSES);
    try (ProcessCluster cluster =
        ProcessCluster.builder(dir, 3)
            .serverArgs("--state-machine", "counter", "--classpath", CLASSES.toString())
            .launcher((id, command, env) -> withoutExamples(command))
            .readyWhen(c -> call(c, "call", "0"))
            .start(WAIT)) {
      assertEquals("5", call(cluster, "call", "5"));
      assertEquals("3", call(cluster, "call", "-2"));
      assertEquals("3", call(cluster, "query", ""));

      cluster.kill("n2");
      assertEquals("13", call(cluster, "call", "10"));
      cluster.start("n2");
      awaitValueOn(cluster, "n2", "13");

      String log = Files.readString(cluster.logFile("n1"));
      assertTrue(log.contains("(" + Counter.class.getName() + ")"), log);
    }
  }

  /** Takes the examples' own classes off a server's class path: it must load them itself. */
  private static void withoutExamples(List<String> command) {
    int cp = command.indexOf("-cp") + 1;
    assertTrue(cp > 0, "a -cp argument: " + command);
    String kept =
        Arrays.stream(command.get(cp).split(File.pathSeparator))
            .filter(entry -> !Path.of(entry).toAbsolutePath().startsWith(CLASSES.getParent()))
            .collect(Collectors.joining(File.pathSeparator));
    assertFalse(kept.contains(CLASSES.toString()));
    command.set(cp, kept);
  }

  private static void awaitValueOn(ProcessCluster cluster, String node, String value)
      throws IOException {
    cluster.awaitReady(
        WAIT,
        c -> {
          String read = call(c, "query", "--stale", node, "");
          if (!read.equals(value)) {
            throw new IOException(node + " reads " + read + ", not yet " + value);
          }
        });
  }

  /** Runs {@code ferry <command> ... <input>} against the cluster and returns what it printed. */
  private static String call(ProcessCluster cluster, String command, String... args)
      throws IOException {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    String[] all = new String[args.length + 5];
    all[0] = command;
    all[1] = "--peers";
    all[2] = cluster.peersArg();
    all[3] = "--cluster";
    all[4] = cluster.clusterName();
    System.arraycopy(args, 0, all, 5, args.length);
    int status = FerryCli.run(new PrintWriter(out), new PrintWriter(err), all);
    if (status != 0) {
      throw new IOException("ferry " + command + " exited " + status + ": " + err);
    }
    return out.toString().strip();
  }
}
