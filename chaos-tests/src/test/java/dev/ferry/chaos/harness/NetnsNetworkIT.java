package dev.ferry.chaos.harness;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The namespace network without nodes: it removes leftovers of a crashed run, reaches the bridge
 * from inside a namespace, puts and removes fault rules, and leaves nothing behind. Needs root.
 */
class NetnsNetworkIT {
  @BeforeAll
  static void root() {
    assumeTrue(Shell.isRoot() && Shell.available("ip"), "network namespaces need root");
  }

  @Test
  void removesLeftoversFaultsAndItself() throws Exception {
    try (ChaosLock lock = ChaosLock.acquire(ChaosLock.defaultFile(), Duration.ofHours(2))) {
      removesLeftoversFaultsAndItself(lock);
    }
  }

  private void removesLeftoversFaultsAndItself(ChaosLock lock) throws Exception {
    Shell.check("ip", "netns", "add", "fe-n7"); // what a crashed run leaves
    Shell.check("ip", "link", "add", "fe-v7", "type", "veth", "peer", "name", "fe-p7");
    NetnsNetwork net = NetnsNetwork.create(List.of("n1", "n2", "n3"), lock);
    try {
      assertFalse(Shell.run("ip", "netns", "list").output().contains("fe-n7"), "leftover removed");
      assertEquals("10.99.0.2", net.nodeAddress("n2").host());
      try (ServerSocket s = new ServerSocket()) {
        s.bind(new InetSocketAddress(NetnsNetwork.BRIDGE_IP, 0));
        assertTrue(
            Shell.run(
                    Shell.inNamespace(
                        "fe-n1",
                        "bash",
                        "-c",
                        "exec 3<>/dev/tcp/" + NetnsNetwork.BRIDGE_IP + "/" + s.getLocalPort()))
                .ok(),
            "a namespace reaches the bridge");
      }
      net.cut("n1", "n2");
      net.cutOneWay("n3", "n1");
      net.loss("n3", 0.5);
      net.bandwidth("n2", 1_000_000);
      assertTrue(rules("fe-n1").contains("10.99.0.2"), rules("fe-n1"));
      assertTrue(rules("fe-n2").contains("10.99.0.1"), rules("fe-n2"));
      assertTrue(nft("fe-n1").contains("10.99.0.3"), nft("fe-n1"));
      assertTrue(rules("fe-n3").contains("statistic"), rules("fe-n3"));
      net.heal();
      for (String ns : List.of("fe-n1", "fe-n2", "fe-n3")) {
        assertFalse(rules(ns).contains("DROP"), ns + ": " + rules(ns));
        assertFalse(nft(ns).contains("fe_chaos"), ns + ": " + nft(ns));
      }
      assertFalse(
          Shell.run(Shell.inNamespace("fe-n2", "tc", "qdisc", "show", "dev", "eth0"))
              .output()
              .contains("tbf"));
    } finally {
      net.close();
    }
    assertFalse(Shell.run("ip", "netns", "list").output().contains("fe-"), "namespaces removed");
    assertEquals(
        "",
        Shell.run("sh", "-c", "ip -o link show | grep -E ': fe-' || true").output(),
        "links removed");
  }

  private static String rules(String ns) throws IOException {
    return Shell.run(Shell.inNamespace(ns, "iptables", "-S", "INPUT")).output();
  }

  private static String nft(String ns) throws IOException {
    return Shell.run(Shell.inNamespace(ns, "nft", "list", "ruleset")).output();
  }
}
