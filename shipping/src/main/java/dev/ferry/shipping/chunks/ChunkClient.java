package dev.ferry.shipping.chunks;

import dev.ferry.shipping.PeerAddress;
import dev.ferry.shipping.chunks.Message.AdminRequest;
import dev.ferry.shipping.chunks.Message.CorruptReport;
import dev.ferry.shipping.chunks.Message.Error;
import dev.ferry.shipping.chunks.Message.GetManifest;
import dev.ferry.shipping.chunks.Message.LeaseGranted;
import dev.ferry.shipping.chunks.Message.ListManifests;
import dev.ferry.shipping.chunks.Message.ManifestBytes;
import dev.ferry.shipping.chunks.Message.ManifestList;
import dev.ferry.shipping.chunks.Message.Ok;
import dev.ferry.shipping.chunks.Message.Pin;
import dev.ferry.shipping.chunks.Message.Renew;
import dev.ferry.shipping.chunks.Message.Unpin;
import dev.ferry.shipping.net.Handshake;
import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.format.Manifest;
import dev.ferry.snapshot.format.ManifestCodec;
import dev.ferry.snapshot.format.ManifestFormatException;
import dev.ferry.snapshot.format.ManifestRoot;
import dev.ferry.snapshot.store.Lease;
import dev.ferry.snapshot.store.LeaseExpiredException;
import dev.ferry.snapshot.transport.ChunkTransport;
import io.netty.bootstrap.Bootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioSocketChannel;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.timeout.IdleStateHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.Closeable;
import java.io.IOException;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * A connection to one peer's {@link ChunkServer}: lists and fetches its manifests, pins them while
 * copying, and fetches chunks as a {@link ChunkTransport}. Create with {@link #builder()} and
 * {@link Builder#connect()}, which completes once both sides have proved the cluster secret (and,
 * with TLS, exchanged certificates). On a node hosting many groups a client is about one group's
 * chunks ({@link Builder#group}); admin requests name their group each.
 *
 * <p>Failures: a request the server answers with an error fails with {@link ChunkRequestException}
 * (or {@link LeaseExpiredException} for an ended lease); when the connection ends — the peer closes
 * it, breaks the protocol, sends nothing for the request timeout while requests are outstanding, or
 * {@link #close()} is called — every outstanding request fails promptly with an {@link
 * IOException}, and so does every later one. A client does not reconnect; make a new one.
 *
 * <p>Concurrency: thread-safe; no method blocks except {@link #close()} (briefly). Futures complete
 * on the callback executor (default: the common pool). {@link FetchListener} callbacks run on the
 * client's I/O thread: they must return quickly and not block. Many clients share one event-loop
 * group (by default a process-wide one of two daemon threads).
 */
public final class ChunkClient implements SnapshotPeer, Closeable {

  /** Process-wide default event loops for clients: two daemon threads, created on first use. */
  private static final class DefaultGroup {
    static final EventLoopGroup GROUP =
        new NioEventLoopGroup(2, new DefaultThreadFactory("ferry-chunk-client", true));
  }

  private final String peerId;
  private final String group;
  private final String address;
  private final Channel channel;
  private final ClientConnection connection;
  private final Executor callbacks;

  private ChunkClient(
      String peerId,
      String group,
      String address,
      Channel channel,
      ClientConnection connection,
      Executor callbacks) {
    this.peerId = peerId;
    this.group = group;
    this.address = address;
    this.channel = channel;
    this.connection = connection;
    this.callbacks = callbacks;
  }

  /** A new builder. */
  public static Builder builder() {
    return new Builder();
  }

  /** The peer's node id; the source id for the transfer protocol. */
  @Override
  public String sourceId() {
    return peerId;
  }

  /**
   * The group whose chunks this connection is about ({@link Builder#group}), or empty if it named
   * none (the peer's chunks of a single-group node).
   */
  public Optional<String> group() {
    return Optional.ofNullable(group);
  }

  /** {@code host:port} of the peer's chunk service. */
  public String address() {
    return address;
  }

  /** True until the connection ends. */
  public boolean isOpen() {
    return channel.isActive();
  }

  /** Stored chunk bytes received so far. */
  public long bytesReceived() {
    return connection.bytesReceived();
  }

  /**
   * The peer's manifests at or after {@code minIndex}, in ascending index order (at most the newest
   * 1024).
   */
  @Override
  public CompletableFuture<List<ManifestInfo>> listManifests(long minIndex) {
    if (minIndex < 0) {
      throw new IllegalArgumentException("minIndex < 0: " + minIndex);
    }
    return connection
        .request(id -> new ListManifests(id, minIndex), ManifestList.class, this::requestError)
        .thenApply(m -> ((ManifestList) m).entries());
  }

  /**
   * The peer's manifest at {@code index}, decoded and checked (bounded by {@link
   * ManifestCodec#MAX_BYTES}; its own root hash verified). Fails with {@link ChunkRequestException}
   * ({@code NOT_FOUND}) if the peer has none, or with {@link ManifestFormatException} if the bytes
   * are not a valid manifest of that index.
   */
  @Override
  public CompletableFuture<Manifest> fetchManifest(long index) {
    return fetchManifest(index, null);
  }

  /**
   * The manifest {@code expected} describes, verified to have exactly its root hash (and so its
   * term and index); otherwise as {@link #fetchManifest(long)}.
   */
  public CompletableFuture<Manifest> fetchManifest(ManifestInfo expected) {
    Objects.requireNonNull(expected, "expected");
    return fetchManifest(expected.index(), expected.root());
  }

  private CompletableFuture<Manifest> fetchManifest(long index, ManifestRoot root) {
    if (index < 0) {
      throw new IllegalArgumentException("index < 0: " + index);
    }
    return connection
        .request(id -> new GetManifest(id, index), ManifestBytes.class, this::requestError)
        .thenComposeAsync(m -> decode(((ManifestBytes) m).encoded(), index, root), callbacks);
  }

  private CompletableFuture<Manifest> decode(byte[] encoded, long index, ManifestRoot root) {
    CompletableFuture<Manifest> result = new CompletableFuture<>();
    try {
      Manifest m = ManifestCodec.decode(encoded, ManifestCodec.MAX_BYTES);
      if (m.index() != index) {
        throw new ManifestFormatException(
            peerId + " sent the manifest at index " + m.index() + " when asked for " + index, 0);
      }
      if (root != null) {
        ManifestRoot actual = ManifestCodec.rootOf(encoded);
        if (!actual.equals(root)) {
          throw new ManifestFormatException(
              peerId + " sent a manifest with root " + actual + ", listed as " + root, 0);
        }
      }
      result.complete(m);
    } catch (ManifestFormatException e) {
      result.completeExceptionally(e);
    }
    return result;
  }

  /**
   * Pins the peer's manifest at {@code index} for {@code ttl} (its chunks are not deleted while the
   * lease lives, even if the peer releases the manifest). Fails with {@link ChunkRequestException}
   * {@code NOT_FOUND} if the peer has no such manifest, {@code BAD_REQUEST} if {@code ttl} exceeds
   * the peer's limit.
   */
  @Override
  public CompletableFuture<Lease> pin(long index, Duration ttl) {
    long ms = ttlMillis(ttl);
    return connection
        .request(id -> new Pin(id, index, ms), LeaseGranted.class, this::requestError)
        .thenApply(ChunkClient::lease);
  }

  /**
   * Extends a lease this peer granted to now + {@code ttl}. Fails with {@link
   * LeaseExpiredException} if it has ended.
   */
  @Override
  public CompletableFuture<Lease> renew(long leaseId, Duration ttl) {
    long ms = ttlMillis(ttl);
    Function<Error, RuntimeException> onError =
        e ->
            e.code() == MessageCodec.ERR_LEASE_EXPIRED
                ? new LeaseExpiredException(leaseId, peerId + ": " + e.message())
                : requestError(e);
    return connection
        .request(id -> new Renew(id, leaseId, ms), LeaseGranted.class, onError)
        .thenApply(ChunkClient::lease);
  }

  /** Ends a lease this peer granted; no effect if it has already ended. */
  @Override
  public CompletableFuture<Void> unpin(long leaseId) {
    return connection
        .request(id -> new Unpin(id, leaseId), Ok.class, this::requestError)
        .thenApply(m -> null);
  }

  /**
   * Tells the peer that chunks it sent failed verification here (CORRUPT_REPORT). The peer
   * re-verifies each and quarantines and re-fetches only those its own bytes condemn. Completes
   * when the peer has done so; fails with {@link ChunkRequestException} if the peer refused the
   * request, with an {@link IOException} on connection loss. Never blocks.
   *
   * @param ids 1 to {@value MessageCodec#MAX_REPORT_IDS} distinct chunk ids
   * @throws IllegalArgumentException if {@code ids} is empty or too long
   */
  @Override
  public CompletableFuture<Void> reportCorrupt(List<ChunkId> ids) {
    List<ChunkId> distinct = List.copyOf(new LinkedHashSet<>(ids));
    if (distinct.isEmpty() || distinct.size() > MessageCodec.MAX_REPORT_IDS) {
      throw new IllegalArgumentException(
          "a corruption report names 1.."
              + MessageCodec.MAX_REPORT_IDS
              + " chunks, not "
              + distinct.size());
    }
    return connection
        .request(id -> new CorruptReport(id, distinct), Ok.class, this::requestError)
        .thenApply(m -> null);
  }

  /**
   * Requests chunks from the peer, in batches of at most 256 per request. Each distinct requested
   * chunk is reported exactly once: {@link FetchListener#arrived} with its stored bytes as the peer
   * sent them (unverified; the caller verifies), or {@link FetchListener#failed} with a {@link
   * java.nio.file.NoSuchFileException} if the peer does not hold it, or with an {@link IOException}
   * if the peer could not read it, the request timed out or the connection ended. Never blocks;
   * listener calls come on the client's I/O thread.
   */
  @Override
  public void fetch(List<ChunkId> chunks, FetchListener listener) {
    fetch(chunks, listener, false);
  }

  /**
   * As {@link #fetch(List, FetchListener)}; with {@code raw} the server decompresses each chunk and
   * sends it in RAW stored form (more bytes on the wire, no decompression here).
   */
  @Override
  public void fetch(List<ChunkId> chunks, FetchListener listener, boolean raw) {
    Objects.requireNonNull(listener, "listener");
    List<ChunkId> distinct = new ArrayList<>(new LinkedHashSet<>(chunks));
    if (!distinct.isEmpty()) {
      connection.fetch(distinct, listener, raw);
    }
  }

  /**
   * Sends an admin request to the handler of {@code groupId} on the peer ({@link
   * ChunkServer#serveAdmin}) and completes with its answer. Interim messages go to {@code progress}
   * in the order sent, all before the future completes; it is called on the client's I/O thread and
   * must return quickly without blocking. Fails with {@link ChunkRequestException} ({@code
   * UNKNOWN_GROUP} if the peer serves no such group, {@code UNAVAILABLE} if it serves none yet,
   * {@code BAD_REQUEST} if it found the body malformed), or with an {@link IOException} if the
   * connection ends first.
   *
   * @throws IllegalArgumentException if the group id is malformed
   */
  public CompletableFuture<AdminMessage> admin(
      String groupId, AdminMessage request, Consumer<AdminMessage> progress) {
    ChunkServer.checkGroupId(groupId);
    Objects.requireNonNull(request, "request");
    Objects.requireNonNull(progress, "progress");
    return connection.admin(
        id -> new AdminRequest(id, groupId, request.kind(), request.body()),
        progress,
        this::requestError);
  }

  /** Stops or resumes reading from the socket (for tests of backpressure). */
  void autoRead(boolean on) {
    channel.config().setAutoRead(on);
  }

  /**
   * Closes the connection; every outstanding request fails with an {@link IOException}. Waits
   * (briefly) for the socket to close unless called on the client's I/O thread. Idempotent.
   */
  @Override
  public void close() {
    connection.close("client closed");
    if (!channel.eventLoop().inEventLoop()) {
      channel.closeFuture().awaitUninterruptibly(5, TimeUnit.SECONDS);
    }
  }

  @Override
  public String toString() {
    return "ChunkClient["
        + peerId
        + " at "
        + address
        + (group != null ? ", group " + group : "")
        + "]";
  }

  private RuntimeException requestError(Error e) {
    return requestError(peerId, e);
  }

  /** The exception for an ERROR answer from {@code peerId}. */
  static RuntimeException requestError(String peerId, Error e) {
    ChunkRequestException.Code code =
        switch (e.code()) {
          case MessageCodec.ERR_NOT_FOUND -> ChunkRequestException.Code.NOT_FOUND;
          case MessageCodec.ERR_BAD_REQUEST -> ChunkRequestException.Code.BAD_REQUEST;
          case MessageCodec.ERR_UNAVAILABLE -> ChunkRequestException.Code.UNAVAILABLE;
          case MessageCodec.ERR_UNKNOWN_GROUP -> ChunkRequestException.Code.UNKNOWN_GROUP;
          default -> ChunkRequestException.Code.INTERNAL;
        };
    return new ChunkRequestException(code, peerId + ": " + e.message());
  }

  private static Lease lease(Message m) {
    LeaseGranted l = (LeaseGranted) m;
    return new Lease(l.leaseId(), l.manifestKey(), Instant.ofEpochMilli(l.expiresAtMillis()));
  }

  private static long ttlMillis(Duration ttl) {
    Objects.requireNonNull(ttl, "ttl");
    long ms = ttl.toMillis();
    if (ms < 1) {
      throw new IllegalArgumentException("ttl must be at least 1 ms: " + ttl);
    }
    return ms;
  }

  // ---------------------------------------------------------------------------------------------

  /** Configures and opens a {@link ChunkClient}. Not thread-safe. */
  public static final class Builder {
    private String peerId;
    private String host;
    private int port;
    private String selfId;
    private String chunkGroup;
    private byte[] secret;
    private SslContext ssl;
    private EventLoopGroup group;
    private Executor callbacks = ForkJoinPool.commonPool();
    private Duration connectTimeout = Duration.ofSeconds(10);
    private Duration requestTimeout = Duration.ofSeconds(30);

    private Builder() {}

    /** The peer to connect to: its node id (which it must prove) and chunk-service address. */
    public Builder peer(String peerId, String host, int port) {
      this.peerId = peerId;
      this.host = host;
      this.port = port;
      return this;
    }

    /** The peer to connect to, at its chunk port. */
    public Builder peer(PeerAddress peer) {
      return peer(peer.id(), peer.host(), peer.chunkPort());
    }

    /** This node's id, as it introduces itself to the peer. */
    public Builder selfId(String selfId) {
      this.selfId = selfId;
      return this;
    }

    /**
     * The group whose chunks to list, fetch, pin and report on: the connection names it right after
     * authentication (SELECT_GROUP), and the peer answers every chunk request of the connection
     * from that group's snapshots ({@link ChunkServer#serveChunks}). {@link #connect()} fails with
     * {@link ChunkRequestException} {@code UNKNOWN_GROUP} if the peer does not host it. Default
     * null: name no group, for a single-group node's peers (and for servers that predate
     * SELECT_GROUP, which close a connection that names one). Admin requests name their own group
     * and are not affected.
     *
     * @param groupId the group id as {@link ChunkServer#checkGroupId} accepts it (a Raft group's
     *     UUID text), or null
     */
    public Builder group(String groupId) {
      this.chunkGroup = groupId;
      return this;
    }

    /** The cluster secret, at least 16 bytes (copied). */
    public Builder secret(byte[] secret) {
      this.secret = secret == null ? null : secret.clone();
      return this;
    }

    /** Connect over TLS with this client context (see {@link ChunkTls#client}). */
    public Builder tls(SslContext clientContext) {
      this.ssl = clientContext;
      return this;
    }

    /**
     * The event loops to run on (not shut down by the client). Default: a process-wide group of two
     * daemon threads shared by all clients.
     */
    public Builder eventLoopGroup(EventLoopGroup group) {
      this.group = group;
      return this;
    }

    /** Where futures complete. Default: {@link ForkJoinPool#commonPool()}. */
    public Builder callbackExecutor(Executor executor) {
      this.callbacks = executor;
      return this;
    }

    /**
     * Time to connect and authenticate. Default 10 s. (The answer to naming the {@link #group} is
     * awaited like any request's, within the {@link #requestTimeout}.)
     */
    public Builder connectTimeout(Duration timeout) {
      this.connectTimeout = timeout;
      return this;
    }

    /**
     * How long the peer may send nothing while requests are outstanding before the connection is
     * closed and they fail. Default 30 s.
     */
    public Builder requestTimeout(Duration timeout) {
      this.requestTimeout = timeout;
      return this;
    }

    /**
     * Validates the settings and starts connecting. The future completes (on the callback executor)
     * once both sides are authenticated (and the peer accepted the {@link #group}, if one is
     * named), or fails with {@link ChunkAuthException} if either refuses the other, with {@link
     * ChunkRequestException} if the peer does not host the group, or with an {@link IOException} if
     * the peer cannot be reached in time.
     *
     * @throws NullPointerException if the peer, self id or secret is missing
     * @throws IllegalArgumentException naming the bad setting
     */
    public CompletableFuture<ChunkClient> connect() {
      Objects.requireNonNull(peerId, "peer is required");
      Objects.requireNonNull(host, "host");
      Objects.requireNonNull(selfId, "selfId is required");
      Objects.requireNonNull(secret, "secret is required");
      Objects.requireNonNull(callbacks, "callbackExecutor");
      Objects.requireNonNull(connectTimeout, "connectTimeout");
      Objects.requireNonNull(requestTimeout, "requestTimeout");
      for (String id : List.of(peerId, selfId)) {
        if (!MessageCodec.NODE_ID.matcher(id).matches()) {
          throw new IllegalArgumentException(
              "node id must be 1-64 characters of [A-Za-z0-9_-]: '" + id + "'");
        }
      }
      if (chunkGroup != null) {
        ChunkServer.checkGroupId(chunkGroup);
      }
      if (port < 1 || port > 65535) {
        throw new IllegalArgumentException("port out of range: " + port);
      }
      if (connectTimeout.toMillis() < 1 || requestTimeout.toMillis() < 1) {
        throw new IllegalArgumentException(
            "timeouts must be at least 1 ms: " + connectTimeout + ", " + requestTimeout);
      }
      if (ssl != null && !ssl.isClient()) {
        throw new IllegalArgumentException("tls needs a client SslContext");
      }
      Handshake handshake = new Handshake(Handshake.CHUNK_LABEL, secret);
      String address = host + ":" + port;
      EventLoopGroup loops = group != null ? group : DefaultGroup.GROUP;
      ClientConnection conn =
          new ClientConnection(
              peerId, selfId, chunkGroup, address, handshake, callbacks, connectTimeout.toMillis());
      SslContext tls = ssl;
      String h = host;
      int p = port;
      long idleMillis = requestTimeout.toMillis();
      Bootstrap b =
          new Bootstrap()
              .group(loops)
              .channel(NioSocketChannel.class)
              .option(ChannelOption.CONNECT_TIMEOUT_MILLIS, (int) connectTimeout.toMillis())
              .option(ChannelOption.TCP_NODELAY, true)
              .option(ChannelOption.SO_KEEPALIVE, true)
              .handler(
                  new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                      ChannelPipeline pipe = ch.pipeline();
                      pipe.addLast(
                          "idle", new IdleStateHandler(idleMillis, 0, 0, TimeUnit.MILLISECONDS));
                      if (tls != null) {
                        SslHandler handler = tls.newHandler(ch.alloc(), h, p);
                        handler.setHandshakeTimeoutMillis(connectTimeout.toMillis());
                        pipe.addLast("tls", handler);
                      }
                      pipe.addLast("frames", conn.decoder());
                      pipe.addLast("connection", conn);
                    }
                  });
      ChannelFuture connecting = b.connect(host, port);
      connecting.addListener(
          f -> {
            if (!f.isSuccess()) {
              conn.connectFailed(
                  new IOException(
                      "cannot connect to " + peerId + " at " + address + ": " + f.cause(),
                      f.cause()));
            }
          });
      Channel channel = connecting.channel();
      Executor done = callbacks;
      String named = chunkGroup;
      CompletableFuture<ChunkClient> result = new CompletableFuture<>();
      conn.ready()
          .whenComplete(
              (c, e) -> {
                Runnable finish =
                    () -> {
                      if (e != null) {
                        channel.close();
                        result.completeExceptionally(e);
                      } else {
                        result.complete(
                            new ChunkClient(peerId, named, address, channel, conn, done));
                      }
                    };
                try {
                  done.execute(finish);
                } catch (RejectedExecutionException rejected) {
                  finish.run();
                }
              });
      return result;
    }
  }
}
