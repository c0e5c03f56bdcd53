package dev.ferry.chaos.harness;

import dev.ferry.shipping.PeerAddress;
import java.io.IOException;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Each node in its own network namespace on a bridge ({@link NamespaceBridge} with prefix {@code
 * fe-}), as Jepsen runs nodes on hosts:
 *
 * <ul>
 *   <li>bridge {@code fe-br0} with 10.99.0.254/24 in the root namespace, where the test's clients
 *       run;
 *   <li>per node {@code i} (1-based, in id order) namespace {@code fe-n<i>} with {@code eth0} at
 *       10.99.0.i/24, joined to the bridge by the veth {@code fe-v<i>}; no default route, so
 *       nothing leaves the machine;
 *   <li>every node listens on the same ports (7000 Raft, 7001 chunks, 7002 admin) in its own
 *       namespace, launched with {@code ip netns exec fe-n<i> java ...} (that pid is the JVM's).
 * </ul>
 *
 * Faults are rules inside the namespaces: two-way cuts with iptables {@code INPUT} drops on both
 * sides, one-way cuts in an nft table {@code inet fe_chaos}, loss with iptables {@code statistic},
 * bandwidth with a {@code tc tbf} qdisc on {@code eth0}. {@link #heal()} flushes them all.
 *
 * <p>Every name starts with {@code fe-}; {@link #removeLeftovers} deletes such namespaces (after
 * killing what runs in them) and links, and nothing else: both need the {@link ChaosLock}, so that
 * no other chaos run on the machine owns them meanwhile. Thread-safe (each method only runs
 * commands).
 */
final class NetnsNetwork implements Fabric {
  private static final Logger LOG = LoggerFactory.getLogger(NetnsNetwork.class);

  static final String SUBNET = "10.99.0";
  private static final NamespaceBridge NAMES = new NamespaceBridge("fe-", SUBNET);
  static final String BRIDGE = NAMES.bridge();
  static final String BRIDGE_IP = NAMES.bridgeIp();
  static final int RAFT_PORT = 7000;
  private static final String NFT_TABLE = "fe_chaos";

  private final Map<String, Integer> index = new LinkedHashMap<>();

  private NetnsNetwork(List<String> ids) {
    for (int i = 0; i < ids.size(); i++) {
      index.put(ids.get(i), i + 1);
    }
  }

  /**
   * Makes the bridge and one namespace per node, after removing leftovers of an earlier run.
   *
   * @param lock the chaos lock, held by the caller until it has closed this network
   * @throws IllegalStateException if {@code lock} is not held
   * @throws IOException if they cannot be made (not root, no iproute2, address range taken); what
   *     was made is removed again
   */
  static NetnsNetwork create(List<String> ids, ChaosLock lock) throws IOException {
    ChaosLock.requireHeld(lock);
    if (ids.size() > 200) {
      throw new IllegalArgumentException("at most 200 nodes: " + ids.size());
    }
    if (!Shell.isRoot() || !Shell.available("ip")) {
      throw new IOException("network namespaces need root and iproute2");
    }
    removeLeftovers(lock);
    String taken = Shell.run("ip", "-o", "route", "show", "to", "match", SUBNET + ".1").output();
    if (taken.lines().anyMatch(l -> l.startsWith(SUBNET + ".0/24"))) {
      throw new IOException(SUBNET + ".0/24 is already routed here: " + taken);
    }
    NetnsNetwork n = new NetnsNetwork(ids);
    try {
      NAMES.setUp(n.index.values());
      return n;
    } catch (IOException | RuntimeException e) {
      n.close();
      throw e;
    }
  }

  /**
   * Kills every process in a namespace named {@code fe-n<i>}, deletes those namespaces and every
   * link named {@code fe-v<i>} or {@code fe-br<i>}: what an earlier run that crashed left behind.
   *
   * @throws IllegalStateException if {@code lock} is not held (they could be another run's)
   */
  static void removeLeftovers(ChaosLock lock) throws IOException {
    NAMES.removeLeftovers(lock);
  }

  private static String namespace(int i) {
    return NAMES.namespace(i);
  }

  private static String ip(int i) {
    return NAMES.ip(i);
  }

  private int indexOf(String id) {
    Integer i = index.get(id);
    if (i == null) {
      throw new IllegalArgumentException("no such node: " + id);
    }
    return i;
  }

  /** The namespace node {@code id} runs in. */
  String namespaceOf(String id) {
    return namespace(indexOf(id));
  }

  @Override
  public NetworkMode mode() {
    return NetworkMode.NETNS;
  }

  @Override
  public PeerAddress nodeAddress(String id) {
    return new PeerAddress(id, ip(indexOf(id)), RAFT_PORT, RAFT_PORT + 1);
  }

  @Override
  public PeerAddress clientAddress(String id) {
    return nodeAddress(id);
  }

  @Override
  public void prepare(String id, List<String> command, Map<String, String> environment) {
    command.addAll(0, List.of("ip", "netns", "exec", namespaceOf(id)));
  }

  @Override
  public Set<Capability> capabilities() {
    Set<Capability> caps = EnumSet.of(Capability.CUT, Capability.BANDWIDTH);
    if (Shell.available("iptables")) {
      caps.add(Capability.LOSS);
    }
    if (Shell.available("nft")) {
      caps.add(Capability.ONE_WAY);
    }
    return caps;
  }

  private void inNs(String id, String... command) throws IOException {
    List<String> cmd = Shell.inNamespace(namespaceOf(id), command);
    Shell.Result r = Shell.run(cmd);
    if (!r.ok()) {
      throw new IOException("failed: " + String.join(" ", cmd) + ": " + r.output());
    }
  }

  @Override
  public void cut(String a, String b) throws IOException {
    inNs(a, "iptables", "-A", "INPUT", "-s", ip(indexOf(b)), "-j", "DROP");
    inNs(b, "iptables", "-A", "INPUT", "-s", ip(indexOf(a)), "-j", "DROP");
  }

  @Override
  public void cutOneWay(String from, String to) throws IOException {
    String ns = namespaceOf(to);
    Shell.run(Shell.inNamespace(ns, "nft", "add", "table", "inet", NFT_TABLE));
    Shell.run(
        Shell.inNamespace(
            ns,
            "nft",
            "add chain inet "
                + NFT_TABLE
                + " input { type filter hook input priority 0 ; policy accept ; }"));
    inNs(
        to,
        "nft",
        "add",
        "rule",
        "inet",
        NFT_TABLE,
        "input",
        "ip",
        "saddr",
        ip(indexOf(from)),
        "drop");
  }

  @Override
  public void loss(String node, double probability) throws IOException {
    if (!(probability > 0 && probability <= 1)) {
      throw new IllegalArgumentException("probability must be in (0, 1]: " + probability);
    }
    inNs(
        node,
        "iptables",
        "-A",
        "INPUT",
        "!",
        "-s",
        BRIDGE_IP,
        "-m",
        "statistic",
        "--mode",
        "random",
        "--probability",
        String.valueOf(probability),
        "-j",
        "DROP");
  }

  @Override
  public void bandwidth(String node, long bitsPerSecond) throws IOException {
    if (bitsPerSecond < 8_000) {
      throw new IllegalArgumentException("at least 8 kbit/s: " + bitsPerSecond);
    }
    inNs(
        node,
        "tc",
        "qdisc",
        "replace",
        "dev",
        "eth0",
        "root",
        "tbf",
        "rate",
        bitsPerSecond + "bit",
        "burst",
        "32kb",
        "latency",
        "100ms");
  }

  @Override
  public void heal() throws IOException {
    List<String> failures = new ArrayList<>();
    for (String id : index.keySet()) {
      String ns = namespaceOf(id);
      if (Shell.available("iptables")) {
        Shell.Result r = Shell.run(Shell.inNamespace(ns, "iptables", "-F", "INPUT"));
        if (!r.ok()) {
          failures.add(ns + ": iptables -F INPUT: " + r.output());
        }
      }
      Shell.run(Shell.inNamespace(ns, "nft", "delete", "table", "inet", NFT_TABLE));
      Shell.run(Shell.inNamespace(ns, "tc", "qdisc", "del", "dev", "eth0", "root"));
    }
    if (!failures.isEmpty()) {
      throw new IOException("heal failed: " + failures);
    }
  }

  @Override
  public void close() {
    List<String> failed = NAMES.tearDown(index.values());
    if (!failed.isEmpty()) {
      LOG.warn("netns cleanup: " + failed);
    }
  }

  @Override
  public String toString() {
    return "netns " + index.keySet() + " on " + NAMES;
  }
}
