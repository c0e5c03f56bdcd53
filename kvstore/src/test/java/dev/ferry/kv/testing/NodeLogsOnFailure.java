package dev.ferry.kv.testing;

import dev.ferry.kv.cluster.ProcessCluster;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.extension.AfterTestExecutionCallback;
import org.junit.jupiter.api.extension.BeforeTestExecutionCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Keeps the logs of the node processes a test started when the test fails: copies each log file of
 * a {@link ProcessCluster} node started during the test (chaos clusters run theirs through it) to
 * {@code target/failed-node-logs/<class>.<method>/}, and prints the last 40 lines of each to the
 * test's output. It runs right after the test method, before {@code @AfterEach} methods and before
 * a {@code @TempDir} holding the logs is deleted.
 *
 * <p>Use with {@code @ExtendWith(NodeLogsOnFailure.class)} on a test class. The directory is the
 * configuration parameter {@value #DIR_PARAMETER} (default {@value #DEFAULT_DIR}, relative to the
 * module, where Surefire and Failsafe run). Stateless; the mark of where a test's logs begin is
 * kept in the test's extension store.
 */
public final class NodeLogsOnFailure
    implements BeforeTestExecutionCallback, AfterTestExecutionCallback {
  /** The configuration parameter naming the directory the logs go to. */
  public static final String DIR_PARAMETER = "ferry.failedNodeLogs.dir";

  /** The directory the logs go to by default. */
  public static final String DEFAULT_DIR = "target/failed-node-logs";

  static final int TAIL_LINES = 40;
  private static final ExtensionContext.Namespace NS =
      ExtensionContext.Namespace.create(NodeLogsOnFailure.class);
  private static final String MARK = "mark";

  @Override
  public void beforeTestExecution(ExtensionContext context) {
    context.getStore(NS).put(MARK, ProcessCluster.startedLogs().size());
  }

  @Override
  public void afterTestExecution(ExtensionContext context) throws IOException {
    if (context.getExecutionException().isEmpty()) {
      return;
    }
    Integer mark = context.getStore(NS).get(MARK, Integer.class);
    List<Path> all = ProcessCluster.startedLogs();
    List<Path> logs = all.subList(mark == null ? 0 : mark, all.size());
    if (logs.isEmpty()) {
      return;
    }
    keep(
        Path.of(context.getConfigurationParameter(DIR_PARAMETER).orElse(DEFAULT_DIR)),
        context.getRequiredTestClass().getSimpleName()
            + "."
            + context.getRequiredTestMethod().getName(),
        logs);
  }

  /**
   * Copies {@code logs} to {@code <dir>/<name>/} and prints the last {@value #TAIL_LINES} lines of
   * each: for a test whose nodes run in a child process this extension cannot see (the demo), which
   * calls it itself when it fails.
   */
  public static void keep(Path dir, String name, List<Path> logs) throws IOException {
    Path to = dir.resolve(name);
    Files.createDirectories(to);
    PrintStream out = System.out;
    out.println(
        "=== " + name + " failed: " + logs.size() + " node logs kept in " + to.toAbsolutePath());
    Set<String> names = new HashSet<>();
    for (Path log : logs) {
      String file = log.getFileName().toString();
      for (int i = 2; !names.add(file); i++) {
        file = log.getFileName().toString().replaceFirst("\\.log$", "") + "-" + i + ".log";
      }
      if (Files.exists(log)) {
        Files.copy(log, to.resolve(file), StandardCopyOption.REPLACE_EXISTING);
      }
      out.println("--- " + file + " (" + log + "), last " + TAIL_LINES + " lines:");
      out.println(ProcessCluster.tail(log, TAIL_LINES));
    }
    out.println("=== end of node logs of " + name);
    out.flush();
  }
}
