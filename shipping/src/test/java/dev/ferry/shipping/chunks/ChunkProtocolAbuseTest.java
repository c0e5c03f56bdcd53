package dev.ferry.shipping.chunks;

import static dev.ferry.shipping.chunks.ChunkFixture.await;
import static dev.ferry.shipping.chunks.ChunkFixture.join;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.shipping.chunks.ChunkFixture.Outcomes;
import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.ChunkRef;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * Bad input closes only the connection it came on, is counted once, and never disturbs a good
 * client using the server at the same time.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ChunkProtocolAbuseTest {
  private ChunkFixture fx;
  private ChunkServer server;
  private ChunkClient good;
  private List<ChunkRef> refs;

  /** Something done to the server over a raw socket. */
  @FunctionalInterface
  private interface Abuse {
    void apply(RawPeer peer) throws IOException;
  }

  @BeforeAll
  void setUp(@TempDir Path dir) throws IOException {
    fx = new ChunkFixture(dir);
    refs = fx.putChunks(8, 50_000);
    fx.addManifest(1, 3, refs);
    server = fx.start(fx.serverBuilder("n1"));
    good = fx.connect(fx.clientBuilder(server, "good"));
  }

  @AfterAll
  void tearDown() throws IOException {
    fx.close();
  }

  @Test
  void anHttpRequestBeforeAuthentication() throws IOException {
    // "GET " read as a length is over a gigabyte: rejected before any body is buffered.
    assertClosedAndCounted(
        peer -> peer.sendRaw("GET / HTTP/1.1\r\nHost: x\r\n\r\n".getBytes(StandardCharsets.UTF_8)),
        false);
  }

  @Test
  void aHugeLengthPrefixAfterAuthentication() throws IOException {
    assertClosedAndCounted(peer -> peer.sendRaw(new byte[] {-1, -1, -1, -1, 0x13}), true);
  }

  @Test
  void aZeroLengthFrame() throws IOException {
    assertClosedAndCounted(peer -> peer.sendRaw(new byte[] {0, 0, 0, 0}), true);
  }

  @Test
  void anUnknownFrameType() throws IOException {
    assertClosedAndCounted(peer -> peer.sendFrame(0x7F, new byte[8]), true);
  }

  @Test
  void aServerFrameTypeSentToTheServer() throws IOException {
    assertClosedAndCounted(peer -> peer.sendFrame(MessageCodec.HELLO, new byte[34]), true);
  }

  @Test
  void aRequestBeforeAuthentication() throws IOException {
    assertClosedAndCounted(peer -> peer.send(new Message.ListManifests(1, 0)), false);
  }

  @Test
  void aSecondAuthAfterAuthentication() throws IOException {
    assertClosedAndCounted(
        peer -> peer.send(new Message.Auth(1, new byte[32], "again", new byte[32])), true);
  }

  @Test
  void aTruncatedFrameThenClose() throws IOException {
    assertClosedAndCounted(
        peer -> {
          peer.sendRaw(new byte[] {0, 0, 0, 100, 0x11, 1, 2, 3, 4, 5, 6, 7, 8, 9});
          peer.shutdownOutput();
        },
        true);
  }

  @Test
  void aTruncatedFrameThenReset() throws IOException {
    assertClosedAndCounted(
        peer -> {
          peer.sendRaw(new byte[] {0, 0, 0, 100, 0x11, 1, 2, 3, 4, 5, 6, 7, 8, 9});
          peer.reset();
        },
        true);
  }

  @Test
  void manyIdleStrangersDoNotLockOutARealPeer() throws IOException {
    ChunkServer busy = fx.start(fx.serverBuilder("n7").handshakeTimeout(Duration.ofMinutes(5)));
    int strangers = 400;
    List<Socket> idle = new ArrayList<>();
    try {
      for (int i = 0; i < strangers; i++) {
        Socket s = new Socket();
        idle.add(s);
        s.bind(new InetSocketAddress("127.0.0.2", 0));
        s.connect(busy.localAddress(), 5_000);
      }
      await(
          () -> busy.stats().connectionsAccepted() == strangers,
          "the server to see every stranger");
      assertServes(fx.connect(fx.clientBuilder(busy, "real")));
      // 16 per address may wait for their handshake; the rest were refused at once.
      assertEquals(strangers - 16, busy.stats().connectionsRefused());
      assertEquals(17, busy.stats().openConnections());
    } finally {
      for (Socket s : idle) {
        s.close();
      }
    }
  }

  @Test
  void aFetchWhoseCountDisagreesWithItsBody() throws IOException {
    ByteBuf body =
        Unpooled.buffer().writeLong(5).writeByte(0).writeShort(3).writeBytes(new byte[64]);
    assertClosedAndCounted(
        peer -> peer.sendFrame(MessageCodec.FETCH, ByteBufUtil.getBytes(body)), true);
  }

  @Test
  void aFetchOfTooManyChunks() throws IOException {
    ByteBuf body =
        Unpooled.buffer().writeLong(5).writeByte(0).writeShort(257).writeBytes(new byte[257 * 32]);
    assertClosedAndCounted(
        peer -> peer.sendFrame(MessageCodec.FETCH, ByteBufUtil.getBytes(body)), true);
  }

  @Test
  void aFetchWithUnknownFlags() throws IOException {
    ByteBuf body =
        Unpooled.buffer().writeLong(5).writeByte(0x82).writeShort(1).writeBytes(new byte[32]);
    assertClosedAndCounted(
        peer -> peer.sendFrame(MessageCodec.FETCH, ByteBufUtil.getBytes(body)), true);
  }

  @Test
  void aRequestWithTrailingBytes() throws IOException {
    ByteBuf body = Unpooled.buffer().writeLong(5).writeLong(0).writeByte(1);
    assertClosedAndCounted(
        peer -> peer.sendFrame(MessageCodec.LIST_MANIFESTS, ByteBufUtil.getBytes(body)), true);
  }

  @Test
  void aSelectGroupAfterAnotherRequest() throws IOException {
    assertClosedAndCounted(
        peer -> {
          peer.send(new Message.ListManifests(1, 0));
          peer.readFrame(); // MANIFEST_LIST
          peer.send(new Message.SelectGroup(2, "g1"));
        },
        true);
  }

  @Test
  void aSecondSelectGroup() throws IOException {
    assertClosedAndCounted(
        peer -> {
          peer.send(new Message.SelectGroup(1, "g1"));
          peer.readFrame(); // ERROR unknown group: the connection stays, bound to g1
          peer.send(new Message.SelectGroup(2, "g2"));
        },
        true);
  }

  @Test
  void aSelectGroupWithAPathForAGroupId() throws IOException {
    byte[] group = "../../etc".getBytes(StandardCharsets.US_ASCII);
    ByteBuf body = Unpooled.buffer().writeLong(1).writeByte(group.length).writeBytes(group);
    assertClosedAndCounted(
        peer -> peer.sendFrame(MessageCodec.SELECT_GROUP, ByteBufUtil.getBytes(body)), true);
  }

  @Test
  void anAuthWithAPathForANodeId() throws IOException {
    byte[] id = "../../etc".getBytes(StandardCharsets.US_ASCII);
    ByteBuf body =
        Unpooled.buffer()
            .writeShort(1)
            .writeBytes(new byte[32])
            .writeByte(id.length)
            .writeBytes(id)
            .writeBytes(new byte[32]);
    assertClosedAndCounted(
        peer -> {
          peer.readFrame(); // HELLO
          peer.sendFrame(MessageCodec.AUTH, ByteBufUtil.getBytes(body));
        },
        false);
  }

  @Test
  void aClientThatNeverAuthenticatesIsRefusedAfterTheHandshakeTimeout() throws IOException {
    ChunkServer strict = fx.start(fx.serverBuilder("n9").handshakeTimeout(Duration.ofMillis(200)));
    try (RawPeer peer = new RawPeer(strict.localAddress())) {
      peer.awaitClosedByServer();
    }
    await(() -> strict.stats().connectionsRefused() == 1, "the refusal counted");
    assertEquals(0, strict.stats().malformedFrames());
  }

  @Test
  void connectionsBeyondTheLimitAreRefused() throws IOException {
    ChunkServer small = fx.start(fx.serverBuilder("n8").maxConnections(1));
    ChunkClient first = fx.connect(fx.clientBuilder(small, "first"));
    Throwable t = ChunkFixture.failure(fx.clientBuilder(small, "second").connect());
    assertTrue(t instanceof ChunkAuthException, String.valueOf(t));
    assertTrue(t.getMessage().contains("too many connections"), t.getMessage());
    assertEquals(1, small.stats().connectionsRefused());
    assertEquals(1, join(first.listManifests(0)).size());
  }

  /**
   * Applies {@code abuse} on a fresh raw connection (authenticated first if {@code authenticate}),
   * then checks that the server closed it, counted exactly one malformed frame, and still serves
   * the good client.
   */
  private void assertClosedAndCounted(Abuse abuse, boolean authenticate) throws IOException {
    ChunkServerStats before = server.stats();
    try (RawPeer peer = new RawPeer(server.localAddress())) {
      if (authenticate) {
        peer.authenticate(ChunkFixture.SECRET, "raw");
      }
      abuse.apply(peer);
      peer.awaitClosedByServer();
    }
    await(
        () -> server.stats().malformedFrames() == before.malformedFrames() + 1,
        "the malformed frame counted");
    await(() -> server.stats().openConnections() == 1, "only the good client left");
    ChunkServerStats after = server.stats();
    assertEquals(before.connectionsRefused(), after.connectionsRefused());

    // The good client is unaffected.
    assertTrue(good.isOpen());
    assertServes(good);
    assertEquals(after.malformedFrames(), server.stats().malformedFrames());
  }

  /** {@code client} lists the manifest and fetches every chunk, verified. */
  private void assertServes(ChunkClient client) {
    assertEquals(1, join(client.listManifests(0)).size());
    Outcomes out = new Outcomes();
    List<ChunkId> ids = refs.stream().map(ChunkRef::id).toList();
    client.fetch(ids, out);
    await(() -> out.reported() == ids.size(), "the chunks of " + client);
    assertEquals(ids.size(), out.arrived.size());
    refs.forEach(r -> ChunkFixture.verify(r, out.arrived.get(r.id())));
  }
}
