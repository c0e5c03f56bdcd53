package dev.ferry.raft.admin;

import dev.ferry.raft.PeerAddress;
import dev.ferry.raft.admin.AdminProtocol.AdminProtocolException;
import dev.ferry.raft.admin.AdminProtocol.Frame;
import dev.ferry.raft.internal.Handshake;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
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
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A node's admin service: authenticated, low-volume, blocking. Serves {@link AdminClient}s: status,
 * membership changes (run by the node through {@link MembershipAdmin}) and retirement. The wire
 * format and conversation are in {@link AdminProtocol}; authentication is the chunk service's
 * mutual HMAC over the cluster secret under its own label, and with TLS the socket is mutual TLS.
 *
 * <p>Bad input: a malformed frame, a failed or late authentication, or an unknown request closes
 * that connection with one WARN line and counts in {@link #refused()} or {@link #malformed()}; the
 * node and its other connections are unaffected. At most {@value #MAX_CONNECTIONS} connections are
 * served at once; more are closed at once.
 *
 * <p>Concurrency: one thread accepts; each connection is served by its own pooled thread. {@link
 * #close()} may be called from any thread.
 */
public final class AdminServer implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(AdminServer.class);
  static final int MAX_CONNECTIONS = 8;
  private static final Duration HANDSHAKE_TIMEOUT = Duration.ofSeconds(5);
  private static final Duration IDLE_TIMEOUT = Duration.ofMinutes(10);

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
  private final Set<Socket> open = ConcurrentHashMap.newKeySet();
  private final LongAdder refused = new LongAdder();
  private final LongAdder malformed = new LongAdder();
  private final LongAdder served = new LongAdder();
  private volatile boolean closed;

  private AdminServer(String nodeId, byte[] secret, Node node, ServerSocket socket) {
    this.nodeId = nodeId;
    this.handshake = new Handshake(Handshake.ADMIN_LABEL, secret);
    this.node = node;
    this.socket = socket;
    AtomicInteger n = new AtomicInteger();
    this.pool =
        new ThreadPoolExecutor(
            0,
            MAX_CONNECTIONS,
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
    Objects.requireNonNull(self, "self");
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
      s.bind(new InetSocketAddress(self.host(), self.adminPort()), 16);
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
    AdminServer server = new AdminServer(self.id(), secret.clone(), node, s);
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

  /** Connections refused for failed authentication. */
  public long refused() {
    return refused.sum();
  }

  /** Connections closed for a malformed frame or request. */
  public long malformed() {
    return malformed.sum();
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
      try {
        pool.execute(() -> serve(s));
      } catch (java.util.concurrent.RejectedExecutionException e) {
        LOG.warn(
            "admin service {}: more than {} connections; closing {}",
            nodeId,
            MAX_CONNECTIONS,
            s.getRemoteSocketAddress());
        closeQuietly(s);
      }
    }
  }

  private void serve(Socket s) {
    open.add(s);
    String remote = String.valueOf(s.getRemoteSocketAddress());
    try {
      s.setSoTimeout((int) HANDSHAKE_TIMEOUT.toMillis());
      s.setTcpNoDelay(true);
      InputStream in = new BufferedInputStream(s.getInputStream());
      OutputStream out = new BufferedOutputStream(s.getOutputStream());
      String peer = authenticate(in, out, remote);
      if (peer == null) {
        return;
      }
      s.setSoTimeout((int) IDLE_TIMEOUT.toMillis());
      while (!closed) {
        Frame f;
        try {
          f = AdminProtocol.read(in);
        } catch (EOFException e) {
          return;
        }
        handle(f, out, peer);
        served.increment();
      }
    } catch (AdminProtocolException e) {
      malformed.increment();
      LOG.warn("admin service {}: closing {}: {}", nodeId, remote, e.getMessage());
    } catch (SocketTimeoutException e) {
      LOG.info("admin service {}: {} timed out", nodeId, remote);
    } catch (IOException e) {
      if (!closed) {
        LOG.info("admin service {}: {}: {}", nodeId, remote, e.toString());
      }
    } finally {
      open.remove(s);
      closeQuietly(s);
    }
  }

  /** The authenticated client's id, or null if refused. */
  private String authenticate(InputStream in, OutputStream out, String remote) throws IOException {
    byte[] nonce = Handshake.nonce();
    Map<String, String> hello = new LinkedHashMap<>();
    hello.put("v", Integer.toString(AdminProtocol.VERSION));
    hello.put("nonce", AdminProtocol.hex(nonce));
    AdminProtocol.write(out, AdminProtocol.HELLO, hello);
    Frame auth;
    try {
      auth = AdminProtocol.read(in);
    } catch (SocketTimeoutException e) {
      refuse(out, remote, "no authentication within " + HANDSHAKE_TIMEOUT.toMillis() + " ms");
      return null;
    }
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
    Map<String, String> ok = new LinkedHashMap<>();
    ok.put("id", nodeId);
    ok.put("proof", AdminProtocol.hex(handshake.serverProof(clientNonce, nonce, clientId, nodeId)));
    AdminProtocol.write(out, AdminProtocol.AUTH_OK, ok);
    return clientId;
  }

  private void refuse(OutputStream out, String remote, String reason) {
    refused.increment();
    LOG.warn("admin service {}: refusing {}: {}", nodeId, remote, reason);
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
  }
}
