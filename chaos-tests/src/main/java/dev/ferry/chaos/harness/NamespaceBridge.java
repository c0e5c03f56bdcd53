package dev.ferry.chaos.harness;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A bridge in the root namespace and one network namespace per node on it, every name under one
 * prefix: the bridge {@code <prefix>br0} with {@code <subnet>.254/24}; per node {@code i} the
 * namespace {@code <prefix>n<i>} with {@code eth0} at {@code <subnet>.<i>/24}, joined to the bridge
 * by the veth {@code <prefix>v<i>}; no default route, so nothing leaves the machine. The chaos
 * harness's {@link NetnsNetwork} uses {@code fe-} on 10.99.0; the shaped recovery benchmark {@code
 * fb-} on 10.98.0, so the two never touch each other's names.
 *
 * <p>Callers hold the {@link ChaosLock} while namespaces exist. Needs root and iproute2. Immutable;
 * thread-safe (each method only runs commands).
 */
public final class NamespaceBridge {
  private static final Pattern PREFIX = Pattern.compile("[a-z][a-z0-9]*-");
  private static final Pattern SUBNET = Pattern.compile("\\d{1,3}\\.\\d{1,3}\\.\\d{1,3}");

  private final String prefix;
  private final String subnet;
  private final Pattern namespaces;
  private final Pattern links;

  /**
   * A bridge named under {@code prefix} (lower-case letters and digits ending in {@code -}, e.g.
   * {@code fe-}) on the /24 {@code subnet} (its first three octets, e.g. {@code 10.99.0}).
   *
   * @throws IllegalArgumentException if either does not have that form
   */
  public NamespaceBridge(String prefix, String subnet) {
    if (!PREFIX.matcher(prefix).matches()) {
      throw new IllegalArgumentException("prefix must look like fe-: " + prefix);
    }
    if (!SUBNET.matcher(subnet).matches()) {
      throw new IllegalArgumentException("subnet must be three octets like 10.99.0: " + subnet);
    }
    this.prefix = prefix;
    this.subnet = subnet;
    this.namespaces = Pattern.compile("^(" + Pattern.quote(prefix) + "n\\d+)\\b");
    this.links = Pattern.compile("^\\d+: (" + Pattern.quote(prefix) + "(?:v\\d+|br\\d+))[@:]");
  }

  /** The bridge's name, {@code <prefix>br0}. */
  public String bridge() {
    return prefix + "br0";
  }

  /** The bridge's address in the root namespace, {@code <subnet>.254}. */
  public String bridgeIp() {
    return subnet + ".254";
  }

  /** Node {@code i}'s namespace, {@code <prefix>n<i>}. */
  public String namespace(int i) {
    return prefix + "n" + i;
  }

  /** Node {@code i}'s veth on the bridge, {@code <prefix>v<i>}. */
  public String veth(int i) {
    return prefix + "v" + i;
  }

  /** Node {@code i}'s address, {@code <subnet>.<i>}. */
  public String ip(int i) {
    return subnet + "." + i;
  }

  /**
   * Makes the bridge and the namespaces of {@code nodes} (each in 1..253).
   *
   * @throws IOException if a command fails (what was made stays: {@link #tearDown} removes it)
   */
  public void setUp(Collection<Integer> nodes) throws IOException {
    for (int i : nodes) {
      if (i < 1 || i > 253) {
        throw new IllegalArgumentException("node index must be in 1..253: " + i);
      }
    }
    Shell.check("ip", "link", "add", bridge(), "type", "bridge");
    Shell.check("ip", "addr", "add", bridgeIp() + "/24", "dev", bridge());
    Shell.check("ip", "link", "set", bridge(), "up");
    for (int i : nodes) {
      String ns = namespace(i);
      Shell.check("ip", "netns", "add", ns);
      Shell.check(
          "ip", "link", "add", veth(i), "type", "veth", "peer", "name", "eth0", "netns", ns);
      Shell.check("ip", "link", "set", veth(i), "master", bridge());
      Shell.check("ip", "link", "set", veth(i), "up");
      Shell.check("ip", "-n", ns, "addr", "add", ip(i) + "/24", "dev", "eth0");
      Shell.check("ip", "-n", ns, "link", "set", "eth0", "up");
      Shell.check("ip", "-n", ns, "link", "set", "lo", "up");
    }
  }

  /**
   * Kills every process in a namespace named {@code <prefix>n<i>}, deletes those namespaces and
   * every link named {@code <prefix>v<i>} or {@code <prefix>br<i>}: what an earlier run that
   * crashed left behind. Nothing else.
   *
   * @throws IllegalStateException if {@code lock} is not held (they could be another run's)
   */
  public void removeLeftovers(ChaosLock lock) throws IOException {
    ChaosLock.requireHeld(lock);
    for (String line : Shell.run("ip", "netns", "list").output().lines().toList()) {
      Matcher m = namespaces.matcher(line);
      if (m.find()) {
        deleteNamespace(m.group(1));
      }
    }
    for (String line : Shell.run("ip", "-o", "link", "show").output().lines().toList()) {
      Matcher m = links.matcher(line);
      if (m.find()) {
        Shell.run("ip", "link", "del", m.group(1));
      }
    }
  }

  /**
   * Kills what runs in the namespaces of {@code nodes}, deletes them, their veths and the bridge.
   * Never throws: goes on past a failure and returns every failure (empty if none).
   */
  public List<String> tearDown(Collection<Integer> nodes) {
    List<String> failed = new ArrayList<>();
    for (int i : nodes) {
      try {
        deleteNamespace(namespace(i));
        Shell.run("ip", "link", "del", veth(i));
      } catch (IOException | RuntimeException e) {
        failed.add(namespace(i) + ": " + e);
      }
    }
    try {
      Shell.run("ip", "link", "del", bridge());
    } catch (IOException | RuntimeException e) {
      failed.add(bridge() + ": " + e);
    }
    return failed;
  }

  private static void deleteNamespace(String ns) throws IOException {
    for (String pid : Shell.run("ip", "netns", "pids", ns).output().lines().toList()) {
      if (pid.matches("\\d+")) {
        Shell.run("kill", "-9", pid);
      }
    }
    Shell.run("ip", "netns", "del", ns);
  }

  @Override
  public String toString() {
    return bridge() + " " + subnet + ".0/24";
  }
}
