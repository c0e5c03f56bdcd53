package dev.ferry.kv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.shipping.PeerAddress;
import java.net.InetSocketAddress;
import org.junit.jupiter.api.Test;

/** {@code ferry server --metrics-port / --metrics-bind}. */
class ServerMetricsOptionsTest {
  private static final PeerAddress SELF = new PeerAddress("n1", "10.0.0.7", 9100, 9101);

  private static ServerCommand command(String port, String bind) {
    ServerCommand c = new ServerCommand();
    c.metricsPort = port;
    c.metricsBind = bind;
    return c;
  }

  @Test
  void defaultIsTheRaftPortPlusThreeOnTheNodesHost() {
    assertEquals(
        InetSocketAddress.createUnresolved("10.0.0.7", 9103),
        unresolved(command(null, null).metricsEndpoint(SELF).orElseThrow()));
  }

  @Test
  void anExplicitPortAndBindAddress() {
    InetSocketAddress a = command("9500", "0.0.0.0").metricsEndpoint(SELF).orElseThrow();
    assertEquals("0.0.0.0", a.getHostString());
    assertEquals(9500, a.getPort());
    assertEquals(0, command("0", null).metricsEndpoint(SELF).orElseThrow().getPort());
  }

  @Test
  void offTurnsItOff() {
    assertTrue(command("off", null).metricsEndpoint(SELF).isEmpty());
    assertThrows(
        IllegalArgumentException.class, () -> command("off", "0.0.0.0").metricsEndpoint(SELF));
  }

  @Test
  void badPortsAreOneLineErrors() {
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> command("x", null).metricsEndpoint(SELF));
    assertEquals("--metrics-port must be a port number or off: x", e.getMessage());
    assertThrows(
        IllegalArgumentException.class, () -> command("70000", null).metricsEndpoint(SELF));
    assertEquals(2, ServerArgs.exitWith("--metrics-port", "nope"));
  }

  private static InetSocketAddress unresolved(InetSocketAddress a) {
    return InetSocketAddress.createUnresolved(a.getHostString(), a.getPort());
  }
}
