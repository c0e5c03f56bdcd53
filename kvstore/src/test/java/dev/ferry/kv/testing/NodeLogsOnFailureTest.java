package dev.ferry.kv.testing;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.platform.engine.discovery.DiscoverySelectors.selectClass;

import dev.ferry.kv.cluster.ProcessCluster;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;
import org.junit.platform.testkit.engine.EngineExecutionResults;
import org.junit.platform.testkit.engine.EngineTestKit;

/**
 * {@link NodeLogsOnFailure} through the JUnit engine: a test of {@link Tests} that fails keeps the
 * logs of the nodes it started and prints their tails; a passing test, or a failing test that
 * started none, keeps nothing. The "nodes" are {@code true} processes whose launcher writes their
 * log, so no JVM starts.
 */
class NodeLogsOnFailureTest {
  private static Path clusters;

  @TempDir Path dir;

  /** Run only through {@link EngineTestKit} (a nested class: Surefire skips it). */
  @ExtendWith(NodeLogsOnFailure.class)
  @TestMethodOrder(MethodOrderer.OrderAnnotation.class)
  static class Tests {
    @Test
    @Order(1)
    void passes() throws Exception {
      startFakeNodes(clusters.resolve("passing"));
    }

    @Test
    @Order(2)
    void failsAfterStartingTwoClusters() throws Exception {
      startFakeNodes(clusters.resolve("first"));
      startFakeNodes(clusters.resolve("second"));
      throw new AssertionError("deliberately");
    }

    @Test
    @Order(3)
    void failsWithoutNodes() {
      throw new AssertionError("deliberately, no nodes");
    }
  }

  /** Starts nodes n1 and n2 whose logs hold 100 lines each ("<dir> n1 line 1" …). */
  private static void startFakeNodes(Path d) throws IOException {
    ProcessCluster.Builder b =
        ProcessCluster.builder(d, 2)
            .launcher(
                (id, command, environment) -> {
                  List<String> lines = new ArrayList<>();
                  for (int i = 1; i <= 100; i++) {
                    lines.add(d.getFileName() + " " + id + " line " + i);
                  }
                  Files.createDirectories(d);
                  Files.write(d.resolve(id + ".log"), lines, StandardCharsets.UTF_8);
                  command.clear();
                  command.add("true");
                });
    // Not writable: the start fails (and kills the nodes), the logs stay.
    assertThrows(IOException.class, () -> b.start(Duration.ZERO));
  }

  @Test
  void keepsAndPrintsTheLogsOfTheNodesAFailedTestStarted() throws IOException {
    clusters = dir.resolve("clusters");
    Path kept = dir.resolve("kept");
    ByteArrayOutputStream printed = new ByteArrayOutputStream();
    PrintStream stdout = System.out;
    EngineExecutionResults results;
    System.setOut(new PrintStream(printed, true, StandardCharsets.UTF_8));
    try {
      results =
          EngineTestKit.engine("junit-jupiter")
              .configurationParameter(NodeLogsOnFailure.DIR_PARAMETER, kept.toString())
              .selectors(selectClass(Tests.class))
              .execute();
    } finally {
      System.setOut(stdout);
    }
    results.testEvents().assertStatistics(s -> s.started(3).succeeded(1).failed(2));
    String out = printed.toString(StandardCharsets.UTF_8);
    stdout.println(out);

    Path failed = kept.resolve("Tests.failsAfterStartingTwoClusters");
    try (Stream<Path> files = Files.list(kept)) {
      assertEquals(List.of(failed), files.toList(), "only the failed test with nodes kept logs");
    }
    try (Stream<Path> files = Files.list(failed)) {
      assertEquals(
          List.of("n1-2.log", "n1.log", "n2-2.log", "n2.log"),
          files.map(p -> p.getFileName().toString()).sorted().toList());
    }
    assertEquals(
        Files.readString(clusters.resolve("first/n1.log")),
        Files.readString(failed.resolve("n1.log")));
    assertEquals(
        Files.readString(clusters.resolve("second/n2.log")),
        Files.readString(failed.resolve("n2-2.log")));

    assertTrue(
        out.contains("Tests.failsAfterStartingTwoClusters failed: 4 node logs kept in "), out);
    assertTrue(
        out.contains("--- n1-2.log (" + clusters.resolve("second/n1.log").toAbsolutePath()), out);
    assertTrue(out.contains("second n2 line 100") && out.contains("first n1 line 61"), out);
    assertFalse(out.contains("first n1 line 60\n"), "only the last 40 lines printed: " + out);
    assertFalse(out.contains("passing n1"), "the passing test's logs are not printed: " + out);
    assertFalse(out.contains("failsWithoutNodes failed"), out);
  }
}
