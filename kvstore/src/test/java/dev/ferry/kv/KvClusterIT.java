package dev.ferry.kv;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.kv.internal.KvCodec;
import dev.ferry.kv.testing.LocalCluster;
import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.ChunkRef;
import dev.ferry.snapshot.format.Manifest;
import dev.ferry.snapshot.format.ManifestCodec;
import dev.ferry.statemachine.ClientId;
import dev.ferry.statemachine.CommandCodec;
import dev.ferry.statemachine.DigestAt;
import dev.ferry.statemachine.Reply;
import dev.ferry.statemachine.ReplyStatus;
import dev.ferry.statemachine.StateMachineConfig;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A 3-node cluster in this JVM: real Ratis servers over gRPC on loopback. */
class KvClusterIT {
  private static final Duration T = Duration.ofSeconds(60);

  @TempDir Path dir;
  private LocalCluster cluster;

  @AfterEach
  void tearDown() throws Exception {
    if (cluster != null) {
      cluster.close();
    }
  }

  private static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static StateMachineConfig captureEvery(long entries) {
    return StateMachineConfig.defaults().withCaptureEvery(entries, 1L << 40);
  }

  @Test
  void writesReplicateAndSingleClientHistoryIsLinearizable() throws Exception {
    cluster = LocalCluster.start(dir, 3, captureEvery(1_000_000));
    Map<String, String> model = new HashMap<>();
    Random rnd = new Random(7);
    try (KvClient c = cluster.client(T)) {
      for (int i = 0; i < 300; i++) {
        String k = "k" + rnd.nextInt(20);
        switch (rnd.nextInt(4)) {
          case 0 -> {
            String v = "v" + i;
            assertEquals(model.containsKey(k), c.put(b(k), b(v)), "put existed? op " + i);
            model.put(k, v);
          }
          case 1 -> assertEquals(model.remove(k) != null, c.delete(b(k)), "delete op " + i);
          case 2 -> {
            String expected = model.get(k);
            String v = "c" + i;
            KvClient.CasResult r =
                c.compareAndSet(b(k), expected == null ? null : b(expected), b(v));
            assertTrue(r.success(), "cas with the current value must succeed, op " + i);
            model.put(k, v);
            KvClient.CasResult stale = c.compareAndSet(b(k), b("nope"), b("x"));
            assertFalse(stale.success());
            assertArrayEquals(b(v), stale.current());
          }
          default -> {
            byte[] got = c.get(b(k));
            String expected = model.get(k);
            if (expected == null) {
              assertNull(got, "get op " + i);
            } else {
              assertArrayEquals(b(expected), got, "get op " + i);
            }
          }
        }
      }
      Map<byte[], byte[]> scan = c.scan(b("k"), b("l"), 1000);
      assertEquals(model.size(), scan.size());
      // A command that throws in apply fails alike on every replica, which stay consistent.
      c.put(b("text"), b("not a counter"));
      KvException e = assertThrows(KvException.class, () -> c.increment(b("text"), 1));
      assertEquals(ReplyStatus.APPLY_FAILED, e.status());
      assertArrayEquals(b("not a counter"), c.get(b("text")));
    }
    // Every replica converges to the same state and digest.
    DigestAt leader = cluster.replica(cluster.leader(T)).digest().get();
    for (String id : cluster.running()) {
      LocalCluster.await(
          T,
          () -> cluster.replica(id).appliedIndex() >= leader.index(),
          id + " to apply " + leader.index());
    }
    assertDigestsEqualAtCheckpoint(1);
  }

  @Test
  void restartedFollowerCatchesUpFromTheLogWithAnEqualDigest() throws Exception {
    cluster = LocalCluster.start(dir, 3, captureEvery(1_000_000));
    String leader = cluster.leader(T);
    String follower = cluster.running().stream().filter(id -> !id.equals(leader)).findFirst().get();
    try (KvClient c = cluster.client(T)) {
      for (int i = 0; i < 100; i++) {
        c.put(b("a" + i), b("v" + i));
      }
      cluster.stop(follower);
      for (int i = 0; i < 200; i++) {
        c.put(b("b" + i), b("w" + i));
      }
      cluster.start(follower);
      c.put(b("after"), b("restart"));
    }
    assertDigestsEqualAtCheckpoint(2);
    assertEquals(301 + 1, cluster.stateMachine(follower).size()); // + the readiness key
  }

  @Test
  void aDuplicatedRequestIsAppliedOnce() throws Exception {
    cluster = LocalCluster.start(dir, 3, captureEvery(1_000_000));
    byte[] counter = b("counter");
    int acknowledged = 0;
    try (KvClient c = cluster.client(T)) {
      for (int i = 0; i < 20; i++) {
        c.increment(counter, 1);
        acknowledged++;
      }
      // A raw retry: the same session and sequence number delivered twice, across a leader change.
      ClientId session = ClientId.random();
      byte[] cmd = CommandCodec.userCommand(session, 1, 1, KvCodec.increment(counter, 1));
      RaftClientReply first = c.raftClient().io().send(Message.valueOf(ByteString.copyFrom(cmd)));
      acknowledged++;
      String oldLeader = cluster.leader(T);
      String next =
          cluster.running().stream().filter(id -> !id.equals(oldLeader)).findFirst().get();
      c.raftClient()
          .admin()
          .transferLeadership(org.apache.ratis.protocol.RaftPeerId.valueOf(next), 20_000);
      RaftClientReply second = c.raftClient().io().send(Message.valueOf(ByteString.copyFrom(cmd)));
      Reply r1 = CommandCodec.decodeReply(first.getMessage().getContent().toByteArray());
      Reply r2 = CommandCodec.decodeReply(second.getMessage().getContent().toByteArray());
      assertEquals(ReplyStatus.OK, r1.status());
      assertArrayEquals(r1.payload(), r2.payload(), "a duplicate gets the stored reply");
      long value = ByteBuffer.wrap(c.get(counter)).getLong();
      assertEquals(acknowledged, value, "counter = acknowledged increments");
    }
  }

  @Test
  void replicasProduceByteIdenticalManifestsAndDigests() throws Exception {
    cluster = LocalCluster.start(dir, 3, captureEvery(400));
    try (KvClient c = cluster.client(T)) {
      for (int i = 0; i < 1000; i++) {
        c.put(b(String.format(Locale.ROOT, "key-%05d", i)), new byte[100 + (i % 50)]);
      }
    }
    for (String id : cluster.running()) {
      LocalCluster.await(
          T,
          () ->
              cluster.replica(id).manifests().size() >= 2
                  && cluster.replica(id).pendingCaptures() == 0,
          id + " to capture two snapshots");
    }
    Map<Long, byte[]> reference = new HashMap<>();
    for (Manifest m : cluster.replica("n1").manifests()) {
      reference.put(m.index(), ManifestCodec.encode(m));
    }
    int compared = 0;
    for (String id : List.of("n2", "n3")) {
      for (Manifest m : cluster.replica(id).manifests()) {
        byte[] ref = reference.get(m.index());
        if (ref != null) {
          assertArrayEquals(ref, ManifestCodec.encode(m), id + " manifest at " + m.index());
          compared++;
        }
      }
    }
    assertTrue(compared >= 2, "compared " + compared + " manifests");
  }

  @Test
  void randomUpdatesToOnePercentOfKeysCostAFewPercentOfTheSnapshot() throws Exception {
    int keys = 20_000;
    cluster = LocalCluster.start(dir, 3, captureEvery(1_000_000));
    Random rnd = new Random(11);
    String leader = cluster.leader(T);
    try (KvClient c = cluster.client(T)) {
      loadInParallel(c, keys);
      byte[] value = new byte[1024];
      Manifest base = capture(c, leader);
      for (int i = 0; i < keys / 100; i++) {
        rnd.nextBytes(value);
        c.put(b(String.format(Locale.ROOT, "key-%08d", rnd.nextInt(keys))), value.clone());
      }
      Manifest next = capture(c, leader);
      Set<ChunkId> old = new HashSet<>();
      base.allChunks().forEach(r -> old.add(r.id()));
      long newBytes = 0;
      for (ChunkRef r : next.allChunks()) {
        if (!old.contains(r.id())) {
          newBytes += r.rawSize();
        }
      }
      double fraction = (double) newBytes / next.rawBytes();
      assertTrue(
          fraction < 0.05,
          "new chunks are " + newBytes + " of " + next.rawBytes() + " bytes (" + fraction + ")");
    }
  }

  /**
   * Writes keys {@code key-00000000..} with random 1 KiB values from 8 threads, 100 keys per
   * command (the chunks a capture makes depend on the state, not on how it was written).
   */
  private static void loadInParallel(KvClient c, int keys) throws Exception {
    int threads = 8;
    java.util.concurrent.ExecutorService pool =
        java.util.concurrent.Executors.newFixedThreadPool(threads);
    try {
      List<java.util.concurrent.Future<?>> done = new java.util.ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int first = t;
        done.add(
            pool.submit(
                () -> {
                  Random r = new Random(first);
                  List<byte[][]> batch = new java.util.ArrayList<>();
                  for (int i = first; i < keys; i += threads) {
                    byte[] v = new byte[1024];
                    r.nextBytes(v);
                    batch.add(new byte[][] {b(String.format(Locale.ROOT, "key-%08d", i)), v});
                    if (batch.size() == 100) {
                      c.putAll(batch);
                      batch = new java.util.ArrayList<>();
                    }
                  }
                  if (!batch.isEmpty()) {
                    c.putAll(batch);
                  }
                  return null;
                }));
      }
      for (java.util.concurrent.Future<?> f : done) {
        f.get();
      }
    } finally {
      pool.shutdown();
    }
  }

  /** Forces a capture through the log and waits until the leader's snapshot is durable. */
  private Manifest capture(KvClient c, String leader) throws Exception {
    RaftClientReply r =
        c.raftClient()
            .io()
            .send(Message.valueOf(ByteString.copyFrom(CommandCodec.captureCommand())));
    long index = r.getLogIndex();
    LocalCluster.await(
        T,
        () -> cluster.replica(leader).latestManifest().map(Manifest::index).orElse(-1L) == index,
        "capture at " + index);
    return cluster.replica(leader).latestManifest().orElseThrow();
  }

  /** Writes a digest checkpoint through the log; every running replica must record the same. */
  private void assertDigestsEqualAtCheckpoint(long id) throws Exception {
    try (KvClient c = cluster.client(T)) {
      RaftClientReply r =
          c.raftClient()
              .io()
              .send(Message.valueOf(ByteString.copyFrom(CommandCodec.digestCheckpoint(id))));
      assertTrue(r.isSuccess());
    }
    DigestAt expected = null;
    for (String id2 : cluster.running()) {
      LocalCluster.await(
          T, () -> cluster.replica(id2).checkpoint(id).isPresent(), id2 + " checkpoint " + id);
      Optional<DigestAt> d = cluster.replica(id2).checkpoint(id);
      if (expected == null) {
        expected = d.get();
      } else {
        assertEquals(expected, d.get(), id2 + " digest at checkpoint " + id);
      }
    }
  }
}
