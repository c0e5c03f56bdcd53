package dev.ferry.shipping.chunks;

import static java.nio.charset.StandardCharsets.US_ASCII;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.shipping.net.Handshake;
import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.format.ManifestRoot;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class MessageCodecTest {
  private static final Random RANDOM = new Random(3);

  private static byte[] bytes(int n) {
    byte[] b = new byte[n];
    RANDOM.nextBytes(b);
    return b;
  }

  private static ChunkId id() {
    return ChunkId.fromBytes(bytes(32));
  }

  /** Encodes, checks the length prefix, and decodes with the receiving side's decoder. */
  private static Message roundTrip(Message m, boolean toServer) throws ProtocolException {
    ByteBuf b = MessageCodec.encode(UnpooledByteBufAllocator.DEFAULT, m);
    try {
      assertEquals(b.readableBytes() - 4, b.readInt(), "length prefix");
      int type = b.readUnsignedByte();
      return toServer
          ? MessageCodec.decodeFromClient(type, b)
          : MessageCodec.decodeFromServer(type, b);
    } finally {
      b.release();
    }
  }

  @Test
  void requestsRoundTrip() throws ProtocolException {
    byte[] nonce = bytes(32);
    byte[] mac = bytes(32);
    Message.Auth auth = (Message.Auth) roundTrip(new Message.Auth(1, nonce, "node-2", mac), true);
    assertEquals(1, auth.version());
    assertArrayEquals(nonce, auth.nonce());
    assertEquals("node-2", auth.clientId());
    assertArrayEquals(mac, auth.mac());
    assertEquals(
        new Message.ListManifests(7, 12), roundTrip(new Message.ListManifests(7, 12), true));
    assertEquals(new Message.GetManifest(-1, 0), roundTrip(new Message.GetManifest(-1, 0), true));
    List<ChunkId> ids = List.of(id(), id(), id());
    assertEquals(
        new Message.Fetch(9, ids, false), roundTrip(new Message.Fetch(9, ids, false), true));
    assertEquals(new Message.Fetch(9, ids, true), roundTrip(new Message.Fetch(9, ids, true), true));
    assertEquals(new Message.Pin(1, 2, 3), roundTrip(new Message.Pin(1, 2, 3), true));
    assertEquals(new Message.Renew(1, 2, -3), roundTrip(new Message.Renew(1, 2, -3), true));
    assertEquals(new Message.Unpin(1, 2), roundTrip(new Message.Unpin(1, 2), true));
    byte[] body = bytes(100);
    Message.AdminRequest admin =
        (Message.AdminRequest)
            roundTrip(new Message.AdminRequest(3, "group-a.1", 0x11, body), true);
    assertEquals(
        List.of(3L, "group-a.1", 0x11), List.of(admin.requestId(), admin.group(), admin.kind()));
    assertArrayEquals(body, admin.body());
    assertEquals(
        new Message.CorruptReport(4, ids), roundTrip(new Message.CorruptReport(4, ids), true));
  }

  @Test
  void aGroupSelectionRoundTripsIsStrictAndOnlyServersAcceptIt() throws ProtocolException {
    String uuid = "6b7f6c2e-0c1a-3d4f-9a55-000000000001";
    assertEquals(
        new Message.SelectGroup(5, uuid), roundTrip(new Message.SelectGroup(5, uuid), true));
    ByteBuf trailing = Unpooled.buffer().writeLong(1).writeByte(1).writeByte('g').writeByte(0);
    assertThrows(
        ProtocolException.class,
        () -> MessageCodec.decodeFromClient(MessageCodec.SELECT_GROUP, trailing));
    ByteBuf empty = Unpooled.buffer().writeLong(1).writeByte(0);
    assertThrows(
        ProtocolException.class,
        () -> MessageCodec.decodeFromClient(MessageCodec.SELECT_GROUP, empty));
    ByteBuf tooLong =
        Unpooled.buffer()
            .writeLong(1)
            .writeByte(129)
            .writeBytes("g".repeat(129).getBytes(US_ASCII));
    assertThrows(
        ProtocolException.class,
        () -> MessageCodec.decodeFromClient(MessageCodec.SELECT_GROUP, tooLong));
    ByteBuf good = Unpooled.buffer().writeLong(1).writeByte(1).writeByte('g');
    assertThrows(
        ProtocolException.class,
        () -> MessageCodec.decodeFromServer(MessageCodec.SELECT_GROUP, good));
  }

  @Test
  void aCorruptionReportIsBoundedAndOnlyServersAcceptIt() {
    ByteBuf none = Unpooled.buffer().writeLong(1).writeShort(0);
    assertThrows(
        ProtocolException.class,
        () -> MessageCodec.decodeFromClient(MessageCodec.CORRUPT_REPORT, none));
    ByteBuf tooMany = Unpooled.buffer().writeLong(1).writeShort(MessageCodec.MAX_REPORT_IDS + 1);
    for (int i = 0; i <= MessageCodec.MAX_REPORT_IDS; i++) {
      tooMany.writeBytes(bytes(32));
    }
    ProtocolException e =
        assertThrows(
            ProtocolException.class,
            () -> MessageCodec.decodeFromClient(MessageCodec.CORRUPT_REPORT, tooMany));
    assertTrue(e.getMessage().contains("1..64"), e.getMessage());
    ByteBuf truncated = Unpooled.buffer().writeLong(1).writeShort(2).writeBytes(bytes(32));
    assertThrows(
        ProtocolException.class,
        () -> MessageCodec.decodeFromClient(MessageCodec.CORRUPT_REPORT, truncated));
    ByteBuf one = Unpooled.buffer().writeLong(1).writeShort(1).writeBytes(bytes(32));
    assertThrows(
        ProtocolException.class,
        () -> MessageCodec.decodeFromServer(MessageCodec.CORRUPT_REPORT, one));
  }

  @Test
  void responsesRoundTrip() throws ProtocolException {
    byte[] nonce = bytes(32);
    assertArrayEquals(
        nonce, ((Message.Hello) roundTrip(new Message.Hello(1, nonce), false)).nonce());
    assertEquals(
        "n1", ((Message.AuthOk) roundTrip(new Message.AuthOk("n1", bytes(32)), false)).serverId());
    assertEquals(new Message.Refused("no"), roundTrip(new Message.Refused("no"), false));
    ManifestInfo info = new ManifestInfo(3, 40, ManifestRoot.fromBytes(bytes(32)), 1000, 600, 12);
    assertEquals(
        new Message.ManifestList(5, List.of(info, info)),
        roundTrip(new Message.ManifestList(5, List.of(info, info)), false));
    byte[] manifest = bytes(100);
    assertArrayEquals(
        manifest,
        ((Message.ManifestBytes) roundTrip(new Message.ManifestBytes(5, manifest), false))
            .encoded());
    ChunkId id = id();
    byte[] stored = bytes(1000);
    Message.ChunkData chunk =
        (Message.ChunkData) roundTrip(new Message.ChunkData(6, id, ByteBuffer.wrap(stored)), false);
    assertEquals(id, chunk.id());
    assertEquals(ByteBuffer.wrap(stored), chunk.stored());
    assertEquals(
        new Message.Missing(6, id, MessageCodec.MISSING_NOT_HELD),
        roundTrip(new Message.Missing(6, id, MessageCodec.MISSING_NOT_HELD), false));
    assertEquals(
        new Message.LeaseGranted(1, 2, "manifest-3-40", 99),
        roundTrip(new Message.LeaseGranted(1, 2, "manifest-3-40", 99), false));
    assertEquals(new Message.Ok(4), roundTrip(new Message.Ok(4), false));
    byte[] interim = bytes(7);
    Message.AdminProgress progress =
        (Message.AdminProgress) roundTrip(new Message.AdminProgress(4, 0x21, interim), false);
    assertEquals(0x21, progress.kind());
    assertArrayEquals(interim, progress.body());
    Message.AdminReply reply =
        (Message.AdminReply) roundTrip(new Message.AdminReply(4, 0x22, new byte[0]), false);
    assertEquals(
        List.of(4L, 0x22, 0), List.of(reply.requestId(), reply.kind(), reply.body().length));
    assertEquals(
        new Message.Error(4, MessageCodec.ERR_UNKNOWN_GROUP, "no such group"),
        roundTrip(new Message.Error(4, MessageCodec.ERR_UNKNOWN_GROUP, "no such group"), false));
    assertEquals(
        new Message.Error(4, MessageCodec.ERR_NOT_FOUND, "no manifest"),
        roundTrip(new Message.Error(4, MessageCodec.ERR_NOT_FOUND, "no manifest"), false));
  }

  @Test
  void longTextIsCutAtACharacterBoundaryAndControlCharactersAreNeutralized()
      throws ProtocolException {
    String text = "é".repeat(600) + "\n\u0007";
    Message.Error e =
        (Message.Error) roundTrip(new Message.Error(1, MessageCodec.ERR_INTERNAL, text), false);
    assertTrue(e.message().startsWith("éé"));
    assertFalse(e.message().contains("\n"));
    Message.Error ctl =
        (Message.Error)
            roundTrip(new Message.Error(1, MessageCodec.ERR_INTERNAL, "a\r\nb\u001b[31m"), false);
    assertEquals("a??b?[31m", ctl.message());
  }

  @Test
  void decodingIsStrict() {
    // An ADMIN frame's group id must be a token; its body is bounded.
    assertThrows(
        ProtocolException.class,
        () ->
            MessageCodec.decodeFromClient(
                MessageCodec.ADMIN,
                Unpooled.buffer()
                    .writeLong(1)
                    .writeByte(3)
                    .writeBytes("a/b".getBytes(US_ASCII))
                    .writeByte(0x10)));
    assertThrows(
        ProtocolException.class,
        () ->
            MessageCodec.decodeFromClient(
                MessageCodec.ADMIN,
                Unpooled.buffer()
                    .writeLong(1)
                    .writeByte(1)
                    .writeByte('g')
                    .writeByte(0x10)
                    .writeBytes(new byte[AdminMessage.MAX_BODY + 1])));
    // Wrong direction.
    assertThrows(
        ProtocolException.class,
        () -> MessageCodec.decodeFromServer(MessageCodec.FETCH, Unpooled.buffer()));
    assertThrows(
        ProtocolException.class,
        () -> MessageCodec.decodeFromClient(MessageCodec.CHUNK, Unpooled.buffer()));
    // Negative index.
    assertThrows(
        ProtocolException.class,
        () ->
            MessageCodec.decodeFromClient(
                MessageCodec.GET_MANIFEST, Unpooled.buffer().writeLong(1).writeLong(-5)));
    // Empty chunk.
    assertThrows(
        ProtocolException.class,
        () ->
            MessageCodec.decodeFromServer(
                MessageCodec.CHUNK, Unpooled.buffer().writeLong(1).writeBytes(bytes(32))));
    // Unknown MISSING reason and ERROR code.
    assertThrows(
        ProtocolException.class,
        () ->
            MessageCodec.decodeFromServer(
                MessageCodec.MISSING,
                Unpooled.buffer().writeLong(1).writeBytes(bytes(32)).writeByte(9)));
    assertThrows(
        ProtocolException.class,
        () ->
            MessageCodec.decodeFromServer(
                MessageCodec.ERROR, Unpooled.buffer().writeLong(1).writeByte(0).writeShort(0)));
    // Invalid UTF-8 in a node id.
    assertThrows(
        ProtocolException.class,
        () ->
            MessageCodec.decodeFromServer(
                MessageCodec.AUTH_OK,
                Unpooled.buffer()
                    .writeByte(2)
                    .writeByte(0xC3)
                    .writeByte(0x28)
                    .writeBytes(bytes(32))));
    // A manifest list longer than allowed.
    assertThrows(
        ProtocolException.class,
        () ->
            MessageCodec.decodeFromServer(
                MessageCodec.MANIFEST_LIST, Unpooled.buffer().writeLong(1).writeInt(1025)));
    // A lease key that is not a store key.
    byte[] key = "../x".getBytes(StandardCharsets.US_ASCII);
    assertThrows(
        ProtocolException.class,
        () ->
            MessageCodec.decodeFromServer(
                MessageCodec.LEASE,
                Unpooled.buffer()
                    .writeLong(1)
                    .writeLong(2)
                    .writeByte(key.length)
                    .writeBytes(key)
                    .writeLong(3)));
  }

  @Test
  void theFrameDecoderRejectsAnOversizedLengthBeforeTheBodyArrives() {
    EmbeddedChannel ch =
        new EmbeddedChannel(new FrameDecoder(MessageCodec::decodeFromClient, 1024));
    DecoderException e =
        assertThrows(
            DecoderException.class,
            () -> ch.writeInbound(Unpooled.buffer().writeInt(1025).writeByte(0x11)));
    assertInstanceOf(ProtocolException.class, e.getCause());
    // Everything after the first error is discarded silently.
    assertFalse(ch.writeInbound(Unpooled.buffer().writeInt(17).writeByte(0x11).writeLong(1)));
    ch.finishAndReleaseAll();
  }

  @Test
  void theFrameDecoderReassemblesSplitFramesAndRaisesItsLimit() {
    FrameDecoder decoder = new FrameDecoder(MessageCodec::decodeFromClient, 20);
    EmbeddedChannel ch = new EmbeddedChannel(decoder);
    ByteBuf frame =
        MessageCodec.encode(UnpooledByteBufAllocator.DEFAULT, new Message.ListManifests(3, 4));
    ch.writeInbound(frame.readRetainedSlice(5));
    assertNull(ch.readInbound());
    ch.writeInbound(frame);
    assertEquals(new Message.ListManifests(3, 4), ch.readInbound());

    List<ChunkId> ids = List.of(id(), id());
    ByteBuf fetch =
        MessageCodec.encode(UnpooledByteBufAllocator.DEFAULT, new Message.Fetch(1, ids, false));
    decoder.maxLength(1024);
    ch.writeInbound(fetch);
    assertEquals(new Message.Fetch(1, ids, false), ch.readInbound());
    ch.finishAndReleaseAll();
  }

  @Test
  void aFrameCutShortByTheEndOfTheConnectionIsReported() {
    EmbeddedChannel ch =
        new EmbeddedChannel(new FrameDecoder(MessageCodec::decodeFromClient, 1024));
    ch.writeInbound(Unpooled.buffer().writeInt(17).writeByte(0x11).writeInt(0));
    DecoderException e = assertThrows(DecoderException.class, ch::finish);
    assertTrue(e.getCause().getMessage().contains("middle of a frame"), e.getMessage());
  }

  @Test
  void proofsAreBoundToRoleNoncesAndIds() {
    Handshake h = new Handshake(Handshake.CHUNK_LABEL, ChunkFixture.SECRET);
    byte[] a = bytes(32);
    byte[] b = bytes(32);
    byte[] client = h.clientProof(a, b, "n2");
    assertArrayEquals(
        client, new Handshake(Handshake.CHUNK_LABEL, ChunkFixture.SECRET).clientProof(a, b, "n2"));
    assertFalse(Handshake.matches(client, h.clientProof(b, a, "n2")));
    assertFalse(Handshake.matches(client, h.clientProof(a, b, "n3")));
    assertFalse(Handshake.matches(client, h.serverProof(a, b, "n2", "n1")));
    assertFalse(Handshake.matches(client, h.serverProof(b, a, "n2", "n1")));
    byte[] other = "another-secret-of-16+".getBytes(StandardCharsets.UTF_8);
    assertFalse(
        Handshake.matches(
            client, new Handshake(Handshake.CHUNK_LABEL, other).clientProof(a, b, "n2")));
    assertThrows(
        IllegalArgumentException.class, () -> new Handshake(Handshake.CHUNK_LABEL, new byte[15]));
  }

  @Test
  void theRateLimiterBooksBytesOnAVirtualTimeline() {
    AtomicLong now = new AtomicLong(1_000);
    SendRateLimiter limiter = new SendRateLimiter(1_000_000, now::get); // 1 byte per µs
    assertEquals(0, limiter.reserve(500_000));
    assertEquals(500_000_000, limiter.reserve(1000));
    now.addAndGet(2_000_000_000L); // idle time earns no credit
    assertEquals(0, limiter.reserve(10));
    assertEquals(10_000, limiter.reserve(10));
  }
}
