package dev.ferry.kv.shard;

import static dev.ferry.kv.shard.ClusterLayoutTest.b;
import static dev.ferry.kv.shard.ClusterLayoutTest.fourRanges;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.kv.KvClient;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;

/** What the routing client decides without a cluster: its group clients, and misuse. */
class RoutingKvClientTest {
  private static final Duration T = Duration.ofSeconds(5);

  @Test
  void aGroupKeepsItsClientUntilANewerLayoutMovesItsReplicas() throws IOException {
    ClusterLayout v1 = fourRanges();
    ClusterLayout v2 = SwitchingMap.moved(v1, 2, 1, List.of("n1", "n3", "n4"));
    SwitchingMap map = new SwitchingMap(v1, v2);
    try (RoutingKvClient c = RoutingKvClient.connect(map, T)) {
      KvClient r0 = c.clientOf(v1.range(0));
      KvClient r1 = c.clientOf(v1.range(1));
      assertSame(r0, c.clientOf(v1.range(0)), "one client, so one session, per group");
      assertNotSame(r0, r1);
      map.refresh(1);
      assertSame(r0, c.clientOf(v2.range(0)), "range 0 did not move");
      assertNotSame(r1, c.clientOf(v2.range(1)), "range 1's replicas changed");
    }
  }

  @Test
  void misuseFailsAtOnce() throws IOException {
    ClusterLayout l = fourRanges();
    RoutingKvClient c = RoutingKvClient.connect(StaticClusterMap.of(l), T);
    String notAReplica =
        l.nodes().stream()
            .map(n -> n.id())
            .filter(n -> !l.rangeFor(b("a")).replicas().contains(n))
            .findFirst()
            .orElseThrow();
    IllegalArgumentException stale =
        assertThrows(IllegalArgumentException.class, () -> c.getStale(b("a"), notAReplica));
    assertTrue(stale.getMessage().contains("holds no replica"), stale.getMessage());
    assertThrows(IllegalArgumentException.class, () -> c.scan(null, null, 0));
    Range other = new Range(0, new byte[0], b("g"), "other.r0", List.of("n1", "n2", "n3"));
    assertThrows(IllegalArgumentException.class, () -> c.clientOf(other));
    c.close();
    assertThrows(IllegalStateException.class, () -> c.put(b("a"), b("b")));
    assertThrows(IllegalStateException.class, () -> c.clientOf(l.range(0)));
    assertThrows(
        IllegalArgumentException.class, () -> RoutingKvClient.connect(c.map(), Duration.ZERO));
  }
}
