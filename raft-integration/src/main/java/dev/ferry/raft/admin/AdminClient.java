package dev.ferry.raft.admin;

import dev.ferry.raft.ClusterSecret;
import dev.ferry.raft.TlsFiles;
import dev.ferry.raft.admin.AdminProtocol.Frame;
import dev.ferry.shipping.PeerAddress;
import dev.ferry.shipping.net.Handshake;
import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.function.Consumer;
import javax.net.ssl.SSLSocket;

/**
 * A client of one node's admin service: status, add, remove (which the node runs through its own
 * {@link MembershipAdmin}), and retire. Authenticates with the cluster secret (mutual HMAC, like
 * the chunk service) and, when given TLS files, over mutual TLS.
 *
 * <p>Blocking; one request at a time (calls are serialized). Thread-safe.
 */
public final class AdminClient implements Closeable {
  private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);
  private static final Duration READ_TIMEOUT = Duration.ofSeconds(30);

  private final String serverId;
  private final Socket socket;
  private final InputStream in;
  private final OutputStream out;

  private AdminClient(String serverId, Socket socket) throws IOException {
    this.serverId = serverId;
    this.socket = socket;
    this.in = new BufferedInputStream(socket.getInputStream());
    this.out = new BufferedOutputStream(socket.getOutputStream());
  }

  /**
   * Connects to {@code node}'s admin service and authenticates.
   *
   * @param secret the cluster secret
   * @param tls this client's TLS files, or null if the cluster runs without TLS
   * @param clientId the id this client presents (logged by the server)
   * @throws AdminAuthException if either side's proof is refused
   * @throws IOException if the node cannot be reached or speaks something else
   */
  public static AdminClient connect(
      PeerAddress node, ClusterSecret secret, TlsFiles tls, String clientId) throws IOException {
    Objects.requireNonNull(node, "node");
    Objects.requireNonNull(secret, "secret");
    Objects.requireNonNull(clientId, "clientId");
    Socket s;
    if (tls != null) {
      s = tls.adminContext(false).getSocketFactory().createSocket();
    } else {
      s = new Socket();
    }
    try {
      s.connect(
          new InetSocketAddress(node.host(), node.adminPort()), (int) CONNECT_TIMEOUT.toMillis());
      s.setSoTimeout((int) READ_TIMEOUT.toMillis());
      s.setTcpNoDelay(true);
      if (s instanceof SSLSocket ssl) {
        ssl.startHandshake();
      }
      AdminClient c = new AdminClient(node.id(), s);
      c.authenticate(new Handshake(Handshake.ADMIN_LABEL, secret.bytes()), clientId);
      return c;
    } catch (IOException | RuntimeException e) {
      s.close();
      if (e instanceof AdminAuthException) {
        throw e;
      }
      throw new IOException(
          "admin service of "
              + node.id()
              + " at "
              + node.host()
              + ":"
              + node.adminPort()
              + ": "
              + e,
          e);
    }
  }

  private void authenticate(Handshake h, String clientId) throws IOException {
    Frame hello = AdminProtocol.read(in);
    if (hello.type() == AdminProtocol.REFUSED) {
      throw new IOException(serverId + " refused the connection: " + hello.get("reason"));
    }
    if (hello.type() != AdminProtocol.HELLO) {
      throw new IOException("expected HELLO, got frame " + hello.type());
    }
    byte[] serverNonce = hello.hex("nonce", Handshake.NONCE_BYTES);
    byte[] nonce = Handshake.nonce();
    Map<String, String> auth = new LinkedHashMap<>();
    auth.put("v", Integer.toString(AdminProtocol.VERSION));
    auth.put("id", clientId);
    auth.put("nonce", AdminProtocol.hex(nonce));
    auth.put("proof", AdminProtocol.hex(h.clientProof(serverNonce, nonce, clientId)));
    AdminProtocol.write(out, AdminProtocol.AUTH, auth);
    Frame reply = AdminProtocol.read(in);
    if (reply.type() == AdminProtocol.REFUSED) {
      throw new AdminAuthException(serverId + " refused: " + reply.get("reason"));
    }
    if (reply.type() != AdminProtocol.AUTH_OK) {
      throw new IOException("expected AUTH_OK, got frame " + reply.type());
    }
    String server = reply.get("id");
    byte[] expected = h.serverProof(nonce, serverNonce, clientId, server);
    if (!Handshake.matches(expected, reply.hex("proof", Handshake.PROOF_BYTES))) {
      throw new AdminAuthException(serverId + " did not prove it knows the cluster secret");
    }
  }

  /** The node's status. */
  public synchronized NodeStatus status() throws IOException {
    AdminProtocol.write(out, AdminProtocol.STATUS, Map.of());
    return AdminProtocol.status(expect(AdminProtocol.STATUS_REPLY));
  }

  /**
   * Asks the node to add {@code request.node()} through the digest gate ({@link
   * MembershipAdmin#addMember}), and waits for the outcome, passing progress reports to {@code
   * progress} on this thread.
   *
   * @throws MembershipException (or a subclass) as {@link MembershipAdmin#addMember} fails
   * @throws IOException if the connection fails
   */
  public synchronized AddResult add(AddRequest request, Consumer<AddProgress> progress)
      throws IOException {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("node", request.node().toString());
    m.put("deadlineMs", Long.toString(request.deadline().toMillis()));
    AdminProtocol.write(out, AdminProtocol.ADD, m);
    while (true) {
      Frame f = readLong(request.deadline());
      switch (f.type()) {
        case AdminProtocol.PROGRESS -> progress.accept(AdminProtocol.progress(f));
        case AdminProtocol.ADD_DONE -> {
          return AdminProtocol.addResult(f);
        }
        case AdminProtocol.ERROR -> throw AdminProtocol.error(f);
        default -> throw new IOException("unexpected frame " + f.type() + " during add");
      }
    }
  }

  /**
   * Asks the node to remove a member ({@link MembershipAdmin#removeMember}) and waits.
   *
   * @throws MembershipException (or a subclass) as {@link MembershipAdmin#removeMember} fails
   */
  public synchronized RemoveResult remove(RemoveRequest request) throws IOException {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("node", request.nodeId());
    m.put("deadlineMs", Long.toString(request.deadline().toMillis()));
    AdminProtocol.write(out, AdminProtocol.REMOVE, m);
    Frame f = readLong(request.deadline());
    if (f.type() == AdminProtocol.ERROR) {
      throw AdminProtocol.error(f);
    }
    if (f.type() != AdminProtocol.REMOVE_DONE) {
      throw new IOException("unexpected frame " + f.type() + " after remove");
    }
    return AdminProtocol.removeResult(f);
  }

  /**
   * Tells the node it is no longer a member: it stops, after wiping its state if {@code wipe}. Sent
   * by {@link MembershipAdmin} after it removed the node.
   */
  public synchronized void retire(String reason, boolean wipe) throws IOException {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("reason", reason);
    m.put("wipe", Boolean.toString(wipe));
    AdminProtocol.write(out, AdminProtocol.RETIRE, m);
    Frame f = AdminProtocol.read(in);
    if (f.type() == AdminProtocol.ERROR) {
      throw AdminProtocol.error(f);
    }
    if (f.type() != AdminProtocol.RETIRED) {
      throw new IOException("unexpected frame " + f.type() + " after retire");
    }
  }

  private Frame expect(int type) throws IOException {
    Frame f = AdminProtocol.read(in);
    if (f.type() == AdminProtocol.ERROR) {
      throw AdminProtocol.error(f);
    }
    if (f.type() != type) {
      throw new IOException("expected frame " + type + ", got " + f.type());
    }
    return f;
  }

  /** Reads a frame that may take up to {@code deadline} plus a margin to come. */
  private Frame readLong(Duration deadline) throws IOException {
    int old = socket.getSoTimeout();
    long ms = Math.min(Integer.MAX_VALUE, deadline.plus(READ_TIMEOUT).toMillis());
    socket.setSoTimeout((int) ms);
    try {
      return AdminProtocol.read(in);
    } catch (SocketTimeoutException e) {
      throw new IOException("no answer from " + serverId + " within " + Duration.ofMillis(ms), e);
    } finally {
      socket.setSoTimeout(old);
    }
  }

  /** Closes the connection. Idempotent; never throws. */
  @Override
  public void close() {
    try {
      socket.close();
    } catch (IOException e) {
      // Nothing to do: the connection is gone either way.
    }
  }
}
