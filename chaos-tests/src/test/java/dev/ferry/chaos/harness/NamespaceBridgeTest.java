package dev.ferry.chaos.harness;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;

class NamespaceBridgeTest {
  @Test
  void namesFollowThePrefixAndSubnet() {
    NamespaceBridge b = new NamespaceBridge("fe-", "10.99.0");
    assertEquals("fe-br0", b.bridge());
    assertEquals("10.99.0.254", b.bridgeIp());
    assertEquals("fe-n3", b.namespace(3));
    assertEquals("fe-v3", b.veth(3));
    assertEquals("10.99.0.3", b.ip(3));
    assertEquals("fb-n1", new NamespaceBridge("fb-", "10.98.0").namespace(1));
  }

  @Test
  void aBadPrefixOrSubnetFailsAtOnce() {
    assertThrows(IllegalArgumentException.class, () -> new NamespaceBridge("fe", "10.99.0"));
    assertThrows(IllegalArgumentException.class, () -> new NamespaceBridge("fe-", "10.99.0.0"));
  }

  @Test
  void removingLeftoversNeedsTheLock() {
    NamespaceBridge b = new NamespaceBridge("fe-", "10.99.0");
    assertThrows(IllegalStateException.class, () -> b.removeLeftovers(null));
  }
}
