package dev.ferry.bench;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Figures of a Linux process read from {@code /proc}: what the multi-process benchmarks report for
 * their nodes. Thread-safe (stateless); every call reads the file anew.
 */
public final class Procfs {
  /** Clock ticks per second of {@code /proc/<pid>/stat}'s times (USER_HZ, 100 on Linux). */
  private static final double TICKS = 100.0;

  private Procfs() {}

  /**
   * utime + stime of process {@code pid}, in seconds.
   *
   * @throws IOException if the process is gone or {@code /proc} is unreadable
   */
  public static double cpuSeconds(long pid) throws IOException {
    String stat = Files.readString(Path.of("/proc/" + pid + "/stat"), StandardCharsets.US_ASCII);
    String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
    // After the command: state(3) … utime is field 14, stime field 15 (1-based), here 11 and 12.
    return (Long.parseLong(f[11]) + Long.parseLong(f[12])) / TICKS;
  }

  /**
   * The number of threads of process {@code pid} ({@code Threads:} of {@code /proc/<pid>/status}).
   *
   * @throws IOException if the process is gone or the line is missing
   */
  public static int threads(long pid) throws IOException {
    return (int) statusField(pid, "Threads:");
  }

  /**
   * The resident set of process {@code pid} in bytes ({@code VmRSS:} of {@code
   * /proc/<pid>/status}).
   *
   * @throws IOException if the process is gone or the line is missing
   */
  public static long rssBytes(long pid) throws IOException {
    return statusField(pid, "VmRSS:") * 1024;
  }

  private static long statusField(long pid, String name) throws IOException {
    for (String line :
        Files.readAllLines(Path.of("/proc/" + pid + "/status"), StandardCharsets.US_ASCII)) {
      if (line.startsWith(name)) {
        return Long.parseLong(line.substring(name.length()).strip().split("\\s+")[0]);
      }
    }
    throw new IOException("no " + name + " in /proc/" + pid + "/status");
  }

  /**
   * The machine's load averages ({@code /proc/loadavg}, its first three fields), or a note why not.
   */
  public static String loadAverage() {
    try {
      String[] f =
          Files.readString(Path.of("/proc/loadavg"), StandardCharsets.US_ASCII).strip().split(" ");
      return f[0] + " " + f[1] + " " + f[2];
    } catch (IOException | RuntimeException e) {
      return "unreadable: " + e;
    }
  }
}
