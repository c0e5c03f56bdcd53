package dev.ferry.shipping.chunks;

import dev.ferry.shipping.chunks.Message.CorruptReport;
import dev.ferry.shipping.chunks.Message.Error;
import dev.ferry.shipping.chunks.Message.GetManifest;
import dev.ferry.shipping.chunks.Message.ListManifests;
import dev.ferry.shipping.chunks.Message.Ok;
import dev.ferry.shipping.chunks.Message.Pin;
import dev.ferry.shipping.chunks.Message.Renew;
import dev.ferry.shipping.chunks.Message.Request;
import dev.ferry.shipping.chunks.Message.SelectGroup;
import dev.ferry.shipping.chunks.Message.Unpin;
import dev.ferry.shipping.net.Handshake;
import dev.ferry.shipping.net.HandshakeSlots;
import dev.ferry.shipping.net.LogLimiter;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.WriteBufferWaterMark;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslHandler;
import io.netty.handler.stream.ChunkedWriteHandler;
import io.netty.util.ReferenceCountUtil;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.Closeable;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.time.InstantSource;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.LongAdder;
import javax.net.ssl.SSLEngine;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The chunk service a node runs on its own port beside Ratis, the node's one service port: it lets
 * authenticated peers list and fetch its manifests, fetch chunks, and pin manifests while they copy
 * them, and it carries admin requests to the {@link AdminHandler} registered for the group they
 * name ({@link #serveAdmin}), behind the same handshake, TLS setup and limits. {@link ChunkClient}
 * is its client.
 *
 * <p>A node hosting many Raft groups serves each group's snapshots from that group's source ({@link
 * #serveChunks}): a connection names its group once, and its chunk requests, pins and leases are
 * that group's. A connection that names no group is served from the builder's {@link
 * Builder#source}, a single-group node's snapshots.
 *
 * <h2>Protocol (version 1; full table in {@code docs/chunk-protocol.md})</h2>
 *
 * Frames are {@code u32 length | u8 type | body}, big-endian, {@code length} counting type and
 * body. Every frame is bounded: 2 KiB during the handshake, 64 KiB for requests, and a chunk or a
 * manifest plus a small header for responses; a length out of bounds is rejected before the body is
 * buffered.
 *
 * <ol>
 *   <li>With TLS, the TLS handshake comes first, mutual (the server requires a client certificate).
 *   <li>Server: {@code HELLO(version, nonce)}. Client: {@code AUTH(version, nonce, clientId,
 *       HMAC-SHA256(secret, "ferry-chunk-v1" | 'C' | serverNonce | clientNonce | clientId))}. The
 *       server checks the proof in constant time and answers {@code AUTH_OK(serverId, HMAC(secret,
 *       "ferry-chunk-v1" | 'S' | clientNonce | serverNonce | clientId | serverId))}, which the
 *       client checks in turn, or {@code REFUSED(reason)} and closes. Any other frame before
 *       authentication closes the connection.
 *   <li>Optionally, and then as the connection's first request: {@code SELECT_GROUP(groupId)} →
 *       {@code OK}, or {@code ERROR} unknown group ("group X is not hosted on n3; it hosts [...]").
 *       The connection stays bound to that group: its chunk requests below are answered from the
 *       group's source, or with that error while the group is not served here (also after {@link
 *       #stopServingChunks}). A later or second {@code SELECT_GROUP} closes the connection. Without
 *       one, requests go to the builder's {@link Builder#source}.
 *   <li>Requests carry a client-chosen 64-bit id that responses echo: {@code
 *       LIST_MANIFESTS(minIndex)} → {@code MANIFEST_LIST}; {@code GET_MANIFEST(index)} → {@code
 *       MANIFEST(encoded bytes)}; {@code FETCH(1..256 chunk ids)} → per id, in order, {@code
 *       CHUNK(id, stored bytes)} or {@code MISSING(id, reason)}; {@code PIN(index, ttl)} and {@code
 *       RENEW(leaseId, ttl)} → {@code LEASE(leaseId, key, expiry)}; {@code UNPIN(leaseId)} → {@code
 *       OK}; {@code CORRUPT_REPORT(1..64 chunk ids)} → {@code OK} after the server re-verified each
 *       (it quarantines only chunks whose bytes fail here); {@code ADMIN(group, kind, body)} →
 *       {@code ADMIN_PROGRESS}* then {@code ADMIN_REPLY}, or {@code ERROR} unknown group; a valid
 *       request that cannot be satisfied → {@code ERROR(code, message)}.
 * </ol>
 *
 * <h2>Bad input</h2>
 *
 * A malformed, oversized, truncated or unknown frame, or one not allowed in the connection's state,
 * closes that connection with one WARN line and one increment of {@link
 * ChunkServerStats#malformedFrames()}; a failed authentication likewise counts in {@link
 * ChunkServerStats#connectionsRefused()}. Other connections are not affected. Those lines are
 * rate-limited (at most {@value #LOG_LINES_PER_MINUTE} a minute; the next line says how many were
 * left out); the counters count every event. Nothing from the wire names a file: chunk ids are
 * parsed into {@link dev.ferry.snapshot.ChunkId} and only the store maps them to files; a group id
 * only looks up a source registered with {@link #serveChunks}.
 *
 * <h2>Strangers</h2>
 *
 * A connection must authenticate within the handshake timeout (TLS included). At most {@link
 * Builder#maxUnauthenticated} connections (default 64) may be unauthenticated at once, at most
 * {@link Builder#maxUnauthenticatedPerAddress} (default 16) of them from one source address; more
 * are refused at once. So idle or slow strangers can never hold more than a quarter of the {@link
 * Builder#maxConnections} (default 256): the rest stays for authenticated peers.
 *
 * <h2>Backpressure</h2>
 *
 * Chunks of a connection are sent one after another, the next only while the channel is writable
 * and fewer than two chunk writes are incomplete; requests and their responses beyond that wait,
 * and when more than 1024 chunk ids are queued the server stops reading from the connection until
 * the queue drains. A slow reader therefore holds at most about two chunks of outbound data on the
 * server, never more. Control requests of a connection are answered one at a time, each on a worker
 * thread (they may block on storage), the next after the previous answer was written.
 *
 * <h2>Sending</h2>
 *
 * Without TLS and with a {@link dev.ferry.snapshot.store.FileChunkStore}, chunks go zero-copy from
 * their files ({@code DefaultFileRegion}); with TLS they are streamed from the file in 64 KiB
 * pieces; other stores are read into memory one chunk at a time. An optional send-rate limit paces
 * chunk frames across all connections (to emulate a slow link).
 *
 * <p>Concurrency: each connection is confined to one event-loop thread; control requests run on the
 * worker executor. {@link #start()} and {@link #close()} may be called from any thread.
 */
public final class ChunkServer implements Closeable {
  static final Logger LOG = LoggerFactory.getLogger(ChunkServer.class);

  static final int LOG_LINES_PER_MINUTE = 20;

  /** Most group ids an error message lists by name. */
  private static final int GROUPS_NAMED = 8;

  final String nodeId;

  /** What connections that name no group are served, or null if they are served nothing. */
  private final ServedSource unnamed;

  final Handshake handshake;
  final SslContext ssl;
  volatile SendRateLimiter limiter;
  final Duration handshakeTimeout;
  final Duration maxLeaseTtl;
  final int maxConnections;
  final HandshakeSlots handshakeSlots;
  final LogLimiter logLimit = LogLimiter.perMinute(LOG_LINES_PER_MINUTE);
  final InstantSource clock;
  private final InetSocketAddress bindAddress;
  private final EventLoopGroup givenGroup;
  private final Executor givenWorker;
  // Set by start():
  volatile Executor worker;
  private EventLoopGroup ownedGroup;
  private ExecutorService ownedWorker;

  final Set<Channel> channels = ConcurrentHashMap.newKeySet();
  private final Object lifecycle = new Object();
  private Channel serverChannel;
  private boolean closed;

  final LongAdder accepted = new LongAdder();
  private final LongAdder corruptReported = new LongAdder();
  private final LongAdder corruptConfirmed = new LongAdder();
  final LongAdder authenticated = new LongAdder();
  final LongAdder refused = new LongAdder();
  final LongAdder malformed = new LongAdder();
  final LongAdder chunksServed = new LongAdder();
  final LongAdder bytesServed = new LongAdder();
  final LongAdder chunksMissing = new LongAdder();
  final AtomicInteger open = new AtomicInteger();
  private final AtomicLong maxQueuedBytes = new AtomicLong();

  /** The admin handlers, by group id. */
  final Map<String, AdminHandler> adminHandlers = new ConcurrentHashMap<>();

  /** The snapshot sources of the groups named by SELECT_GROUP, by group id. */
  private final Map<String, ServedSource> groupSources = new ConcurrentHashMap<>();

  private ChunkServer(Builder b) {
    this.nodeId = b.nodeId;
    this.unnamed = b.source == null ? null : new ServedSource(this, b.source);
    this.handshake = new Handshake(Handshake.CHUNK_LABEL, b.secret);
    this.ssl = b.ssl;
    this.limiter = b.sendRate > 0 ? new SendRateLimiter(b.sendRate, System::nanoTime) : null;
    this.handshakeTimeout = b.handshakeTimeout;
    this.maxLeaseTtl = b.maxLeaseTtl;
    this.maxConnections = b.maxConnections;
    int unauthenticated = Math.min(b.maxUnauthenticated, b.maxConnections);
    this.handshakeSlots =
        new HandshakeSlots(
            unauthenticated, Math.min(b.maxUnauthenticatedPerAddress, unauthenticated));
    this.clock = b.clock;
    this.bindAddress = b.bindAddress;
    this.givenGroup = b.group;
    this.givenWorker = b.worker;
  }

  /** A new builder. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Binds the port and starts accepting connections. Blocks until the port is bound.
   *
   * @throws IOException if the address cannot be bound (the server is then closed)
   * @throws IllegalStateException if already started or closed
   */
  public ChunkServer start() throws IOException {
    synchronized (lifecycle) {
      if (closed || serverChannel != null) {
        throw new IllegalStateException("chunk server " + nodeId + " already started or closed");
      }
      EventLoopGroup group = givenGroup;
      if (group == null) {
        ownedGroup =
            new NioEventLoopGroup(
                2, new DefaultThreadFactory("ferry-chunk-server-" + nodeId, true));
        group = ownedGroup;
      }
      if (givenWorker != null) {
        worker = givenWorker;
      } else {
        AtomicInteger n = new AtomicInteger();
        ownedWorker =
            Executors.newFixedThreadPool(
                2,
                r -> {
                  Thread t =
                      new Thread(
                          r, "ferry-chunk-server-" + nodeId + "-worker-" + n.incrementAndGet());
                  t.setDaemon(true);
                  return t;
                });
        worker = ownedWorker;
      }
      ServerBootstrap b =
          new ServerBootstrap()
              .group(group)
              .channel(NioServerSocketChannel.class)
              .option(ChannelOption.SO_REUSEADDR, true)
              .childOption(ChannelOption.TCP_NODELAY, true)
              .childOption(ChannelOption.SO_KEEPALIVE, true)
              .childOption(
                  ChannelOption.WRITE_BUFFER_WATER_MARK,
                  new WriteBufferWaterMark(256 << 10, 1 << 20))
              .childHandler(
                  new ChannelInitializer<SocketChannel>() {
                    @Override
                    protected void initChannel(SocketChannel ch) {
                      initConnection(ch);
                    }
                  });
      ChannelFuture f = b.bind(bindAddress).awaitUninterruptibly();
      if (!f.isSuccess()) {
        closed = true;
        if (ownedGroup != null) {
          ownedGroup.shutdownGracefully(0, 0, TimeUnit.SECONDS);
        }
        if (ownedWorker != null) {
          ownedWorker.shutdown();
        }
        throw new IOException(
            "chunk server " + nodeId + " cannot bind " + bindAddress + ": " + f.cause(), f.cause());
      }
      serverChannel = f.channel();
      LOG.info(
          "chunk server {}: listening on {}{}{}",
          nodeId,
          serverChannel.localAddress(),
          ssl != null ? " (TLS)" : "",
          limiter != null ? ", send rate limited to " + limiter.bytesPerSecond() + " B/s" : "");
      return this;
    }
  }

  private void initConnection(SocketChannel ch) {
    ChannelPipeline p = ch.pipeline();
    if (ssl != null) {
      SslHandler tls = ssl.newHandler(ch.alloc());
      tls.setHandshakeTimeoutMillis(handshakeTimeout.toMillis());
      p.addLast("tls", tls);
      p.addLast("chunked", new ChunkedWriteHandler());
    }
    FrameDecoder decoder =
        new FrameDecoder(MessageCodec::decodeFromClient, MessageCodec.MAX_HANDSHAKE_FRAME);
    p.addLast("frames", decoder);
    p.addLast("connection", new ServerConnection(this, decoder, ssl != null));
  }

  /**
   * The address the server listens on (with the actual port when bound to port 0).
   *
   * @throws IllegalStateException if not started
   */
  public InetSocketAddress localAddress() {
    synchronized (lifecycle) {
      if (serverChannel == null) {
        throw new IllegalStateException("chunk server " + nodeId + " is not started");
      }
      return (InetSocketAddress) serverChannel.localAddress();
    }
  }

  /** This node's id, as announced to clients. */
  public String nodeId() {
    return nodeId;
  }

  /**
   * Changes the send rate limit, in bytes per second shared by all connections (0: unlimited), for
   * chunks sent from now on; the default is {@link Builder#sendRateLimit}'s. For benchmarks and for
   * operators who must leave bandwidth to other traffic. Thread-safe.
   *
   * @throws IllegalArgumentException if {@code bytesPerSecond < 0}
   */
  public void setSendRateLimit(long bytesPerSecond) {
    if (bytesPerSecond < 0) {
      throw new IllegalArgumentException("sendRateLimit < 0: " + bytesPerSecond);
    }
    limiter = bytesPerSecond > 0 ? new SendRateLimiter(bytesPerSecond, System::nanoTime) : null;
  }

  /** The current send rate limit in bytes per second (0: unlimited). */
  public long sendRateLimit() {
    SendRateLimiter l = limiter;
    return l == null ? 0 : l.bytesPerSecond();
  }

  /**
   * Chunks authenticated peers reported corrupt (CORRUPT_REPORT) since start.
   *
   * @param reported chunk ids reported
   * @param confirmed of them, those this server's re-verification found corrupt (and quarantined)
   */
  public record CorruptReports(long reported, long confirmed) {}

  /** The corruption reports received so far. Thread-safe, never blocks. */
  public CorruptReports corruptReports() {
    return new CorruptReports(corruptReported.sum(), corruptConfirmed.sum());
  }

  /**
   * Serves the admin requests that name {@code groupId} with {@code handler}, from now on. Requests
   * naming a group no handler serves are answered with an error naming the groups served here
   * (clients see {@link ChunkRequestException.Code#UNKNOWN_GROUP}, or {@link
   * ChunkRequestException.Code#UNAVAILABLE} while no group is served at all: a node still
   * starting). Thread-safe.
   *
   * @throws IllegalArgumentException if the group id is not 1..128 characters of {@code
   *     [A-Za-z0-9._:-]}
   * @throws IllegalStateException if the group already has a handler
   */
  public void serveAdmin(String groupId, AdminHandler handler) {
    Objects.requireNonNull(handler, "handler");
    checkGroupId(groupId);
    if (adminHandlers.putIfAbsent(groupId, handler) != null) {
      throw new IllegalStateException(
          "chunk server " + nodeId + " already serves admin requests of group " + groupId);
    }
  }

  /**
   * Stops serving the admin requests of {@code groupId} (requests already started finish). No
   * effect if none were served. Thread-safe.
   */
  public void stopServingAdmin(String groupId, AdminHandler handler) {
    adminHandlers.remove(groupId, handler);
  }

  /**
   * Serves the chunk requests of connections that name {@code groupId} (SELECT_GROUP) from {@code
   * source}, from now on: its manifests, chunks, pins and leases, apart from every other group's
   * and from the builder's {@link Builder#source} (which serves connections that name no group).
   * Connections naming a group not served here get an error naming the groups served (clients see
   * {@link ChunkRequestException.Code#UNKNOWN_GROUP}). Called by whoever starts hosting the group
   * on this node, from any thread; does not block.
   *
   * @throws IllegalArgumentException if the group id is not 1..128 characters of {@code
   *     [A-Za-z0-9._:-]}
   * @throws IllegalStateException if the group is already served
   */
  public void serveChunks(String groupId, SnapshotSource source) {
    Objects.requireNonNull(source, "source");
    checkGroupId(groupId);
    if (groupSources.putIfAbsent(groupId, new ServedSource(this, source)) != null) {
      throw new IllegalStateException(
          "chunk server " + nodeId + " already serves the chunks of group " + groupId);
    }
  }

  /**
   * Stops serving the chunks of {@code groupId} if {@code source} serves them (a source registered
   * since by someone else stays). Requests of that group's connections from now on get the
   * unknown-group error; requests already being answered finish, and a chunk already being sent is
   * sent whole. Leases granted from the source are not ended here: they run out with their
   * duration. No effect if the group is not served. Any thread; does not block.
   */
  public void stopServingChunks(String groupId, SnapshotSource source) {
    Objects.requireNonNull(groupId, "groupId");
    groupSources.computeIfPresent(groupId, (g, served) -> served.source == source ? null : served);
  }

  /** The ids of the groups whose chunks are served here ({@link #serveChunks}), sorted. */
  public List<String> chunkGroups() {
    List<String> groups = new ArrayList<>(groupSources.keySet());
    groups.sort(null);
    return groups;
  }

  /** The source serving a connection that named {@code group} (null: none), or null. */
  ServedSource sourceFor(String group) {
    return group == null ? unnamed : groupSources.get(group);
  }

  /**
   * The answer to a chunk request of a connection whose group ({@code group}, null if it named
   * none) is not served here: unknown group, naming the groups that are; or unavailable while the
   * node serves no chunks at all (it is starting).
   */
  Error notHere(long requestId, String group) {
    List<String> served = chunkGroups();
    if (served.isEmpty() && unnamed == null) {
      return new Error(
          requestId, MessageCodec.ERR_UNAVAILABLE, "node " + nodeId + " serves no chunks yet");
    }
    String hosts =
        served.isEmpty()
            ? "it hosts no named group (connect without naming one)"
            : "it hosts " + few(served);
    String what =
        group == null
            ? "node " + nodeId + " serves chunks only to connections that name their group"
            : "group " + group + " is not hosted on " + nodeId;
    return new Error(requestId, MessageCodec.ERR_UNKNOWN_GROUP, what + "; " + hosts);
  }

  /** {@code [a, b, c]}, or the first few and how many more. */
  private static String few(List<String> sorted) {
    if (sorted.size() <= GROUPS_NAMED) {
      return sorted.toString();
    }
    String first = String.join(", ", sorted.subList(0, GROUPS_NAMED));
    return "[" + first + " and " + (sorted.size() - GROUPS_NAMED) + " more]";
  }

  /**
   * Checks a group id as ADMIN and SELECT_GROUP frames carry it.
   *
   * @throws IllegalArgumentException naming the bad id
   */
  public static String checkGroupId(String groupId) {
    Objects.requireNonNull(groupId, "groupId");
    if (!MessageCodec.GROUP_ID.matcher(groupId).matches()) {
      throw new IllegalArgumentException(
          "group id must be 1-128 characters of [A-Za-z0-9._:-]: '" + groupId + "'");
    }
    return groupId;
  }

  /** The answer to an admin request for a group not served here. */
  String unknownGroup(String groupId) {
    List<String> served = new ArrayList<>(adminHandlers.keySet());
    served.sort(null);
    return "node "
        + nodeId
        + " serves no group '"
        + groupId
        + "'"
        + (served.isEmpty() ? " (no admin service yet)" : "; it serves " + few(served));
  }

  /** A snapshot of the counters. Thread-safe, never blocks. */
  public ChunkServerStats stats() {
    return new ChunkServerStats(
        accepted.sum(),
        authenticated.sum(),
        refused.sum(),
        malformed.sum(),
        chunksServed.sum(),
        bytesServed.sum(),
        chunksMissing.sum(),
        open.get());
  }

  /**
   * The most outbound bytes any one connection has had written but not yet handed to the socket
   * (frames queued in Netty and the TLS/chunked-write handlers), since start. For tests of
   * backpressure.
   */
  long maxQueuedOutboundBytes() {
    return maxQueuedBytes.get();
  }

  void noteQueuedBytes(long queued) {
    maxQueuedBytes.accumulateAndGet(queued, Math::max);
  }

  /**
   * Stops accepting, closes every connection (their clients see the connection drop) and releases
   * the threads the server created. Blocks until done (a few seconds at most). Idempotent. Does not
   * close any snapshot source's store.
   */
  @Override
  public void close() {
    Channel listening;
    EventLoopGroup group;
    ExecutorService pool;
    synchronized (lifecycle) {
      if (closed) {
        return;
      }
      closed = true;
      listening = serverChannel;
      group = ownedGroup;
      pool = ownedWorker;
    }
    if (listening != null) {
      listening.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
    }
    for (Channel ch : List.copyOf(channels)) {
      ch.close().awaitUninterruptibly(5, TimeUnit.SECONDS);
    }
    if (group != null) {
      group.shutdownGracefully(0, 2, TimeUnit.SECONDS).awaitUninterruptibly(5, TimeUnit.SECONDS);
    }
    if (pool != null) {
      pool.shutdown();
    }
    LOG.info("chunk server {}: closed", nodeId);
  }

  @Override
  public String toString() {
    return "ChunkServer[" + nodeId + "]";
  }

  // ---------------------------------------------------------------------------------------------
  // Control requests, answered on a worker thread.

  /**
   * The answer to a control request of a connection that named {@code group} (null: none). Never
   * throws; runs on a worker thread (may block).
   */
  Message answer(Request r, String group, String peer) {
    ServedSource served = sourceFor(group);
    if (served == null) {
      return notHere(r.requestId(), group);
    }
    try {
      if (r instanceof SelectGroup) {
        return new Ok(r.requestId());
      } else if (r instanceof ListManifests l) {
        return served.list(l);
      } else if (r instanceof GetManifest g) {
        return served.get(g);
      } else if (r instanceof Pin p) {
        return served.pin(p, peer);
      } else if (r instanceof Renew rn) {
        return served.renew(rn);
      } else if (r instanceof Unpin u) {
        return served.unpin(u);
      } else if (r instanceof CorruptReport c) {
        return served.corruptReport(c, peer);
      }
      return new Error(r.requestId(), MessageCodec.ERR_BAD_REQUEST, "not a control request");
    } catch (IllegalStateException e) {
      return new Error(r.requestId(), MessageCodec.ERR_UNAVAILABLE, "not ready: " + e.getMessage());
    } catch (IOException | RuntimeException e) {
      LOG.warn("chunk server {}: {} from {} failed", nodeId, r.name(), peer, e);
      return new Error(r.requestId(), MessageCodec.ERR_INTERNAL, String.valueOf(e));
    }
  }

  void countCorruptReport(int reported, int confirmed) {
    corruptReported.add(reported);
    corruptConfirmed.add(confirmed);
  }

  // ---------------------------------------------------------------------------------------------

  /** Builds a {@link ChunkServer}. Not thread-safe. */
  public static final class Builder {
    private String nodeId;
    private InetSocketAddress bindAddress;
    private SnapshotSource source;
    private byte[] secret;
    private SslContext ssl;
    private long sendRate;
    private EventLoopGroup group;
    private Executor worker;
    private Duration handshakeTimeout = Duration.ofSeconds(10);
    private Duration maxLeaseTtl = Duration.ofHours(1);
    private int maxConnections = 256;
    private int maxUnauthenticated = 64;
    private int maxUnauthenticatedPerAddress = 16;
    private InstantSource clock = InstantSource.system();

    private Builder() {}

    /** This node's id, announced to authenticated clients (as {@code PeerAddress} ids). */
    public Builder nodeId(String nodeId) {
      this.nodeId = nodeId;
      return this;
    }

    /** The address and port to listen on; port 0 picks a free port. */
    public Builder bindAddress(InetSocketAddress address) {
      this.bindAddress = address;
      return this;
    }

    /** Listens on {@code host:port}; port 0 picks a free port. */
    public Builder bind(String host, int port) {
      return bindAddress(new InetSocketAddress(host, port));
    }

    /**
     * What to serve to connections that name no group: a single-group node's manifests and chunks.
     * Optional: without it such connections get an error for every chunk request, and only the
     * groups registered with {@link ChunkServer#serveChunks} are served.
     */
    public Builder source(SnapshotSource source) {
      this.source = source;
      return this;
    }

    /** The cluster secret, at least 16 bytes (copied). */
    public Builder secret(byte[] secret) {
      this.secret = secret == null ? null : secret.clone();
      return this;
    }

    /**
     * Serve over TLS with this server context, which must require client certificates (see {@link
     * ChunkTls#server}). The HMAC handshake still runs inside TLS.
     */
    public Builder tls(SslContext serverContext) {
      this.ssl = serverContext;
      return this;
    }

    /** Limits chunk sending to this many bytes per second over all connections; 0 = unlimited. */
    public Builder sendRateLimit(long bytesPerSecond) {
      this.sendRate = bytesPerSecond;
      return this;
    }

    /** The event loops to run on (not shut down by the server). Default: two of its own. */
    public Builder eventLoopGroup(EventLoopGroup group) {
      this.group = group;
      return this;
    }

    /** Where control requests run (they may block on storage). Default: two threads of its own. */
    public Builder workerExecutor(Executor executor) {
      this.worker = executor;
      return this;
    }

    /** Time a connection has to complete TLS and authentication. Default 10 s. */
    public Builder handshakeTimeout(Duration timeout) {
      this.handshakeTimeout = timeout;
      return this;
    }

    /** Longest lease a peer may ask for. Default 1 h. */
    public Builder maxLeaseTtl(Duration ttl) {
      this.maxLeaseTtl = ttl;
      return this;
    }

    /** Most connections open at once; more are refused. Default 256. */
    public Builder maxConnections(int max) {
      this.maxConnections = max;
      return this;
    }

    /**
     * Most connections not yet authenticated at once; more are refused. Default 64 (at most {@link
     * #maxConnections}): the difference is what strangers can never take from authenticated peers.
     */
    public Builder maxUnauthenticated(int max) {
      this.maxUnauthenticated = max;
      return this;
    }

    /**
     * Most connections not yet authenticated at once from one source address; more are refused.
     * Default 16 (at most {@link #maxUnauthenticated}).
     */
    public Builder maxUnauthenticatedPerAddress(int max) {
      this.maxUnauthenticatedPerAddress = max;
      return this;
    }

    /** The clock used to forget expired leases. Default: the system clock. */
    public Builder clock(InstantSource clock) {
      this.clock = clock;
      return this;
    }

    /**
     * Validates and builds the server (not started).
     *
     * @throws NullPointerException if the node id, bind address or secret is missing
     * @throws IllegalArgumentException naming the bad setting
     */
    public ChunkServer build() {
      Objects.requireNonNull(nodeId, "nodeId is required");
      Objects.requireNonNull(bindAddress, "bindAddress is required");
      Objects.requireNonNull(secret, "secret is required");
      Objects.requireNonNull(handshakeTimeout, "handshakeTimeout");
      Objects.requireNonNull(maxLeaseTtl, "maxLeaseTtl");
      Objects.requireNonNull(clock, "clock");
      if (!MessageCodec.NODE_ID.matcher(nodeId).matches()) {
        throw new IllegalArgumentException(
            "node id must be 1-64 characters of [A-Za-z0-9_-]: '" + nodeId + "'");
      }
      if (sendRate < 0) {
        throw new IllegalArgumentException("sendRateLimit < 0: " + sendRate);
      }
      if (handshakeTimeout.isNegative() || handshakeTimeout.isZero()) {
        throw new IllegalArgumentException(
            "handshakeTimeout must be positive: " + handshakeTimeout);
      }
      if (maxLeaseTtl.toMillis() < 1) {
        throw new IllegalArgumentException("maxLeaseTtl must be at least 1 ms: " + maxLeaseTtl);
      }
      if (maxConnections < 1) {
        throw new IllegalArgumentException("maxConnections < 1: " + maxConnections);
      }
      if (maxUnauthenticated < 1) {
        throw new IllegalArgumentException("maxUnauthenticated < 1: " + maxUnauthenticated);
      }
      if (maxUnauthenticatedPerAddress < 1) {
        throw new IllegalArgumentException(
            "maxUnauthenticatedPerAddress < 1: " + maxUnauthenticatedPerAddress);
      }
      if (ssl != null) {
        if (!ssl.isServer()) {
          throw new IllegalArgumentException("tls needs a server SslContext");
        }
        SSLEngine engine = ssl.newEngine(ByteBufAllocator.DEFAULT);
        try {
          if (!engine.getNeedClientAuth()) {
            throw new IllegalArgumentException(
                "tls context must require client certificates (ClientAuth.REQUIRE)");
          }
        } finally {
          ReferenceCountUtil.release(engine);
        }
      }
      new Handshake(Handshake.CHUNK_LABEL, secret); // validates the secret's length
      return new ChunkServer(this);
    }
  }
}
