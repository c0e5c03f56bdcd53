package dev.ferry.kv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.kv.testing.LocalCluster;
import dev.ferry.raft.FerryServer;
import dev.ferry.raft.ratis.AppendChainRepair;
import dev.ferry.statemachine.StateMachineConfig;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;
import org.apache.ratis.server.RaftServer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A follower whose Ratis append chain failed (the Ratis 3.3.0 bug {@link AppendChainRepair} works
 * around; in the field an append that an install overtook fails it) applies again: the node's watch
 * restarts the chain, and the follower catches up with the writes made meanwhile. Real three-node
 * cluster in this JVM, real sockets and disks; the failure is put into the chain by hand, as the
 * race that causes it cannot be forced.
 */
class AppendChainRepairIT {
  private static final Duration T = Duration.ofSeconds(60);

  @TempDir Path dir;
  private LocalCluster cluster;

  @AfterEach
  void close() throws Exception {
    if (cluster != null) {
      cluster.close();
    }
  }

  @Test
  void aFollowerWhoseAppendChainFailedCatchesUp() throws Exception {
    assertTrue(AppendChainRepair.available(), "Ratis has the append chain this repairs");
    cluster = LocalCluster.start(dir, 3, StateMachineConfig.defaults());
    try (KvClient c = cluster.client(T)) {
      put(c, 0, 50);
      String follower = cluster.follower(T);
      RaftServer.Division d = division(cluster.server(follower));
      AtomicReference<CompletableFuture<Void>> chain = chainOf(d);
      IllegalStateException poison =
          new IllegalStateException("Difference between entry index ... (injected by the test)");
      long repairs = AppendChainRepair.repairs();
      chain.set(CompletableFuture.failedFuture(poison));
      long before = cluster.applied(follower);

      put(c, 50, 100); // committed by the other two; the follower's appends fail until repaired

      String leader = cluster.leader(T);
      long commit = cluster.applied(leader);
      assertTrue(commit > before, "the writes went through the other replicas");
      LocalCluster.await(
          T,
          () -> cluster.applied(follower) >= commit,
          follower + " applying " + commit + " after its append chain was restarted");
      assertTrue(AppendChainRepair.repairs() > repairs, "the watch restarted the chain");
      assertTrue(!chainOf(d).get().isCompletedExceptionally(), "the chain runs again");
      LocalCluster.assertSameDigest(
          "the group",
          List.of(cluster.server("n1"), cluster.server("n2"), cluster.server("n3")),
          T);
    }
  }

  @Test
  void repairReturnsTheFailureAndLeavesAHealthyChainAlone() throws Exception {
    cluster = LocalCluster.start(dir, 3, StateMachineConfig.defaults());
    try (KvClient c = cluster.client(T)) {
      put(c, 0, 10);
      RaftServer.Division d = division(cluster.server(cluster.follower(T)));
      assertEquals(Optional.empty(), AppendChainRepair.repair(d, "test"));
      IllegalStateException poison = new IllegalStateException("injected");
      AtomicReference<CompletableFuture<Void>> chain = chainOf(d);
      // the watch may repair it first: then the chain is healthy all the same
      chain.set(CompletableFuture.failedFuture(poison));
      Optional<Throwable> repaired = AppendChainRepair.repair(d, "test");
      repaired.ifPresent(t -> assertEquals(poison, t));
      // The leader's next append (a heartbeat) may extend the repaired chain at any moment, so
      // the chain may be running: it must end well. A failed chain never would (every later
      // append composed on it fails without running).
      LocalCluster.await(
          T,
          () -> chain.get().isDone() && !chain.get().isCompletedExceptionally(),
          "the repaired chain to end well");
    }
  }

  private static AtomicReference<CompletableFuture<Void>> chainOf(RaftServer.Division d) {
    AtomicReference<CompletableFuture<Void>> chain = AppendChainRepair.chainOf(d);
    assertNotNull(chain, "the division composes its appends (Ratis's default)");
    return chain;
  }

  private static RaftServer.Division division(FerryServer s) throws Exception {
    return s.raftServer().getDivision(s.group().getGroupId());
  }

  private static void put(KvClient c, int from, int to) throws Exception {
    for (int i = from; i < to; i++) {
      c.put(("k" + i).getBytes(StandardCharsets.UTF_8), ("v" + i).getBytes(StandardCharsets.UTF_8));
    }
  }
}
