package dev.ferry.shipping.chunks;

import dev.ferry.shipping.chunks.Message.AdminProgress;
import dev.ferry.shipping.chunks.Message.AdminReply;
import dev.ferry.shipping.chunks.Message.AdminRequest;
import dev.ferry.shipping.chunks.Message.Auth;
import dev.ferry.shipping.chunks.Message.AuthOk;
import dev.ferry.shipping.chunks.Message.ChunkData;
import dev.ferry.shipping.chunks.Message.CorruptReport;
import dev.ferry.shipping.chunks.Message.Error;
import dev.ferry.shipping.chunks.Message.Fetch;
import dev.ferry.shipping.chunks.Message.GetManifest;
import dev.ferry.shipping.chunks.Message.Hello;
import dev.ferry.shipping.chunks.Message.LeaseGranted;
import dev.ferry.shipping.chunks.Message.ListManifests;
import dev.ferry.shipping.chunks.Message.ManifestBytes;
import dev.ferry.shipping.chunks.Message.ManifestList;
import dev.ferry.shipping.chunks.Message.Missing;
import dev.ferry.shipping.chunks.Message.Ok;
import dev.ferry.shipping.chunks.Message.Pin;
import dev.ferry.shipping.chunks.Message.Refused;
import dev.ferry.shipping.chunks.Message.Renew;
import dev.ferry.shipping.chunks.Message.SelectGroup;
import dev.ferry.shipping.chunks.Message.Unpin;
import dev.ferry.shipping.net.Handshake;
import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.ChunkRef;
import dev.ferry.snapshot.format.ManifestCodec;
import dev.ferry.snapshot.format.ManifestRoot;
import dev.ferry.snapshot.store.ChunkStore;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;

/**
 * The binary layout of every frame of the chunk protocol, version {@value #VERSION}. A frame is
 * {@code u32 length | u8 type | body}, where {@code length} counts the type byte and the body;
 * integers are big-endian. See {@code docs/chunk-protocol.md} for the full table.
 *
 * <p>Decoding is strict: a frame whose body is short, long, out of range or not valid UTF-8 is a
 * {@link ProtocolException}; so is a type the receiving side does not accept. Stateless.
 */
final class MessageCodec {
  static final int VERSION = 1;
  static final int NONCE_BYTES = Handshake.NONCE_BYTES;
  static final int MAC_BYTES = 32;

  /** Most chunk ids in one FETCH. */
  static final int MAX_FETCH_IDS = 256;

  /** Most chunk ids in one CORRUPT_REPORT. */
  static final int MAX_REPORT_IDS = 64;

  /** Most entries in one MANIFEST_LIST. */
  static final int MAX_LIST_ENTRIES = 1024;

  /** Longest REFUSED reason or ERROR message, in UTF-8 bytes. */
  static final int MAX_TEXT_BYTES = 1024;

  /** Largest frame (type + body) either side accepts before authentication. */
  static final int MAX_HANDSHAKE_FRAME = 2048;

  /** Largest frame a server accepts after authentication (a full FETCH is about 8 KiB). */
  static final int MAX_REQUEST_FRAME = 64 << 10;

  /** Bytes of a CHUNK frame before the stored bytes: type, request id, chunk id. */
  static final int CHUNK_PREFIX = 1 + 8 + ChunkId.LENGTH;

  /** Largest frame a client accepts after authentication: a manifest of the largest size. */
  static final int MAX_RESPONSE_FRAME =
      Math.max(1 + 8 + ManifestCodec.MAX_BYTES, CHUNK_PREFIX + ChunkRef.MAX_STORED_SIZE);

  /** Group ids in ADMIN and SELECT_GROUP frames (a Raft group's UUID, for instance). */
  static final Pattern GROUP_ID = Pattern.compile("[A-Za-z0-9._:-]{1,128}");

  /** Node ids: as {@code PeerAddress} ids. */
  static final Pattern NODE_ID = Pattern.compile("[A-Za-z0-9_-]{1,64}");

  // Frame types, server -> client.
  static final int HELLO = 0x01;
  static final int AUTH_OK = 0x03;
  static final int REFUSED = 0x04;
  static final int MANIFEST_LIST = 0x21;
  static final int MANIFEST = 0x22;
  static final int CHUNK = 0x23;
  static final int MISSING = 0x24;
  static final int LEASE = 0x25;
  static final int OK = 0x26;
  static final int ADMIN_PROGRESS = 0x27;
  static final int ADMIN_REPLY = 0x28;
  static final int ERROR = 0x2F;

  // Frame types, client -> server.
  static final int AUTH = 0x02;
  static final int LIST_MANIFESTS = 0x11;
  static final int GET_MANIFEST = 0x12;
  static final int FETCH = 0x13;

  /** FETCH flag: send chunks decompressed (codec RAW) instead of as stored. */
  static final int FETCH_RAW = 0x01;

  static final int PIN = 0x14;
  static final int RENEW = 0x15;
  static final int UNPIN = 0x16;
  static final int CORRUPT_REPORT = 0x17;
  static final int ADMIN = 0x18;
  static final int SELECT_GROUP = 0x19;

  /** MISSING reasons. */
  static final int MISSING_NOT_HELD = 1;

  static final int MISSING_UNREADABLE = 2;

  /** ERROR codes. */
  static final int ERR_NOT_FOUND = 1;

  static final int ERR_LEASE_EXPIRED = 2;
  static final int ERR_BAD_REQUEST = 3;
  static final int ERR_UNAVAILABLE = 4;
  static final int ERR_INTERNAL = 5;
  static final int ERR_UNKNOWN_GROUP = 6;

  private static final int LIST_ENTRY_BYTES = 8 + 8 + ManifestRoot.LENGTH + 8 + 8 + 4;

  private MessageCodec() {}

  // ---------------------------------------------------------------------------------------------
  // Decoding

  /** Decodes a frame a server received. */
  static Message decodeFromClient(int type, ByteBuf body) throws ProtocolException {
    return switch (type) {
      case AUTH -> {
        FrameReader r = new FrameReader(body, "AUTH");
        int version = r.u16("version");
        byte[] nonce = r.bytes(NONCE_BYTES, "nonce");
        String id = r.token("client id", NODE_ID);
        byte[] mac = r.bytes(MAC_BYTES, "mac");
        r.end();
        yield new Auth(version, nonce, id, mac);
      }
      case LIST_MANIFESTS -> {
        FrameReader r = new FrameReader(body, "LIST_MANIFESTS");
        ListManifests m = new ListManifests(r.i64("request id"), r.nonNegative("min index"));
        r.end();
        yield m;
      }
      case GET_MANIFEST -> {
        FrameReader r = new FrameReader(body, "GET_MANIFEST");
        GetManifest m = new GetManifest(r.i64("request id"), r.nonNegative("index"));
        r.end();
        yield m;
      }
      case FETCH -> {
        FrameReader r = new FrameReader(body, "FETCH");
        long id = r.i64("request id");
        int flags = r.u8("flags");
        if ((flags & ~FETCH_RAW) != 0) {
          throw new ProtocolException("FETCH: unknown flags " + flags);
        }
        int n = r.count("chunk count", 1, MAX_FETCH_IDS, false);
        List<ChunkId> ids = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
          ids.add(r.chunkId("chunk id " + i));
        }
        r.end();
        yield new Fetch(id, List.copyOf(ids), (flags & FETCH_RAW) != 0);
      }
      case PIN -> {
        FrameReader r = new FrameReader(body, "PIN");
        Pin m = new Pin(r.i64("request id"), r.nonNegative("index"), r.i64("ttl"));
        r.end();
        yield m;
      }
      case RENEW -> {
        FrameReader r = new FrameReader(body, "RENEW");
        Renew m = new Renew(r.i64("request id"), r.i64("lease id"), r.i64("ttl"));
        r.end();
        yield m;
      }
      case UNPIN -> {
        FrameReader r = new FrameReader(body, "UNPIN");
        Unpin m = new Unpin(r.i64("request id"), r.i64("lease id"));
        r.end();
        yield m;
      }
      case CORRUPT_REPORT -> {
        FrameReader r = new FrameReader(body, "CORRUPT_REPORT");
        long id = r.i64("request id");
        int n = r.count("chunk count", 1, MAX_REPORT_IDS, false);
        List<ChunkId> ids = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
          ids.add(r.chunkId("chunk id " + i));
        }
        r.end();
        yield new CorruptReport(id, List.copyOf(ids));
      }
      case ADMIN -> {
        FrameReader r = new FrameReader(body, "ADMIN");
        long id = r.i64("request id");
        String group = r.token("group id", GROUP_ID);
        int kind = r.u8("kind");
        yield new AdminRequest(id, group, kind, r.rest("body", 0, AdminMessage.MAX_BODY));
      }
      case SELECT_GROUP -> {
        FrameReader r = new FrameReader(body, "SELECT_GROUP");
        SelectGroup m = new SelectGroup(r.i64("request id"), r.token("group id", GROUP_ID));
        r.end();
        yield m;
      }
      default -> throw unknown(type);
    };
  }

  /** Decodes a frame a client received. */
  static Message decodeFromServer(int type, ByteBuf body) throws ProtocolException {
    return switch (type) {
      case HELLO -> {
        FrameReader r = new FrameReader(body, "HELLO");
        Hello m = new Hello(r.u16("version"), r.bytes(NONCE_BYTES, "nonce"));
        r.end();
        yield m;
      }
      case AUTH_OK -> {
        FrameReader r = new FrameReader(body, "AUTH_OK");
        AuthOk m = new AuthOk(r.token("server id", NODE_ID), r.bytes(MAC_BYTES, "mac"));
        r.end();
        yield m;
      }
      case REFUSED -> {
        FrameReader r = new FrameReader(body, "REFUSED");
        Refused m = new Refused(Text.printable(r.text("reason", MAX_TEXT_BYTES)));
        r.end();
        yield m;
      }
      case MANIFEST_LIST -> {
        FrameReader r = new FrameReader(body, "MANIFEST_LIST");
        long id = r.i64("request id");
        int n = r.count("entry count", 0, MAX_LIST_ENTRIES, true);
        List<ManifestInfo> entries = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
          entries.add(
              new ManifestInfo(
                  r.nonNegative("term"),
                  r.nonNegative("index"),
                  ManifestRoot.fromBytes(r.bytes(ManifestRoot.LENGTH, "root")),
                  r.nonNegative("raw bytes"),
                  r.nonNegative("stored bytes"),
                  r.count("chunk count", 0, Integer.MAX_VALUE, true)));
        }
        r.end();
        yield new ManifestList(id, List.copyOf(entries));
      }
      case MANIFEST -> {
        FrameReader r = new FrameReader(body, "MANIFEST");
        long id = r.i64("request id");
        yield new ManifestBytes(id, r.rest("manifest", 1, ManifestCodec.MAX_BYTES));
      }
      case CHUNK -> {
        FrameReader r = new FrameReader(body, "CHUNK");
        long id = r.i64("request id");
        ChunkId chunk = r.chunkId("chunk id");
        byte[] stored = r.rest("stored chunk", 1, ChunkRef.MAX_STORED_SIZE);
        yield new ChunkData(id, chunk, ByteBuffer.wrap(stored));
      }
      case MISSING -> {
        FrameReader r = new FrameReader(body, "MISSING");
        long id = r.i64("request id");
        ChunkId chunk = r.chunkId("chunk id");
        int reason = r.u8("reason");
        if (reason != MISSING_NOT_HELD && reason != MISSING_UNREADABLE) {
          throw new ProtocolException("MISSING frame: unknown reason " + reason);
        }
        r.end();
        yield new Missing(id, chunk, reason);
      }
      case LEASE -> {
        FrameReader r = new FrameReader(body, "LEASE");
        LeaseGranted m =
            new LeaseGranted(
                r.i64("request id"),
                r.i64("lease id"),
                r.token("manifest key", ChunkStore.KEY_PATTERN),
                r.i64("expiry"));
        r.end();
        yield m;
      }
      case OK -> {
        FrameReader r = new FrameReader(body, "OK");
        Ok m = new Ok(r.i64("request id"));
        r.end();
        yield m;
      }
      case ADMIN_PROGRESS -> {
        FrameReader r = new FrameReader(body, "ADMIN_PROGRESS");
        long id = r.i64("request id");
        int kind = r.u8("kind");
        yield new AdminProgress(id, kind, r.rest("body", 0, AdminMessage.MAX_BODY));
      }
      case ADMIN_REPLY -> {
        FrameReader r = new FrameReader(body, "ADMIN_REPLY");
        long id = r.i64("request id");
        int kind = r.u8("kind");
        yield new AdminReply(id, kind, r.rest("body", 0, AdminMessage.MAX_BODY));
      }
      case ERROR -> {
        FrameReader r = new FrameReader(body, "ERROR");
        long id = r.i64("request id");
        int code = r.u8("code");
        if (code < ERR_NOT_FOUND || code > ERR_UNKNOWN_GROUP) {
          throw new ProtocolException("ERROR frame: unknown code " + code);
        }
        String message = Text.printable(r.text("message", MAX_TEXT_BYTES));
        r.end();
        yield new Error(id, code, message);
      }
      default -> throw unknown(type);
    };
  }

  private static ProtocolException unknown(int type) {
    return new ProtocolException(String.format(Locale.ROOT, "unknown frame type 0x%02x", type));
  }

  // ---------------------------------------------------------------------------------------------
  // Encoding

  /** Encodes a whole frame (length prefix included). Not for {@link ChunkData}: see below. */
  static ByteBuf encode(ByteBufAllocator alloc, Message m) {
    if (m instanceof Hello h) {
      return frame(alloc, HELLO, 2 + NONCE_BYTES).writeShort(h.version()).writeBytes(h.nonce());
    } else if (m instanceof Auth a) {
      byte[] id = ascii(a.clientId());
      return frame(alloc, AUTH, 2 + NONCE_BYTES + 1 + id.length + MAC_BYTES)
          .writeShort(a.version())
          .writeBytes(a.nonce())
          .writeByte(id.length)
          .writeBytes(id)
          .writeBytes(a.mac());
    } else if (m instanceof AuthOk ok) {
      byte[] id = ascii(ok.serverId());
      return frame(alloc, AUTH_OK, 1 + id.length + MAC_BYTES)
          .writeByte(id.length)
          .writeBytes(id)
          .writeBytes(ok.mac());
    } else if (m instanceof Refused r) {
      byte[] text = Text.utf8Bounded(r.reason(), MAX_TEXT_BYTES);
      return frame(alloc, REFUSED, 2 + text.length).writeShort(text.length).writeBytes(text);
    } else if (m instanceof ListManifests l) {
      return frame(alloc, LIST_MANIFESTS, 16).writeLong(l.requestId()).writeLong(l.minIndex());
    } else if (m instanceof GetManifest g) {
      return frame(alloc, GET_MANIFEST, 16).writeLong(g.requestId()).writeLong(g.index());
    } else if (m instanceof Fetch f) {
      ByteBuf b =
          frame(alloc, FETCH, 8 + 1 + 2 + ChunkId.LENGTH * f.ids().size())
              .writeLong(f.requestId())
              .writeByte(f.raw() ? FETCH_RAW : 0)
              .writeShort(f.ids().size());
      for (ChunkId id : f.ids()) {
        b.writeBytes(id.toBytes());
      }
      return b;
    } else if (m instanceof CorruptReport c) {
      return chunkIds(frame(alloc, CORRUPT_REPORT, 8 + 2 + ChunkId.LENGTH * c.ids().size()), c);
    } else if (m instanceof Pin p) {
      return frame(alloc, PIN, 24)
          .writeLong(p.requestId())
          .writeLong(p.index())
          .writeLong(p.ttlMillis());
    } else if (m instanceof Renew r) {
      return frame(alloc, RENEW, 24)
          .writeLong(r.requestId())
          .writeLong(r.leaseId())
          .writeLong(r.ttlMillis());
    } else if (m instanceof Unpin u) {
      return frame(alloc, UNPIN, 16).writeLong(u.requestId()).writeLong(u.leaseId());
    } else if (m instanceof ManifestList l) {
      ByteBuf b =
          frame(alloc, MANIFEST_LIST, 8 + 4 + LIST_ENTRY_BYTES * l.entries().size())
              .writeLong(l.requestId())
              .writeInt(l.entries().size());
      for (ManifestInfo e : l.entries()) {
        b.writeLong(e.term())
            .writeLong(e.index())
            .writeBytes(e.root().toBytes())
            .writeLong(e.rawBytes())
            .writeLong(e.storedBytes())
            .writeInt(e.chunkCount());
      }
      return b;
    } else if (m instanceof ManifestBytes mb) {
      return frame(alloc, MANIFEST, 8 + mb.encoded().length)
          .writeLong(mb.requestId())
          .writeBytes(mb.encoded());
    } else if (m instanceof ChunkData c) {
      ByteBuffer stored = c.stored().duplicate();
      return chunkHeader(alloc, c.requestId(), c.id(), stored.remaining()).writeBytes(stored);
    } else if (m instanceof Missing x) {
      return frame(alloc, MISSING, 8 + ChunkId.LENGTH + 1)
          .writeLong(x.requestId())
          .writeBytes(x.id().toBytes())
          .writeByte(x.reason());
    } else if (m instanceof LeaseGranted l) {
      byte[] key = ascii(l.manifestKey());
      return frame(alloc, LEASE, 8 + 8 + 1 + key.length + 8)
          .writeLong(l.requestId())
          .writeLong(l.leaseId())
          .writeByte(key.length)
          .writeBytes(key)
          .writeLong(l.expiresAtMillis());
    } else if (m instanceof AdminRequest a) {
      byte[] group = ascii(a.group());
      return frame(alloc, ADMIN, 8 + 1 + group.length + 1 + a.body().length)
          .writeLong(a.requestId())
          .writeByte(group.length)
          .writeBytes(group)
          .writeByte(a.kind())
          .writeBytes(a.body());
    } else if (m instanceof SelectGroup g) {
      byte[] group = ascii(g.group());
      return frame(alloc, SELECT_GROUP, 8 + 1 + group.length)
          .writeLong(g.requestId())
          .writeByte(group.length)
          .writeBytes(group);
    } else if (m instanceof AdminProgress a) {
      return admin(alloc, ADMIN_PROGRESS, a.requestId(), a.kind(), a.body());
    } else if (m instanceof AdminReply a) {
      return admin(alloc, ADMIN_REPLY, a.requestId(), a.kind(), a.body());
    } else if (m instanceof Ok ok) {
      return frame(alloc, OK, 8).writeLong(ok.requestId());
    } else if (m instanceof Error e) {
      byte[] text = Text.utf8Bounded(e.message(), MAX_TEXT_BYTES);
      return frame(alloc, ERROR, 8 + 1 + 2 + text.length)
          .writeLong(e.requestId())
          .writeByte(e.code())
          .writeShort(text.length)
          .writeBytes(text);
    }
    throw new IllegalArgumentException("cannot encode " + m.name());
  }

  /**
   * The first bytes of a CHUNK frame carrying {@code storedSize} stored bytes: length prefix, type,
   * request id, chunk id. The stored bytes follow as a separate write (zero-copy from the file).
   */
  static ByteBuf chunkHeader(ByteBufAllocator alloc, long requestId, ChunkId id, int storedSize) {
    if (storedSize < 1 || storedSize > ChunkRef.MAX_STORED_SIZE) {
      throw new IllegalArgumentException("stored size out of range: " + storedSize);
    }
    ByteBuf b = alloc.buffer(4 + CHUNK_PREFIX);
    b.writeInt(CHUNK_PREFIX + storedSize).writeByte(CHUNK).writeLong(requestId);
    b.writeBytes(id.toBytes());
    return b;
  }

  private static ByteBuf chunkIds(ByteBuf b, CorruptReport c) {
    b.writeLong(c.requestId()).writeShort(c.ids().size());
    for (ChunkId id : c.ids()) {
      b.writeBytes(id.toBytes());
    }
    return b;
  }

  private static ByteBuf admin(
      ByteBufAllocator alloc, int type, long requestId, int kind, byte[] body) {
    return frame(alloc, type, 8 + 1 + body.length)
        .writeLong(requestId)
        .writeByte(kind)
        .writeBytes(body);
  }

  /** A buffer holding the length prefix and type of a frame with a {@code bodyLength} body. */
  private static ByteBuf frame(ByteBufAllocator alloc, int type, int bodyLength) {
    ByteBuf b = alloc.buffer(4 + 1 + bodyLength);
    return b.writeInt(1 + bodyLength).writeByte(type);
  }

  private static byte[] ascii(String token) {
    return token.getBytes(StandardCharsets.US_ASCII);
  }
}
