package dev.ferry.kv;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.kv.testing.LocalCluster;
import dev.ferry.raft.FerryServer;
import dev.ferry.raft.admin.AdminClient;
import dev.ferry.raft.admin.NodeStatus;
import dev.ferry.shipping.PeerAddress;
import dev.ferry.statemachine.StateMachineConfig;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.LogRecord;
import org.apache.ratis.thirdparty.io.grpc.CallOptions;
import org.apache.ratis.thirdparty.io.grpc.Grpc;
import org.apache.ratis.thirdparty.io.grpc.InsecureChannelCredentials;
import org.apache.ratis.thirdparty.io.grpc.ManagedChannel;
import org.apache.ratis.thirdparty.io.grpc.MethodDescriptor;
import org.apache.ratis.thirdparty.io.grpc.Status;
import org.apache.ratis.thirdparty.io.grpc.StatusRuntimeException;
import org.apache.ratis.thirdparty.io.grpc.stub.ClientCalls;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/**
 * A node's Raft (gRPC) port under abuse from a client without TLS: oversized messages are refused
 * before they are buffered, a malformed message costs one log line and no stack trace, an idle
 * socket is closed after the handshake timeout, a rapid-reset flood gets a GOAWAY; and the node
 * keeps serving throughout.
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class RaftPortIT {
  private static final Duration T = Duration.ofSeconds(60);
  private static final String VOTE = "ratis.grpc.RaftServerProtocolService/requestVote";

  private LocalCluster cluster;
  private PeerAddress node;
  private final List<LogRecord> console = new CopyOnWriteArrayList<>();
  private final Handler recorder =
      new Handler() {
        @Override
        public void publish(LogRecord r) {
          console.add(r);
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
      };

  @BeforeAll
  void setUp(@TempDir Path dir) throws IOException {
    // What reaches the root java.util.logging logger is what gRPC would print to the console.
    java.util.logging.Logger.getLogger("").addHandler(recorder);
    cluster = LocalCluster.start(dir, 1, StateMachineConfig.defaults());
    node = cluster.peers().get(0);
  }

  @AfterAll
  void tearDown() throws IOException {
    java.util.logging.Logger.getLogger("").removeHandler(recorder);
    if (cluster != null) {
      cluster.close();
    }
  }

  private static final MethodDescriptor.Marshaller<byte[]> RAW =
      new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(byte[] value) {
          return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream stream) {
          try {
            return stream.readAllBytes();
          } catch (IOException e) {
            throw new IllegalStateException(e);
          }
        }
      };

  /** Sends {@code body} as a requestVote call and returns the status it fails with. */
  private Status call(byte[] body) throws InterruptedException {
    MethodDescriptor<byte[], byte[]> vote =
        MethodDescriptor.<byte[], byte[]>newBuilder()
            .setType(MethodDescriptor.MethodType.UNARY)
            .setFullMethodName(VOTE)
            .setRequestMarshaller(RAW)
            .setResponseMarshaller(RAW)
            .build();
    ManagedChannel ch =
        Grpc.newChannelBuilderForAddress(
                node.host(), node.raftPort(), InsecureChannelCredentials.create())
            .build();
    try {
      return assertThrows(
              StatusRuntimeException.class,
              () ->
                  ClientCalls.blockingUnaryCall(
                      ch, vote, CallOptions.DEFAULT.withDeadlineAfter(60, TimeUnit.SECONDS), body))
          .getStatus();
    } finally {
      ch.shutdownNow().awaitTermination(10, TimeUnit.SECONDS);
    }
  }

  private void assertServing() throws IOException {
    try (KvClient c = cluster.client(T)) {
      byte[] key = "still".getBytes(StandardCharsets.UTF_8);
      byte[] value = new byte[] {(byte) System.nanoTime()};
      c.put(key, value);
      assertArrayEquals(value, c.get(key));
    }
  }

  @Test
  void anOversizedMessageIsRefusedBeforeItIsBufferedAndTheNodeKeepsServing() throws Exception {
    byte[] big = new byte[16 << 20];
    new Random(1).nextBytes(big);
    for (int i = 0; i < 3; i++) {
      Status s = call(big);
      assertEquals(Status.Code.RESOURCE_EXHAUSTED, s.getCode(), s.toString());
    }
    assertServing();
  }

  @Test
  void aMalformedMessagePrintsNoStackTrace() throws Exception {
    byte[] garbage = new byte[4096];
    new Random(2).nextBytes(garbage);
    Status s = call(garbage);
    assertTrue(s.getCode() != Status.Code.OK, s.toString());
    List<LogRecord> traces =
        console.stream()
            .filter(r -> r.getThrown() != null && r.getLoggerName().contains("grpc"))
            .toList();
    assertEquals(
        List.of(),
        traces.stream().map(r -> r.getLoggerName() + ": " + r.getThrown()).toList(),
        "gRPC stack traces printed");
    assertServing();
  }

  @Test
  void anIdleSocketIsClosedAfterTheHandshakeTimeout() throws Exception {
    try (Socket s = new Socket()) {
      s.connect(new InetSocketAddress(node.host(), node.raftPort()), 5_000);
      s.setSoTimeout((int) T.toMillis());
      long start = System.nanoTime();
      try {
        // The server speaks first (its HTTP/2 settings); then nothing until it closes.
        while (s.getInputStream().read() >= 0) {
          // discard
        }
      } catch (SocketException e) {
        // reset: closed too
      } catch (SocketTimeoutException e) {
        throw new AssertionError("the server kept an idle socket open for " + T, e);
      }
      System.out.printf(
          Locale.ROOT,
          "idle socket closed after %d ms%n",
          TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start));
    }
    assertServing();
  }

  @Test
  void aRapidResetFloodGetsAGoaway() throws Exception {
    Socket s = new Socket();
    try {
      s.connect(new InetSocketAddress(node.host(), node.raftPort()), 5_000);
      s.setSoTimeout((int) T.toMillis());
      OutputStream out = s.getOutputStream();
      DataInputStream in = new DataInputStream(s.getInputStream());
      out.write("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
      out.write(frame(0x4, 0, 0, new byte[0])); // SETTINGS
      byte[] headers = requestHeaders();
      int[] sent = {0};
      Thread writer =
          new Thread(
              () -> {
                try {
                  for (int stream = 1; sent[0] < 2_000; stream += 2) {
                    out.write(frame(0x1, 0x4, stream, headers)); // HEADERS, END_HEADERS
                    out.write(frame(0x3, 0, stream, new byte[] {0, 0, 0, 8})); // RST_STREAM
                    synchronized (sent) {
                      sent[0]++;
                    }
                  }
                } catch (IOException e) {
                  // The server closed the connection.
                }
              },
              "rapid-reset-writer");
      writer.start();
      int goaway = -1;
      try {
        while (goaway < 0) {
          int length = in.readUnsignedShort() << 8 | in.readUnsignedByte();
          int type = in.readUnsignedByte();
          in.readUnsignedByte(); // flags
          in.readInt(); // stream
          byte[] payload = new byte[length];
          in.readFully(payload);
          if (type == 0x7) {
            goaway =
                (payload[4] & 0xff) << 24
                    | (payload[5] & 0xff) << 16
                    | (payload[6] & 0xff) << 8
                    | (payload[7] & 0xff);
          }
        }
      } catch (EOFException | SocketException e) {
        // Closed (a reset can discard the GOAWAY before it is read): what matters is the close.
        goaway = 0xb;
      } catch (SocketTimeoutException e) {
        throw new AssertionError("the connection stayed open " + T + " after the resets", e);
      } finally {
        s.close();
        writer.join();
      }
      assertEquals(0xb, goaway, "GOAWAY error code ENHANCE_YOUR_CALM");
      System.out.printf(Locale.ROOT, "closed after %d resets sent%n", sent[0]);
    } finally {
      s.close();
    }
    assertServing();
  }

  @Test
  void truncatedFramesAreCountedInTheMetricsAndTheStatus() throws Exception {
    FerryServer server = cluster.server(node.id());
    // The node has one service port (chunks and admin requests): two truncated frames on it.
    for (int i = 0; i < 2; i++) {
      try (Socket s = new Socket()) {
        s.connect(new InetSocketAddress(node.host(), node.chunkPort()), 5_000);
        s.setSoTimeout((int) T.toMillis());
        s.getOutputStream().write(new byte[] {0, 0});
        s.shutdownOutput();
        while (s.getInputStream().read() >= 0) {
          // until the server closes
        }
      }
    }
    LocalCluster.await(
        T,
        () -> gauge(server, "ferry.chunks.frames.malformed") == 2,
        "both truncated frames counted");
    assertEquals(0, gauge(server, "ferry.chunks.connections.refused"));
    assertEquals(0, gauge(server, "ferry.store.chunks.quarantined"));
    try (AdminClient c =
        AdminClient.connect(
            node, AdminClient.groupId(cluster.clusterName()), cluster.secret(), null, "test")) {
      assertEquals(Optional.of(new NodeStatus.Counters(0, 2, 0)), c.status().counters());
    }
  }

  private static long gauge(FerryServer server, String name) {
    return (Long) server.metrics().getGauges().get(name).getValue();
  }

  private static byte[] frame(int type, int flags, int stream, byte[] payload) {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    b.write(payload.length >>> 16);
    b.write(payload.length >>> 8);
    b.write(payload.length);
    b.write(type);
    b.write(flags);
    b.write(stream >>> 24);
    b.write(stream >>> 16);
    b.write(stream >>> 8);
    b.write(stream);
    b.writeBytes(payload);
    return b.toByteArray();
  }

  /** An HPACK block for a gRPC POST, with literal (unindexed, not Huffman) strings. */
  private byte[] requestHeaders() {
    ByteArrayOutputStream b = new ByteArrayOutputStream();
    b.write(0x83); // :method POST
    b.write(0x86); // :scheme http
    literal(b, 0x04, null, "/" + VOTE); // :path
    literal(b, 0x01, null, node.host()); // :authority
    literal(b, 0x0f, null, "application/grpc"); // content-type (static index 31)
    literal(b, 0x00, "te", "trailers");
    return b.toByteArray();
  }

  private static void literal(ByteArrayOutputStream b, int index, String name, String value) {
    if (index == 0x0f) {
      b.write(0x0f);
      b.write(31 - 15);
    } else {
      b.write(index);
    }
    if (name != null) {
      string(b, name);
    }
    string(b, value);
  }

  private static void string(ByteArrayOutputStream b, String s) {
    byte[] bytes = s.getBytes(StandardCharsets.US_ASCII);
    if (bytes.length > 126) {
      throw new IllegalArgumentException("too long for this encoder: " + s);
    }
    b.write(bytes.length);
    b.writeBytes(bytes);
  }
}
