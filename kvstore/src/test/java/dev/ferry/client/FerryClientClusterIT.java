package dev.ferry.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.client.internal.RaftTransport;
import dev.ferry.client.internal.RetryLoop;
import dev.ferry.client.internal.Transport;
import dev.ferry.kv.internal.KvCodec;
import dev.ferry.kv.testing.LocalCluster;
import dev.ferry.raft.RaftPeers;
import dev.ferry.statemachine.ClientId;
import dev.ferry.statemachine.ReplyStatus;
import dev.ferry.statemachine.StateMachineConfig;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@link FerryClient} against a 3-node key-value cluster in this JVM (real Ratis servers over gRPC
 * on loopback); the commands are the store's {@link KvCodec} bytes. In package {@code
 * dev.ferry.client} (of another module) to build a client over a transport that loses replies.
 */
class FerryClientClusterIT {
  private static final Duration T = Duration.ofSeconds(60);
  private static final byte[] COUNTER = "counter".getBytes(StandardCharsets.UTF_8);

  @TempDir Path dir;
  private LocalCluster cluster;

  @BeforeEach
  void start() throws IOException {
    cluster = LocalCluster.start(dir, 3, StateMachineConfig.defaults());
  }

  @AfterEach
  void tearDown() throws IOException {
    cluster.close();
  }

  private FerryClient client(Duration deadline) {
    return FerryClient.builder()
        .clusterName(cluster.clusterName())
        .peers(cluster.peers())
        .deadline(deadline)
        .build();
  }

  private static long counterIn(byte[] getReply) {
    KvCodec.ValueReply r = KvCodec.decodeValueReply(getReply);
    assertTrue(r.success(), "the counter exists");
    return ByteBuffer.wrap(r.value()).getLong();
  }

  /** The real transport, but the replies to the first {@code lose} writes never arrive. */
  private static final class LosingReplies implements Transport {
    private final Transport real;
    private final AtomicInteger lose;
    private final AtomicInteger writes = new AtomicInteger();

    LosingReplies(Transport real, int lose) {
      this.real = real;
      this.lose = new AtomicInteger(lose);
    }

    @Override
    public Written write(byte[] entry) throws IOException {
      writes.incrementAndGet();
      Written w = real.write(entry);
      if (lose.getAndDecrement() > 0) {
        throw new IOException("reply lost (test)");
      }
      return w;
    }

    @Override
    public byte[] read(byte[] query) throws IOException {
      return real.read(query);
    }

    @Override
    public byte[] readStale(byte[] query, long minIndex, String nodeId) throws IOException {
      return real.readStale(query, minIndex, nodeId);
    }

    @Override
    public void close() throws IOException {
      real.close();
    }
  }

  @Test
  void aCommandWhoseReplyIsLostIsRetriedAndAppliedOnce() throws Exception {
    LosingReplies t =
        new LosingReplies(
            RaftTransport.connect(RaftPeers.group(cluster.clusterName(), cluster.peers()), null),
            2);
    try (FerryClient c = new FerryClient(t, RetryLoop.system(), ClientId.random(), T, null)) {
      byte[] reply = c.submit(KvCodec.increment(COUNTER, 5));
      assertEquals(3, t.writes.get(), "sent three times");
      assertEquals(5, ByteBuffer.wrap(reply).getLong(), "the reply of the one apply");
      assertEquals(5, counterIn(c.query(KvCodec.get(COUNTER))), "applied once");
      assertEquals(6, ByteBuffer.wrap(c.submit(KvCodec.increment(COUNTER, 1))).getLong());
    }
  }

  @Test
  void aLeaderChangeMidStreamLosesNoAcknowledgedWrite() throws Exception {
    List<Long> replies = new ArrayList<>();
    AtomicBoolean running = new AtomicBoolean(true);
    try (FerryClient c = client(T)) {
      CompletableFuture<Void> writer =
          CompletableFuture.runAsync(
              () -> {
                while (running.get()) {
                  long v = ByteBuffer.wrap(c.submit(KvCodec.increment(COUNTER, 1))).getLong();
                  synchronized (replies) {
                    replies.add(v);
                  }
                }
              });
      for (int round = 0; round < 2; round++) {
        int before = acknowledged(replies);
        LocalCluster.await(T, () -> acknowledged(replies) >= before + 50, "50 more increments");
        String leader = cluster.leader(T);
        cluster.stop(leader); // replies in flight from it are lost; the client retries elsewhere
        int during = acknowledged(replies);
        LocalCluster.await(
            T, () -> acknowledged(replies) >= during + 50, "50 increments without " + leader);
        cluster.start(leader);
      }
      running.set(false);
      writer.get(T.toSeconds(), TimeUnit.SECONDS); // an unknown outcome would fail it
      List<Long> expected = new ArrayList<>();
      for (long i = 1; i <= replies.size(); i++) {
        expected.add(i);
      }
      assertEquals(expected, replies, "each increment applied once, in order");
      assertEquals(replies.size(), counterIn(c.query(KvCodec.get(COUNTER))));
    }
  }

  private static int acknowledged(List<Long> replies) {
    synchronized (replies) {
      return replies.size();
    }
  }

  @Test
  void aCommandTheStateMachineRefusesSurfacesItsStatus() {
    try (FerryClient c = client(T)) {
      c.submit(KvCodec.put(COUNTER, "not a counter".getBytes(StandardCharsets.UTF_8)));
      CommandRejectedException e =
          assertThrows(
              CommandRejectedException.class, () -> c.submit(KvCodec.increment(COUNTER, 1)));
      assertEquals(ReplyStatus.APPLY_FAILED, e.status());
      assertTrue(e.reason().contains("apply failed"), e.reason());
      CommandRejectedException q =
          assertThrows(CommandRejectedException.class, () -> c.query(new byte[] {0x7f}));
      assertEquals(ReplyStatus.APPLY_FAILED, q.status());
      assertArrayEquals(
          "not a counter".getBytes(StandardCharsets.UTF_8),
          KvCodec.decodeValueReply(c.query(KvCodec.get(COUNTER))).value());
    }
  }

  @Test
  void aDeadlineWithoutAQuorumIsAnUnknownOutcome() throws Exception {
    try (FerryClient c = client(T)) {
      c.submit(KvCodec.put(COUNTER, new byte[0]));
      String leader = cluster.leader(T);
      for (String id : cluster.running()) {
        if (!id.equals(leader)) {
          cluster.stop(id);
        }
      }
      byte[] other = "other".getBytes(StandardCharsets.UTF_8);
      assertThrows(
          OutcomeUnknownException.class,
          () -> c.submit(KvCodec.put(other, new byte[1]), Duration.ofSeconds(2)));
      assertThrows(
          ClusterUnavailableException.class,
          () -> c.query(KvCodec.get(COUNTER), Duration.ofSeconds(2)));
      for (String id : List.of("n1", "n2", "n3")) {
        if (!cluster.running().contains(id)) {
          cluster.start(id);
        }
      }
      // The unknown write may have applied after all (its entry may be in the leader's log): the
      // client only promised not to know.
      byte[] after = KvCodec.decodeValueReply(c.query(KvCodec.get(other))).value();
      assertTrue(after == null || after.length == 1, "absent or the value written");
      assertNull(
          KvCodec.decodeValueReply(c.query(KvCodec.get("never".getBytes(StandardCharsets.UTF_8))))
              .value());
    }
  }
}
