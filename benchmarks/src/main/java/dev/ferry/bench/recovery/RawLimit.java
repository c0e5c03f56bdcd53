package dev.ferry.bench.recovery;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * Scenario (d), the upper bound: the state's bytes (the Ratis snapshot file: every key and value,
 * uncompressed) read from a file (in the page cache), sent through one loopback TCP connection and
 * hashed with SHA-256 by the receiver. No framing, no storage, no parsing: what a transfer that
 * verifies what it receives cannot beat on this machine. Best of {@code repeats} runs.
 */
final class RawLimit {
  private static final int BUFFER = 1 << 20;

  private RawLimit() {}

  static Measurement run(String id, Path file, long stateBytes, int repeats) throws IOException {
    double best = Double.MAX_VALUE;
    String sha = null;
    long size = 0;
    for (int i = 0; i < repeats; i++) {
      long t0 = System.nanoTime();
      String[] out = new String[1];
      size = once(file, out);
      double s = (System.nanoTime() - t0) / 1e9;
      best = Math.min(best, s);
      sha = out[0];
    }
    Map<String, Object> extra = new LinkedHashMap<>();
    extra.put("sha256", sha);
    extra.put("repeats", repeats);
    return new Measurement(
        id,
        "raw limit: file → loopback TCP → SHA-256",
        best,
        size,
        stateBytes,
        Map.of(),
        extra,
        List.of());
  }

  private static long once(Path file, String[] sha) throws IOException {
    try (ServerSocketChannel server = ServerSocketChannel.open()) {
      server.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
      CompletableFuture<String> received =
          CompletableFuture.supplyAsync(
              () -> {
                try (SocketChannel in = server.accept()) {
                  MessageDigest md = MessageDigest.getInstance("SHA-256");
                  ByteBuffer buf = ByteBuffer.allocateDirect(BUFFER);
                  while (in.read(buf) >= 0) {
                    buf.flip();
                    md.update(buf);
                    buf.clear();
                  }
                  return HexFormat.of().formatHex(md.digest());
                } catch (IOException | NoSuchAlgorithmException e) {
                  throw new IllegalStateException(e);
                }
              });
      long sent = 0;
      try (FileChannel f = FileChannel.open(file, StandardOpenOption.READ);
          SocketChannel outChannel = SocketChannel.open(server.getLocalAddress())) {
        ByteBuffer buf = ByteBuffer.allocateDirect(BUFFER);
        while (f.read(buf) >= 0) {
          buf.flip();
          while (buf.hasRemaining()) {
            sent += outChannel.write(buf);
          }
          buf.clear();
        }
      }
      sha[0] = received.join();
      return sent;
    }
  }
}
