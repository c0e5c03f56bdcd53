package dev.ferry.bench.recovery;

import dev.ferry.chaos.harness.ChaosLock;
import dev.ferry.chaos.harness.NamespaceBridge;
import dev.ferry.chaos.harness.Shell;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;

/**
 * The shaped benchmark's network: with root, one network namespace per node ({@code fb-n<i>}, eth0
 * at 10.98.0.i/24) on the bridge {@code fb-br0} (10.98.0.254), joined by veths {@code fb-v<i>}: the
 * chaos harness's {@link NamespaceBridge} with its own prefix and subnet (so the two never touch
 * each other's names; both run under the {@link ChaosLock}). Links are shaped with a {@code tc tbf}
 * qdisc on each namespace's eth0 (egress only). Without root: every node on 127.0.0.1, no shaping,
 * and byte counts from the loopback device (all traffic together).
 *
 * <p>Counters: a namespace's eth0 rx/tx bytes with {@code ip netns exec cat /sys/...}; for
 * sampling, the same bytes seen from the root namespace on the veth (a veth's rx is its peer's tx),
 * which needs no process per read. Not thread-safe except the counter reads.
 */
public final class ShapedNet implements AutoCloseable {
  static final String PREFIX = "fb-";
  private static final NamespaceBridge NAMES = new NamespaceBridge(PREFIX, "10.98.0");

  private final int nodes;
  private final boolean netns;

  private ShapedNet(int nodes, boolean netns) {
    this.nodes = nodes;
    this.netns = netns;
  }

  /**
   * Namespaces for nodes 1..{@code nodes} when this process is root and has iproute2 and tc, else
   * the loopback fallback (said on stdout).
   *
   * @param lock held by the caller until it closed this network
   */
  public static ShapedNet create(int nodes, ChaosLock lock) throws IOException {
    if (!Shell.isRoot() || !Shell.available("ip") || !Shell.available("tc")) {
      System.out.println(
          "[shaped] not root (or no iproute2/tc): nodes run on loopback, links are NOT shaped");
      return new ShapedNet(nodes, false);
    }
    NAMES.removeLeftovers(lock);
    ShapedNet n = new ShapedNet(nodes, true);
    try {
      NAMES.setUp(n.indexes());
      return n;
    } catch (IOException | RuntimeException e) {
      n.close();
      throw e;
    }
  }

  /**
   * Nodes 1..{@code nodes} on 127.0.0.1 without namespaces or shaping (as {@link #create}'s
   * fallback), for an unshaped profile on loopback.
   */
  public static ShapedNet loopback(int nodes) {
    return new ShapedNet(nodes, false);
  }

  private List<Integer> indexes() {
    return java.util.stream.IntStream.rangeClosed(1, nodes).boxed().toList();
  }

  /** Whether nodes run in namespaces (links can be shaped). */
  public boolean namespaces() {
    return netns;
  }

  private static String namespace(int i) {
    return NAMES.namespace(i);
  }

  /** The address node {@code i} listens on. */
  public String host(int i) {
    check(i);
    return netns ? NAMES.ip(i) : "127.0.0.1";
  }

  private void check(int i) {
    if (i < 1 || i > nodes) {
      throw new IllegalArgumentException("no node " + i + " (1.." + nodes + ")");
    }
  }

  /** Puts node {@code i}'s command into its namespace (prefix {@code ip netns exec}). */
  public void place(int i, List<String> command) {
    check(i);
    if (netns) {
      command.addAll(0, List.of("ip", "netns", "exec", namespace(i)));
    }
  }

  /**
   * Shapes every namespace's egress to {@code bitsPerSecond} ({@code tbf}, burst the larger of rate
   * × 2 ms and 256 KiB: above a 64 KiB GSO packet and rate × 1 ms); 0 removes the shaping.
   */
  public void shape(long bitsPerSecond) throws IOException {
    if (!netns) {
      return;
    }
    long burst = Math.max(bitsPerSecond / 8 / 500, 256 << 10);
    for (int i = 1; i <= nodes; i++) {
      String ns = namespace(i);
      Shell.run(Shell.inNamespace(ns, "tc", "qdisc", "del", "dev", "eth0", "root"));
      if (bitsPerSecond > 0) {
        String tbf = "tc qdisc add dev eth0 root tbf rate %dbit burst %d latency 50ms";
        inNs(i, String.format(Locale.ROOT, tbf, bitsPerSecond, burst).split(" "));
      }
    }
  }

  /** Node {@code a} drops everything from node {@code b} and vice versa (iptables INPUT). */
  void cut(int a, int b) throws IOException {
    requireNetns("a partition");
    inNs(a, "iptables", "-A", "INPUT", "-s", host(b), "-j", "DROP");
    inNs(b, "iptables", "-A", "INPUT", "-s", host(a), "-j", "DROP");
  }

  /** Removes every iptables INPUT rule of node {@code i}. */
  void heal(int i) throws IOException {
    if (netns) {
      inNs(i, "iptables", "-F", "INPUT");
    }
  }

  private void requireNetns(String what) {
    if (!netns) {
      throw new UnsupportedOperationException(what + " needs network namespaces (root)");
    }
  }

  private String inNs(int i, String... command) throws IOException {
    return Shell.check(Shell.inNamespace(namespace(i), command).toArray(String[]::new));
  }

  /**
   * Bytes node {@code i}'s eth0 received ({@code rx}) or sent, read inside its namespace; in the
   * loopback fallback the loopback device's (every node's traffic together).
   */
  long counter(int i, boolean rx) throws IOException {
    String file = "/sys/class/net/" + (netns ? "eth0" : "lo") + "/statistics/";
    file += rx ? "rx_bytes" : "tx_bytes";
    if (!netns) {
      return Long.parseLong(Files.readString(Path.of(file), StandardCharsets.US_ASCII).strip());
    }
    return Long.parseLong(inNs(i, "cat", file).strip());
  }

  /**
   * What node {@code i} has sent, read cheaply from the root namespace (its veth's rx bytes; the
   * loopback device's tx in the fallback); -1 if unreadable. Thread-safe.
   */
  public long sentQuick(int i) {
    String dev = netns ? NAMES.veth(i) : "lo";
    String file = "/sys/class/net/" + dev + "/statistics/" + (netns ? "rx_bytes" : "tx_bytes");
    try {
      return Long.parseLong(Files.readString(Path.of(file), StandardCharsets.US_ASCII).strip());
    } catch (IOException | NumberFormatException e) {
      return -1;
    }
  }

  /**
   * A raw TCP transfer ({@link LinkProbe}, each side its own process) from node {@code from} to
   * node {@code to} over the links as shaped now: 2 seconds' worth at {@code bitsPerSecond} (the
   * profile, only to size it; 0: unshaped, 512 MiB). Blocks the calling thread up to a few minutes.
   *
   * @param java the command that starts a JVM with this classpath (the class and arguments are
   *     appended to a copy)
   * @return the bits per second measured, first byte to last
   * @throws IOException if either side fails or does not finish within 120 s
   */
  public double probe(long bitsPerSecond, int from, int to, List<String> java) throws IOException {
    long bytes = bitsPerSecond == 0 ? 512L << 20 : bitsPerSecond / 8 * 2;
    List<String> recv = new java.util.ArrayList<>(java);
    recv.addAll(
        List.of(LinkProbe.class.getName(), "recv", host(to), "7900", String.valueOf(bytes)));
    place(to, recv);
    Process r = new ProcessBuilder(recv).redirectErrorStream(true).start();
    try (java.io.BufferedReader out =
        new java.io.BufferedReader(
            new java.io.InputStreamReader(r.getInputStream(), StandardCharsets.UTF_8))) {
      String first = out.readLine();
      if (!"listening".equals(first)) {
        throw new IOException("link probe receiver: " + first);
      }
      List<String> send = new java.util.ArrayList<>(java);
      send.addAll(
          List.of(LinkProbe.class.getName(), "send", host(to), "7900", String.valueOf(bytes)));
      place(from, send);
      Process s = new ProcessBuilder(send).redirectErrorStream(true).start();
      String line = out.readLine();
      waitFor(s, "link probe sender");
      waitFor(r, "link probe receiver");
      if (line == null || !line.startsWith("seconds=")) {
        throw new IOException("link probe: " + line);
      }
      double seconds = Double.parseDouble(line.substring("seconds=".length()));
      double rate = bytes * 8 / seconds;
      System.out.printf(
          Locale.ROOT,
          "[shaped] link %s: measured %.1f Mbit/s (%d MB in %.2f s)%n",
          bitsPerSecond == 0 ? "unshaped" : (bitsPerSecond / 1_000_000) + " Mbit/s",
          rate / 1e6,
          bytes / 1_000_000,
          seconds);
      return rate;
    } finally {
      r.destroyForcibly();
    }
  }

  private static void waitFor(Process p, String what) throws IOException {
    try {
      if (!p.waitFor(120, java.util.concurrent.TimeUnit.SECONDS)) {
        p.destroyForcibly();
        throw new IOException(what + " did not finish within 120 s");
      }
      if (p.exitValue() != 0) {
        throw new IOException(
            what
                + " failed: "
                + new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException(what);
    }
  }

  /** Kills whatever runs in the namespaces and deletes them and the bridge. Never throws. */
  @Override
  public void close() {
    if (!netns) {
      return;
    }
    List<String> failed = NAMES.tearDown(indexes());
    if (!failed.isEmpty()) {
      System.out.println("[shaped] network cleanup: " + failed);
    }
  }
}
