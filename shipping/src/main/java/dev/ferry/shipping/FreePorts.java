package dev.ferry.shipping;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.util.Set;

/**
 * Free TCP ports on loopback for the nodes of a cluster on one machine (tests, benchmarks, the
 * demo): below Linux's ephemeral range (32768+), so that outgoing connections made meanwhile cannot
 * take them before the nodes bind them. A port found free may still be taken by another process
 * before it is bound; callers that start nodes retry or fail. Stateless; may be called from any
 * thread.
 */
public final class FreePorts {
  private FreePorts() {}

  /**
   * Finds {@code n} distinct free ports.
   *
   * @throws IOException if no {@code n} free ports were found
   */
  public static int[] pick(int n) throws IOException {
    return except(n, Set.of());
  }

  /**
   * Like {@link #pick}, none of them in {@code taken} (ports picked but not bound yet).
   *
   * @throws IOException if no {@code n} free ports were found
   */
  public static int[] except(int n, Set<Integer> taken) throws IOException {
    int[] ports = new int[n];
    java.util.Random rnd = new java.util.Random();
    int found = 0;
    for (int tries = 0; found < n && tries < 10_000; tries++) {
      int port = 20_000 + rnd.nextInt(12_000);
      boolean dup = taken.contains(port);
      for (int i = 0; i < found; i++) {
        dup |= ports[i] == port;
      }
      if (dup) {
        continue;
      }
      try (ServerSocket s = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
        ports[found++] = s.getLocalPort();
      } catch (IOException busy) {
        // taken: try another
      }
    }
    if (found < n) {
      throw new IOException("no free ports found in 20000-31999");
    }
    return ports;
  }
}
