package dev.ferry.shipping.chunks;

import dev.ferry.shipping.chunks.Message.AdminProgress;
import dev.ferry.shipping.chunks.Message.AdminReply;
import dev.ferry.shipping.chunks.Message.Auth;
import dev.ferry.shipping.chunks.Message.AuthOk;
import dev.ferry.shipping.chunks.Message.ChunkData;
import dev.ferry.shipping.chunks.Message.Error;
import dev.ferry.shipping.chunks.Message.Fetch;
import dev.ferry.shipping.chunks.Message.Hello;
import dev.ferry.shipping.chunks.Message.Missing;
import dev.ferry.shipping.chunks.Message.Ok;
import dev.ferry.shipping.chunks.Message.Refused;
import dev.ferry.shipping.chunks.Message.Request;
import dev.ferry.shipping.chunks.Message.Response;
import dev.ferry.shipping.chunks.Message.SelectGroup;
import dev.ferry.shipping.net.Handshake;
import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.transport.ChunkTransport.FetchListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.ssl.SslHandshakeCompletionEvent;
import io.netty.handler.timeout.IdleState;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.nio.file.NoSuchFileException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.LongFunction;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The client side of one chunk-service connection: the handshake, naming the connection's group,
 * request ids, matching responses to requests, and failing everything outstanding when the
 * connection ends.
 *
 * <p>Invariants: every request in {@link #pending} is answered exactly once, by its response or by
 * the connection's end; a fetch's chunks arrive in the order requested, and anything else is a
 * protocol violation that ends the connection.
 *
 * <p>Concurrency: all state is confined to the channel's event loop; public entry points hand their
 * work to it. Futures complete on the callback executor; fetch listeners are called on the event
 * loop.
 */
final class ClientConnection extends ChannelInboundHandlerAdapter {
  private static final Logger LOG = LoggerFactory.getLogger(ChunkClient.class);

  private enum State {
    HANDSHAKE,
    READY,
    CLOSED
  }

  /** A control request awaiting its response. */
  private record Control(
      CompletableFuture<Message> future,
      Class<? extends Response> expected,
      Function<Error, RuntimeException> onError) {}

  /** An admin request awaiting its answer, its progress going to {@code progress}. */
  private record AdminCall(
      CompletableFuture<Message> future,
      Consumer<AdminMessage> progress,
      Function<Error, RuntimeException> onError) {}

  /** A fetch awaiting its chunks, in order. */
  private record Fetching(FetchListener listener, ArrayDeque<ChunkId> remaining) {}

  private final String peerId;
  private final String selfId;
  private final String group;
  private final String address;
  private final Handshake handshake;
  private final Executor callbacks;
  private final long handshakeTimeoutMillis;
  private final FrameDecoder decoder;
  private final CompletableFuture<ClientConnection> ready = new CompletableFuture<>();
  private final AtomicLong bytesReceived = new AtomicLong();

  private ChannelHandlerContext ctx;
  private EventLoop loop;
  private State state = State.HANDSHAKE;
  private IOException closedCause;
  private byte[] clientNonce;
  private byte[] serverNonce;
  private ScheduledFuture<?> handshakeTimer;
  private long nextRequestId = 1;
  private final Map<Long, Object> pending = new HashMap<>();

  /**
   * @param group the group to name right after authentication (SELECT_GROUP), or null for none
   */
  ClientConnection(
      String peerId,
      String selfId,
      String group,
      String address,
      Handshake handshake,
      Executor callbacks,
      long handshakeTimeoutMillis) {
    this.peerId = peerId;
    this.selfId = selfId;
    this.group = group;
    this.address = address;
    this.handshake = handshake;
    this.callbacks = callbacks;
    this.handshakeTimeoutMillis = handshakeTimeoutMillis;
    this.decoder =
        new FrameDecoder(MessageCodec::decodeFromServer, MessageCodec.MAX_HANDSHAKE_FRAME);
  }

  FrameDecoder decoder() {
    return decoder;
  }

  /**
   * Completes once authenticated and, with a group to name, once the server accepted it; or fails
   * with the reason it could not ({@link ChunkRequestException} if the server does not host the
   * group).
   */
  CompletableFuture<ClientConnection> ready() {
    return ready;
  }

  long bytesReceived() {
    return bytesReceived.get();
  }

  /** The connection could not even be established. Any thread. */
  void connectFailed(IOException cause) {
    ready.completeExceptionally(cause);
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) throws Exception {
    this.ctx = ctx;
    this.loop = ctx.channel().eventLoop();
    handshakeTimer =
        ctx.executor()
            .schedule(
                () ->
                    close(
                        new ChunkAuthException(
                            "no handshake from "
                                + peerId
                                + " at "
                                + address
                                + " within "
                                + handshakeTimeoutMillis
                                + " ms")),
                handshakeTimeoutMillis,
                TimeUnit.MILLISECONDS);
    super.channelActive(ctx);
  }

  // ---------------------------------------------------------------------------------------------
  // Requests (any thread)

  /**
   * Sends a control request built from its id; the future completes on the callback executor with
   * the response of type {@code expected}, or fails with {@code onError} of an ERROR response or
   * with an {@link IOException} if the connection ends first.
   */
  CompletableFuture<Message> request(
      LongFunction<Request> build,
      Class<? extends Response> expected,
      Function<Error, RuntimeException> onError) {
    CompletableFuture<Message> f = new CompletableFuture<>();
    start(f, build, new Control(f, expected, onError));
    return f;
  }

  /**
   * On the event loop: gives the request an id, records {@code waiting} as what its responses go
   * to, and sends it; or fails {@code f} if the connection is closed.
   */
  private void start(CompletableFuture<Message> f, LongFunction<Request> build, Object waiting) {
    onLoop(
        () -> {
          if (state != State.READY) {
            f.completeExceptionally(closedCause());
            return;
          }
          long id = nextRequestId++;
          pending.put(id, waiting);
          send(build.apply(id));
        },
        () -> f.completeExceptionally(closedCause()));
  }

  /**
   * Sends an admin request built from its id; see {@link ChunkClient#admin}. The future completes
   * on the callback executor with the {@link AdminReply}; progress is reported on the event loop.
   */
  CompletableFuture<AdminMessage> admin(
      LongFunction<Request> build,
      Consumer<AdminMessage> progress,
      Function<Error, RuntimeException> onError) {
    CompletableFuture<Message> f = new CompletableFuture<>();
    start(f, build, new AdminCall(f, progress, onError));
    return f.thenApply(m -> new AdminMessage(((AdminReply) m).kind(), ((AdminReply) m).body()));
  }

  /** Requests chunks in batches of at most 256; see {@link ChunkClient#fetch}. */
  void fetch(List<ChunkId> distinct, FetchListener listener, boolean raw) {
    onLoop(
        () -> {
          if (state != State.READY) {
            failChunks(distinct, listener, closedCause());
            return;
          }
          for (int from = 0; from < distinct.size(); from += MessageCodec.MAX_FETCH_IDS) {
            List<ChunkId> batch =
                distinct.subList(
                    from, Math.min(distinct.size(), from + MessageCodec.MAX_FETCH_IDS));
            long id = nextRequestId++;
            pending.put(id, new Fetching(listener, new ArrayDeque<>(batch)));
            ctx.write(MessageCodec.encode(ctx.alloc(), new Fetch(id, List.copyOf(batch), raw)))
                .addListener(w -> writeDone(w.cause()));
          }
          ctx.flush();
        },
        () -> failChunks(distinct, listener, closedCause()));
  }

  private void send(Request r) {
    ctx.writeAndFlush(MessageCodec.encode(ctx.alloc(), r)).addListener(w -> writeDone(w.cause()));
  }

  private void writeDone(Throwable cause) {
    if (cause != null) {
      close(new IOException("cannot send to " + peerId + " at " + address + ": " + cause, cause));
    }
  }

  /** Closes the connection; everything outstanding fails. Any thread. */
  void close(String why) {
    onLoop(() -> close(new IOException(why)), () -> {});
  }

  private void onLoop(Runnable task, Runnable ifRejected) {
    if (loop.inEventLoop()) {
      task.run();
      return;
    }
    try {
      loop.execute(task);
    } catch (RejectedExecutionException e) {
      ifRejected.run();
    }
  }

  private IOException closedCause() {
    IOException c = closedCause;
    return new IOException(
        "connection to "
            + peerId
            + " at "
            + address
            + " is closed"
            + (c != null ? ": " + c.getMessage() : ""),
        c);
  }

  // ---------------------------------------------------------------------------------------------
  // Inbound

  @Override
  public void channelRead(ChannelHandlerContext ctx, Object msg) {
    if (state == State.CLOSED || !(msg instanceof Message m)) {
      return;
    }
    try {
      if (state == State.HANDSHAKE) {
        onHandshake(m);
      } else {
        onResponse(m);
      }
    } catch (ProtocolException e) {
      violation(e.getMessage());
    }
  }

  private void onHandshake(Message m) throws ProtocolException {
    if (m instanceof Hello h) {
      if (clientNonce != null) {
        throw new ProtocolException("second HELLO");
      }
      if (h.version() != MessageCodec.VERSION) {
        close(
            new ChunkAuthException(
                peerId
                    + " at "
                    + address
                    + " speaks protocol version "
                    + h.version()
                    + ", this node "
                    + MessageCodec.VERSION));
        return;
      }
      serverNonce = h.nonce();
      clientNonce = Handshake.nonce();
      byte[] proof = handshake.clientProof(serverNonce, clientNonce, selfId);
      ctx.writeAndFlush(
              MessageCodec.encode(
                  ctx.alloc(), new Auth(MessageCodec.VERSION, clientNonce, selfId, proof)))
          .addListener(w -> writeDone(w.cause()));
    } else if (m instanceof AuthOk ok) {
      if (clientNonce == null) {
        throw new ProtocolException("AUTH_OK before HELLO");
      }
      byte[] expected = handshake.serverProof(clientNonce, serverNonce, selfId, ok.serverId());
      if (!Handshake.matches(expected, ok.mac())) {
        close(
            new ChunkAuthException(
                "the server at " + address + " failed to prove the cluster secret"));
        return;
      }
      if (!ok.serverId().equals(peerId)) {
        close(
            new ChunkAuthException(
                "expected peer " + peerId + " at " + address + " but it is " + ok.serverId()));
        return;
      }
      handshakeTimer.cancel(false);
      state = State.READY;
      decoder.maxLength(MessageCodec.MAX_RESPONSE_FRAME);
      LOG.debug("chunk client {}: connected to {} at {}", selfId, peerId, address);
      if (group == null) {
        ready.complete(this);
      } else {
        selectGroup();
      }
    } else if (m instanceof Refused r) {
      close(
          new ChunkAuthException(peerId + " at " + address + " refused this node: " + r.reason()));
    } else {
      throw new ProtocolException(m.name() + " frame before authentication");
    }
  }

  /**
   * Names the connection's group, the first request; {@link #ready} completes with the answer. The
   * wait for it is bounded by the request timeout like any request's.
   */
  private void selectGroup() {
    CompletableFuture<Message> selected = new CompletableFuture<>();
    long id = nextRequestId++;
    pending.put(id, new Control(selected, Ok.class, e -> ChunkClient.requestError(peerId, e)));
    send(new SelectGroup(id, group));
    selected.whenComplete(
        (ok, e) -> {
          if (e != null) {
            ready.completeExceptionally(e);
          } else {
            ready.complete(this);
          }
        });
  }

  private void onResponse(Message m) throws ProtocolException {
    if (!(m instanceof Response r)) {
      throw new ProtocolException(m.name() + " frame after authentication");
    }
    Object p = pending.get(r.requestId());
    if (p == null) {
      throw new ProtocolException(m.name() + " for unknown request " + r.requestId());
    }
    if (p instanceof Fetching f) {
      onFetchResponse(r, f);
      return;
    }
    if (p instanceof AdminCall a) {
      onAdminResponse(r, a);
      return;
    }
    Control c = (Control) p;
    if (r instanceof Error e) {
      pending.remove(r.requestId());
      complete(c.future(), null, c.onError().apply(e));
    } else if (c.expected().isInstance(r)) {
      pending.remove(r.requestId());
      complete(c.future(), r, null);
    } else {
      // Left pending: closing the connection fails it.
      throw new ProtocolException(
          m.name() + " in answer to a request expecting " + c.expected().getSimpleName());
    }
  }

  private void onAdminResponse(Response r, AdminCall a) throws ProtocolException {
    if (r instanceof AdminProgress p) {
      try {
        a.progress().accept(new AdminMessage(p.kind(), p.body()));
      } catch (RuntimeException e) {
        LOG.warn("chunk client {}: admin progress listener failed", selfId, e);
      }
      return;
    }
    pending.remove(r.requestId());
    if (r instanceof AdminReply) {
      complete(a.future(), r, null);
    } else if (r instanceof Error e) {
      complete(a.future(), null, a.onError().apply(e));
    } else {
      complete(a.future(), null, new IOException(r.name() + " in answer to an ADMIN request"));
      throw new ProtocolException(r.name() + " in answer to an ADMIN request");
    }
  }

  private void onFetchResponse(Response r, Fetching f) throws ProtocolException {
    if (r instanceof Error e) {
      pending.remove(r.requestId());
      failChunks(
          List.copyOf(f.remaining()),
          f.listener(),
          new IOException(peerId + " could not serve the fetch: " + e.message()));
      return;
    }
    ChunkId id;
    if (r instanceof ChunkData c) {
      id = c.id();
    } else if (r instanceof Missing x) {
      id = x.id();
    } else {
      throw new ProtocolException(r.name() + " in answer to a FETCH");
    }
    ChunkId expected = f.remaining().peekFirst();
    if (!id.equals(expected)) {
      throw new ProtocolException(
          "chunk " + id + " out of order in request " + r.requestId() + ", expected " + expected);
    }
    f.remaining().pollFirst();
    if (f.remaining().isEmpty()) {
      pending.remove(r.requestId());
    }
    try {
      if (r instanceof ChunkData c) {
        bytesReceived.addAndGet(c.stored().remaining());
        f.listener().arrived(id, c.stored());
      } else {
        Missing x = (Missing) r;
        f.listener()
            .failed(
                id,
                x.reason() == MessageCodec.MISSING_NOT_HELD
                    ? new NoSuchFileException(id.toHex(), null, "chunk not held by " + peerId)
                    : new IOException(peerId + " could not read chunk " + id));
      }
    } catch (RuntimeException e) {
      LOG.warn("chunk client {}: fetch listener failed on chunk {}", selfId, id, e);
    }
  }

  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object evt) throws Exception {
    if (evt instanceof SslHandshakeCompletionEvent e && !e.isSuccess()) {
      close(
          new ChunkAuthException(
              "TLS handshake with " + peerId + " at " + address + " failed: " + e.cause(),
              e.cause()));
    } else if (evt instanceof IdleStateEvent idle
        && idle.state() == IdleState.READER_IDLE
        && state == State.READY
        && !pending.isEmpty()) {
      LOG.warn(
          "chunk client {}: no data from {} at {} with {} requests outstanding; closing",
          selfId,
          peerId,
          address,
          pending.size());
      close(
          new IOException(
              "request to "
                  + peerId
                  + " at "
                  + address
                  + " timed out: no data with "
                  + pending.size()
                  + " requests outstanding"));
    }
    super.userEventTriggered(ctx, evt);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    if (state == State.CLOSED) {
      return;
    }
    Throwable c =
        cause instanceof DecoderException && cause.getCause() != null ? cause.getCause() : cause;
    if (c instanceof ProtocolException) {
      violation(c.getMessage());
    } else if (c instanceof SSLException && state == State.HANDSHAKE) {
      close(
          new ChunkAuthException(
              "TLS handshake with " + peerId + " at " + address + " failed: " + c, c));
    } else {
      close(new IOException("connection to " + peerId + " at " + address + " failed: " + c, c));
    }
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    close(new IOException("connection to " + peerId + " at " + address + " lost"));
    super.channelInactive(ctx);
  }

  private void violation(String reason) {
    if (state == State.CLOSED) {
      return;
    }
    LOG.warn(
        "chunk client {}: closing connection to {} at {}: protocol violation: {}",
        selfId,
        peerId,
        address,
        reason);
    close(new IOException("protocol violation by " + peerId + " at " + address + ": " + reason));
  }

  /** Ends the connection: the connect future and every outstanding request fail with cause. */
  private void close(IOException cause) {
    if (state == State.CLOSED) {
      return;
    }
    state = State.CLOSED;
    closedCause = cause;
    if (handshakeTimer != null) {
      handshakeTimer.cancel(false);
    }
    ready.completeExceptionally(cause);
    List<Object> all = new ArrayList<>(pending.values());
    pending.clear();
    for (Object p : all) {
      if (p instanceof Control c) {
        complete(c.future(), null, cause);
      } else if (p instanceof AdminCall a) {
        complete(a.future(), null, cause);
      } else {
        Fetching f = (Fetching) p;
        failChunks(List.copyOf(f.remaining()), f.listener(), cause);
      }
    }
    ctx.close();
  }

  private void failChunks(List<ChunkId> ids, FetchListener listener, Throwable cause) {
    for (ChunkId id : ids) {
      try {
        listener.failed(id, cause);
      } catch (RuntimeException e) {
        LOG.warn("chunk client {}: fetch listener failed on chunk {}", selfId, id, e);
      }
    }
  }

  private void complete(CompletableFuture<Message> f, Message value, Throwable failure) {
    try {
      callbacks.execute(
          () -> {
            if (failure != null) {
              f.completeExceptionally(failure);
            } else {
              f.complete(value);
            }
          });
    } catch (RejectedExecutionException e) {
      if (failure != null) {
        f.completeExceptionally(failure);
      } else {
        f.complete(value);
      }
    }
  }
}
