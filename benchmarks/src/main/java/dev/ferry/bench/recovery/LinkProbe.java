package dev.ferry.bench.recovery;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Locale;

/**
 * A raw TCP transfer between two network namespaces, to measure a link profile's real rate: {@code
 * LinkProbe recv <host> <port> <bytes>} accepts one connection, reads {@code bytes} and prints
 * {@code seconds=<first byte → last byte>}; {@code LinkProbe send <host> <port> <bytes>} writes
 * that many bytes. Each runs as its own process (inside a namespace with {@code ip netns exec}).
 */
public final class LinkProbe {
  private LinkProbe() {}

  /**
   * Runs one side of the transfer.
   *
   * @throws java.io.IOException if the connection fails or ends early
   */
  public static void main(String[] args) throws Exception {
    if (args.length != 4) {
      throw new IllegalArgumentException("usage: LinkProbe recv|send <host> <port> <bytes>");
    }
    String host = args[1];
    int port = Integer.parseInt(args[2]);
    long bytes = Long.parseLong(args[3]);
    byte[] buf = new byte[1 << 16];
    if (args[0].equals("recv")) {
      try (ServerSocket ss = new ServerSocket()) {
        ss.bind(new InetSocketAddress(host, port));
        System.out.println("listening");
        try (Socket s = ss.accept();
            InputStream in = s.getInputStream()) {
          long got = 0;
          long first = 0;
          while (got < bytes) {
            int n = in.read(buf);
            if (n < 0) {
              throw new java.io.EOFException("sender stopped after " + got + " bytes");
            }
            if (got == 0) {
              first = System.nanoTime();
            }
            got += n;
          }
          double seconds = (System.nanoTime() - first) / 1e9;
          System.out.println(String.format(Locale.ROOT, "seconds=%.6f", seconds));
        }
      }
    } else if (args[0].equals("send")) {
      try (Socket s = new Socket(host, port);
          OutputStream out = s.getOutputStream()) {
        long left = bytes;
        while (left > 0) {
          int n = (int) Math.min(buf.length, left);
          out.write(buf, 0, n);
          left -= n;
        }
      }
    } else {
      throw new IllegalArgumentException("recv or send: " + args[0]);
    }
  }
}
