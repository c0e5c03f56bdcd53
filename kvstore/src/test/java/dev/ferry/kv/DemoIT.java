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
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The README's first command, small: `ferry demo --size 16` in a child JVM. */
class DemoIT {
  @TempDir Path dir;

  @Test
  void theDemoAddsANodeCatchesAFollowerUpWithADeltaAndEndsWithEqualDigests() throws Exception {
    Path out = dir.resolve("demo.out");
    Path data = dir.resolve("data");
    Process p =
        new ProcessBuilder(
                List.of(
                    Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-Xmx256m",
                    "-cp",
                    System.getProperty("java.class.path"),
                    "dev.ferry.kv.cli.FerryCli",
                    "demo",
                    "--size",
                    "16",
                    "--dir",
                    data.toString()))
            .redirectErrorStream(true)
            .redirectOutput(out.toFile())
            .start();
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
    } catch (AssertionError e) {
      // The demo's nodes are the child's processes: NodeLogsOnFailure cannot see them; keep the
      // logs the demo left (a stalled or failed demo does not clean up).
      NodeLogsOnFailure.keep(Path.of(NodeLogsOnFailure.DEFAULT_DIR), "DemoIT", nodeLogs(data));
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
