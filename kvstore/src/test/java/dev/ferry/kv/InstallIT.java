package dev.ferry.kv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.kv.testing.LocalCluster;
import dev.ferry.raft.FerryServer;
import dev.ferry.raft.RaftPeers;
import dev.ferry.shipping.chunks.ChunkAuthException;
import dev.ferry.shipping.chunks.ChunkClient;
import dev.ferry.shipping.install.InstallReport;
import dev.ferry.statemachine.DigestAt;
import dev.ferry.statemachine.StateMachineConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Snapshot shipping between real nodes: Ratis over gRPC, the chunk service over TCP. */
class InstallIT {
  private static final Duration T = Duration.ofSeconds(90);
  private static final int KEYS = 16_000;

  @TempDir Path dir;
  private LocalCluster cluster;
  private long checkpoints;

  @AfterEach
  void tearDown() throws Exception {
    if (cluster != null) {
      cluster.close();
    }
  }

  private static byte[] key(int i) {
    return String.format(Locale.ROOT, "key-%08d", i).getBytes(StandardCharsets.UTF_8);
  }

  private void start() throws IOException {
    start(0);
  }

  private void start(long sendRate) throws IOException {
    cluster =
        LocalCluster.start(
            dir, 3, StateMachineConfig.defaults().withCaptureEvery(200, 1L << 40), sendRate);
  }

  /** The fraction of its current install {@code id} has received. */
  private double completeness(String id) {
    Object v =
        cluster.server(id).metrics().getGauges().get("ferry.install.completeness").getValue();
    return (Double) v;
  }

  private long successes(String id) {
    return cluster.server(id).metrics().counter("ferry.install.outcome.success").getCount();
  }

  /** Loads {@link #KEYS} keys of random 1 KiB values in batches. */
  private void load(KvClient c) throws IOException {
    Random rnd = new Random(1);
    List<byte[][]> batch = new ArrayList<>();
    for (int i = 0; i < KEYS; i++) {
      byte[] v = new byte[1024];
      rnd.nextBytes(v);
      batch.add(new byte[][] {key(i), v});
      if (batch.size() == 100) {
        c.putAll(batch);
        batch = new ArrayList<>();
      }
    }
  }

  /** Captures a snapshot through the log and waits until every replica holds it. */
  private void capture(KvClient c) throws IOException {
    capture(c, cluster.running());
  }

  /**
   * Captures a snapshot through the log (sent straight to the leader) and waits until replicas
   * {@code ids} hold it.
   */
  private void capture(KvClient any, List<String> ids) throws IOException {
    long index;
    try (KvClient c = cluster.clientOf(cluster.leader(T), T)) {
      index =
          c.raftClient()
              .io()
              .send(
                  org.apache.ratis.protocol.Message.valueOf(
                      org.apache.ratis.thirdparty.com.google.protobuf.ByteString.copyFrom(
                          dev.ferry.statemachine.CommandCodec.captureCommand())))
              .getLogIndex();
    }
    for (String id : ids) {
      LocalCluster.await(
          T,
          () -> cluster.replica(id).latestManifest().map(m -> m.index()).orElse(-1L) >= index,
          id + " to capture at " + index);
    }
  }

  /** Every running replica records the same digest at a new checkpoint. */
  private DigestAt assertConverged() throws Exception {
    long id = ++checkpoints;
    DigestAt expected;
    try (KvClient c = cluster.client(T)) {
      expected = c.checkpoint(id);
      for (String r : cluster.running()) {
        DigestAt d = c.checkpointOn(r, id, expected.index());
        assertEquals(expected, d, r + " digest at checkpoint " + id);
      }
    }
    return expected;
  }

  @Test
  void aStoppedFollowerCatchesUpByDeltaAfterTheLogWasPurged() throws Exception {
    start();
    String f = cluster.follower(T);
    long stateBytes;
    try (KvClient c = cluster.client(T)) {
      load(c);
      capture(c);
      stateBytes = cluster.replica(f).latestManifest().orElseThrow().rawBytes();
      long stoppedAt = cluster.applied(f);
      cluster.stop(f);
      Random rnd = new Random(2);
      for (int i = 0; i < KEYS / 100; i++) {
        byte[] v = new byte[1024];
        rnd.nextBytes(v);
        c.put(key(rnd.nextInt(KEYS)), v);
      }
      cluster.writeUntilPurgedPast(c, stoppedAt, T);
      cluster.start(f);
      LocalCluster.await(
          T,
          () ->
              cluster.installer(f).lastReport() != null
                  && cluster.installer(f).lastReport().success(),
          f + " to install a snapshot");
    }
    assertConverged();
    InstallReport r = cluster.installer(f).lastReport();
    assertTrue(r.bytesHeld() > 0.8 * r.bytesWanted(), "most chunks were already held: " + r);
    assertTrue(
        r.bytesFetched() < 0.2 * stateBytes, "fetched " + r.bytesFetched() + " of " + stateBytes);
    assertTrue(r.bytesFetched() > 0, "something changed, so something was fetched: " + r);
    assertTrue(
        r.bytesFetched() <= r.bytesWanted() - r.bytesHeld(),
        "nothing fetched that was already held: " + r);
  }

  @Test
  void anEmptyNodeInstallsFromTwoSourcesAtOnce() throws Exception {
    start();
    String f = cluster.follower(T);
    try (KvClient c = cluster.client(T)) {
      load(c);
      cluster.wipeAndLeaveBehind(f, cluster.leader(T), c, T);
    }
    cluster.start(f);
    LocalCluster.await(
        T,
        () ->
            cluster.installer(f).lastReport() != null
                && cluster.installer(f).lastReport().success(),
        f + " to install a snapshot");
    InstallReport r = cluster.installer(f).lastReport();
    assertEquals(0, r.bytesHeld(), "an empty node holds nothing: " + r);
    assertEquals(2, r.bytesPerSource().size(), "both other nodes served chunks: " + r);
    for (long bytes : r.bytesPerSource().values()) {
      assertTrue(bytes > 0.1 * r.bytesWanted(), "each source served a real share: " + r);
    }
    assertConverged();
    assertEquals(KEYS + 1, cluster.stateMachine(f).size() - fillers(f));
  }

  /** Keys written by {@link #writeUntilPurgedPast} (they start with "filler-"). */
  private long fillers(String id) throws IOException {
    try (KvClient c = cluster.client(T)) {
      return c.scan(
              "filler-".getBytes(StandardCharsets.UTF_8),
              "filler.".getBytes(StandardCharsets.UTF_8),
              10_000)
          .size();
    }
  }

  @Test
  void aSourceServingCorruptChunksIsDetectedAndAvoided() throws Exception {
    start();
    String f = cluster.follower(T);
    String leader = cluster.leader(T);
    try (KvClient c = cluster.client(T)) {
      load(c);
      cluster.wipeAndLeaveBehind(f, leader, c, T);
    }
    // Corrupt every chunk file of the other follower (the leader stays good).
    String bad =
        cluster.running().stream().filter(id -> !id.equals(leader)).findFirst().orElseThrow();
    int corrupted = cluster.corruptChunkFiles(bad, p -> p.toFile().length() > 64);
    assertTrue(corrupted > 0, "found chunk files to corrupt");
    cluster.start(f);
    LocalCluster.await(
        T,
        () ->
            cluster.installer(f).lastReport() != null
                && cluster.installer(f).lastReport().success(),
        f + " to install a snapshot despite " + bad);
    assertTrue(
        cluster.server(f).metrics().counter("ferry.install.sources.demoted").getCount() >= 1,
        "the corrupting source was demoted");
    assertConverged();
  }

  /**
   * A joiner that every peer refuses (wrong cluster secret), put in the configuration past Ferry's
   * admin (which refuses such a node up front): Ratis asks it to install again and again, about 20
   * times a second; its attempts back off (0.25 s, 0.5 s, 1 s, …) and the failure names the cause.
   */
  @Test
  void aJoinerEveryPeerRefusesBacksOffAndSaysWhy() throws Exception {
    start();
    try (KvClient c = cluster.client(T)) {
      load(c);
      capture(c);
      cluster.writeUntilPurgedPast(c, 1, T);
      FerryServer n4 =
          cluster.startListener(
              "n4", KvStateMachine::new, cluster.peers(), dev.ferry.raft.ClusterSecret.random());
      java.util.concurrent.CompletableFuture.runAsync(
          () -> {
            // Staged by Ratis until it fails: blocks, so not waited for.
            try (KvClient leader = cluster.clientOf(cluster.leader(T), T)) {
              List<org.apache.ratis.protocol.RaftPeer> listeners =
                  List.of(
                      RaftPeers.toRaftPeer(
                          n4.self(), org.apache.ratis.proto.RaftProtos.RaftPeerRole.LISTENER));
              leader
                  .raftClient()
                  .admin()
                  .setConfiguration(
                      org.apache.ratis.protocol.SetConfigurationRequest.Arguments.newBuilder()
                          .setServersInNewConf(
                              cluster.peers().stream()
                                  .map(
                                      p ->
                                          RaftPeers.toRaftPeer(
                                              p,
                                              org.apache.ratis.proto.RaftProtos.RaftPeerRole
                                                  .FOLLOWER))
                                  .toList())
                          .setListenersInNewConf(listeners)
                          .build());
            } catch (IOException | RuntimeException e) {
              // The test ends (and closes the cluster) first.
            }
          });
      LocalCluster.await(T, () -> failures("n4") >= 1, "n4's first failed install");
      String why = cluster.installer("n4").lastReport().outcome();
      assertTrue(why.contains("no peer's chunk service could be reached"), why);
      long first = System.nanoTime();
      LocalCluster.await(T, () -> failures("n4") >= 4, "n4's fourth failed install");
      long tookMs = (System.nanoTime() - first) / 1_000_000;
      // Four attempts after waits of 0.25 + 0.5 + 1 s at least; without backoff they took about
      // 150 ms. A slow machine only makes this longer.
      assertTrue(tookMs >= 1_750, "3 retries in " + tookMs + " ms");
      System.out.println("n4: 3 retries took " + tookMs + " ms; " + why);
    }
  }

  private long failures(String id) {
    return cluster.server(id).metrics().counter("ferry.install.outcome.failure").getCount();
  }

  @Test
  void aPeerWithTheWrongSecretIsRefused() throws Exception {
    start();
    FerryServer s = cluster.server("n1");
    int port = s.self().chunkPort();
    ExecutionException e =
        assertThrows(
            ExecutionException.class,
            () ->
                ChunkClient.builder()
                    .peer("n1", "127.0.0.1", port)
                    .selfId("intruder")
                    .secret("this is not the cluster secret".getBytes(StandardCharsets.UTF_8))
                    .connect()
                    .get(30, TimeUnit.SECONDS));
    assertTrue(e.getCause() instanceof ChunkAuthException, "refused: " + e.getCause());
    LocalCluster.await(
        T,
        () -> s.chunkServer().orElseThrow().stats().connectionsRefused() >= 1,
        "the refusal to be counted");
    // The right secret still works.
    try (ChunkClient good =
        ChunkClient.builder()
            .peer("n1", "127.0.0.1", port)
            .selfId("n2")
            .secret(cluster.secret().bytes())
            .connect()
            .get(30, TimeUnit.SECONDS)) {
      good.listManifests(0).get(30, TimeUnit.SECONDS);
    }
  }

  @Test
  void losingASourceHalfwayCompletesFromTheOthers() throws Exception {
    start(3_000_000);
    String f = cluster.follower(T);
    String leader = cluster.leader(T);
    try (KvClient c = cluster.client(T)) {
      load(c);
      cluster.wipeAndLeaveBehind(f, leader, c, T);
    }
    cluster.start(f);
    LocalCluster.await(
        T,
        () -> completeness(f) > 0.25 && completeness(f) < 0.75,
        f + " to be a quarter through (not done)");
    String source =
        cluster.running().stream()
            .filter(id -> !id.equals(leader) && !id.equals(f))
            .findFirst()
            .orElseThrow();
    cluster.stop(source);
    LocalCluster.await(
        T,
        () ->
            cluster.installer(f).lastReport() != null
                && cluster.installer(f).lastReport().success(),
        f + " to finish installing from the remaining source");
    InstallReport r = cluster.installer(f).lastReport();
    assertTrue(r.bytesPerSource().get(leader) > 0, "the leader took over: " + r);
    // The wiped node rejoins as a listener (it was demoted): the stopped source is needed for a
    // quorum again before the node can be verified and promoted.
    cluster.start(source);
    assertConverged();
  }

  @Test
  void aNewerSnapshotMidInstallIsFollowedWithoutRefetching() throws Exception {
    start(500_000);
    String f = cluster.follower(T);
    String leader = cluster.leader(T);
    // Any log kept is over budget: the install moves to a newer baseline as soon as one exists.
    cluster.setInstallHoldBudget(1);
    try (KvClient c = cluster.client(T)) {
      load(c);
      capture(c);
      cluster.wipeAndLeaveBehind(f, leader, c, T);
      long baseline = cluster.replica(leader).latestManifest().orElseThrow().index();
      cluster.start(f);
      LocalCluster.await(
          T,
          () -> completeness(f) > 0.2 && completeness(f) < 0.7,
          f + " to be a fifth through (not done)");
      // While the follower installs the old baseline, the cluster moves on.
      Random rnd = new Random(3);
      List<byte[][]> updates = new ArrayList<>();
      for (int i = 0; i < KEYS / 100; i++) {
        byte[] v = new byte[1024];
        rnd.nextBytes(v);
        updates.add(new byte[][] {key(rnd.nextInt(KEYS)), v});
      }
      c.putAll(updates);
      capture(c, List.of(leader));
      long newer = cluster.replica(leader).latestManifest().orElseThrow().index();
      assertTrue(newer > baseline, "a newer snapshot exists");
      assertTrue(successes(f) == 0, "the first baseline was still installing when it appeared");
      LocalCluster.await(T, () -> successes(f) >= 1, f + " to install");
      InstallReport r = cluster.installer(f).lastReport();
      assertTrue(r.success() && r.index() >= newer, "installed the newer baseline: " + r);
      assertEquals(1, cluster.installer(f).metrics().rebases(), "one rebase: " + r);
      long fetched = cluster.server(f).metrics().meter("ferry.install.bytes.fetched").getCount();
      assertTrue(
          fetched <= 1.1 * r.bytesWanted(),
          "chunks fetched for the first baseline were not fetched again: " + fetched + ", " + r);
    }
    assertConverged();
  }

  @Test
  void anInstallSurvivesALeaderChange() throws Exception {
    start(1_000_000);
    String f = cluster.follower(T);
    String leader = cluster.leader(T);
    String other =
        cluster.running().stream()
            .filter(id -> !id.equals(leader) && !id.equals(f))
            .findFirst()
            .orElseThrow();
    try (KvClient c = cluster.client(T)) {
      load(c);
      cluster.wipeAndLeaveBehind(f, leader, c, T);
      cluster.start(f);
      LocalCluster.await(
          T,
          () -> completeness(f) > 0.2 && completeness(f) < 0.7,
          f + " to be a fifth through (not done)");
      c.raftClient()
          .admin()
          .transferLeadership(org.apache.ratis.protocol.RaftPeerId.valueOf(other), 30_000);
      assertEquals(other, cluster.leader(T), "leadership moved");
      assertEquals(0, successes(f), "the install was still running when leadership moved");
    }
    LocalCluster.await(
        T,
        () ->
            cluster.installer(f).lastReport() != null
                && cluster.installer(f).lastReport().success(),
        f + " to finish its install under the new leader");
    assertConverged();
  }

  @Test
  void rawShippingOfACompressibleStateInstallsTheSameState() throws Exception {
    start();
    String f = cluster.follower(T);
    try (KvClient c = cluster.client(T)) {
      List<byte[][]> batch = new ArrayList<>();
      for (int i = 0; i < KEYS; i++) {
        byte[] v = new byte[1024];
        java.util.Arrays.fill(v, (byte) ('a' + i % 26)); // compresses well
        batch.add(new byte[][] {key(i), v});
        if (batch.size() == 100) {
          c.putAll(batch);
          batch = new ArrayList<>();
        }
      }
      cluster.wipeAndLeaveBehind(f, cluster.leader(T), c, T);
    }
    cluster.setShipping(dev.ferry.shipping.install.Shipping.RAW);
    cluster.start(f);
    LocalCluster.await(
        T,
        () ->
            cluster.installer(f).lastReport() != null
                && cluster.installer(f).lastReport().success(),
        f + " to install a snapshot");
    InstallReport r = cluster.installer(f).lastReport();
    assertTrue(
        r.bytesFetched() > 2 * r.bytesWanted(),
        "raw chunks are larger on the wire than stored ones: " + r);
    assertConverged();
  }
}
