package dev.ferry.raft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.shipping.PeerAddress;
import dev.ferry.shipping.metrics.NodeMetrics;
import dev.ferry.statemachine.ApplyContext;
import dev.ferry.statemachine.StateLoader;
import dev.ferry.statemachine.StateMachine;
import dev.ferry.statemachine.StateView;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.GaugeSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshots;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What a {@link FerryNode} and its groups refuse, and how it merges its groups' metrics. */
class FerryNodeTest {
  private static final PeerAddress N1 = new PeerAddress("n1", "127.0.0.1", 1, 2);
  private static final PeerAddress N2 = new PeerAddress("n2", "127.0.0.1", 3, 4);

  @TempDir Path dir;

  /** A state machine these tests never run. */
  private static final class Unused implements StateMachine {
    @Override
    public byte[] apply(byte[] command, ApplyContext ctx) {
      throw new UnsupportedOperationException();
    }

    @Override
    public StateView view() {
      throw new UnsupportedOperationException();
    }

    @Override
    public StateLoader newLoader() {
      throw new UnsupportedOperationException();
    }

    @Override
    public byte[] query(byte[] request) {
      throw new UnsupportedOperationException();
    }
  }

  private FerryNode node() throws Exception {
    return FerryNode.builder()
        .self(N1)
        .dataDir(dir)
        .clusterSecret(ClusterSecret.random())
        .jmx(false)
        .build();
  }

  @Test
  void theSharedSchedulerRunsTasksAndOnlyTheNodeShutsItDown() throws Exception {
    FerryNode node = node();
    ScheduledExecutorService shared = node.scheduler();
    assertTrue(
        shared
            .schedule(() -> Thread.currentThread().getName(), 1, TimeUnit.MILLISECONDS)
            .get(30, TimeUnit.SECONDS)
            .startsWith("ferry-node-n1-"),
        "runs on the node's threads");
    assertThrows(UnsupportedOperationException.class, shared::shutdown);
    assertThrows(UnsupportedOperationException.class, shared::shutdownNow);
    assertFalse(shared.isShutdown());
    node.close();
    assertTrue(shared.isShutdown());
    assertThrows(RejectedExecutionException.class, () -> shared.execute(() -> {}));
  }

  @Test
  void groupNamesMustNameAFolder() {
    for (String bad : List.of("", ".", "..", ".hidden", "a/b", "a\\b", "x".repeat(101), "é")) {
      assertThrows(
          IllegalArgumentException.class, () -> GroupSpec.of(bad, List.of(N1), new Unused()), bad);
    }
    assertEquals("kv.r12", GroupSpec.of("kv.r12", List.of(N1), new Unused()).name());
  }

  @Test
  void theTransferSchedulersLimitsComeFromTheBuilder() throws Exception {
    try (FerryNode node =
        FerryNode.builder()
            .self(N1)
            .dataDir(dir)
            .clusterSecret(ClusterSecret.random())
            .jmx(false)
            .maxActiveInstalls(3)
            .installBytesInFlight(1L << 20)
            .installDecodedBytes(5L << 20)
            .build()) {
      dev.ferry.shipping.install.TransferScheduler.Stats s = node.transferScheduler().stats();
      assertEquals(3, s.maxActiveInstalls());
      assertEquals(1L << 20, s.bytesBudget());
      assertEquals(5L << 20, s.decodedBudget());
    }
    try (FerryNode node = node()) {
      assertEquals(
          dev.ferry.shipping.install.TransferScheduler.defaultMaxDecodedBytes(),
          node.transferScheduler().stats().decodedBudget());
    }
    assertThrows(IllegalArgumentException.class, () -> FerryNode.builder().installDecodedBytes(-1));
  }

  @Test
  void aGroupOfANodeTakesTheNodeWideSettingsFromTheNode() throws Exception {
    try (FerryNode node = node()) {
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () ->
                  FerryServer.builder()
                      .node(node)
                      .clusterName("g.r0")
                      .peers(List.of(N1, N2))
                      .dataDir(dir.resolve("elsewhere"))
                      .electionTimeout(
                          java.time.Duration.ofSeconds(1), java.time.Duration.ofSeconds(2))
                      .stateMachine(new Unused())
                      .build());
      assertTrue(e.getMessage().contains("[dataDir, electionTimeout]"), e.getMessage());
    }
  }

  @Test
  void aGroupMustListTheNodeWithItsAddress() throws Exception {
    try (FerryNode node = node()) {
      PeerAddress moved = new PeerAddress("n1", "127.0.0.1", 5, 6);
      IllegalArgumentException e =
          assertThrows(
              IllegalArgumentException.class,
              () ->
                  FerryServer.builder()
                      .node(node)
                      .clusterName("g.r0")
                      .peers(List.of(moved, N2))
                      .stateMachine(new Unused())
                      .build());
      assertTrue(e.getMessage().contains("runs as"), e.getMessage());
      IllegalStateException notRunning =
          assertThrows(
              IllegalStateException.class,
              () -> node.addGroup(GroupSpec.of("g.r0", List.of(N1, N2), new Unused())));
      assertTrue(notRunning.getMessage().contains("does not run"), notRunning.getMessage());
    }
  }

  @Test
  void groupsNamesMustBeUniqueOnANode() {
    FerryNode.Builder b =
        FerryNode.builder()
            .self(N1)
            .dataDir(dir)
            .clusterSecret(ClusterSecret.random())
            .group(GroupSpec.of("g", List.of(N1), new Unused()))
            .group(GroupSpec.of("g", List.of(N1), new Unused()));
    assertThrows(IllegalArgumentException.class, b::build);
  }

  @Test
  void theGroupsSeriesAreMergedIntoOneFamilyPerName() {
    NodeMetrics a = new NodeMetrics("n1");
    NodeMetrics b = new NodeMetrics("n1");
    a.counters("ferry_x_total", "x", List.of("group"), cb -> cb.call(1, "a"));
    b.counters("ferry_x_total", "x", List.of("group"), cb -> cb.call(2, "b"));
    a.gauges("ferry_y", "y", List.of("group"), cb -> cb.call(3, "a"));
    NodeMetrics node = new NodeMetrics("n1");
    node.registry().register(new GroupMetrics(() -> List.of(a, b)));
    MetricSnapshots scrape = node.registry().scrape();
    assertEquals(2, scrape.size(), "one family per name");
    for (MetricSnapshot s : scrape) {
      if (s instanceof CounterSnapshot c) {
        assertEquals(
            List.of(1.0, 2.0), c.getDataPoints().stream().map(p -> p.getValue()).sorted().toList());
      } else {
        assertEquals(1, ((GaugeSnapshot) s).getDataPoints().size());
      }
    }
  }
}
