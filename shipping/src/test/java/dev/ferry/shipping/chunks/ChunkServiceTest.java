package dev.ferry.shipping.chunks;

import static dev.ferry.shipping.chunks.ChunkFixture.await;
import static dev.ferry.shipping.chunks.ChunkFixture.failure;
import static dev.ferry.shipping.chunks.ChunkFixture.join;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.shipping.chunks.ChunkFixture.Outcomes;
import dev.ferry.shipping.net.Handshake;
import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.ChunkRef;
import dev.ferry.snapshot.format.Manifest;
import dev.ferry.snapshot.format.ManifestFormatException;
import dev.ferry.snapshot.store.ChunkStore;
import dev.ferry.snapshot.store.Lease;
import dev.ferry.snapshot.store.LeaseExpiredException;
import dev.ferry.snapshot.transport.ChunkTransport.FetchListener;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assertions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;

class ChunkServiceTest {
  @TempDir Path dir;
  private ChunkFixture fx;

  @BeforeEach
  void setUp() throws IOException {
    fx = new ChunkFixture(dir);
  }

  @AfterEach
  void tearDown() throws Exception {
    fx.close();
  }

  @Test
  void adminRequestsReachTheirGroupsHandlerWithProgressInOrderAndLateProgressDropped()
      throws IOException {
    ChunkServer server = fx.start(fx.serverBuilder("n1"));
    ChunkClient client = fx.connect(fx.clientBuilder(server, "n2"));
    // No group served yet: unavailable (a node still starting), the connection stays.
    ChunkRequestException starting =
        assertInstanceOf(
            ChunkRequestException.class,
            failure(client.admin("g1", new AdminMessage(1, new byte[0]), p -> {})));
    assertEquals(ChunkRequestException.Code.UNAVAILABLE, starting.code());

    List<java.util.function.Consumer<AdminMessage>> late = new ArrayList<>();
    AdminHandler echo =
        (peer, request, progress) -> {
          progress.accept(new AdminMessage(7, new byte[] {1}));
          progress.accept(new AdminMessage(7, new byte[] {2}));
          late.add(progress);
          return CompletableFuture.completedFuture(
              new AdminMessage(
                  request.kind() + 1,
                  (peer + ":" + request.body().length).getBytes(StandardCharsets.UTF_8)));
        };
    server.serveAdmin("g1", echo);
    assertThrows(IllegalStateException.class, () -> server.serveAdmin("g1", echo));
    assertThrows(IllegalArgumentException.class, () -> server.serveAdmin("g/1", echo));

    List<Integer> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
    AdminMessage reply =
        join(
            client.admin("g1", new AdminMessage(4, new byte[3]), p -> seen.add((int) p.body()[0])));
    assertEquals(5, reply.kind());
    assertEquals("n2:3", new String(reply.body(), StandardCharsets.UTF_8));
    assertEquals(List.of(1, 2), seen, "both progress messages, in order, before the answer");

    // Progress after the answer is dropped: the connection serves on.
    late.get(0).accept(new AdminMessage(7, new byte[] {3}));
    assertEquals(5, join(client.admin("g1", new AdminMessage(4, new byte[0]), p -> {})).kind());
    assertEquals(List.of(1, 2), seen, "the late progress reached no one");

    // Another group: refused by name, the connection stays.
    ChunkRequestException other =
        assertInstanceOf(
            ChunkRequestException.class,
            failure(client.admin("g2", new AdminMessage(1, new byte[0]), p -> {})));
    assertEquals(ChunkRequestException.Code.UNKNOWN_GROUP, other.code());
    assertTrue(
        other.getMessage().contains("serves no group 'g2'; it serves [g1]"), other.getMessage());
    assertTrue(client.isOpen());
    assertEquals(0, server.stats().malformedFrames());

    server.stopServingAdmin("g1", echo);
    assertEquals(
        ChunkRequestException.Code.UNAVAILABLE,
        ((ChunkRequestException)
                failure(client.admin("g1", new AdminMessage(1, new byte[0]), p -> {})))
            .code());
  }

  @Test
  void listsAndFetchesManifests() throws IOException {
    Manifest m10 = fx.addManifest(2, 10, fx.putChunks(5, 4096));
    Manifest m20 = fx.addManifest(3, 20, fx.putChunks(7, 4096));
    ChunkServer server = fx.start(fx.serverBuilder("n1"));
    ChunkClient client = fx.connect(fx.clientBuilder(server, "n2"));
    assertEquals("n1", client.sourceId());

    List<ManifestInfo> all = join(client.listManifests(0));
    assertEquals(List.of(ManifestInfo.of(m10), ManifestInfo.of(m20)), all);
    assertEquals(7, all.get(1).chunkCount());
    assertEquals(List.of(ManifestInfo.of(m20)), join(client.listManifests(11)));
    assertEquals(List.of(), join(client.listManifests(21)));

    assertEquals(m20, join(client.fetchManifest(20)));
    assertEquals(m10, join(client.fetchManifest(all.get(0))));

    ChunkRequestException notFound =
        assertInstanceOf(ChunkRequestException.class, failure(client.fetchManifest(99)));
    assertEquals(ChunkRequestException.Code.NOT_FOUND, notFound.code());

    // A listed root that does not match what the peer sends is rejected.
    ManifestInfo wrongRoot =
        new ManifestInfo(2, 10, all.get(1).root(), 0, 0, 0); // index 10, root of 20
    Throwable bad = failure(client.fetchManifest(wrongRoot));
    assertInstanceOf(ManifestFormatException.class, bad);
    assertTrue(bad.getMessage().contains("listed as"), bad.getMessage());

    // The connection survives request errors.
    assertEquals(2, join(client.listManifests(0)).size());
  }

  @Test
  void fetchesChunksInBatchesAndReportsMissingOnes() throws IOException {
    List<ChunkRef> refs = new ArrayList<>(fx.putChunks(280, 3000));
    refs.addAll(fx.putChunks(20, 70_000));
    ChunkServer server = fx.start(fx.serverBuilder("n1"));
    ChunkClient client = fx.connect(fx.clientBuilder(server, "n2"));

    List<ChunkId> unknown = fx.unknownIds(25);
    List<ChunkId> request = new ArrayList<>();
    Map<ChunkId, ChunkRef> byId = new HashMap<>();
    for (ChunkRef r : refs) {
      request.add(r.id());
      byId.put(r.id(), r);
    }
    request.addAll(unknown);
    Collections.shuffle(request, new Random(7));
    request.add(request.get(0)); // a duplicate is reported once

    Outcomes out = new Outcomes();
    client.fetch(request, out);
    await(() -> out.reported() == refs.size() + unknown.size(), "every chunk reported");

    assertEquals(List.of(), out.duplicates);
    assertEquals(refs.size(), out.arrived.size());
    out.arrived.forEach((id, stored) -> ChunkFixture.verify(byId.get(id), stored));
    assertEquals(unknown.size(), out.failed.size());
    for (ChunkId id : unknown) {
      assertInstanceOf(NoSuchFileException.class, out.failed.get(id), id.toString());
    }
    long storedBytes = 0;
    for (ChunkRef r : refs) {
      storedBytes += r.storedSize();
    }
    ChunkServerStats stats = server.stats();
    assertEquals(refs.size(), stats.chunksServed());
    assertEquals(storedBytes, stats.bytesServed());
    assertEquals(unknown.size(), stats.chunksMissing());
    assertEquals(storedBytes, client.bytesReceived());
  }

  @Test
  void aRawFetchSendsChunksDecompressedAndTheyStillVerify() throws IOException {
    List<ChunkRef> refs = fx.putChunks(12, 50_000); // every third chunk compresses well
    ChunkServer server = fx.start(fx.serverBuilder("n1"));
    ChunkClient client = fx.connect(fx.clientBuilder(server, "n2"));
    List<ChunkId> ids = refs.stream().map(ChunkRef::id).toList();

    Outcomes stored = new Outcomes();
    client.fetch(ids, stored);
    await(() -> stored.reported() == refs.size(), "stored chunks");
    Outcomes raw = new Outcomes();
    client.fetch(ids, raw, true);
    await(() -> raw.reported() == refs.size(), "raw chunks");

    int compressed = 0;
    for (ChunkRef r : refs) {
      ByteBuffer s = stored.arrived.get(r.id());
      ByteBuffer d = raw.arrived.get(r.id());
      ChunkFixture.verify(r, s);
      assertEquals(
          dev.ferry.snapshot.codec.ChunkCodec.RAW,
          dev.ferry.snapshot.codec.ChunkCodecs.codecOf(d),
          "sent raw: " + r.id());
      assertEquals(1 + r.rawSize(), d.remaining());
      byte[] bytes = dev.ferry.snapshot.codec.ChunkCodecs.decode(d, r.rawSize());
      assertTrue(r.id().matches(bytes, 0, bytes.length), "raw bytes hash to the id");
      if (dev.ferry.snapshot.codec.ChunkCodecs.codecOf(s)
          == dev.ferry.snapshot.codec.ChunkCodec.ZSTD) {
        compressed++;
      }
    }
    assertTrue(compressed >= 4, "some chunks were stored compressed: " + compressed);
  }

  @Test
  void chunksOfAStoreWithoutFilesAreSentFromMemory() throws IOException {
    List<ChunkRef> refs = fx.putChunks(12, 40_000);
    ChunkStore memory = new ForwardingStore(fx.store);
    ChunkServer server =
        fx.start(
            fx.serverBuilder("n1")
                .source(SnapshotSource.of(() -> List.copyOf(fx.manifests), () -> memory)));
    ChunkClient client = fx.connect(fx.clientBuilder(server, "n2"));
    Outcomes out = new Outcomes();
    List<ChunkId> ids = new ArrayList<>(refs.stream().map(ChunkRef::id).toList());
    ids.addAll(fx.unknownIds(1));
    client.fetch(ids, out);
    await(() -> out.reported() == ids.size(), "every chunk");
    refs.forEach(r -> ChunkFixture.verify(r, out.arrived.get(r.id())));
    assertEquals(1, out.failed.size());
  }

  @Test
  void aNodeThatIsNotReadyAnswersUnavailableAndKeepsTheConnection() throws IOException {
    List<ChunkRef> refs = fx.putChunks(1, 1000);
    ChunkServer server =
        fx.start(
            fx.serverBuilder("n1")
                .source(
                    SnapshotSource.of(
                        () -> {
                          throw new IllegalStateException("state machine not initialized");
                        },
                        () -> {
                          throw new IllegalStateException("state machine not initialized");
                        })));
    ChunkClient client = fx.connect(fx.clientBuilder(server, "n2"));
    ChunkRequestException e =
        assertInstanceOf(ChunkRequestException.class, failure(client.listManifests(0)));
    assertEquals(ChunkRequestException.Code.UNAVAILABLE, e.code());
    Outcomes out = new Outcomes();
    client.fetch(List.of(refs.get(0).id()), out);
    await(() -> out.failed.size() == 1, "the chunk failed");
    Throwable cause = out.failed.get(refs.get(0).id());
    assertInstanceOf(IOException.class, cause);
    assertTrue(!(cause instanceof NoSuchFileException), cause.toString());
    assertTrue(client.isOpen());
  }

  @Test
  void wrongSecretIsRefusedOnTheServerAndTheClientFailsClearly() throws IOException {
    fx.addManifest(1, 5, fx.putChunks(2, 1000));
    ChunkServer server = fx.start(fx.serverBuilder("n1"));

    byte[] wrong = "not-the-cluster-secret!!".getBytes(StandardCharsets.UTF_8);
    Throwable refused = failure(fx.clientBuilder(server, "intruder").secret(wrong).connect());
    assertInstanceOf(ChunkAuthException.class, refused);
    assertTrue(refused.getMessage().contains("refused"), refused.getMessage());
    await(() -> server.stats().connectionsRefused() == 1, "the refusal counted");
    assertEquals(0, server.stats().connectionsAuthenticated());
    assertEquals(0, server.stats().malformedFrames());

    ChunkClient good = fx.connect(fx.clientBuilder(server, "n2"));
    assertEquals(1, join(good.listManifests(0)).size());
    assertEquals(1, server.stats().connectionsAuthenticated());
  }

  @Test
  void clientRejectsAServerThatCannotProveTheSecretOrIsAnotherNode() throws Exception {
    fx.addManifest(1, 5, fx.putChunks(1, 1000));
    // A server with another secret accepts nobody, so the client is refused first; to test the
    // client's own check, a fake server answers AUTH with a bogus proof.
    try (ServerSocket fake = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      CompletableFuture<Void> serving =
          CompletableFuture.runAsync(
              () -> {
                try (Socket s = fake.accept()) {
                  FakeServer.helloThenAuthOk(s, "n1", new byte[32]);
                } catch (IOException e) {
                  throw new UncheckedIOException(e);
                }
              });
      Throwable t =
          failure(
              ChunkClient.builder()
                  .peer("n1", "127.0.0.1", fake.getLocalPort())
                  .selfId("n2")
                  .secret(ChunkFixture.SECRET)
                  .eventLoopGroup(fx.clientLoops)
                  .connect());
      assertInstanceOf(ChunkAuthException.class, t);
      assertTrue(t.getMessage().contains("failed to prove"), t.getMessage());
      join(serving);
    }

    // A real server that is not the expected peer.
    ChunkServer other = fx.start(fx.serverBuilder("n3"));
    Throwable wrongPeer =
        failure(
            ChunkClient.builder()
                .peer("n1", "127.0.0.1", other.localAddress().getPort())
                .selfId("n2")
                .secret(ChunkFixture.SECRET)
                .eventLoopGroup(fx.clientLoops)
                .connect());
    assertInstanceOf(ChunkAuthException.class, wrongPeer);
    assertTrue(wrongPeer.getMessage().contains("but it is n3"), wrongPeer.getMessage());
  }

  @Test
  void aCorruptionReportQuarantinesOnlyWhatFailsVerificationOnTheServer() throws IOException {
    List<ChunkRef> refs = fx.putChunks(3, 4096);
    ChunkId bad = refs.get(1).id();
    Path file = dir.resolve("chunks").resolve(bad.toHex().substring(0, 2)).resolve(bad.toHex());
    byte[] bytes = Files.readAllBytes(file);
    bytes[bytes.length / 2] ^= 0x5A;
    Files.write(file, bytes);
    ChunkServer server = fx.start(fx.serverBuilder("n1"));
    ChunkClient client = fx.connect(fx.clientBuilder(server, "n2"));

    // A peer claims all three (and one the server never held) are corrupt.
    List<ChunkId> claimed = new ArrayList<>();
    refs.forEach(r -> claimed.add(r.id()));
    claimed.add(fx.unknownIds(1).get(0));
    join(client.reportCorrupt(claimed));

    assertTrue(fx.store.contains(refs.get(0).id()), "intact chunk kept");
    assertTrue(fx.store.contains(refs.get(2).id()), "intact chunk kept");
    assertFalse(fx.store.contains(bad), "corrupt chunk quarantined");
    assertEquals(1, fx.store.stats().quarantined());
    assertEquals(new ChunkServer.CorruptReports(4, 1), server.corruptReports());

    // Saying it again changes nothing: the server's own bytes decide.
    join(client.reportCorrupt(List.of(refs.get(0).id(), refs.get(2).id())));
    assertTrue(fx.store.contains(refs.get(0).id()));
    assertTrue(fx.store.contains(refs.get(2).id()));
    assertEquals(1, fx.store.stats().quarantined());

    // The client refuses an empty or oversized report before anything is sent.
    assertThrows(IllegalArgumentException.class, () -> client.reportCorrupt(List.of()));
    assertThrows(
        IllegalArgumentException.class,
        () -> client.reportCorrupt(fx.unknownIds(SnapshotPeer.MAX_REPORT_IDS + 1)));
  }

  @Test
  void pinRenewAndUnpinWorkAgainstTheStore() throws IOException {
    List<ChunkRef> refs = fx.putChunks(4, 2000);
    Manifest m = fx.addManifest(1, 7, refs);
    ChunkServer server = fx.start(fx.serverBuilder("n1").maxLeaseTtl(Duration.ofMinutes(5)));
    ChunkClient client = fx.connect(fx.clientBuilder(server, "n2"));

    Lease lease = join(client.pin(7, Duration.ofMinutes(1)));
    assertEquals(ChunkStore.manifestKey(m), lease.manifestKey());
    assertTrue(lease.expiresAt().isAfter(Instant.now().plusSeconds(30)), lease.toString());

    // The node releases the manifest; the pinned chunks survive collection.
    fx.store.release(ChunkStore.manifestKey(m));
    fx.manifests.clear();
    fx.store.collectGarbage();
    for (ChunkRef r : refs) {
      assertTrue(fx.store.contains(r.id()), "pinned chunk " + r.id() + " collected");
    }

    Lease renewed = join(client.renew(lease.id(), Duration.ofMinutes(4)));
    assertEquals(lease.id(), renewed.id());
    assertTrue(renewed.expiresAt().isAfter(lease.expiresAt()), renewed + " vs " + lease);

    ChunkRequestException tooLong =
        assertInstanceOf(
            ChunkRequestException.class, failure(client.renew(lease.id(), Duration.ofHours(2))));
    assertEquals(ChunkRequestException.Code.BAD_REQUEST, tooLong.code());

    join(client.unpin(lease.id()));
    fx.store.collectGarbage();
    for (ChunkRef r : refs) {
      assertTrue(!fx.store.contains(r.id()), "unpinned chunk " + r.id() + " kept");
    }
    assertInstanceOf(
        LeaseExpiredException.class, failure(client.renew(lease.id(), Duration.ofMinutes(1))));
    join(client.unpin(lease.id())); // idempotent

    ChunkRequestException gone =
        assertInstanceOf(
            ChunkRequestException.class, failure(client.pin(7, Duration.ofMinutes(1))));
    assertEquals(ChunkRequestException.Code.NOT_FOUND, gone.code());
  }

  @Test
  void leasesTheServerDidNotGrantCannotBeRenewedOrEndedByPeers() throws IOException {
    Manifest m = fx.addManifest(1, 7, fx.putChunks(2, 2000));
    Lease local = fx.store.pin(ChunkStore.manifestKey(m), Duration.ofMinutes(1));
    ChunkServer server = fx.start(fx.serverBuilder("n1"));
    ChunkClient client = fx.connect(fx.clientBuilder(server, "n2"));

    assertInstanceOf(
        LeaseExpiredException.class, failure(client.renew(local.id(), Duration.ofMinutes(1))));
    join(client.unpin(local.id()));
    assertTrue(fx.store.leases().stream().anyMatch(l -> l.id() == local.id()));
  }

  @Test
  void aDroppedConnectionFailsEveryOutstandingChunkPromptly() throws IOException {
    List<ChunkRef> refs = fx.putChunks(40, 32 << 10);
    // 40 chunks of 32 KiB at 256 KiB/s take about 5 s: plenty outstanding when the server stops.
    ChunkServer server = fx.start(fx.serverBuilder("n1").sendRateLimit(256 << 10));
    ChunkClient client = fx.connect(fx.clientBuilder(server, "n2"));

    AtomicInteger arrivals = new AtomicInteger();
    Outcomes out = new Outcomes(id -> arrivals.incrementAndGet());
    client.fetch(refs.stream().map(ChunkRef::id).toList(), out);
    await(() -> arrivals.get() >= 1, "a first chunk");

    long start = System.nanoTime();
    server.close();
    await(() -> out.reported() == refs.size(), "every chunk reported");
    long millis = (System.nanoTime() - start) / 1_000_000;
    assertTrue(millis < 3_000, "failures took " + millis + " ms");
    assertTrue(out.failed.size() > 0);
    out.failed.values().forEach(t -> assertInstanceOf(IOException.class, t));
    out.failed.values().forEach(t -> assertTrue(!(t instanceof NoSuchFileException)));
    assertEquals(List.of(), out.duplicates);

    // Everything afterwards fails at once.
    await(() -> !client.isOpen(), "client closed");
    assertInstanceOf(IOException.class, failure(client.listManifests(0)));
    Outcomes later = new Outcomes();
    client.fetch(List.of(refs.get(0).id()), later);
    await(() -> later.failed.size() == 1, "later fetch failed");
  }

  @Test
  void aSlowReaderNeverMakesTheServerBufferMoreThanAboutTwoChunks() throws IOException {
    int chunkSize = 256 << 10;
    int count = 128; // 32 MiB: more than the kernel's socket buffers hold
    List<ChunkRef> refs = fx.putChunks(count, chunkSize);
    ChunkServer server = fx.start(fx.serverBuilder("n1"));
    ChunkClient client = fx.connect(fx.clientBuilder(server, "n2"));
    Map<ChunkId, ChunkRef> byId = new HashMap<>();
    refs.forEach(r -> byId.put(r.id(), r));

    client.autoRead(false);
    AtomicInteger verified = new AtomicInteger();
    List<Throwable> failures = new java.util.concurrent.CopyOnWriteArrayList<>();
    FetchListener out =
        new FetchListener() {
          @Override
          public void arrived(ChunkId id, ByteBuffer stored) {
            ChunkFixture.verify(byId.get(id), stored);
            verified.incrementAndGet(); // keep nothing: 32 MiB need not stay on the heap
          }

          @Override
          public void failed(ChunkId id, Throwable cause) {
            failures.add(cause);
          }
        };
    client.fetch(refs.stream().map(ChunkRef::id).toList(), out);

    // The server sends until the socket buffers are full, then stops.
    await(() -> server.stats().chunksServed() >= 2, "the first chunks sent");
    long stalledAt = ChunkFixture.awaitStable(() -> server.stats().chunksServed());
    assertEquals(0, client.bytesReceived());
    System.out.println(
        "BP stalledAt=" + stalledAt + " maxQueued=" + server.maxQueuedOutboundBytes());
    long bound = 2L * (4 + MessageCodec.CHUNK_PREFIX + chunkSize) + (64 << 10);
    assertTrue(stalledAt < count / 2, stalledAt + " chunks sent to a reader that reads nothing");
    assertTrue(
        server.maxQueuedOutboundBytes() <= bound,
        "queued " + server.maxQueuedOutboundBytes() + " > " + bound);

    client.autoRead(true);
    await(() -> verified.get() + failures.size() == count, "every chunk after reading resumed");
    assertEquals(count, verified.get());
    assertTrue(
        server.maxQueuedOutboundBytes() <= bound,
        "queued " + server.maxQueuedOutboundBytes() + " > " + bound);
  }

  @Test
  void theSendRateLimitPacesChunks() throws IOException {
    List<ChunkRef> refs = fx.putChunks(16, 64 << 10);
    ChunkServer server = fx.start(fx.serverBuilder("n1").sendRateLimit(2 << 20));
    ChunkClient client = fx.connect(fx.clientBuilder(server, "n2"));
    Outcomes out = new Outcomes();
    long start = System.nanoTime();
    client.fetch(refs.stream().map(ChunkRef::id).toList(), out);
    await(() -> out.reported() == refs.size(), "every chunk");
    long millis = (System.nanoTime() - start) / 1_000_000;
    long stored = 0;
    for (ChunkRef r : refs) {
      stored += r.storedSize();
    }
    // All but the first chunk wait for their slot at 2 MiB/s.
    long minMillis = (stored - refs.get(0).storedSize()) * 1000 / (2 << 20);
    assertEquals(refs.size(), out.arrived.size());
    assertTrue(millis >= minMillis * 9 / 10, "took " + millis + " ms, expected >= " + minMillis);
  }

  @Test
  void theSendRateLimitCanChangeWhileServing() throws IOException {
    List<ChunkRef> refs = fx.putChunks(16, 64 << 10);
    ChunkServer server = fx.start(fx.serverBuilder("n1"));
    assertEquals(0, server.sendRateLimit());
    server.setSendRateLimit(2 << 20);
    assertEquals(2 << 20, server.sendRateLimit());
    ChunkClient client = fx.connect(fx.clientBuilder(server, "n2"));
    Outcomes out = new Outcomes();
    long start = System.nanoTime();
    client.fetch(refs.stream().map(ChunkRef::id).toList(), out);
    await(() -> out.reported() == refs.size(), "every chunk");
    long limitedMillis = (System.nanoTime() - start) / 1_000_000;
    long stored = 0;
    for (ChunkRef r : refs) {
      stored += r.storedSize();
    }
    long minMillis = (stored - refs.get(0).storedSize()) * 1000 / (2 << 20);
    assertTrue(limitedMillis >= minMillis * 9 / 10, "took " + limitedMillis + " ms");

    server.setSendRateLimit(0);
    assertEquals(0, server.sendRateLimit());
    Outcomes again = new Outcomes();
    start = System.nanoTime();
    client.fetch(refs.stream().map(ChunkRef::id).toList(), again);
    await(() -> again.reported() == refs.size(), "every chunk, unlimited");
    long unlimitedMillis = (System.nanoTime() - start) / 1_000_000;
    assertTrue(unlimitedMillis < minMillis / 2, "unlimited took " + unlimitedMillis + " ms");
    assertThrows(IllegalArgumentException.class, () -> server.setSendRateLimit(-1));
  }

  @Test
  void aPeerThatSendsNothingTimesOutOutstandingRequests() throws Exception {
    try (ServerSocket fake = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      CompletableFuture<Socket> accepted =
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  Socket s = fake.accept();
                  FakeServer.authenticate(s, "n1", ChunkFixture.SECRET);
                  return s; // then silence
                } catch (IOException e) {
                  throw new UncheckedIOException(e);
                }
              });
      ChunkClient client =
          fx.connect(
              ChunkClient.builder()
                  .peer("n1", "127.0.0.1", fake.getLocalPort())
                  .selfId("n2")
                  .secret(ChunkFixture.SECRET)
                  .eventLoopGroup(fx.clientLoops)
                  .requestTimeout(Duration.ofMillis(300)));
      Outcomes out = new Outcomes();
      client.fetch(fx.unknownIds(3), out);
      Throwable t = failure(client.listManifests(0));
      assertInstanceOf(IOException.class, t);
      assertTrue(t.getMessage().contains("timed out"), t.getMessage());
      await(() -> out.failed.size() == 3, "fetch failed");
      join(accepted).close();
    }
  }

  @Test
  void buildersRejectBadConfiguration() {
    assertRejected(() -> fx.serverBuilder("n1").secret(new byte[15]).build());
    assertRejected(() -> fx.serverBuilder("bad id").build());
    assertRejected(() -> fx.serverBuilder("n1").sendRateLimit(-1).build());
    assertRejected(() -> fx.serverBuilder("n1").maxConnections(0).build());
    assertRejected(() -> fx.serverBuilder("n1").maxLeaseTtl(Duration.ZERO).build());
    assertRejected(
        () ->
            ChunkClient.builder()
                .peer("n1", "127.0.0.1", 0)
                .selfId("n2")
                .secret(ChunkFixture.SECRET)
                .connect());
    assertRejected(
        () ->
            ChunkClient.builder()
                .peer("n1", "127.0.0.1", 9)
                .selfId("n2/../x")
                .secret(ChunkFixture.SECRET)
                .connect());
  }

  private static void assertRejected(Executable e) {
    Assertions.assertThrows(IllegalArgumentException.class, e);
  }

  /** Helpers for hand-written fake servers on a blocking socket. */
  static final class FakeServer {
    private FakeServer() {}

    /** Sends HELLO, reads AUTH without checking it, answers AUTH_OK with {@code mac}. */
    static void helloThenAuthOk(Socket s, String id, byte[] mac) throws IOException {
      DataInputStream in = new DataInputStream(s.getInputStream());
      write(s, new Message.Hello(MessageCodec.VERSION, Handshake.nonce()));
      readFrame(in);
      write(s, new Message.AuthOk(id, mac));
      try {
        readFrame(in); // until the client closes
      } catch (IOException e) {
        // closed
      }
    }

    /** Runs a correct server handshake. */
    static void authenticate(Socket s, String id, byte[] secret) throws IOException {
      DataInputStream in = new DataInputStream(s.getInputStream());
      byte[] nonce = Handshake.nonce();
      write(s, new Message.Hello(MessageCodec.VERSION, nonce));
      byte[] body = readFrame(in);
      Message.Auth a =
          (Message.Auth)
              MessageCodec.decodeFromClient(MessageCodec.AUTH, Unpooled.wrappedBuffer(body));
      byte[] proof =
          new Handshake(Handshake.CHUNK_LABEL, secret)
              .serverProof(a.nonce(), nonce, a.clientId(), id);
      write(s, new Message.AuthOk(id, proof));
    }

    private static byte[] readFrame(DataInputStream in) throws IOException {
      int length = in.readInt();
      in.readUnsignedByte();
      byte[] body = new byte[length - 1];
      in.readFully(body);
      return body;
    }

    private static void write(Socket s, Message m) throws IOException {
      ByteBuf b = MessageCodec.encode(UnpooledByteBufAllocator.DEFAULT, m);
      s.getOutputStream().write(ByteBufUtil.getBytes(b));
      s.getOutputStream().flush();
      b.release();
    }
  }
}
