package dev.ferry.kv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.kv.cluster.NodeMeasures;
import dev.ferry.kv.cluster.Progress;
import dev.ferry.kv.testing.NodeLogsOnFailure;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The README's demo commands, small, each in a child JVM: `ferry demo --size 16` and the sharded
 * `ferry demo --groups 4 --size 2` (the README's runs 8 groups: the number changes nothing the test
 * checks, and a smaller cluster is up sooner).
 */
class DemoIT {
  @TempDir Path dir;

  @Test
  void theDemoAddsANodeCatchesAFollowerUpWithADeltaAndEndsWithEqualDigests() throws Exception {
    demo(
        "DemoIT",
        text -> {
          assertTrue(text.contains("n4 is a voter"), text);
          assertTrue(
              java.util.regex.Pattern.compile(
                      "n4 joined +[0-9.]+ s: [0-9.]+ MiB from [0-9]+ sources? \\((n[0-9] [0-9.]+ MiB(, )?)+\\)")
                  .matcher(text)
                  .find(),
              "the join names the bytes from each source:\n" + text);
          assertTrue(text.contains("all 4 replicas equal"), text);
          assertTrue(
              text.contains("installed baseline"), "the follower caught up with a delta:\n" + text);
        },
        "--size",
        "16");
  }

  /** `ferry demo --groups 4`, small: a sharded cluster, one replica moved to n4. */
  @Test
  void theShardedDemoMovesAReplicaToTheFourthNodeAndEndsWithEqualDigests() throws Exception {
    demo(
        "DemoIT.sharded",
        text -> {
          assertTrue(text.contains("n4 is a voter"), text);
          Matcher moved =
              Pattern.compile(
                      "ferry admin move --map cluster.map --range 0 --from (n[123]) --to n4")
                  .matcher(text);
          assertTrue(moved.find(), "the demo runs the move:\n" + text);
          assertTrue(
              Pattern.compile("replica moved +[0-9.]+ s: n4 installed baseline [0-9]+: [0-9.]+ MiB")
                  .matcher(text)
                  .find(),
              "the move's install, as n4 reports it:\n" + text);
          assertTrue(
              Pattern.compile("all 3 replicas of demo-[0-9a-f]+\\.r0 equal").matcher(text).find(),
              text);
          // Before the move n4 hosts no group; afterwards one, and the source one fewer.
          Matcher hosted =
              Pattern.compile("groups hosted +(\\d+) +(\\d+) +(\\d+) +(\\d+)").matcher(text);
          assertTrue(hosted.find(), text);
          assertEquals(List.of("4", "4", "4", "0"), groups(hosted));
          assertTrue(hosted.find(), text);
          List<String> after = new java.util.ArrayList<>(List.of("4", "4", "4", "1"));
          after.set(Integer.parseInt(moved.group(1).substring(1)) - 1, "3");
          assertEquals(after, groups(hosted));
        },
        "--groups",
        "4",
        "--size",
        "2");
  }

  private static List<String> groups(Matcher m) {
    return List.of(m.group(1), m.group(2), m.group(3), m.group(4));
  }

  /** What the demo's output must show. */
  private interface Check {
    void check(String text);
  }

  /**
   * Runs {@code ferry demo args} in a child JVM until it ends, checks that it succeeded, printed
   * what {@code check} wants and cleaned up; keeps the nodes' logs under {@code name} if not.
   */
  private void demo(String name, Check check, String... args) throws Exception {
    Path out = dir.resolve(name + ".out");
    Path data = dir.resolve(name + ".data");
    List<String> command =
        new java.util.ArrayList<>(
            List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m",
                // The demo's own JVM only drives the nodes: the quick compiler and the serial
                // collector start it sooner, as ProcessCluster starts the nodes.
                "-XX:TieredStopAtLevel=1",
                "-XX:+UseSerialGC",
                "-cp",
                System.getProperty("java.class.path"),
                "dev.ferry.kv.cli.FerryCli",
                "demo",
                "--dir",
                data.toString()));
    command.addAll(List.of(args));
    Process p =
        new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(out.toFile()).start();
    // The demo prints as it goes (progress lines every 10 %) and its nodes store data: on a busy
    // machine it may take long, so wait as long as either grows.
    String stalled = null;
    try {
      Progress.await(
          "the demo to finish",
          () -> List.of(p.isAlive(), NodeMeasures.bytes(out), NodeMeasures.bytes(data)),
          v -> !p.isAlive(),
          Progress.STALL,
          Progress.CAP);
    } catch (TimeoutException e) {
      stalled = e.getMessage();
      p.destroyForcibly().waitFor();
    }
    String text = Files.readString(out);
    System.out.println(text.lines().filter(l -> !l.contains("[")).toList());
    try {
      assertTrue(stalled == null, stalled + ":\n" + text);
      assertEquals(0, p.exitValue(), text);
      check.check(text);
    } catch (AssertionError e) {
      // The demo's nodes are the child's processes: NodeLogsOnFailure cannot see them; keep the
      // logs the demo left (a stalled or failed demo does not clean up).
      NodeLogsOnFailure.keep(Path.of(NodeLogsOnFailure.DEFAULT_DIR), name, nodeLogs(data));
      throw e;
    }
    if (Files.exists(data)) {
      try (var left = Files.list(data)) {
        assertTrue(left.findAny().isEmpty(), "cleaned up");
      }
    }
  }

  private static List<Path> nodeLogs(Path data) throws IOException {
    if (!Files.isDirectory(data)) {
      return List.of();
    }
    try (Stream<Path> files = Files.walk(data)) {
      return files.filter(f -> f.getFileName().toString().endsWith(".log")).sorted().toList();
    }
  }
}
