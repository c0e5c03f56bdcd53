package dev.ferry.chaos.harness;

import dev.ferry.kv.cluster.ProcessCluster;
import dev.ferry.shipping.PeerAddress;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The fallback network, for machines where namespaces cannot be made: every node on loopback, and
 * every node-to-node connection through a {@link FaultProxy}.
 *
 * <ul>
 *   <li>node {@code i} (1-based, in id order) listens on 127.99.0.i (Ratis bound there with {@code
 *       raft.grpc.server.host}, the chunk service on its host name);
 *   <li>in the Raft configuration node {@code i} is named {@code fe-n<i>}; each node JVM resolves
 *       names through its own hosts file ({@code -Djdk.net.hosts.file}), where {@code fe-n<j>} is
 *       127.99.i.j: the proxy's listener for the link from node i to node j, which forwards to
 *       127.99.0.j;
 *   <li>the test's clients dial 127.99.0.i directly.
 * </ul>
 *
 * A cut freezes the links both ways. One-way cuts, loss and bandwidth are not supported; kill and
 * pause work as in any mode (they act on processes).
 */
final class ProxyNetwork implements Fabric {
  private final Map<String, Integer> index = new LinkedHashMap<>();
  private final Map<String, int[]> ports = new LinkedHashMap<>();
  private final Path dir;
  private final FaultProxy proxy;

  private ProxyNetwork(List<String> ids, Path dir) throws IOException {
    this.dir = dir;
    for (int i = 0; i < ids.size(); i++) {
      index.put(ids.get(i), i + 1);
    }
    this.proxy = new FaultProxy();
  }

  /**
   * Picks ports, writes each node's hosts file under {@code dir} and starts the proxy.
   *
   * @throws IOException if no free ports are found or a listener cannot be bound
   */
  static ProxyNetwork create(List<String> ids, Path dir) throws IOException {
    if (ids.size() > 200) {
      throw new IllegalArgumentException("at most 200 nodes: " + ids.size());
    }
    ProxyNetwork n = new ProxyNetwork(ids, dir);
    try {
      n.setUp();
      return n;
    } catch (IOException | RuntimeException e) {
      n.close();
      throw e;
    }
  }

  private void setUp() throws IOException {
    Files.createDirectories(dir);
    for (String id : index.keySet()) {
      ports.put(id, freePorts(indexOf(id)));
    }
    for (String from : index.keySet()) {
      StringBuilder hosts = new StringBuilder("127.0.0.1 localhost\n");
      for (String to : index.keySet()) {
        int[] p = ports.get(to);
        if (from.equals(to)) {
          hosts.append(realIp(indexOf(to))).append(' ').append(hostName(to)).append('\n');
          continue;
        }
        String viaProxy = proxyIp(indexOf(from), indexOf(to));
        hosts.append(viaProxy).append(' ').append(hostName(to)).append('\n');
        for (int port : new int[] {p[0], p[1]}) {
          proxy.listen(
              link(from, to),
              new InetSocketAddress(viaProxy, port),
              new InetSocketAddress(realIp(indexOf(to)), port));
        }
      }
      Files.writeString(hostsFile(from), hosts.toString(), StandardCharsets.UTF_8);
    }
  }

  /**
   * Raft and chunk (service) ports for node {@code i}, free on its own address and on every proxy
   * address that forwards to it.
   */
  private int[] freePorts(int i) throws IOException {
    for (int attempt = 0; attempt < 50; attempt++) {
      int[] p = ProcessCluster.freePorts(2);
      if (bindable(i, p)) {
        return p;
      }
    }
    throw new IOException("no free ports for node " + i);
  }

  private boolean bindable(int i, int[] candidate) {
    List<String> addresses = new ArrayList<>(List.of(realIp(i)));
    for (int from : index.values()) {
      if (from != i) {
        addresses.add(proxyIp(from, i));
      }
    }
    for (String a : addresses) {
      for (int port : candidate) {
        try (ServerSocket s = new ServerSocket()) {
          s.bind(new InetSocketAddress(a, port));
        } catch (IOException busy) {
          return false;
        }
      }
    }
    return true;
  }

  private static String realIp(int i) {
    return "127.99.0." + i;
  }

  private static String proxyIp(int from, int to) {
    return "127.99." + from + "." + to;
  }

  private static String hostName(String id) {
    return "fe-" + id;
  }

  private static String link(String from, String to) {
    return from + "->" + to;
  }

  private Path hostsFile(String id) {
    return dir.resolve(id + ".hosts");
  }

  private int indexOf(String id) {
    Integer i = index.get(id);
    if (i == null) {
      throw new IllegalArgumentException("no such node: " + id);
    }
    return i;
  }

  @Override
  public NetworkMode mode() {
    return NetworkMode.PROXY;
  }

  @Override
  public PeerAddress nodeAddress(String id) {
    int[] p = ports.get(id);
    indexOf(id);
    return new PeerAddress(id, hostName(id), p[0], p[1]);
  }

  @Override
  public PeerAddress clientAddress(String id) {
    int[] p = ports.get(id);
    return new PeerAddress(id, realIp(indexOf(id)), p[0], p[1]);
  }

  @Override
  public void prepare(String id, List<String> command, Map<String, String> environment) {
    command.add(1, "-Djdk.net.hosts.file=" + hostsFile(id).toAbsolutePath());
    command.add("--raft-property");
    command.add("raft.grpc.server.host=" + realIp(indexOf(id)));
  }

  @Override
  public Set<Capability> capabilities() {
    return EnumSet.of(Capability.CUT);
  }

  @Override
  public void cut(String a, String b) throws IOException {
    indexOf(a);
    indexOf(b);
    proxy.freeze(link(a, b));
    proxy.freeze(link(b, a));
  }

  @Override
  public void cutOneWay(String from, String to) {
    throw new UnsupportedOperationException("the proxy network cannot cut one way");
  }

  @Override
  public void loss(String node, double probability) {
    throw new UnsupportedOperationException("the proxy network cannot drop packets");
  }

  @Override
  public void bandwidth(String node, long bitsPerSecond) {
    throw new UnsupportedOperationException("the proxy network cannot limit bandwidth");
  }

  @Override
  public void heal() throws IOException {
    proxy.thawAll();
  }

  @Override
  public void close() {
    proxy.close();
  }

  @Override
  public String toString() {
    return "proxy " + index.keySet() + " on 127.99.0.0/16";
  }
}
