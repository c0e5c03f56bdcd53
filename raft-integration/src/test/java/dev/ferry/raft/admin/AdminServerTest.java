package dev.ferry.raft.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.raft.ClusterSecret;
import dev.ferry.shipping.PeerAddress;
import dev.ferry.shipping.net.Handshake;
import dev.ferry.snapshot.StateDigest;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The admin service under slow and idle strangers: a total handshake deadline, per-address and
 * total limits on unauthenticated connections, and counted truncated frames.
 */
class AdminServerTest {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final int ATTACKERS = 16;

  private final ClusterSecret secret = ClusterSecret.random();
  private final List<Socket> sockets = new ArrayList<>();
  private AdminServer server;
  private PeerAddress address;

  private static final NodeStatus STATUS =
      new NodeStatus(
          "n1",
          "LEADER",
          Optional.of("n1"),
          1,
          2,
          2,
          0,
          StateDigest.EMPTY,
          Optional.empty(),
          List.of(),
          Optional.empty(),
          List.of(),
          Optional.empty(),
          Optional.empty(),
          Optional.empty(),
          Optional.empty());

  /** A node that only answers status. */
  private static final class StatusOnly implements AdminServer.Node {
    @Override
    public NodeStatus status() {
      return STATUS;
    }

    @Override
    public CompletableFuture<AddResult> add(
        AddRequest request, java.util.function.Consumer<AddProgress> p) {
      return CompletableFuture.failedFuture(new IllegalStateException("not here"));
    }

    @Override
    public CompletableFuture<RemoveResult> remove(RemoveRequest request) {
      return CompletableFuture.failedFuture(new IllegalStateException("not here"));
    }

    @Override
    public void retire(String reason, boolean wipe) {}
  }

  private void start(AdminServer.Limits limits) throws IOException {
    int port;
    try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getByName("127.0.0.1"))) {
      port = probe.getLocalPort();
    }
    address = new PeerAddress("n1", "127.0.0.1", port == 1 ? 3 : 1, 2, port);
    server = AdminServer.start(address, secret.bytes(), null, new StatusOnly(), limits);
  }

  @AfterEach
  void tearDown() throws IOException {
    for (Socket s : sockets) {
      s.close();
    }
    if (server != null) {
      server.close();
    }
  }

  /** A raw connection from {@code from} (another loopback address than the real client's). */
  private Socket connect(String from) throws IOException {
    Socket s = new Socket();
    sockets.add(s);
    s.bind(new InetSocketAddress(from, 0));
    s.connect(new InetSocketAddress(address.host(), address.adminPort()), 5_000);
    s.setSoTimeout((int) WAIT.toMillis());
    return s;
  }

  /** A well-formed AUTH frame with a valid proof for {@code hello}. */
  private byte[] authFrame(AdminProtocol.Frame hello) throws IOException {
    byte[] serverNonce = hello.hex("nonce", Handshake.NONCE_BYTES);
    byte[] nonce = Handshake.nonce();
    Map<String, String> auth = new LinkedHashMap<>();
    auth.put("v", Integer.toString(AdminProtocol.VERSION));
    auth.put("id", "slow-client-with-a-long-name-to-make-the-frame-longer");
    auth.put("nonce", AdminProtocol.hex(nonce));
    Handshake h = new Handshake(Handshake.ADMIN_LABEL, secret.bytes());
    auth.put("proof", AdminProtocol.hex(h.clientProof(serverNonce, nonce, auth.get("id"))));
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    AdminProtocol.write(out, AdminProtocol.AUTH, auth);
    return out.toByteArray();
  }

  /** Sends one byte of each attacker's frame every 50 ms until each is sent or closed. */
  private static final class Dribbler extends Thread {
    private final List<Socket> targets;
    private final List<byte[]> frames;
    final boolean[] cut;
    volatile int sentMost;

    Dribbler(List<Socket> targets, List<byte[]> frames) {
      super("slow-auth-dribbler");
      setDaemon(true);
      this.targets = targets;
      this.frames = frames;
      this.cut = new boolean[targets.size()];
    }

    @Override
    public void run() {
      int[] sent = new int[targets.size()];
      boolean any = true;
      while (any && !isInterrupted()) {
        any = false;
        for (int i = 0; i < targets.size(); i++) {
          if (cut[i] || sent[i] == frames.get(i).length) {
            continue;
          }
          try {
            OutputStream o = targets.get(i).getOutputStream();
            o.write(frames.get(i)[sent[i]]);
            o.flush();
            sent[i]++;
            sentMost = Math.max(sentMost, sent[i]);
            any = true;
          } catch (IOException e) {
            synchronized (cut) {
              cut[i] = true;
            }
          }
        }
        LockSupport.parkNanos(50_000_000L);
      }
    }
  }

  @Test
  void slowAuthFramesNeitherLockOutAStatusRequestNorOutliveTheDeadline() throws Exception {
    start(new AdminServer.Limits(16, 8, 4, Duration.ofSeconds(2)));
    List<Socket> attackers = new ArrayList<>();
    List<byte[]> frames = new ArrayList<>();
    int refusedAtOnce = 0;
    for (int i = 0; i < ATTACKERS; i++) {
      Socket s = connect("127.0.0.2");
      AdminProtocol.Frame first;
      try {
        first = AdminProtocol.read(s.getInputStream());
      } catch (IOException e) {
        refusedAtOnce++;
        continue;
      }
      if (first.type() == AdminProtocol.REFUSED) {
        refusedAtOnce++;
        continue;
      }
      attackers.add(s);
      frames.add(authFrame(first));
    }
    Dribbler dribbler = new Dribbler(attackers, frames);
    dribbler.start();
    try {
      // The frames take several seconds each to trickle in; meanwhile a real client is served.
      try (AdminClient c = AdminClient.connect(address, secret, null, "cli")) {
        assertEquals(STATUS, c.status());
      }
      assertEquals(4, attackers.size(), "one address holds at most 4 handshake slots");
      assertEquals(ATTACKERS - 4, refusedAtOnce);

      // The slow ones are cut at the deadline, long before their frames are complete.
      await(
          () -> {
            synchronized (dribbler.cut) {
              for (boolean b : dribbler.cut) {
                if (!b) {
                  return false;
                }
              }
              return true;
            }
          },
          "the server to close every slow connection");
      assertTrue(
          dribbler.sentMost < frames.get(0).length,
          "cut after " + dribbler.sentMost + " of " + frames.get(0).length + " bytes");
      await(() -> server.refused() == ATTACKERS, "every slow connection counted as refused");
      assertEquals(0, server.malformed());
      await(() -> server.openConnections() == 0, "no connection left open");
    } finally {
      dribbler.interrupt();
      dribbler.join();
    }
  }

  @Test
  void unauthenticatedConnectionsAreLimitedInAllAndPerAddress() throws Exception {
    start(new AdminServer.Limits(4, 2, 1, Duration.ofMinutes(5)));
    // One idle stranger from each of two addresses; a second from the first address is refused.
    for (String from : List.of("127.0.0.2", "127.0.0.3")) {
      assertEquals(AdminProtocol.HELLO, AdminProtocol.read(connect(from).getInputStream()).type());
    }
    AdminProtocol.Frame busy = AdminProtocol.read(connect("127.0.0.2").getInputStream());
    assertEquals(AdminProtocol.REFUSED, busy.type());
    assertTrue(busy.get("reason").contains("per address"), busy.get("reason"));
    // Both handshake slots are held: a third address is refused too, and says why.
    IOException e =
        org.junit.jupiter.api.Assertions.assertThrows(
            IOException.class, () -> AdminClient.connect(address, secret, null, "cli"));
    assertTrue(e.getMessage().contains("unauthenticated connections"), e.getMessage());
    assertEquals(2, server.refused());
    // One stranger leaves: a real client gets its slot, and keeps its connection while another
    // stranger takes the slot back.
    sockets.get(0).close();
    await(() -> server.openConnections() == 1, "the stranger's connection closed");
    try (AdminClient c = AdminClient.connect(address, secret, null, "cli")) {
      assertEquals(
          AdminProtocol.HELLO, AdminProtocol.read(connect("127.0.0.4").getInputStream()).type());
      assertEquals(STATUS, c.status());
    }
  }

  @Test
  void aTruncatedFrameIsCountedAsMalformed() throws Exception {
    start(AdminServer.Limits.DEFAULT);
    Socket s = connect("127.0.0.1");
    InputStream in = s.getInputStream();
    byte[] auth = authFrame(AdminProtocol.read(in));
    s.getOutputStream().write(auth, 0, auth.length / 2);
    s.shutdownOutput();
    assertEquals(-1, in.read(), "closed by the server");
    await(() -> server.malformed() == 1, "the truncated frame counted");
    assertEquals(0, server.refused());
    try (AdminClient c = AdminClient.connect(address, secret, null, "cli")) {
      assertEquals(STATUS, c.status());
    }
  }

  private static void await(BooleanSupplier condition, String what) {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out after " + WAIT + " waiting for " + what);
      }
      LockSupport.parkNanos(5_000_000L);
    }
  }
}
