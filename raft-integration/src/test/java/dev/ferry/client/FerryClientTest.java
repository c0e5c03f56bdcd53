package dev.ferry.client;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.client.internal.RetryLoop;
import dev.ferry.shipping.PeerAddress;
import dev.ferry.statemachine.ClientId;
import dev.ferry.statemachine.ReplyStatus;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The client's session and retries against {@link FakeCluster}, on a fake clock. */
class FerryClientTest {
  private final FakeCluster cluster = new FakeCluster();
  private final AtomicLong now = new AtomicLong();
  private final RetryLoop loop = new RetryLoop(now::get, now::addAndGet);
  private final FerryClient client =
      new FerryClient(cluster, loop, ClientId.random(), Duration.ofSeconds(10), Runnable::run);

  @AfterEach
  void close() {
    client.close();
  }

  private static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static long value(byte[] reply) {
    return ByteBuffer.wrap(reply).getLong();
  }

  @Test
  void aCommandWhoseReplyIsLostIsRetriedAndAppliedOnce() {
    cluster.fault(FakeCluster.Fault.LOSE_REPLY);
    cluster.fault(FakeCluster.Fault.DROP_REQUEST);
    cluster.fault(FakeCluster.Fault.LOSE_REPLY);
    assertEquals(1, value(client.submit(b("inc"))), "the stored reply of the first apply");
    assertEquals(1, cluster.counter(), "applied once");
    assertEquals(4, cluster.writes());
    assertEquals(2, value(client.submit(b("inc"))));
  }

  @Test
  void eachCommandAcknowledgesTheRepliesReceivedBeforeIt() {
    client.submit(b("inc"));
    client.submit(b("inc"));
    client.submit(b("inc"));
    List<long[]> e = cluster.entries();
    assertEquals(List.of("1/1", "2/2", "3/3"), e.stream().map(x -> x[0] + "/" + x[1]).toList());
  }

  @Test
  void aCommandWithUnknownOutcomeStaysUnacknowledged() {
    client.submit(b("inc"));
    for (int i = 0; i < 100; i++) {
      cluster.fault(FakeCluster.Fault.LOSE_REPLY); // applied, but no reply ever arrives
    }
    OutcomeUnknownException e =
        assertThrows(
            OutcomeUnknownException.class, () -> client.submit(b("inc"), Duration.ofSeconds(1)));
    assertInstanceOf(RetryLoop.DeadlineExceeded.class, e.getCause());
    assertTrue(e.getMessage().contains("command 2 of session"), e.getMessage());
    assertEquals(2, cluster.counter(), "applied once, however often it was sent");
    cluster.clearFaults();
    client.submit(b("inc"));
    long[] last = cluster.entries().get(cluster.entries().size() - 1);
    assertEquals(3, last[0]);
    assertEquals(2, last[1], "firstUnacked stays at the command whose outcome is unknown");
  }

  @Test
  void aDeadlineWhileTheClusterIsDownIsAnUnknownOutcomeForACommand() {
    cluster.down(true);
    long start = now.get();
    assertThrows(OutcomeUnknownException.class, () -> client.submit(b("inc")));
    assertEquals(Duration.ofSeconds(10).toNanos(), now.get() - start, "retried until the deadline");
    assertEquals(0, cluster.counter());
    assertThrows(ClusterUnavailableException.class, () -> client.query(b("get")));
    assertThrows(
        ClusterUnavailableException.class,
        () -> client.queryStale(b("get"), "n2", Duration.ofSeconds(1)));
  }

  @Test
  void aRefusalRecordedByTheReplicasSurfacesWithItsStatusAndIsAcknowledged() {
    CommandRejectedException e =
        assertThrows(CommandRejectedException.class, () -> client.submit(b("boom")));
    assertEquals(ReplyStatus.APPLY_FAILED, e.status());
    assertEquals("apply failed: boom", e.reason());
    assertEquals(1, cluster.writes(), "a refusal is not retried");
    client.submit(b("inc"));
    assertEquals(2, cluster.entries().get(1)[1], "the refused command was acknowledged");
  }

  @Test
  void anExpiredSessionSurfacesAsSessionExpired() {
    client.submit(b("inc"));
    cluster.expireSessions();
    SessionExpiredException e =
        assertThrows(SessionExpiredException.class, () -> client.submit(b("inc")));
    assertEquals(ReplyStatus.SESSION_EXPIRED, e.status());
    assertEquals(1, cluster.counter());
  }

  @Test
  void queriesReturnTheStateMachinesBytesAndAFailingQueryIsRejected() {
    client.submit(b("inc"));
    assertArrayEquals(b("1"), client.query(b("get")));
    assertArrayEquals(b("n3:1"), client.queryStale(b("get"), "n3"));
    CommandRejectedException e =
        assertThrows(CommandRejectedException.class, () -> client.query(b("nonsense")));
    assertEquals(ReplyStatus.APPLY_FAILED, e.status());
  }

  @Test
  void asyncCallsCompleteWithTheReplyOrFailWithTheSameExceptions() throws Exception {
    assertEquals(1, value(client.submitAsync(b("inc")).get()));
    assertArrayEquals(b("1"), client.queryAsync(b("get")).get());
    CompletableFuture<byte[]> rejected = client.submitAsync(b("boom"));
    ExecutionException e = assertThrows(ExecutionException.class, rejected::get);
    assertInstanceOf(CommandRejectedException.class, e.getCause());
    cluster.down(true);
    ExecutionException unknown =
        assertThrows(
            ExecutionException.class,
            () -> client.submitAsync(b("inc"), Duration.ofSeconds(1)).get());
    assertInstanceOf(OutcomeUnknownException.class, unknown.getCause());
  }

  @Test
  void manyThreadsShareOneSessionAndEveryCommandAppliesOnce() throws Exception {
    FakeCluster lossy = new FakeCluster();
    Random rnd = new Random(3);
    for (int i = 0; i < 400; i++) {
      lossy.fault(
          rnd.nextBoolean() ? FakeCluster.Fault.LOSE_REPLY : FakeCluster.Fault.DROP_REQUEST);
    }
    try (FerryClient c =
        new FerryClient(
            lossy,
            new RetryLoop(System::nanoTime, nanos -> {}),
            ClientId.random(),
            Duration.ofMinutes(1),
            null)) {
      ExecutorService pool = Executors.newFixedThreadPool(8);
      try {
        List<Future<Long>> replies = new ArrayList<>();
        for (int i = 0; i < 800; i++) {
          replies.add(pool.submit(() -> value(c.submit(b("inc")))));
        }
        Set<Long> seen = new HashSet<>();
        for (Future<Long> f : replies) {
          assertTrue(seen.add(f.get(60, TimeUnit.SECONDS)), "each reply is a distinct value");
        }
      } finally {
        pool.shutdown();
      }
    }
    assertEquals(800, lossy.counter());
    for (long[] e : lossy.entries()) {
      assertTrue(e[1] <= e[0], "firstUnacked " + e[1] + " <= seq " + e[0]);
    }
  }

  @Test
  void aClosedClientRefusesCalls() {
    client.close();
    client.close();
    assertThrows(IllegalStateException.class, () -> client.submit(b("inc")));
    assertThrows(IllegalStateException.class, () -> client.query(b("get")));
    assertThrows(IllegalStateException.class, () -> client.submitAsync(b("inc")));
  }

  @Test
  void misuseFailsAtOnce() {
    assertThrows(NullPointerException.class, () -> client.submit(null));
    assertThrows(IllegalArgumentException.class, () -> client.submit(b("x"), Duration.ZERO));
    assertThrows(IllegalArgumentException.class, () -> client.unwrap(String.class));
    List<PeerAddress> peers = List.of(PeerAddress.of("n1", "127.0.0.1", 9100));
    assertThrows(IllegalStateException.class, () -> FerryClient.builder().peers(peers).build());
    assertThrows(
        IllegalArgumentException.class,
        () -> FerryClient.builder().clusterName(" ").peers(peers).build());
    assertThrows(
        IllegalArgumentException.class,
        () -> FerryClient.builder().clusterName("c").peers(List.of()).build());
    assertThrows(
        IllegalArgumentException.class,
        () ->
            FerryClient.builder()
                .clusterName("c")
                .peers(List.of(peers.get(0), PeerAddress.of("n1", "127.0.0.2", 9100)))
                .build());
    IllegalArgumentException d =
        assertThrows(
            IllegalArgumentException.class,
            () ->
                FerryClient.builder()
                    .clusterName("c")
                    .peers(peers)
                    .deadline(Duration.ofSeconds(-1))
                    .build());
    assertTrue(d.getMessage().contains("PT-1S"), d.getMessage());
  }

  /** A client of {@link #cluster} whose attempts may reach the nodes {@code peers}. */
  private FerryClient clientOfPeers(String... peers) {
    return new FerryClient(
        cluster, Set.of(peers), loop, ClientId.random(), Duration.ofSeconds(10), Runnable::run);
  }

  @Test
  void aCommandEveryPeerAnswersNotHereFailsAtOnceAndItsSequenceIsForgotten() {
    try (FerryClient c = clientOfPeers("a", "b", "c")) {
      cluster.answers(List.of("a", "b", "c"));
      NotHereException e = assertThrows(NotHereException.class, () -> c.submit(b("inc")));
      assertTrue(e.reachedNoReplica(), "every send was answered not here");
      assertTrue(now.get() < Duration.ofSeconds(10).toNanos(), "before the deadline");
      assertEquals(0, cluster.counter());
      cluster.answers(List.of());
      assertEquals(1, value(c.submit(b("inc"))));
      assertEquals(2, cluster.entries().get(0)[1], "sequence 1 no longer unacknowledged");
    }
  }

  @Test
  void aCommandSomePeersAnswerNotHereAndOthersNotAtAllRunsToItsDeadline() {
    try (FerryClient c = clientOfPeers("a", "b", "c")) {
      cluster.answers(List.of("a", "-", "c"));
      OutcomeUnknownException e =
          assertThrows(OutcomeUnknownException.class, () -> c.submit(b("inc")));
      assertTrue(now.get() >= Duration.ofSeconds(10).toNanos(), "at the deadline");
      assertInstanceOf(RetryLoop.DeadlineExceeded.class, e.getCause());
      cluster.answers(List.of());
      c.submit(b("inc"));
      assertEquals(1, cluster.entries().get(0)[1], "sequence 1 stays unacknowledged");
    }
  }

  @Test
  void aStaleReadEndsAtOnceWhenItsNodeAnswersNotHere() {
    try (FerryClient c = clientOfPeers("a", "b", "c")) {
      cluster.answers(List.of("b"));
      assertThrows(NotHereException.class, () -> c.queryStale(b("get"), "b"));
      assertEquals(0, now.get(), "no retry");
    }
  }
}
