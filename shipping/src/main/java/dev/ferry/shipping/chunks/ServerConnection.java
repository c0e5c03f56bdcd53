package dev.ferry.shipping.chunks;

import static dev.ferry.shipping.chunks.ChunkServer.LOG;

import dev.ferry.shipping.chunks.Message.AdminProgress;
import dev.ferry.shipping.chunks.Message.AdminReply;
import dev.ferry.shipping.chunks.Message.AdminRequest;
import dev.ferry.shipping.chunks.Message.Auth;
import dev.ferry.shipping.chunks.Message.AuthOk;
import dev.ferry.shipping.chunks.Message.Error;
import dev.ferry.shipping.chunks.Message.Fetch;
import dev.ferry.shipping.chunks.Message.Hello;
import dev.ferry.shipping.chunks.Message.Missing;
import dev.ferry.shipping.chunks.Message.Refused;
import dev.ferry.shipping.chunks.Message.Request;
import dev.ferry.shipping.chunks.Message.SelectGroup;
import dev.ferry.shipping.net.Handshake;
import dev.ferry.shipping.net.LogLimiter;
import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.ChunkRef;
import dev.ferry.snapshot.store.ChunkCorruptException;
import dev.ferry.snapshot.store.ChunkStore;
import dev.ferry.snapshot.store.FileChunkStore;
import dev.ferry.snapshot.store.StoredChunkFile;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.DefaultFileRegion;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.handler.stream.ChunkedNioFile;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.file.NoSuchFileException;
import java.util.ArrayDeque;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLException;

/**
 * One server-side connection: authentication, the group it names, the fetch pump and the
 * control-request queue.
 *
 * <p>Invariants: at most {@link #MAX_CHUNK_WRITES_IN_FLIGHT} chunk frames are written and not yet
 * handed to the socket, and a new one is started only while the channel is writable; at most one
 * control response is in flight; once {@link State#CLOSED} nothing more is read, counted or sent.
 *
 * <p>Concurrency: every field is confined to the channel's event loop; control requests are
 * computed on the server's worker executor and their answers handed back to the event loop.
 */
final class ServerConnection extends ChannelInboundHandlerAdapter {
  static final int MAX_CHUNK_WRITES_IN_FLIGHT = 2;
  static final int PAUSE_READING_AT = 1024;
  static final int RESUME_READING_AT = 256;
  static final int MAX_CONTROL_QUEUED = 64;
  private static final int TLS_PIECE_BYTES = 64 << 10;

  private enum State {
    HANDSHAKE,
    READY,
    /** The channel closed by itself; a truncated frame may still be reported. */
    INACTIVE,
    /** Refused or closed by this side; nothing more is counted. */
    CLOSED
  }

  private record Queued(long requestId, ChunkId id, boolean raw) {}

  /** A chunk opened for sending: from a file or from memory. */
  private record Outgoing(Queued q, StoredChunkFile file, ByteBuffer heap, int size) {
    void release() {
      if (file != null) {
        try {
          file.close();
        } catch (IOException e) {
          LOG.debug("closing chunk file {}", q.id(), e);
        }
      }
    }
  }

  private final ChunkServer server;
  private final FrameDecoder decoder;
  private final boolean tls;
  private ChannelHandlerContext ctx;
  private State state = State.HANDSHAKE;
  private byte[] serverNonce;
  private String peer = "unauthenticated";
  private String remote = "?";
  private ScheduledFuture<?> handshakeTimer;

  /** The group this connection named (SELECT_GROUP), or null: its chunk requests go there. */
  private String group;

  /** Whether any request arrived yet: SELECT_GROUP may only come first. */
  private boolean requested;

  /** The source address while this connection holds a handshake slot, else null. */
  private InetAddress slot;

  private final ArrayDeque<Queued> fetchQueue = new ArrayDeque<>();
  private Outgoing held;
  private boolean rateWait;
  private boolean pumping;
  private int chunkWritesInFlight;
  private long queuedBytes;
  private boolean readingPaused;
  private long lastWarnedRequest = Long.MIN_VALUE;

  private final ArrayDeque<Request> controlQueue = new ArrayDeque<>();
  private boolean controlBusy;

  /** The admin request whose handler may still send progress, or null. */
  private AdminRequest adminInFlight;

  ServerConnection(ChunkServer server, FrameDecoder decoder, boolean tls) {
    this.server = server;
    this.decoder = decoder;
    this.tls = tls;
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) throws Exception {
    this.ctx = ctx;
    this.remote = String.valueOf(ctx.channel().remoteAddress());
    server.accepted.increment();
    server.channels.add(ctx.channel());
    int open = server.open.incrementAndGet();
    long timeout = server.handshakeTimeout.toMillis();
    handshakeTimer =
        ctx.executor()
            .schedule(
                () -> refuse("no authentication within " + timeout + " ms", serverNonce != null),
                timeout,
                TimeUnit.MILLISECONDS);
    super.channelActive(ctx);
    InetAddress from = ((InetSocketAddress) ctx.channel().remoteAddress()).getAddress();
    String full;
    if (open > server.maxConnections) {
      refuse("too many connections (limit " + server.maxConnections + ")", !tls);
    } else if ((full = server.handshakeSlots.tryAcquire(from)) != null) {
      refuse(full, !tls);
    } else {
      slot = from;
      if (!tls) {
        sendHello();
      }
    }
  }

  private void releaseSlot() {
    if (slot != null) {
      server.handshakeSlots.release(slot);
      slot = null;
    }
  }

  private void sendHello() {
    serverNonce = Handshake.nonce();
    ctx.writeAndFlush(
        MessageCodec.encode(ctx.alloc(), new Hello(MessageCodec.VERSION, serverNonce)));
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
    if (evt instanceof SslHandshakeCompletionEvent e && state == State.HANDSHAKE) {
      if (e.isSuccess()) {
        if (serverNonce == null) {
          sendHello();
        }
      } else {
        refuse("TLS handshake failed: " + rootMessage(e.cause()), false);
      }
    }
    super.userEventTriggered(ctx, evt);
  }

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    try {
      if (state == State.CLOSED || state == State.INACTIVE || !(msg instanceof Message m)) {
        return;
      }
      if (state == State.HANDSHAKE) {
        onHandshake(m);
      } else if (m instanceof SelectGroup g) {
        onSelectGroup(g);
      } else if (m instanceof Fetch f) {
        requested = true;
        onFetch(f);
      } else if (m instanceof Request r) {
        requested = true;
        onControl(r);
      } else {
        violation(m.name() + " frame after authentication");
      }
    } finally {
      ReferenceCountUtil.release(msg);
    }
  }

  private void onHandshake(Message m) {
    if (!(m instanceof Auth a)) {
      violation(m.name() + " frame before authentication");
      return;
    }
    if (serverNonce == null) {
      violation("AUTH frame before HELLO");
      return;
    }
    if (a.version() != MessageCodec.VERSION) {
      refuse(
          "client "
              + a.clientId()
              + " speaks protocol version "
              + a.version()
              + ", this server "
              + MessageCodec.VERSION,
          true);
      return;
    }
    byte[] expected = server.handshake.clientProof(serverNonce, a.nonce(), a.clientId());
    if (!Handshake.matches(expected, a.mac())) {
      refuse(
          "client claiming id " + a.clientId() + " failed authentication (wrong cluster secret?)",
          true);
      return;
    }
    handshakeTimer.cancel(false);
    releaseSlot();
    state = State.READY;
    peer = a.clientId();
    decoder.maxLength(MessageCodec.MAX_REQUEST_FRAME);
    server.authenticated.increment();
    byte[] proof =
        server.handshake.serverProof(a.nonce(), serverNonce, a.clientId(), server.nodeId);
    ctx.writeAndFlush(MessageCodec.encode(ctx.alloc(), new AuthOk(server.nodeId, proof)));
    LOG.debug(
        "chunk server {}: {} authenticated from {}",
        server.nodeId,
        peer,
        ctx.channel().remoteAddress());
  }

  /**
   * Binds the connection to the group it names, whether or not that group is served now: its chunk
   * requests are answered from that group's source, or with the not-here error while there is none.
   */
  private void onSelectGroup(SelectGroup g) {
    if (requested) {
      violation(
          group != null
              ? "a second SELECT_GROUP (the connection named group " + group + ")"
              : "SELECT_GROUP after other requests (it must be the first)");
      return;
    }
    requested = true;
    group = g.group();
    onControl(g);
  }

  // ---------------------------------------------------------------------------------------------
  // Fetch

  private void onFetch(Fetch f) {
    for (ChunkId id : f.ids()) {
      fetchQueue.add(new Queued(f.requestId(), id, f.raw()));
    }
    if (!readingPaused && fetchQueue.size() >= PAUSE_READING_AT) {
      readingPaused = true;
      ctx.channel().config().setAutoRead(false);
    }
    pump();
  }

  @Override
  public void channelWritabilityChanged(ChannelHandlerContext ctx) throws Exception {
    if (ctx.channel().isWritable()) {
      pump();
    }
    super.channelWritabilityChanged(ctx);
  }

  /** Sends queued chunks while the bounds allow. Re-entrant calls return at once. */
  private void pump() {
    if (pumping) {
      return;
    }
    pumping = true;
    boolean wrote = false;
    try {
      while (state == State.READY && !rateWait) {
        if (held == null) {
          if (fetchQueue.isEmpty()
              || chunkWritesInFlight >= MAX_CHUNK_WRITES_IN_FLIGHT
              || !ctx.channel().isWritable()) {
            break;
          }
          held = open(fetchQueue.poll());
          wrote = true;
          if (held == null) {
            continue; // answered MISSING
          }
          SendRateLimiter limiter = server.limiter;
          if (limiter != null) {
            long waitNanos = limiter.reserve(4L + MessageCodec.CHUNK_PREFIX + held.size());
            if (waitNanos > 0) {
              rateWait = true;
              ctx.executor()
                  .schedule(
                      () -> {
                        rateWait = false;
                        pump();
                      },
                      waitNanos,
                      TimeUnit.NANOSECONDS);
              break;
            }
          }
        }
        Outgoing o = held;
        held = null;
        send(o);
        wrote = false; // send flushed
      }
      if (wrote && state == State.READY) {
        ctx.flush();
      }
      if (readingPaused && fetchQueue.size() <= RESUME_READING_AT && state == State.READY) {
        readingPaused = false;
        ctx.channel().config().setAutoRead(true);
      }
    } finally {
      pumping = false;
    }
  }

  /**
   * The chunk in RAW stored form (tag + uncompressed bytes), decoded within its recorded size; a
   * stored form that is already raw is returned as is. Not verified: the receiver verifies.
   */
  private static ByteBuffer decompressed(ByteBuffer stored) throws IOException {
    if (dev.ferry.snapshot.codec.ChunkCodecs.codecOf(stored)
        == dev.ferry.snapshot.codec.ChunkCodec.RAW) {
      return stored;
    }
    byte[] raw =
        dev.ferry.snapshot.codec.ChunkCodecs.decode(
            stored, dev.ferry.snapshot.codec.ChunkCodecs.rawSizeOf(stored));
    ByteBuffer out = ByteBuffer.allocate(1 + raw.length);
    out.put(dev.ferry.snapshot.codec.ChunkCodec.RAW.tag()).put(raw).flip();
    return out;
  }

  /**
   * Opens a chunk for sending, or answers MISSING and returns null; when the connection's group is
   * not served (any longer), answers its whole request with the not-here error instead.
   */
  private Outgoing open(Queued q) {
    ServedSource served = server.sourceFor(group);
    if (served == null) {
      notHere(q);
      return null;
    }
    try {
      ChunkStore store = served.store();
      if (q.raw()) {
        ByteBuffer raw = decompressed(store.readStored(q.id()));
        return new Outgoing(q, null, raw, raw.remaining());
      }
      if (store instanceof FileChunkStore files) {
        StoredChunkFile f = files.openStored(q.id());
        return new Outgoing(q, f, null, (int) f.size());
      }
      ByteBuffer stored = store.readStored(q.id());
      if (!stored.hasRemaining() || stored.remaining() > ChunkRef.MAX_STORED_SIZE) {
        throw new IOException("stored form of impossible size " + stored.remaining());
      }
      return new Outgoing(q, null, stored, stored.remaining());
    } catch (NoSuchFileException e) {
      missing(q, MessageCodec.MISSING_NOT_HELD);
    } catch (ChunkCorruptException e) {
      // The store has quarantined it: it is no longer held.
      LOG.warn("chunk server {}: chunk {} is corrupt: {}", server.nodeId, q.id(), e.getMessage());
      missing(q, MessageCodec.MISSING_NOT_HELD);
    } catch (IOException | RuntimeException e) {
      if (lastWarnedRequest != q.requestId()) {
        lastWarnedRequest = q.requestId();
        LOG.warn(
            "chunk server {}: cannot read chunk {} for {}: {}",
            server.nodeId,
            q.id(),
            peer,
            e.toString());
      }
      missing(q, MessageCodec.MISSING_UNREADABLE);
    }
    return null;
  }

  /** Answers the rest of {@code q}'s request (queued after it) with one not-here error. */
  private void notHere(Queued q) {
    while (!fetchQueue.isEmpty() && fetchQueue.peek().requestId() == q.requestId()) {
      fetchQueue.poll();
    }
    write(server.notHere(q.requestId(), group), false);
  }

  private void missing(Queued q, int reason) {
    server.chunksMissing.increment();
    write(new Missing(q.requestId(), q.id(), reason), false);
  }

  private void send(Outgoing o) {
    Object body;
    try {
      if (o.file() == null) {
        body = Unpooled.wrappedBuffer(o.heap());
      } else if (tls) {
        body = new ChunkedNioFile(o.file().channel(), 0, o.size(), TLS_PIECE_BYTES);
      } else {
        body = new DefaultFileRegion(o.file().channel(), 0, o.size());
      }
    } catch (IOException e) {
      o.release();
      LOG.warn(
          "chunk server {}: cannot send chunk {}: {}", server.nodeId, o.q().id(), e.toString());
      missing(o.q(), MessageCodec.MISSING_UNREADABLE);
      ctx.flush();
      return;
    }
    long frameBytes = 4L + MessageCodec.CHUNK_PREFIX + o.size();
    chunkWritesInFlight++;
    queued(frameBytes);
    ctx.write(MessageCodec.chunkHeader(ctx.alloc(), o.q().requestId(), o.q().id(), o.size()));
    ctx.writeAndFlush(body)
        .addListener(
            f -> {
              chunkWritesInFlight--;
              queued(-frameBytes);
              if (f.isSuccess()) {
                server.chunksServed.increment();
                server.bytesServed.add(o.size());
              } else if (state != State.CLOSED) {
                LOG.debug("chunk server {}: write to {} failed", server.nodeId, peer, f.cause());
                ctx.close();
              }
              pump();
            });
  }

  private void queued(long delta) {
    queuedBytes += delta;
    if (delta > 0) {
      server.noteQueuedBytes(queuedBytes);
    }
  }

  /** Writes a small frame, counted in the queued bytes until the socket takes it. */
  private void write(Message m, boolean flush) {
    ByteBuf buf = MessageCodec.encode(ctx.alloc(), m);
    long n = buf.readableBytes();
    queued(n);
    (flush ? ctx.writeAndFlush(buf) : ctx.write(buf)).addListener(f -> queued(-n));
  }

  // ---------------------------------------------------------------------------------------------
  // Control requests: one at a time, computed on the worker, answered on the event loop.

  private void onControl(Request r) {
    if (controlQueue.size() >= MAX_CONTROL_QUEUED) {
      violation("more than " + MAX_CONTROL_QUEUED + " requests queued");
      return;
    }
    controlQueue.add(r);
    runControl();
  }

  private void runControl() {
    if (controlBusy || controlQueue.isEmpty() || state != State.READY) {
      return;
    }
    Request r = controlQueue.poll();
    controlBusy = true;
    if (r instanceof AdminRequest a) {
      runAdmin(a);
      return;
    }
    String who = peer;
    String named = group;
    try {
      server.worker.execute(
          () -> {
            Message answer = server.answer(r, named, who);
            try {
              ctx.executor().execute(() -> sendControl(answer));
            } catch (RejectedExecutionException e) {
              LOG.debug("chunk server {}: event loop gone", server.nodeId);
            }
          });
    } catch (RejectedExecutionException e) {
      sendControl(
          new Error(r.requestId(), MessageCodec.ERR_UNAVAILABLE, "server is shutting down"));
    }
  }

  /**
   * Hands an admin request to its group's handler; its progress and answer come back to the event
   * loop. A group without a handler is answered at once: unknown group, or unavailable while the
   * node serves no group at all yet (it is starting).
   */
  private void runAdmin(AdminRequest a) {
    AdminHandler handler = server.adminHandlers.get(a.group());
    if (handler == null) {
      int code =
          server.adminHandlers.isEmpty()
              ? MessageCodec.ERR_UNAVAILABLE
              : MessageCodec.ERR_UNKNOWN_GROUP;
      sendControl(new Error(a.requestId(), code, server.unknownGroup(a.group())));
      return;
    }
    adminInFlight = a;
    CompletableFuture<AdminMessage> answer;
    try {
      answer =
          handler.handle(
              peer, new AdminMessage(a.kind(), a.body()), p -> onLoop(() -> adminProgress(a, p)));
    } catch (RuntimeException e) {
      answer = CompletableFuture.failedFuture(e);
    }
    answer.whenComplete((m, e) -> onLoop(() -> adminAnswered(a, m, e)));
  }

  /** Sends progress of {@code a}, unless it was answered already (late progress is dropped). */
  private void adminProgress(AdminRequest a, AdminMessage p) {
    if (state == State.READY && adminInFlight == a) {
      write(new AdminProgress(a.requestId(), p.kind(), p.body()), true);
    }
  }

  private void adminAnswered(AdminRequest a, AdminMessage m, Throwable failure) {
    adminInFlight = null;
    if (failure == null) {
      sendControl(new AdminReply(a.requestId(), m.kind(), m.body()));
      return;
    }
    Throwable c =
        failure instanceof CompletionException && failure.getCause() != null
            ? failure.getCause()
            : failure;
    if (c instanceof IllegalArgumentException) {
      violation(
          "malformed " + a.name() + " request: " + c.getMessage(),
          new Error(a.requestId(), MessageCodec.ERR_BAD_REQUEST, "malformed: " + c.getMessage()));
    } else {
      LOG.warn("chunk server {}: admin request from {} failed", server.nodeId, peer, c);
      sendControl(new Error(a.requestId(), MessageCodec.ERR_INTERNAL, String.valueOf(c)));
    }
  }

  /** Runs {@code task} on this connection's event loop, unless it is gone. */
  private void onLoop(Runnable task) {
    try {
      ctx.executor().execute(task);
    } catch (RejectedExecutionException e) {
      LOG.debug("chunk server {}: event loop gone", server.nodeId);
    }
  }

  private void sendControl(Message answer) {
    if (state != State.READY) {
      controlBusy = false;
      return;
    }
    ByteBuf buf = MessageCodec.encode(ctx.alloc(), answer);
    long n = buf.readableBytes();
    queued(n);
    ctx.writeAndFlush(buf)
        .addListener(
            f -> {
              queued(-n);
              controlBusy = false;
              if (!f.isSuccess()) {
                ctx.close();
                return;
              }
              runControl();
            });
  }

  // ---------------------------------------------------------------------------------------------
  // Ending a connection

  /** Refuses the peer: counted, one WARN line, REFUSED sent if {@code tell}, then closed. */
  private void refuse(String reason, boolean tell) {
    if (state == State.CLOSED) {
      return;
    }
    boolean active = state != State.INACTIVE;
    state = State.CLOSED;
    server.refused.increment();
    warn("refused connection from " + remote, reason);
    if (tell && active) {
      ctx.writeAndFlush(MessageCodec.encode(ctx.alloc(), new Refused(reason)))
          .addListener(ChannelFutureListener.CLOSE);
    } else {
      ctx.close();
    }
  }

  /** One WARN line about this connection, unless too many were logged lately. */
  private void warn(String what, String reason) {
    long skipped = server.logLimit.admit();
    if (skipped >= 0) {
      LOG.warn("chunk server {}: {}: {}{}", server.nodeId, what, reason, LogLimiter.note(skipped));
    }
  }

  /** Closes the connection for breaking the protocol: counted, one WARN line. */
  private void violation(String reason) {
    violation(reason, null);
  }

  /**
   * Closes the connection for breaking the protocol: counted, one WARN line; {@code tell}, if not
   * null, is sent before closing.
   */
  private void violation(String reason, Message tell) {
    if (state == State.CLOSED) {
      return;
    }
    boolean active = state != State.INACTIVE;
    state = State.CLOSED;
    server.malformed.increment();
    warn("closing connection from " + remote + " (" + peer + ")", reason);
    if (tell != null && active) {
      ctx.writeAndFlush(MessageCodec.encode(ctx.alloc(), tell))
          .addListener(ChannelFutureListener.CLOSE);
    } else {
      ctx.close();
    }
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    if (state == State.CLOSED) {
      LOG.debug("chunk server {}: after close: {}", server.nodeId, cause.toString());
      return;
    }
    Throwable c =
        cause instanceof DecoderException && cause.getCause() != null ? cause.getCause() : cause;
    if (c instanceof ProtocolException) {
      violation(c.getMessage());
    } else if (state == State.INACTIVE) {
      LOG.debug("chunk server {}: after close: {}", server.nodeId, c.toString());
    } else if (c instanceof SSLException) {
      if (state == State.HANDSHAKE) {
        refuse("TLS handshake failed: " + rootMessage(c), false);
      } else {
        violation("TLS error: " + rootMessage(c));
      }
    } else if (c instanceof IOException) {
      LOG.debug(
          "chunk server {}: connection from {} failed: {}", server.nodeId, peer, c.toString());
      // Not CLOSED: a frame cut off by the failure is still reported (and counted) when the
      // decoder sees the channel close.
      state = State.INACTIVE;
      ctx.close();
    } else {
      LOG.warn(
          "chunk server {}: closing connection from {} after an unexpected error",
          server.nodeId,
          peer,
          c);
      state = State.CLOSED;
      ctx.close();
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    if (state != State.CLOSED) {
      state = State.INACTIVE;
    }
    server.open.decrementAndGet();
    server.channels.remove(ctx.channel());
    releaseSlot();
    if (handshakeTimer != null) {
      handshakeTimer.cancel(false);
    }
    if (held != null) {
      held.release();
      held = null;
    }
    fetchQueue.clear();
    controlQueue.clear();
    super.channelInactive(ctx);
  }

  private static String rootMessage(Throwable t) {
    Throwable c = t;
    while (c.getCause() != null && c.getCause() != c) {
      c = c.getCause();
    }
    return c.getMessage() != null ? c.getMessage() : c.toString();
  }
}
