package dev.ferry.bench.recovery;

import dev.ferry.chaos.harness.ChaosLock;
import dev.ferry.chaos.harness.Shell;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The shaped benchmark's network: with root, one network namespace per node ({@code fb-n<i>}, eth0
 * at 10.98.0.i/24) on the bridge {@code fb-br0} (10.98.0.254), joined by veths {@code fb-v<i>}, as
 * the chaos harness builds its {@code fe-} namespaces (its own names and subnet, so the two never
 * touch each other's; both run under the {@link ChaosLock}). Links are shaped with a {@code tc tbf}
 * qdisc on each namespace's eth0 (egress only). Without root: every node on 127.0.0.1, no shaping,
 * and byte counts from the loopback device (all traffic together).
 *
 * <p>Counters: a namespace's eth0 rx/tx bytes with {@code ip netns exec cat /sys/...}; for
 * sampling, the same bytes seen from the root namespace on the veth (a veth's rx is its peer's tx),
 * which needs no process per read. Not thread-safe except the counter reads.
 */
final class ShapedNet implements AutoCloseable {
  static final String PREFIX = "fb-";
  private static final String BRIDGE = PREFIX + "br0";
  private static final String SUBNET = "10.98.0";
  private static final Pattern NAMESPACE = Pattern.compile("^(fb-n\\d+)\\b");
  private static final Pattern LINK = Pattern.compile("^\\d+: (fb-(?:v\\d+|br\\d+))[@:]");

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
  static ShapedNet create(int nodes, ChaosLock lock) throws IOException {
    if (!Shell.isRoot() || !Shell.available("ip") || !Shell.available("tc")) {
      System.out.println(
          "[shaped] not root (or no iproute2/tc): nodes run on loopback, links are NOT shaped");
      return new ShapedNet(nodes, false);
    }
    removeLeftovers(lock);
    ShapedNet n = new ShapedNet(nodes, true);
    try {
      Shell.check("ip", "link", "add", BRIDGE, "type", "bridge");
      Shell.check("ip", "addr", "add", SUBNET + ".254/24", "dev", BRIDGE);
      Shell.check("ip", "link", "set", BRIDGE, "up");
      for (int i = 1; i <= nodes; i++) {
        String ns = namespace(i);
        Shell.check("ip", "netns", "add", ns);
        Shell.check(
            "ip", "link", "add", veth(i), "type", "veth", "peer", "name", "eth0", "netns", ns);
        Shell.check("ip", "link", "set", veth(i), "master", BRIDGE);
        Shell.check("ip", "link", "set", veth(i), "up");
        Shell.check("ip", "-n", ns, "addr", "add", host(i, true) + "/24", "dev", "eth0");
        Shell.check("ip", "-n", ns, "link", "set", "eth0", "up");
        Shell.check("ip", "-n", ns, "link", "set", "lo", "up");
      }
      return n;
    } catch (IOException | RuntimeException e) {
      n.close();
      throw e;
    }
  }

  /** Deletes {@code fb-n*} namespaces (killing what runs there) and {@code fb-} links. */
  static void removeLeftovers(ChaosLock lock) throws IOException {
    if (lock == null || !lock.isHeld()) {
      throw new IllegalStateException("the chaos lock must be held (ChaosLock.acquire)");
    }
    for (String line : Shell.run("ip", "netns", "list").output().lines().toList()) {
      Matcher m = NAMESPACE.matcher(line);
      if (m.find()) {
        deleteNamespace(m.group(1));
      }
    }
    for (String line : Shell.run("ip", "-o", "link", "show").output().lines().toList()) {
      Matcher m = LINK.matcher(line);
      if (m.find()) {
        Shell.run("ip", "link", "del", m.group(1));
      }
    }
  }

  private static void deleteNamespace(String ns) throws IOException {
    for (String pid : Shell.run("ip", "netns", "pids", ns).output().lines().toList()) {
      if (pid.matches("\\d+")) {
        Shell.run("kill", "-9", pid);
      }
    }
    Shell.run("ip", "netns", "del", ns);
  }

  /** Whether nodes run in namespaces (links can be shaped). */
  boolean namespaces() {
    return netns;
  }

  private static String namespace(int i) {
    return PREFIX + "n" + i;
  }

  private static String veth(int i) {
    return PREFIX + "v" + i;
  }

  private static String host(int i, boolean netns) {
    return netns ? SUBNET + "." + i : "127.0.0.1";
  }

  /** The address node {@code i} listens on. */
  String host(int i) {
    check(i);
    return host(i, netns);
  }

  private void check(int i) {
    if (i < 1 || i > nodes) {
      throw new IllegalArgumentException("no node " + i + " (1.." + nodes + ")");
    }
  }

  /** Puts node {@code i}'s command into its namespace (prefix {@code ip netns exec}). */
  void place(int i, List<String> command) {
    check(i);
    if (netns) {
      command.addAll(0, List.of("ip", "netns", "exec", namespace(i)));
    }
  }

  /**
   * Shapes every namespace's egress to {@code bitsPerSecond} ({@code tbf}, burst the larger of rate
   * × 2 ms and 256 KiB: above a 64 KiB GSO packet and rate × 1 ms); 0 removes the shaping.
   */
  void shape(long bitsPerSecond) throws IOException {
    if (!netns) {
      return;
    }
    long burst = Math.max(bitsPerSecond / 8 / 500, 256 << 10);
    for (int i = 1; i <= nodes; i++) {
      String ns = namespace(i);
      Shell.run(Shell.inNamespace(ns, "tc", "qdisc", "del", "dev", "eth0", "root"));
      if (bitsPerSecond > 0) {
        inNs(
            i,
            "tc",
            "qdisc",
            "add",
            "dev",
            "eth0",
            "root",
            "tbf",
            "rate",
            bitsPerSecond + "bit",
            "burst",
            String.valueOf(burst),
            "latency",
            "50ms");
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

  private void inNs(int i, String... command) throws IOException {
    List<String> cmd = Shell.inNamespace(namespace(i), command);
    Shell.Result r = Shell.run(cmd);
    if (!r.ok()) {
      throw new IOException("failed: " + String.join(" ", cmd) + ": " + r.output());
    }
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
    List<String> cmd = Shell.inNamespace(namespace(i), "cat", file);
    Shell.Result r = Shell.run(cmd);
    if (!r.ok()) {
      throw new IOException("failed: " + String.join(" ", cmd) + ": " + r.output());
    }
    return Long.parseLong(r.output().strip());
  }

  /**
   * What node {@code i} has sent, read cheaply from the root namespace (its veth's rx bytes; the
   * loopback device's tx in the fallback); -1 if unreadable. Thread-safe.
   */
  long sentQuick(int i) {
    String dev = netns ? veth(i) : "lo";
    String file = "/sys/class/net/" + dev + "/statistics/" + (netns ? "rx_bytes" : "tx_bytes");
    try {
      return Long.parseLong(Files.readString(Path.of(file), StandardCharsets.US_ASCII).strip());
    } catch (IOException | NumberFormatException e) {
      return -1;
    }
  }

  /** Kills whatever runs in the namespaces and deletes them and the bridge. Never throws. */
  @Override
  public void close() {
    if (!netns) {
      return;
    }
    List<String> failed = new ArrayList<>();
    for (int i = 1; i <= nodes; i++) {
      try {
        deleteNamespace(namespace(i));
        Shell.run("ip", "link", "del", veth(i));
      } catch (IOException | RuntimeException e) {
        failed.add(namespace(i) + ": " + e);
      }
    }
    try {
      Shell.run("ip", "link", "del", BRIDGE);
    } catch (IOException | RuntimeException e) {
      failed.add(BRIDGE + ": " + e);
    }
    if (!failed.isEmpty()) {
      System.out.println("[shaped] network cleanup: " + failed);
    }
  }
}
