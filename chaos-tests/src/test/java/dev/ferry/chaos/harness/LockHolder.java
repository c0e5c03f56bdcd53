package dev.ferry.chaos.harness;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * Another "chaos run" for tests: a JVM that takes the {@link ChaosLock} on a file, prints {@code
 * locked}, and holds it until its standard input closes.
 */
final class LockHolder {
  private LockHolder() {}

  public static void main(String[] args) throws IOException {
    try (ChaosLock lock = ChaosLock.acquire(Path.of(args[0]), Duration.ofHours(2))) {
      System.out.println(lock.isHeld() ? "locked" : "not locked");
      System.out.flush();
      while (System.in.read() >= 0) {
        // hold until the parent closes our input
      }
    }
  }

  /**
   * Starts a holder of the lock on {@code file} (extra JVM flags first) and returns once it holds
   * the lock. The caller closes its output stream to release it, and destroys it in the end.
   */
  static Process start(Path file, String... jvmFlags) throws IOException {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.addAll(List.of(jvmFlags));
    cmd.addAll(
        List.of(
            "-Xmx32m",
            "-cp",
            System.getProperty("java.class.path"),
            LockHolder.class.getName(),
            file.toString()));
    Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    BufferedReader out =
        new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
    String line = out.readLine();
    if (!"locked".equals(line)) {
      p.destroyForcibly();
      throw new IOException("the lock holder did not take the lock: " + line);
    }
    return p;
  }
}
