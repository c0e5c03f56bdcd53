package dev.ferry.shipping.chunks;

import static dev.ferry.shipping.chunks.ChunkFixture.await;
import static dev.ferry.shipping.chunks.ChunkFixture.failure;
import static dev.ferry.shipping.chunks.ChunkFixture.join;
import static dev.ferry.shipping.chunks.ChunkRequestException.Code.UNAVAILABLE;
import static dev.ferry.shipping.chunks.ChunkRequestException.Code.UNKNOWN_GROUP;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.shipping.chunks.ChunkFixture.Outcomes;
import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.ChunkRef;
import dev.ferry.snapshot.format.Manifest;
import dev.ferry.snapshot.store.Lease;
import dev.ferry.snapshot.store.LeaseExpiredException;
import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * One chunk server serving the chunks of many groups: a connection names its group once (
 * SELECT_GROUP) and every chunk request of it goes to that group's source; a group not served (any
 * longer) gets the not-here answer; a connection that names no group keeps the single-group
 * behaviour.
 */
class ChunkGroupsTest {
  private static final String G1 = "6b7f6c2e-0c1a-3d4f-9a55-000000000001";
  private static final String G2 = "6b7f6c2e-0c1a-3d4f-9a55-000000000002";

  @TempDir Path dir;

  /** The builder's source (connections naming no group), and one fixture per group. */
  private ChunkFixture unnamed;

  private ChunkFixture one;
  private ChunkFixture two;

  @BeforeEach
  void setUp() throws IOException {
    unnamed = new ChunkFixture(dir.resolve("unnamed"));
    one = new ChunkFixture(dir.resolve("g1"));
    two = new ChunkFixture(dir.resolve("g2"));
  }

  @AfterEach
  void tearDown() throws IOException {
    two.close();
    one.close();
    unnamed.close();
  }

  @Test
  void twoGroupsOnOneServerEachServeTheirOwnManifestsChunksAndLeases() throws IOException {
    Manifest m0 = unnamed.addManifest(1, 5, unnamed.putChunks(2, 1000));
    List<ChunkRef> refs1 = one.putChunks(6, 3000);
    Manifest m1 = one.addManifest(2, 10, refs1);
    List<ChunkRef> refs2 = two.putChunks(4, 3100); // fixtures share a seed: another size
    Manifest m2 = two.addManifest(3, 10, refs2); // the same index as group 1's, another manifest
    ChunkServer server = unnamed.start(unnamed.serverBuilder("n1"));
    server.serveChunks(G1, one.source);
    server.serveChunks(G2, two.source);
    assertEquals(List.of(G1, G2), server.chunkGroups());

    ChunkClient c0 = unnamed.connect(unnamed.clientBuilder(server, "n2"));
    ChunkClient c1 = unnamed.connect(unnamed.clientBuilder(server, "n2").group(G1));
    ChunkClient c2 = unnamed.connect(unnamed.clientBuilder(server, "n2").group(G2));
    assertEquals(List.of(), c0.group().stream().toList());
    assertEquals(List.of(G1), c1.group().stream().toList());

    // Each connection sees its own group's manifests; the one naming none the builder's source.
    assertEquals(List.of(ManifestInfo.of(m0)), join(c0.listManifests(0)));
    assertEquals(List.of(ManifestInfo.of(m1)), join(c1.listManifests(0)));
    assertEquals(List.of(ManifestInfo.of(m2)), join(c2.listManifests(0)));
    assertEquals(m1, join(c1.fetchManifest(10)));
    assertEquals(m2, join(c2.fetchManifest(10)));

    // Chunks: a group's own arrive and verify; another group's are not held there.
    Outcomes out = new Outcomes();
    List<ChunkId> asked = new java.util.ArrayList<>(ids(refs1));
    asked.addAll(ids(refs2));
    c1.fetch(asked, out);
    await(() -> out.reported() == asked.size(), "every chunk reported");
    refs1.forEach(r -> ChunkFixture.verify(r, out.arrived.get(r.id())));
    assertEquals(refs2.size(), out.failed.size());
    out.failed.values().forEach(t -> assertInstanceOf(NoSuchFileException.class, t));

    // Leases are per group: granted from group 1's store, unknown to group 2's connections.
    Lease lease = join(c1.pin(10, Duration.ofMinutes(1)));
    assertTrue(one.store.leases().stream().anyMatch(l -> l.id() == lease.id()));
    assertTrue(two.store.leases().isEmpty(), "nothing pinned in group 2's store");
    assertInstanceOf(
        LeaseExpiredException.class, failure(c2.renew(lease.id(), Duration.ofMinutes(1))));
    join(c2.unpin(lease.id())); // not its lease: no effect
    assertTrue(one.store.leases().stream().anyMatch(l -> l.id() == lease.id()));
    assertEquals(lease.id(), join(c1.renew(lease.id(), Duration.ofMinutes(2))).id());
    join(c1.unpin(lease.id()));
    assertTrue(one.store.leases().isEmpty(), "unpinned through its own group");

    // Corruption reports go to the named group's store (intact there: nothing quarantined).
    join(c2.reportCorrupt(ids(refs2)));
    refs2.forEach(r -> assertTrue(two.store.contains(r.id())));
    assertEquals(new ChunkServer.CorruptReports(refs2.size(), 0), server.corruptReports());
    assertEquals(0, server.stats().malformedFrames());
  }

  /**
   * The node's send rate limit is one budget for every chunk it sends: two connections of two
   * groups fetching at once get it together (the pair takes about as long as all their bytes at the
   * rate, not half as long), and in turn (the second is well under way when the first ends). Only
   * lower bounds of time are asserted: a slow machine makes nothing pass that should fail.
   */
  @Test
  void theSendRateIsSharedByTheGroupsAndTheirConnectionsInTurn() throws Exception {
    long rate = 1 << 20;
    List<ChunkRef> refs1 = one.putChunks(40, 8 << 10);
    List<ChunkRef> refs2 = two.putChunks(40, 8 << 10);
    ChunkServer server = unnamed.start(unnamed.serverBuilder("n1").sendRateLimit(rate));
    server.serveChunks(G1, one.source);
    server.serveChunks(G2, two.source);
    ChunkClient c1 = unnamed.connect(unnamed.clientBuilder(server, "n2").group(G1));
    ChunkClient c2 = unnamed.connect(unnamed.clientBuilder(server, "n2").group(G2));
    java.util.concurrent.atomic.AtomicInteger arrived1 =
        new java.util.concurrent.atomic.AtomicInteger();
    java.util.concurrent.atomic.AtomicInteger arrived2 =
        new java.util.concurrent.atomic.AtomicInteger();
    java.util.concurrent.atomic.AtomicInteger secondWhenFirstEnded =
        new java.util.concurrent.atomic.AtomicInteger(-1);
    long bytes =
        java.util.stream.Stream.concat(refs1.stream(), refs2.stream())
            .mapToLong(ChunkRef::storedSize)
            .sum();
    long start = System.nanoTime();
    c1.fetch(
        ids(refs1),
        counting(
            arrived1,
            () -> {
              if (arrived1.get() == refs1.size()) {
                secondWhenFirstEnded.set(arrived2.get());
              }
            }));
    c2.fetch(ids(refs2), counting(arrived2, () -> {}));
    await(
        () -> arrived1.get() == refs1.size() && arrived2.get() == refs2.size(),
        "every chunk of both groups");
    double seconds = (System.nanoTime() - start) / 1e9;
    assertTrue(
        seconds >= 0.75 * bytes / rate,
        bytes + " bytes at " + rate + " B/s over both groups took only " + seconds + " s");
    assertTrue(
        secondWhenFirstEnded.get() >= refs2.size() / 2,
        "group 2 had "
            + secondWhenFirstEnded.get()
            + " of "
            + refs2.size()
            + " chunks when group 1's last arrived: the connections should take turns");
  }

  private static dev.ferry.snapshot.transport.ChunkTransport.FetchListener counting(
      java.util.concurrent.atomic.AtomicInteger arrived, Runnable after) {
    return new dev.ferry.snapshot.transport.ChunkTransport.FetchListener() {
      @Override
      public void arrived(ChunkId id, java.nio.ByteBuffer stored) {
        arrived.incrementAndGet();
        after.run();
      }

      @Override
      public void failed(ChunkId id, Throwable cause) {
        throw new AssertionError("chunk " + id.toHex() + " failed", cause);
      }
    };
  }

  @Test
  void aGroupNotHostedGetsTheNotHereAnswerNamingTheGroupsHosted() throws IOException {
    ChunkServer server = unnamed.start(unnamed.serverBuilder("n1"));
    // Only the builder's source: a group named is not hosted, and the answer says to name none.
    ChunkClient.Builder naming = unnamed.clientBuilder(server, "n2").group(G1);
    assertFails(
        naming.connect(), UNKNOWN_GROUP, "group " + G1 + " is not hosted on n1; it hosts no named");

    server.serveChunks(G2, two.source);
    assertFails(naming.connect(), UNKNOWN_GROUP, "not hosted on n1; it hosts [" + G2 + "]");

    // Many groups: the first few by name, then how many more.
    for (int i = 0; i < 12; i++) {
      server.serveChunks("g" + (char) ('a' + i), two.source);
    }
    assertFails(
        naming.connect(), UNKNOWN_GROUP, "[" + G2 + ", ga, gb, gc, gd, ge, gf, gg and 5 more]");
    assertEquals(0, server.stats().malformedFrames());
    await(() -> server.stats().openConnections() == 0, "the refused clients closed");
  }

  @Test
  void aServerWithoutAnUnnamedSourceServesOnlyConnectionsThatNameTheirGroup() throws IOException {
    Manifest m1 = one.addManifest(2, 10, one.putChunks(2, 1000));
    ChunkServer server = unnamed.start(unnamed.serverBuilder("n1").source(null));
    // Nothing served at all yet: unavailable (a node still starting), for both kinds.
    ChunkClient plain = unnamed.connect(unnamed.clientBuilder(server, "n2"));
    assertFails(plain.listManifests(0), UNAVAILABLE, "n1 serves no chunks yet");
    assertFails(
        unnamed.clientBuilder(server, "n2").group(G1).connect(),
        UNAVAILABLE,
        "n1 serves no chunks yet");

    server.serveChunks(G1, one.source);
    assertFails(
        plain.listManifests(0),
        UNKNOWN_GROUP,
        "n1 serves chunks only to connections that name their group; it hosts [" + G1 + "]");
    Outcomes out = new Outcomes();
    plain.fetch(List.of(one.unknownIds(1).get(0)), out);
    await(() -> out.failed.size() == 1, "the fetch answered");
    assertTrue(plain.isOpen(), "a request error keeps the connection");

    ChunkClient named = unnamed.connect(unnamed.clientBuilder(server, "n2").group(G1));
    assertEquals(List.of(ManifestInfo.of(m1)), join(named.listManifests(0)));
  }

  @Test
  void aGroupThatStopsBeingServedAnswersNotHereAndCanComeBack() throws IOException {
    Manifest m1 = one.addManifest(2, 10, one.putChunks(2, 1000));
    ChunkServer server = unnamed.start(unnamed.serverBuilder("n1"));
    server.serveChunks(G1, one.source);
    assertThrows(IllegalStateException.class, () -> server.serveChunks(G1, two.source));
    assertThrows(IllegalArgumentException.class, () -> server.serveChunks("g/1", two.source));
    ChunkClient c1 = unnamed.connect(unnamed.clientBuilder(server, "n2").group(G1));
    assertEquals(1, join(c1.listManifests(0)).size());

    // Another source's registration does not stop this one.
    server.stopServingChunks(G1, two.source);
    assertEquals(1, join(c1.listManifests(0)).size());

    server.stopServingChunks(G1, one.source);
    assertEquals(List.of(), server.chunkGroups());
    assertFails(c1.listManifests(0), UNKNOWN_GROUP, "it hosts no named group");
    server.serveChunks(G2, two.source);
    assertFails(
        c1.pin(10, Duration.ofMinutes(1)),
        UNKNOWN_GROUP,
        "group " + G1 + " is not hosted on n1; it hosts [" + G2 + "]");
    Outcomes out = new Outcomes();
    c1.fetch(ids(one.putChunks(1, 500)), out);
    await(() -> out.failed.size() == 1, "the fetch failed");
    Throwable cause = out.failed.values().iterator().next();
    assertFalse(cause instanceof NoSuchFileException, cause.toString());
    assertTrue(cause.getMessage().contains("is not hosted"), cause.toString());
    assertTrue(c1.isOpen());

    // Served again: the same connection is answered from it.
    server.serveChunks(G1, one.source);
    assertEquals(List.of(ManifestInfo.of(m1)), join(c1.listManifests(0)));
    assertEquals(0, server.stats().malformedFrames());
  }

  @Test
  void aGroupRemovedDuringAFetchFailsTheChunksNotYetSentOnce() throws IOException {
    int chunkSize = 256 << 10;
    int count = 128; // 32 MiB: more than the socket buffers hold while the client reads nothing
    List<ChunkRef> refs = one.putChunks(count, chunkSize);
    Map<ChunkId, ChunkRef> byId = new HashMap<>();
    refs.forEach(r -> byId.put(r.id(), r));
    ChunkServer server = unnamed.start(unnamed.serverBuilder("n1"));
    server.serveChunks(G1, one.source);
    server.serveChunks(G2, two.source);
    ChunkClient c1 = unnamed.connect(unnamed.clientBuilder(server, "n2").group(G1));

    c1.autoRead(false);
    Outcomes out = new Outcomes();
    c1.fetch(ids(refs), out);
    // The server has started sending and cannot finish while nothing is read.
    await(() -> server.stats().chunksServed() >= 1, "the first chunk sent");
    server.stopServingChunks(G1, one.source);
    c1.autoRead(true);

    await(() -> out.reported() == count, "every chunk reported");
    assertEquals(List.of(), out.duplicates);
    assertTrue(out.arrived.size() >= 1, "the chunks sent before arrive");
    out.arrived.forEach((id, stored) -> ChunkFixture.verify(byId.get(id), stored));
    assertTrue(out.failed.size() >= count / 2, out.failed.size() + " failed of " + count);
    out.failed
        .values()
        .forEach(t -> assertTrue(t.getMessage().contains("is not hosted"), t.toString()));
    assertTrue(c1.isOpen());
    assertEquals(0, server.stats().malformedFrames());
  }

  @Test
  void aConnectionStaysBoundToTheGroupItNamedEvenIfItWasNotHosted() throws IOException {
    unnamed.addManifest(1, 5, unnamed.putChunks(1, 1000));
    Manifest m1 = one.addManifest(2, 10, one.putChunks(1, 1000));
    ChunkServer server = unnamed.start(unnamed.serverBuilder("n1"));
    try (RawPeer peer = new RawPeer(server.localAddress())) {
      peer.authenticate(ChunkFixture.SECRET, "raw");
      peer.send(new Message.SelectGroup(1, G1));
      Message.Error refused = (Message.Error) peer.readFrame().decode();
      assertEquals(MessageCodec.ERR_UNKNOWN_GROUP, refused.code());
      // Never the unnamed source's manifests on a connection that named a group.
      peer.send(new Message.ListManifests(2, 0));
      assertEquals(
          MessageCodec.ERR_UNKNOWN_GROUP, ((Message.Error) peer.readFrame().decode()).code());

      server.serveChunks(G1, one.source);
      peer.send(new Message.ListManifests(3, 0));
      Message.ManifestList list = (Message.ManifestList) peer.readFrame().decode();
      assertEquals(List.of(ManifestInfo.of(m1)), list.entries());
    }
    assertEquals(0, server.stats().malformedFrames());
  }

  @Test
  void aBadGroupIdIsRejectedBeforeConnecting() {
    ChunkClient.Builder b =
        ChunkClient.builder().peer("n1", "127.0.0.1", 9).selfId("n2").secret(ChunkFixture.SECRET);
    assertThrows(IllegalArgumentException.class, () -> b.group("../g1").connect());
    assertThrows(IllegalArgumentException.class, () -> b.group("").connect());
  }

  /** {@code f} fails with a {@link ChunkRequestException} of {@code code} saying {@code text}. */
  private static void assertFails(
      CompletableFuture<?> f, ChunkRequestException.Code code, String text) {
    ChunkRequestException e = assertInstanceOf(ChunkRequestException.class, failure(f));
    assertEquals(code, e.code(), e.getMessage());
    assertTrue(e.getMessage().contains(text), e.getMessage());
  }

  private static List<ChunkId> ids(List<ChunkRef> refs) {
    return refs.stream().map(ChunkRef::id).toList();
  }
}
