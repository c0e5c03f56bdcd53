package dev.ferry.kv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.kv.cluster.NodeMeasures;
import dev.ferry.kv.cluster.ProcessCluster;
import dev.ferry.kv.cluster.Progress;
import dev.ferry.kv.testing.LocalCluster;
import dev.ferry.kv.testing.NodeLogs;
import dev.ferry.kv.testing.NodeLogsOnFailure;
import dev.ferry.shipping.PeerAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** `ferry admin` against `ferry server` processes: add a listener, status, remove a voter. */
@ExtendWith(NodeLogsOnFailure.class)
class AdminProcessIT {
  private static final Duration T = Duration.ofSeconds(60);
  private static final List<String> NODES = List.of("n1", "n2", "n3", "n4");

  @TempDir Path dir;

  /** Runs the CLI in a child JVM; returns exit code and output. */
  private record Run(int exit, String output) {}

  /** The last CLI process started, and where its output goes. */
  private record Started(Process process, Path output) {}

  private volatile Started started;

  private Run cli(ProcessCluster cluster, String... args) throws Exception {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.add("-Xmx128m");
    cmd.add("-XX:TieredStopAtLevel=1");
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add("dev.ferry.kv.cli.FerryCli");
    cmd.addAll(List.of(args));
    cmd.add("--secret-file");
    cmd.add(cluster.secretFile().toString());
    cmd.add("--cluster");
    cmd.add(cluster.clusterName());
    Path out = Files.createTempFile(dir, "cli", ".out");
    Process p =
        new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.toFile()).start();
    started = new Started(p, out);
    // An add installs a snapshot on the new node: on a busy machine that takes long. Wait as long
    // as the CLI writes output or the nodes store data.
    try {
      Progress.await(
          "the CLI to finish: " + String.join(" ", args),
          () ->
              List.of(
                  p.isAlive(),
                  NodeMeasures.bytes(out),
                  NODES.stream().mapToLong(n -> NodeMeasures.bytes(cluster.dataDir(n))).sum()),
          v -> !p.isAlive(),
          Progress.STALL,
          Progress.CAP);
    } catch (TimeoutException e) {
      p.destroyForcibly().waitFor();
      throw new AssertionError(e.getMessage() + "\n" + Files.readString(out), e);
    }
    return new Run(p.exitValue(), Files.readString(out));
  }

  @Test
  void addAListenerThroughTheCliThenRemoveAVoter() throws Exception {
    try (ProcessCluster cluster = ProcessCluster.builder(dir, 3).start(T)) {
      NodeLogs logs = new NodeLogs(cluster::logFile);
      logs.event("start", List.of("n1", "n2", "n3"));
      try (KvClient c = cluster.client(Duration.ofSeconds(30))) {
        Random rnd = new Random(3);
        List<byte[][]> batch = new ArrayList<>();
        for (int i = 0; i < 4_000; i++) {
          byte[] v = new byte[1024];
          rnd.nextBytes(v);
          batch.add(new byte[][] {("k" + i).getBytes(StandardCharsets.UTF_8), v});
          if (batch.size() == 50) {
            c.putAll(batch);
            batch.clear();
          }
        }
      }
      logs.event("load", List.of("n1", "n2", "n3"));
      int[] ports = ProcessCluster.freePorts(2);
      PeerAddress n4 = new PeerAddress("n4", "127.0.0.1", ports[0], ports[1]);
      cluster.startListener(n4);
      LocalCluster.await(T, () -> cluster.tail("n4", 50).contains("n4: started"), "n4 to start");
      logs.event("start-n4", List.of("n4"));
      String peers = cluster.peersArg();

      Run add = cli(cluster, "admin", "add", "--peers", peers, "--node", n4.toString());
      System.out.println(add.output());
      assertEquals(0, add.exit(), add.output());
      assertTrue(add.output().contains("n4 is a voter"), add.output());
      assertTrue(add.output().contains("verifying"), "phases shown: " + add.output());

      List<String> ids = List.of("n1", "n2", "n3", "n4");
      logs.event("add", ids);
      String all = peers + "," + n4;
      Run status = cli(cluster, "admin", "status", "--peers", all);
      assertEquals(0, status.exit(), status.output());
      assertEquals(
          4,
          status.output().lines().filter(l -> l.startsWith("  voter ")).count(),
          status.output());
      assertTrue(status.output().contains("pending membership change: none"), status.output());
      // The add's digest checkpoint, the same on every replica that applied it.
      String checkpoint =
          add.output().replaceAll("(?s).*digest (\\w+) verified at index (\\d+).*", "$2 $1");
      assertEquals(
          4,
          status.output().lines().filter(l -> l.contains(" " + checkpoint + " ")).count(),
          "checkpoint '" + checkpoint + "' on every member:\n" + status.output());
      assertFalse(status.output().contains("MISMATCH"), status.output());
      assertEquals(
          4,
          status
              .output()
              .lines()
              .filter(l -> l.matches("  n[1-4] +service port \\d+/\\d+, quarantined .*"))
              .count(),
          status.output());

      Run remove = cli(cluster, "admin", "remove", "--peers", all, "--node", "n2");
      assertEquals(0, remove.exit(), remove.output());
      assertTrue(remove.output().contains("n2: removed voter"), remove.output());
      // The removed server stops by itself and says why.
      LocalCluster.await(T, () -> !cluster.isAlive("n2"), "n2 to stop by itself");
      assertFalse(cluster.isAlive("n2"), "n2 stopped");
      assertTrue(
          Files.readString(cluster.logFile("n2")).contains("removed from the cluster"),
          cluster.tail("n2", 20));

      logs.event("remove", ids);

      Run bad = cli(cluster, "admin", "add", "--peers", peers, "--node", "garbage");
      assertNotEquals(0, bad.exit());
      assertTrue(bad.output().contains("bad peer 'garbage'"), bad.output());

      // Interrupted, an add says that it goes on where it runs. The node is not running, so the
      // add waits (up to 15 s) for its admin service to answer.
      int[] nowhere = ProcessCluster.freePorts(3);
      String absent = "n9=127.0.0.1:" + nowhere[0] + ":" + nowhere[1] + ":" + nowhere[2];
      CompletableFuture<Run> pending =
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  return cli(cluster, "admin", "add", "--peers", all, "--node", absent);
                } catch (Exception e) {
                  throw new java.util.concurrent.CompletionException(e);
                }
              });
      LocalCluster.await(
          T,
          () -> {
            Started s = started;
            try {
              return s != null && Files.readString(s.output()).contains("adding n9");
            } catch (java.io.IOException e) {
              return false;
            }
          },
          "the add of n9 to begin");
      started.process().destroy(); // SIGTERM, as Ctrl-C's SIGINT: shutdown hooks run
      Run interrupted = pending.get(T.toSeconds(), TimeUnit.SECONDS);
      assertTrue(interrupted.output().contains("the add of n9 continues on"), interrupted.output());
      try (KvClient c = cluster.client(Duration.ofSeconds(30))) {
        c.put("after".getBytes(StandardCharsets.UTF_8), new byte[] {1});
      }
      logs.event("other", ids);
      for (String id : List.of("n1", "n3", "n4")) {
        cluster.stop(id);
      }
      logs.event("stop", ids);
      assertQuiet(logs);
    }
  }

  /**
   * The logs an operator reads: no stack trace, at most 5 WARN lines in all, at most 8 INFO lines
   * per node for a start, an add, a remove and a stop.
   */
  private static void assertQuiet(NodeLogs logs) {
    String table = logs.table();
    System.out.println("log lines per event and node:\n" + table);
    String warnings = String.join("\n", logs.warnings());
    assertEquals(0, logs.traceLines(), "stack trace lines:\n" + table + warnings);
    // Ratis's pause monitor warns of GC or scheduling pauses: on a busy machine that is the
    // machine's doing, not the event's, so those lines are not held to the budget.
    List<String> eventWarnings =
        logs.warnings().stream().filter(l -> !l.contains("JvmPauseMonitor")).toList();
    assertTrue(eventWarnings.size() <= 5, "WARN lines:\n" + warnings);
    for (String line : table.lines().skip(1).toList()) {
      String[] f = line.trim().split("\\s+");
      if (!f[0].equals("load") && !f[0].equals("other")) {
        // start, start-n4, add, remove, stop
        assertTrue(Integer.parseInt(f[2]) <= 8, "INFO lines per event:\n" + table);
      }
    }
  }
}
