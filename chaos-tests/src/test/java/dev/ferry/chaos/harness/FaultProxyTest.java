package dev.ferry.chaos.harness;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

class FaultProxyTest {
  private ServerSocket echo;
  private Thread echoThread;
  private FaultProxy proxy;
  private InetSocketAddress front;

  @BeforeEach
  void setUp() throws IOException {
    echo = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    echoThread = new Thread(this::serveEcho, "echo");
    echoThread.setDaemon(true);
    echoThread.start();
    proxy = new FaultProxy();
    int port;
    try (ServerSocket probe = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      port = probe.getLocalPort();
    }
    front = new InetSocketAddress(InetAddress.getLoopbackAddress(), port);
    proxy.listen("a->b", front, (InetSocketAddress) echo.getLocalSocketAddress());
  }

  @AfterEach
  void tearDown() throws IOException {
    proxy.close();
    echo.close();
  }

  private void serveEcho() {
    while (!echo.isClosed()) {
      try {
        Socket s = echo.accept();
        Thread t =
            new Thread(
                () -> {
                  try (s;
                      InputStream in = s.getInputStream();
                      OutputStream out = s.getOutputStream()) {
                    in.transferTo(out);
                  } catch (IOException ignored) {
                    // peer went away
                  }
                });
        t.setDaemon(true);
        t.start();
      } catch (IOException closed) {
        return;
      }
    }
  }

  private static byte[] roundTrip(Socket s, byte[] data) throws IOException {
    s.getOutputStream().write(data);
    byte[] back = new byte[data.length];
    new DataInputStream(s.getInputStream()).readFully(back);
    return back;
  }

  @Test
  void forwardsBothWaysLargerThanItsBuffers() throws IOException {
    byte[] data = new byte[1 << 20];
    new Random(1).nextBytes(data);
    try (Socket s = new Socket()) {
      s.connect(front, 5000);
      s.setSoTimeout(10_000);
      Thread writer =
          new Thread(
              () -> {
                try {
                  s.getOutputStream().write(data);
                } catch (IOException ignored) {
                  // the reader fails the test
                }
              });
      writer.start();
      byte[] back = new byte[data.length];
      new DataInputStream(s.getInputStream()).readFully(back);
      assertArrayEquals(data, back);
    }
  }

  @Test
  void aFrozenLinkMovesNothingUntilItThaws() throws IOException {
    try (Socket s = new Socket()) {
      s.connect(front, 5000);
      s.setSoTimeout(300);
      assertArrayEquals(new byte[] {1, 2, 3}, roundTrip(s, new byte[] {1, 2, 3}));
      proxy.freeze("a->b");
      s.getOutputStream().write(new byte[] {4, 5});
      assertThrows(SocketTimeoutException.class, () -> s.getInputStream().read());
      proxy.thaw("a->b");
      s.setSoTimeout(5000);
      byte[] back = new byte[2];
      new DataInputStream(s.getInputStream()).readFully(back);
      assertArrayEquals(new byte[] {4, 5}, back, "data sent while frozen arrives after the thaw");
    }
  }

  @Test
  void aConnectionMadeWhileFrozenIsHeldAndConnectedOnThaw() throws IOException {
    proxy.freeze("a->b");
    try (Socket s = new Socket()) {
      s.connect(front, 5000);
      s.setSoTimeout(300);
      s.getOutputStream().write(7);
      assertThrows(SocketTimeoutException.class, () -> s.getInputStream().read());
      proxy.thawAll();
      s.setSoTimeout(5000);
      assertEquals(7, s.getInputStream().read());
      assertEquals(1, proxy.connections("a->b"));
    }
  }

  @Test
  void anUnknownLinkIsRefused() {
    assertThrows(IllegalArgumentException.class, () -> proxy.freeze("x->y"));
  }
}
