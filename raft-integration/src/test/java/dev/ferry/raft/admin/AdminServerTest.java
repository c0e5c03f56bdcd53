package dev.ferry.raft.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.raft.ClusterSecret;
import dev.ferry.shipping.PeerAddress;
import dev.ferry.shipping.chunks.AdminMessage;
import dev.ferry.shipping.chunks.ChunkClient;
import dev.ferry.shipping.chunks.ChunkRequestException;
import dev.ferry.shipping.chunks.ChunkServer;
import dev.ferry.shipping.chunks.SnapshotSource;
import dev.ferry.shipping.net.Handshake;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The admin service on the node's one service port (the chunk service's pipeline) under slow and
 * idle strangers, malformed requests and requests for another group: a total handshake deadline,
 * per-address and total limits on unauthenticated connections, counted truncated frames and
 * malformed requests, and a clear error for a wrong group id.
 */
class AdminServerTest {
  private static final Duration WAIT = Duration.ofSeconds(60);
  private static final int ATTACKERS = 16;
  private static final String GROUP = AdminClient.groupId("test-cluster");

  // Chunk protocol frame types and the version, as docs/chunk-protocol.md lists them.
  private static final int HELLO = 0x01;
  private static final int AUTH = 0x02;
  private static final int REFUSED = 0x04;

  private final ClusterSecret secret = ClusterSecret.random();
  private final List<Socket> sockets = new ArrayList<>();
  private ChunkServer chunks;
  private AdminServer server;
  private PeerAddress address;

  private static final NodeStatus STATUS =
      TestStatuses.of("n1", "LEADER", Optional.of("n1"), 1, 2, List.of());

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

  private void start(int maxConnections, int maxUnauthenticated, int perAddress, Duration deadline)
      throws IOException {
    chunks =
        ChunkServer.builder()
            .nodeId("n1")
            .bind("127.0.0.1", 0)
            .source(
                SnapshotSource.of(
                    List::of,
                    () -> {
                      throw new IllegalStateException("no store in this test");
                    }))
            .secret(secret.bytes())
            .maxConnections(maxConnections)
            .maxUnauthenticated(maxUnauthenticated)
            .maxUnauthenticatedPerAddress(perAddress)
            .handshakeTimeout(deadline)
            .build()
            .start();
    int port = chunks.localAddress().getPort();
    address = new PeerAddress("n1", "127.0.0.1", port == 1 ? 3 : 1, port);
    server = AdminServer.serve(chunks, GROUP, new StatusOnly());
  }

  private void startDefault() throws IOException {
    start(256, 64, 16, Duration.ofSeconds(10));
  }

  @AfterEach
  void tearDown() throws IOException {
    for (Socket s : sockets) {
      s.close();
    }
    if (server != null) {
      server.close();
    }
    if (chunks != null) {
      chunks.close();
    }
  }

  private AdminClient client() throws IOException {
    return AdminClient.connect(address, GROUP, secret, null, "cli");
  }

  /** A raw connection from {@code from} (another loopback address than the real client's). */
  private Socket connect(String from) throws IOException {
    Socket s = new Socket();
    sockets.add(s);
    s.bind(new InetSocketAddress(from, 0));
    s.connect(new InetSocketAddress(address.host(), address.chunkPort()), 5_000);
    s.setSoTimeout((int) WAIT.toMillis());
    return s;
  }

  /** One raw frame: its type and body. */
  private record Frame(int type, byte[] body) {}

  private static Frame read(InputStream in) throws IOException {
    DataInputStream d = new DataInputStream(in);
    int length = d.readInt();
    if (length < 1 || length > 4096) {
      throw new IOException("unexpected frame length " + length);
    }
    byte[] b = new byte[length];
    d.readFully(b);
    return new Frame(b[0] & 0xff, java.util.Arrays.copyOfRange(b, 1, length));
  }

  /** A well-formed AUTH frame with a valid proof for {@code hello}. */
  private byte[] authFrame(Frame hello) throws IOException {
    byte[] serverNonce = java.util.Arrays.copyOfRange(hello.body(), 2, 2 + Handshake.NONCE_BYTES);
    byte[] nonce = Handshake.nonce();
    String id = "slow-client-with-a-long-name-to-make-the-frame-longer";
    Handshake h = new Handshake(Handshake.CHUNK_LABEL, secret.bytes());
    byte[] idBytes = id.getBytes(StandardCharsets.US_ASCII);
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    DataOutputStream out = new DataOutputStream(bytes);
    out.writeInt(1 + 2 + nonce.length + 1 + idBytes.length + Handshake.PROOF_BYTES);
    out.writeByte(AUTH);
    out.writeShort(1);
    out.write(nonce);
    out.writeByte(idBytes.length);
    out.write(idBytes);
    out.write(h.clientProof(serverNonce, nonce, id));
    return bytes.toByteArray();
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
    start(16, 8, 4, Duration.ofSeconds(2));
    List<Socket> attackers = new ArrayList<>();
    List<byte[]> frames = new ArrayList<>();
    int refusedAtOnce = 0;
    for (int i = 0; i < ATTACKERS; i++) {
      Socket s = connect("127.0.0.2");
      Frame first;
      try {
        first = read(s.getInputStream());
      } catch (IOException e) {
        refusedAtOnce++;
        continue;
      }
      if (first.type() == REFUSED) {
        refusedAtOnce++;
        continue;
      }
      assertEquals(HELLO, first.type());
      attackers.add(s);
      frames.add(authFrame(first));
    }
    Dribbler dribbler = new Dribbler(attackers, frames);
    dribbler.start();
    try {
      // The frames take several seconds each to trickle in; meanwhile a real client is served.
      try (AdminClient c = client()) {
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
      await(
          () -> chunks.stats().connectionsRefused() == ATTACKERS,
          "every slow connection counted as refused");
      assertEquals(0, chunks.stats().malformedFrames());
      await(() -> chunks.stats().openConnections() == 0, "no connection left open");
    } finally {
      dribbler.interrupt();
      dribbler.join();
    }
  }

  @Test
  void unauthenticatedConnectionsAreLimitedInAllAndPerAddress() throws Exception {
    start(4, 2, 1, Duration.ofMinutes(5));
    // One idle stranger from each of two addresses; a second from the first address is refused.
    for (String from : List.of("127.0.0.2", "127.0.0.3")) {
      assertEquals(HELLO, read(connect(from).getInputStream()).type());
    }
    Frame busy = read(connect("127.0.0.2").getInputStream());
    assertEquals(REFUSED, busy.type());
    String reason = new String(busy.body(), StandardCharsets.UTF_8);
    assertTrue(reason.contains("per address"), reason);
    // Both handshake slots are held: a third address is refused too, and says why.
    IOException e = assertThrows(IOException.class, this::client);
    assertTrue(e.getMessage().contains("unauthenticated connections"), e.getMessage());
    assertEquals(2, chunks.stats().connectionsRefused());
    // One stranger leaves: a real client gets its slot, and keeps its connection while another
    // stranger takes the slot back.
    sockets.get(0).close();
    await(() -> chunks.stats().openConnections() == 1, "the stranger's connection closed");
    try (AdminClient c = client()) {
      assertEquals(HELLO, read(connect("127.0.0.4").getInputStream()).type());
      assertEquals(STATUS, c.status());
    }
  }

  @Test
  void aTruncatedFrameIsCountedAsMalformed() throws Exception {
    startDefault();
    Socket s = connect("127.0.0.1");
    InputStream in = s.getInputStream();
    byte[] auth = authFrame(read(in));
    s.getOutputStream().write(auth, 0, auth.length / 2);
    s.shutdownOutput();
    assertEquals(-1, in.read(), "closed by the server");
    await(() -> chunks.stats().malformedFrames() == 1, "the truncated frame counted");
    assertEquals(0, chunks.stats().connectionsRefused());
    try (AdminClient c = client()) {
      assertEquals(STATUS, c.status());
    }
  }

  @Test
  void aRequestForAnotherGroupIsRefusedWithAClearError() throws Exception {
    startDefault();
    String other = AdminClient.groupId("another-cluster");
    try (AdminClient c = AdminClient.connect(address, other, secret, null, "cli")) {
      AdminException e = assertThrows(AdminException.class, c::status);
      assertTrue(e.getMessage().contains("serves no group '" + other + "'"), e.getMessage());
      assertTrue(e.getMessage().contains(GROUP), "names the group it serves: " + e.getMessage());
      // A valid request for a group not served: no protocol breach, the connection stays.
      assertThrows(AdminException.class, c::status);
    }
    assertEquals(0, chunks.stats().malformedFrames());
    assertEquals(0, server.served(), "the service itself never saw them");
    try (AdminClient c = client()) {
      assertEquals(STATUS, c.status());
    }
    assertEquals(1, server.served());
  }

  @Test
  void aMalformedAdminRequestGetsAnErrorIsCountedAndClosesOnlyItsConnection() throws Exception {
    startDefault();
    try (ChunkClient raw =
        ChunkClient.builder()
            .peer(address)
            .selfId("garbler")
            .secret(secret.bytes())
            .connect()
            .get()) {
      // A STATUS whose body claims an entry that is not there.
      ExecutionException e =
          assertThrows(
              ExecutionException.class,
              () ->
                  raw.admin(
                          GROUP, new AdminMessage(AdminProtocol.STATUS, new byte[] {0, 1}), p -> {})
                      .get());
      ChunkRequestException r = assertInstanceOf(e.getCause());
      assertEquals(ChunkRequestException.Code.BAD_REQUEST, r.code());
      assertTrue(r.getMessage().contains("malformed"), r.getMessage());
      await(() -> !raw.isOpen(), "the server to close the garbling connection");
    }
    await(() -> chunks.stats().malformedFrames() == 1, "the malformed request counted");
    try (AdminClient c = client()) {
      assertEquals(STATUS, c.status());
    }
  }

  private static ChunkRequestException assertInstanceOf(Throwable t) {
    return org.junit.jupiter.api.Assertions.assertInstanceOf(ChunkRequestException.class, t);
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
