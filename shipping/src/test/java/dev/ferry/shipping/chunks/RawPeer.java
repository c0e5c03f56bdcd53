package dev.ferry.shipping.chunks;

import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.ferry.shipping.net.Handshake;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.buffer.UnpooledByteBufAllocator;
import java.io.DataInputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;

/** A blocking, hand-driven protocol peer for feeding a server good and bad frames. */
final class RawPeer implements AutoCloseable {
  /** A received frame. */
  record Frame(int type, byte[] body) {
    Message decode() throws ProtocolException {
      return MessageCodec.decodeFromServer(type, Unpooled.wrappedBuffer(body));
    }
  }

  private final Socket socket;
  private final DataInputStream in;
  private final OutputStream out;

  RawPeer(InetSocketAddress server) throws IOException {
    socket = new Socket();
    socket.connect(server, 5_000);
    socket.setSoTimeout((int) ChunkFixture.WAIT.toMillis());
    in = new DataInputStream(socket.getInputStream());
    out = socket.getOutputStream();
  }

  /** Reads HELLO and answers with a valid AUTH; returns after AUTH_OK. */
  RawPeer authenticate(byte[] secret, String id) throws IOException {
    Message.Hello hello = (Message.Hello) readFrame().decode();
    byte[] nonce = Handshake.nonce();
    byte[] mac = new Handshake(Handshake.CHUNK_LABEL, secret).clientProof(hello.nonce(), nonce, id);
    send(new Message.Auth(MessageCodec.VERSION, nonce, id, mac));
    Frame ok = readFrame();
    assertEquals(MessageCodec.AUTH_OK, ok.type(), "expected AUTH_OK");
    return this;
  }

  void send(Message m) throws IOException {
    ByteBuf b = MessageCodec.encode(UnpooledByteBufAllocator.DEFAULT, m);
    try {
      sendRaw(ByteBufUtil.getBytes(b));
    } finally {
      b.release();
    }
  }

  void sendRaw(byte[] bytes) throws IOException {
    out.write(bytes);
    out.flush();
  }

  /** Sends a frame with the given type and body, correctly length-prefixed. */
  void sendFrame(int type, byte[] body) throws IOException {
    ByteBuf b = Unpooled.buffer().writeInt(1 + body.length).writeByte(type).writeBytes(body);
    sendRaw(ByteBufUtil.getBytes(b));
  }

  Frame readFrame() throws IOException {
    int length = in.readInt();
    if (length < 1 || length > (64 << 20)) {
      throw new IOException("bad length from server: " + length);
    }
    int type = in.readUnsignedByte();
    byte[] body = new byte[length - 1];
    in.readFully(body);
    return new Frame(type, body);
  }

  /** Closes the connection with a TCP reset (no orderly shutdown). */
  void reset() throws IOException {
    socket.setSoLinger(true, 0);
    socket.close();
  }

  /** Half-closes the sending side. */
  void shutdownOutput() throws IOException {
    socket.shutdownOutput();
  }

  /**
   * Reads and discards until the server closes the connection.
   *
   * @throws AssertionError if it is still open after the test deadline
   */
  void awaitClosedByServer() throws IOException {
    byte[] buf = new byte[8192];
    try {
      while (in.read(buf) >= 0) {
        // discard
      }
    } catch (EOFException | SocketException e) {
      // closed (or reset)
    } catch (SocketTimeoutException e) {
      throw new AssertionError("server did not close the connection", e);
    }
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
