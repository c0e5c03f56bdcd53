package dev.ferry.raft.admin;

import dev.ferry.raft.admin.AdminProtocol.AdminProtocolException;
import dev.ferry.raft.admin.AdminProtocol.Frame;
import dev.ferry.shipping.PeerAddress;
import dev.ferry.shipping.net.Handshake;
import dev.ferry.shipping.net.HandshakeSlots;
import dev.ferry.shipping.net.LogLimiter;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A node's admin service: authenticated, low-volume, blocking. Serves {@link AdminClient}s: status,
 * membership changes (run by the node through {@link MembershipAdmin}) and retirement. The wire
 * format and conversation are in {@link AdminProtocol}; authentication is the chunk service's
 * mutual HMAC over the cluster secret under its own label, and with TLS the socket is mutual TLS.
 *
 * <p>Bad input: a malformed or truncated frame, a failed or late authentication, or an unknown
 * request closes that connection with one WARN line and counts in {@link #refused()} or {@link
 * #malformed()}; the node and its other connections are unaffected. Those lines are rate-limited
 * (at most {@value #LOG_LINES_PER_MINUTE} a minute; the next line says how many were left out), the
 * counters are not.
 *
 * <p>Slow or idle strangers: the handshake (TLS included) must complete within a total deadline of
 * {@link Limits#handshakeDeadline()} (5 s), however slowly the bytes trickle in; at most {@link
 * Limits#maxHandshakes()} (8) connections may be in their handshake at once, at most {@link
 * Limits#maxHandshakesPerAddress()} (4) of them from one source address; and at most {@link
 * Limits#maxConnections()} (16) connections are served at once. A connection over a limit is
 * refused at once (counted, one line). Authenticated connections hold no handshake slot, so half of
 * the connections are always left for authenticated peers.
 *
 * <p>Concurrency: one thread accepts; each connection is served by its own pooled thread. {@link
 * #close()} may be called from any thread.
 */
public final class AdminServer implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(AdminServer.class);
  static final int LOG_LINES_PER_MINUTE = 20;
  private static final Duration IDLE_TIMEOUT = Duration.ofMinutes(10);

  /**
   * The service's bounds on connections.
   *
   * @param maxConnections connections served at once (one thread each)
   * @param maxHandshakes connections in their handshake at once
   * @param maxHandshakesPerAddress connections in their handshake at once from one source address
   * @param handshakeDeadline time from accept to authenticated, TLS handshake included
   */
  record Limits(
      int maxConnections,
      int maxHandshakes,
      int maxHandshakesPerAddress,
      Duration handshakeDeadline) {
    static final Limits DEFAULT = new Limits(16, 8, 4, Duration.ofSeconds(5));

    Limits {
      if (maxConnections < maxHandshakes) {
        throw new IllegalArgumentException(
            "maxConnections " + maxConnections + " < maxHandshakes " + maxHandshakes);
      }
      if (handshakeDeadline.isNegative() || handshakeDeadline.isZero()) {
        throw new IllegalArgumentException(
            "handshakeDeadline must be positive: " + handshakeDeadline);
      }
    }
  }

  /** What the service asks of its node. Called on connection threads; may block. */
  public interface Node {
    /** The node's status. */
    NodeStatus status() throws IOException;

    /** Runs an add through the node's membership admin. */
    CompletableFuture<AddResult> add(
        AddRequest request, java.util.function.Consumer<AddProgress> p);

    /** Runs a remove through the node's membership admin. */
    CompletableFuture<RemoveResult> remove(RemoveRequest request);

    /**
     * Checks, before {@link #retire}, that the node really is out of the configuration: a RETIRE
     * frame alone proves only that its sender knows the cluster secret. Throws an {@link
     * IllegalStateException} naming why the node stays (the sender gets it as an error). The
     * default accepts: for a node with no configuration to ask.
     */
    default void confirmRemoved(String reason) {}

    /** The node is no longer a member: stop (and wipe its state if asked), after answering. */
    void retire(String reason, boolean wipe);
  }

  private final String nodeId;
  private final Handshake handshake;
  private final Node node;
  private final ServerSocket socket;
  private final ExecutorService pool;
  private final Thread acceptor;
  private final Limits limits;
  private final HandshakeSlots slots;
  private final ScheduledThreadPoolExecutor deadlines;
  private final LogLimiter logLimit = LogLimiter.perMinute(LOG_LINES_PER_MINUTE);
  private final Set<Socket> open = ConcurrentHashMap.newKeySet();
  private final LongAdder refused = new LongAdder();
  private final LongAdder malformed = new LongAdder();
  private final LongAdder served = new LongAdder();
  private volatile boolean closed;

  private AdminServer(String nodeId, byte[] secret, Node node, ServerSocket socket, Limits limits) {
    this.nodeId = nodeId;
    this.handshake = new Handshake(Handshake.ADMIN_LABEL, secret);
    this.node = node;
    this.socket = socket;
    this.limits = limits;
    this.slots = new HandshakeSlots(limits.maxHandshakes(), limits.maxHandshakesPerAddress());
    this.deadlines =
        new ScheduledThreadPoolExecutor(
            1,
            r -> {
              Thread t = new Thread(r, "ferry-admin-" + nodeId + "-deadlines");
              t.setDaemon(true);
              return t;
            });
    this.deadlines.setRemoveOnCancelPolicy(true);
    AtomicInteger n = new AtomicInteger();
    this.pool =
        new ThreadPoolExecutor(
            0,
            limits.maxConnections(),
            30,
            TimeUnit.SECONDS,
            new SynchronousQueue<>(),
            r -> {
              Thread t = new Thread(r, "ferry-admin-" + nodeId + "-" + n.incrementAndGet());
              t.setDaemon(true);
              return t;
            });
    this.acceptor = new Thread(this::accept, "ferry-admin-" + nodeId + "-accept");
    this.acceptor.setDaemon(true);
  }

  /**
   * Binds {@code self}'s admin port and starts serving.
   *
   * @param secret the cluster secret (16..1024 bytes)
   * @param tls the server TLS context (client certificates are required), or null for plain TCP
   * @throws IOException if the port cannot be bound
   */
  public static AdminServer start(PeerAddress self, byte[] secret, SSLContext tls, Node node)
      throws IOException {
    return start(self, secret, tls, node, Limits.DEFAULT);
  }

  /** As {@link #start(PeerAddress, byte[], SSLContext, Node)}, with other limits (for tests). */
  static AdminServer start(
      PeerAddress self, byte[] secret, SSLContext tls, Node node, Limits limits)
      throws IOException {
    Objects.requireNonNull(self, "self");
    Objects.requireNonNull(limits, "limits");
    Objects.requireNonNull(node, "node");
    ServerSocket s;
    if (tls != null) {
      SSLServerSocket ssl = (SSLServerSocket) tls.getServerSocketFactory().createServerSocket();
      ssl.setNeedClientAuth(true);
      ssl.setEnabledProtocols(new String[] {"TLSv1.3", "TLSv1.2"});
      s = ssl;
    } else {
      s = new ServerSocket();
    }
    try {
      s.setReuseAddress(true);
      s.bind(new InetSocketAddress(self.host(), self.adminPort()), 64);
    } catch (IOException e) {
      s.close();
      throw new IOException(
          "admin service of "
              + self.id()
              + " cannot bind "
              + self.host()
              + ":"
              + self.adminPort()
              + ": "
              + e.getMessage(),
          e);
    }
    AdminServer server = new AdminServer(self.id(), secret.clone(), node, s, limits);
    server.acceptor.start();
    LOG.info(
        "admin service {}: listening on {}{}",
        self.id(),
        s.getLocalSocketAddress(),
        tls != null ? " (TLS)" : "");
    return server;
  }

  /** The bound port. */
  public int port() {
    return socket.getLocalPort();
  }

  /**
   * Connections refused: failed TLS handshake or authentication, no authentication within the
   * handshake deadline, or over a connection limit.
   */
  public long refused() {
    return refused.sum();
  }

  /** Connections closed for a malformed or truncated frame or an unknown request. */
  public long malformed() {
    return malformed.sum();
  }

  /** Connections open now. */
  public int openConnections() {
    return open.size();
  }

  /** Requests answered. */
  public long served() {
    return served.sum();
  }

  private void accept() {
    while (!closed) {
      Socket s;
      try {
        s = socket.accept();
      } catch (IOException e) {
        if (!closed) {
          LOG.warn("admin service {}: accept failed: {}", nodeId, e.toString());
        }
        continue;
      }
      InetAddress from = s.getInetAddress();
      String full = slots.tryAcquire(from);
      if (full != null) {
        refuseAtOnce(s, full);
        continue;
      }
      try {
        pool.execute(() -> serve(s, from));
      } catch (RejectedExecutionException e) {
        slots.release(from);
        refuseAtOnce(s, limits.maxConnections() + " connections already (limit)");
      }
    }
  }

  /** Refuses a connection over a limit, on the acceptor thread: counted, one line, closed. */
  private void refuseAtOnce(Socket s, String reason) {
    refused.increment();
    warn("refusing {}: {}", s.getRemoteSocketAddress(), reason);
    if (!(s instanceof SSLSocket)) {
      try {
        // A few bytes into an empty send buffer: never blocks.
        AdminProtocol.write(
            s.getOutputStream(), AdminProtocol.REFUSED, Map.of("reason", "busy: " + reason));
      } catch (IOException e) {
        // Closing anyway.
      }
    }
    closeQuietly(s);
  }

  /** One rate-limited WARN line about a connection: {@code format} takes two arguments. */
  private void warn(String format, Object remote, Object reason) {
    long skipped = logLimit.admit();
    if (skipped >= 0) {
      LOG.warn(
          "admin service {}: " + format + "{}", nodeId, remote, reason, LogLimiter.note(skipped));
    }
  }

  private void serve(Socket s, InetAddress from) {
    open.add(s);
    String remote = String.valueOf(s.getRemoteSocketAddress());
    AtomicBoolean late = new AtomicBoolean();
    boolean holdsSlot = true;
    // The deadline covers the whole handshake, TLS included, however slowly its bytes arrive: a
    // read timeout alone would let a byte every few seconds hold the connection forever.
    ScheduledFuture<?> deadline =
        deadlines.schedule(
            () -> {
              late.set(true);
              closeQuietly(s);
            },
            limits.handshakeDeadline().toMillis(),
            TimeUnit.MILLISECONDS);
    try {
      s.setSoTimeout((int) limits.handshakeDeadline().toMillis());
      s.setTcpNoDelay(true);
      InputStream in = new BufferedInputStream(s.getInputStream());
      OutputStream out = new BufferedOutputStream(s.getOutputStream());
      Client client = authenticate(in, out, remote);
      if (client == null) {
        return;
      }
      deadline.cancel(false);
      if (late.get()) {
        throw new SocketTimeoutException("handshake deadline passed");
      }
      // The slot is free before the client learns it is in, so a client that has its AUTH_OK
      // never competes with its own handshake for a slot.
      slots.release(from);
      holdsSlot = false;
      acceptAuth(out, client);
      s.setSoTimeout((int) IDLE_TIMEOUT.toMillis());
      while (!closed) {
        Frame f;
        try {
          f = AdminProtocol.read(in);
        } catch (EOFException e) {
          return;
        }
        handle(f, out, client.id());
        served.increment();
      }
    } catch (IOException e) {
      if (holdsSlot && (late.get() || e instanceof SocketTimeoutException)) {
        refused.increment();
        warn(
            "refusing {}: {}",
            remote,
            "no authentication within the handshake deadline of "
                + limits.handshakeDeadline().toMillis()
                + " ms");
      } else if (holdsSlot && e instanceof SSLException) {
        refused.increment();
        warn("refusing {}: TLS handshake failed: {}", remote, e.getMessage());
      } else if (e instanceof AdminProtocolException) {
        malformed.increment();
        warn("closing {}: {}", remote, e.getMessage());
      } else if (e instanceof SocketTimeoutException) {
        LOG.info("admin service {}: {} idle for {}; closed", nodeId, remote, IDLE_TIMEOUT);
      } else if (holdsSlot) {
        // Gone before authenticating (a port scan, a client that gave up): not worth a line each.
        LOG.debug("admin service {}: {} left before authenticating: {}", nodeId, remote, e);
      } else if (!closed) {
        LOG.info("admin service {}: {}: {}", nodeId, remote, e.toString());
      }
    } finally {
      deadline.cancel(false);
      if (holdsSlot) {
        slots.release(from);
      }
      open.remove(s);
      closeQuietly(s);
    }
  }

  /** The authenticated client, or null if refused; its AUTH_OK is not sent yet. */
  private Client authenticate(InputStream in, OutputStream out, String remote) throws IOException {
    byte[] nonce = Handshake.nonce();
    Map<String, String> hello = new LinkedHashMap<>();
    hello.put("v", Integer.toString(AdminProtocol.VERSION));
    hello.put("nonce", AdminProtocol.hex(nonce));
    AdminProtocol.write(out, AdminProtocol.HELLO, hello);
    Frame auth = AdminProtocol.read(in);
    if (auth.type() != AdminProtocol.AUTH) {
      refuse(out, remote, "expected AUTH, got frame " + auth.type());
      return null;
    }
    String clientId = auth.get("id");
    if (clientId.isEmpty() || clientId.length() > 128) {
      throw new AdminProtocolException("bad client id");
    }
    byte[] clientNonce = auth.hex("nonce", Handshake.NONCE_BYTES);
    byte[] proof = auth.hex("proof", Handshake.PROOF_BYTES);
    if (!Handshake.matches(handshake.clientProof(nonce, clientNonce, clientId), proof)) {
      refuse(out, remote, "authentication failed for '" + clientId + "'");
      return null;
    }
    return new Client(clientId, handshake.serverProof(clientNonce, nonce, clientId, nodeId));
  }

  /** An authenticated client, and the proof it still has to receive in its AUTH_OK. */
  private record Client(String id, byte[] serverProof) {}

  private void acceptAuth(OutputStream out, Client client) throws IOException {
    Map<String, String> ok = new LinkedHashMap<>();
    ok.put("id", nodeId);
    ok.put("proof", AdminProtocol.hex(client.serverProof()));
    AdminProtocol.write(out, AdminProtocol.AUTH_OK, ok);
  }

  private void refuse(OutputStream out, String remote, String reason) {
    refused.increment();
    warn("refusing {}: {}", remote, reason);
    try {
      AdminProtocol.write(out, AdminProtocol.REFUSED, Map.of("reason", "authentication failed"));
    } catch (IOException e) {
      // The connection closes anyway.
    }
  }

  private void handle(Frame f, OutputStream out, String peer) throws IOException {
    switch (f.type()) {
      case AdminProtocol.STATUS ->
          AdminProtocol.write(out, AdminProtocol.STATUS_REPLY, AdminProtocol.status(node.status()));
      case AdminProtocol.ADD -> {
        AddRequest request;
        try {
          request =
              new AddRequest(
                  PeerAddress.parse(f.get("node")), Duration.ofMillis(f.number("deadlineMs")));
        } catch (IllegalArgumentException e) {
          AdminProtocol.write(out, AdminProtocol.ERROR, AdminProtocol.error(e));
          return;
        }
        LOG.info("admin service {}: {} asks to add {}", nodeId, peer, request.node());
        Object lock = new Object();
        boolean[] done = {false};
        CompletableFuture<AddResult> f2 =
            node.add(
                request,
                p -> {
                  synchronized (lock) {
                    if (!done[0]) {
                      try {
                        AdminProtocol.write(out, AdminProtocol.PROGRESS, AdminProtocol.progress(p));
                      } catch (IOException e) {
                        LOG.debug("progress to {}: {}", peer, e.toString());
                      }
                    }
                  }
                });
        Map<String, String> answer;
        int type;
        try {
          answer = AdminProtocol.addResult(await(f2));
          type = AdminProtocol.ADD_DONE;
        } catch (RuntimeException e) {
          answer = AdminProtocol.error(e);
          type = AdminProtocol.ERROR;
        }
        synchronized (lock) {
          done[0] = true;
          AdminProtocol.write(out, type, answer);
        }
      }
      case AdminProtocol.REMOVE -> {
        Map<String, String> answer;
        int type;
        try {
          RemoveRequest request =
              new RemoveRequest(f.get("node"), Duration.ofMillis(f.number("deadlineMs")));
          LOG.info("admin service {}: {} asks to remove {}", nodeId, peer, request.nodeId());
          answer = AdminProtocol.removeResult(await(node.remove(request)));
          type = AdminProtocol.REMOVE_DONE;
        } catch (RuntimeException e) {
          answer = AdminProtocol.error(e);
          type = AdminProtocol.ERROR;
        }
        AdminProtocol.write(out, type, answer);
      }
      case AdminProtocol.RETIRE -> {
        String reason = f.get("reason");
        boolean wipe = Boolean.parseBoolean(f.get("wipe"));
        // The node logs its retirement once (MemberService); who asked is detail.
        LOG.debug("admin service {}: {} says this node was removed: {}", nodeId, peer, reason);
        try {
          node.confirmRemoved(reason);
        } catch (RuntimeException e) {
          AdminProtocol.write(out, AdminProtocol.ERROR, AdminProtocol.error(e));
          return;
        }
        AdminProtocol.write(out, AdminProtocol.RETIRED, Map.of());
        node.retire(reason, wipe);
      }
      default -> throw new AdminProtocolException("unknown request type " + f.type());
    }
  }

  private static <T> T await(CompletableFuture<T> f) {
    try {
      return f.get();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted");
    } catch (ExecutionException e) {
      Throwable c = e.getCause();
      if (c instanceof RuntimeException r) {
        throw r;
      }
      throw new AdminException(String.valueOf(c));
    }
  }

  private static void closeQuietly(Socket s) {
    try {
      s.close();
    } catch (IOException e) {
      // Closing anyway.
    }
  }

  /** Stops accepting and closes every connection. Idempotent. */
  @Override
  public void close() {
    closed = true;
    try {
      socket.close();
    } catch (IOException e) {
      // Closing anyway.
    }
    for (Socket s : open) {
      closeQuietly(s);
    }
    pool.shutdownNow();
    deadlines.shutdownNow();
  }
}
