package dev.ferry.chaos.harness;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs short system commands ({@code ip}, {@code iptables}, {@code nft}, {@code tc}, {@code kill},
 * {@code mount}) and waits for them. Stateless and thread-safe; every call blocks until the command
 * exits or 30 s pass. Public for the shaped recovery benchmark (module benchmarks), which builds
 * its namespaces with the same commands.
 */
public final class Shell {
  private static final long TIMEOUT_SECONDS = 30;

  private Shell() {}

  /** The outcome of a command. */
  public record Result(int exitCode, String output) {
    /** Whether the command exited with 0. */
    public boolean ok() {
      return exitCode == 0;
    }
  }

  /**
   * Runs {@code command} and returns its exit code and output (stdout and stderr together).
   *
   * @throws IOException if it cannot be started or does not exit within 30 s (it is then killed)
   */
  public static Result run(List<String> command) throws IOException {
    Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
    try {
      p.getOutputStream().close();
      byte[] out = p.getInputStream().readAllBytes();
      if (!p.waitFor(TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IOException("timed out: " + String.join(" ", command));
      }
      return new Result(p.exitValue(), new String(out, StandardCharsets.UTF_8).strip());
    } catch (InterruptedException e) {
      p.destroyForcibly();
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted: " + String.join(" ", command));
    }
  }

  /** {@link #run(List)} of the arguments. */
  public static Result run(String... command) throws IOException {
    return run(List.of(command));
  }

  /**
   * Runs {@code command} and fails unless it exits with 0.
   *
   * @return its output
   * @throws IOException with the command and its output if it fails
   */
  public static String check(String... command) throws IOException {
    Result r = run(command);
    if (!r.ok()) {
      throw new IOException(
          "failed (exit " + r.exitCode() + "): " + String.join(" ", command) + ": " + r.output());
    }
    return r.output();
  }

  /** {@code ip netns exec <namespace> <command...>} as an argument list. */
  public static List<String> inNamespace(String namespace, String... command) {
    List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", namespace));
    cmd.addAll(List.of(command));
    return cmd;
  }

  /** Whether {@code command} exists on the PATH (or as an absolute path). */
  public static boolean available(String command) {
    try {
      return run("sh", "-c", "command -v " + command).ok();
    } catch (IOException e) {
      return false;
    }
  }

  /** Whether this process runs as root (uid 0). */
  public static boolean isRoot() {
    try {
      return "0".equals(run("id", "-u").output());
    } catch (IOException e) {
      return false;
    }
  }
}
