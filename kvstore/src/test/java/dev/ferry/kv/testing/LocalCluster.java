package dev.ferry.kv.testing;

import dev.ferry.kv.KvClient;
import dev.ferry.kv.KvStateMachine;
import dev.ferry.kv.cluster.ProcessCluster;
import dev.ferry.raft.ClusterSecret;
import dev.ferry.raft.FerryServer;
import dev.ferry.raft.PeerAddress;
import dev.ferry.raft.TlsFiles;
import dev.ferry.raft.install.MultiSourceInstaller;
import dev.ferry.statemachine.StateMachineConfig;
import dev.ferry.statemachine.replica.Replica;
import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

/**
 * A cluster of Ferry nodes inside the test JVM: real Ratis servers talking gRPC over loopback
 * sockets, each with its own data directory. Faster to drive than {@link ProcessCluster}, and the
 * state machines can be inspected directly.
 */
public final class LocalCluster implements Closeable {
  private final Path dir;
  private final String clusterName = "local";
  private final List<PeerAddress> peers;
  private final StateMachineConfig config;
  private final Map<String, FerryServer> servers = new LinkedHashMap<>();
  private final ClusterSecret secret = ClusterSecret.random();
  private final Map<String, Long> sendRate = new java.util.HashMap<>();
  private static final long LOG_PRESERVATION = 50;
  private Tls tls;

  /**
   * Mutual TLS for a cluster: each node's files, and the files of the clients {@link #client} and
   * {@link #clientOf} make.
   */
  public record Tls(Map<String, TlsFiles> nodes, TlsFiles client) {
    /** Copies the map. */
    public Tls {
      nodes = Map.copyOf(nodes);
      java.util.Objects.requireNonNull(client, "client");
    }
  }

  private dev.ferry.raft.install.Shipping shipping = dev.ferry.raft.install.Shipping.AUTO;

  /** Sets how nodes started from now on ask for chunks when they install. */
  public void setShipping(dev.ferry.raft.install.Shipping shipping) {
    this.shipping = shipping;
  }

  private int installSources = Integer.MAX_VALUE;

  /** Sets from how many peers at most nodes started from now on install (default: all). */
  public void setInstallSources(int max) {
    this.installSources = max;
  }

  /** Sets the chunk service send rate (bytes/s) node {@code id} gets at its next start. */
  public void setSendRate(String id, long bytesPerSecond) {
    sendRate.put(id, bytesPerSecond);
  }

  /** The cluster name (the Raft group id derives from it). */
  public String clusterName() {
    return clusterName;
  }

  /** The cluster secret. */
  public ClusterSecret secret() {
    return secret;
  }

  /** A node's data directory. */
  public Path dataDir(String id) {
    return dir.resolve(id);
  }

  private LocalCluster(Path dir, List<PeerAddress> peers, StateMachineConfig config) {
    this.dir = dir;
    this.peers = peers;
    this.config = config;
  }

  /** Starts {@code n} nodes and waits until the cluster accepts writes. */
  public static LocalCluster start(Path dir, int n, StateMachineConfig config) throws IOException {
    return start(dir, n, config, 0);
  }

  /**
   * Starts {@code n} nodes whose chunk services send at most {@code sendRate} bytes/s each (0:
   * unlimited) and waits until the cluster accepts writes.
   */
  public static LocalCluster start(Path dir, int n, StateMachineConfig config, long sendRate)
      throws IOException {
    return start(dir, n, config, sendRate, null);
  }

  /**
   * Starts {@code n} nodes (ids {@code n1..nN}) with mutual TLS on every port, when {@code tls} is
   * not null, and waits until the cluster accepts writes (through a TLS client).
   */
  public static LocalCluster start(
      Path dir, int n, StateMachineConfig config, long sendRate, Tls tls) throws IOException {
    List<PeerAddress> peers = new ArrayList<>();
    // All ports at once: picked node by node, before any node binds, two nodes could get the same.
    int[] ports = ProcessCluster.freePorts(3 * n);
    for (int i = 0; i < n; i++) {
      peers.add(
          new PeerAddress(
              "n" + (i + 1), "127.0.0.1", ports[3 * i], ports[3 * i + 1], ports[3 * i + 2]));
    }
    LocalCluster c = new LocalCluster(dir, List.copyOf(peers), config);
    c.tls = tls;
    for (PeerAddress p : peers) {
      c.setSendRate(p.id(), sendRate);
    }
    try {
      for (PeerAddress p : peers) {
        c.start(p.id());
      }
      try (KvClient client = c.client(Duration.ofSeconds(60))) {
        client.put(new byte[] {0}, new byte[0]);
      }
      return c;
    } catch (IOException | RuntimeException e) {
      c.close();
      throw e;
    }
  }

  /** Starts (or restarts, recovering its storage) node {@code id}. */
  public FerryServer start(String id) throws IOException {
    FerryServer.Builder b = FerryServer.builder();
    if (tls != null) {
      b.tls(tls.nodes().get(id));
    }
    FerryServer s =
        b.clusterName(clusterName)
            .selfId(id)
            .peers(peers)
            .dataDir(dir.resolve(id))
            .stateMachine(new KvStateMachine())
            .stateMachineConfig(config)
            .logPreservationEntries(LOG_PRESERVATION)
            .clusterSecret(secret)
            .chunkSendRate(sendRate.getOrDefault(id, 0L))
            .jmx(false)
            .shipping(shipping)
            .installSources(installSources)
            // Small log segments, so that tests reach purgeable (closed) segments quickly.
            .property("raft.server.log.segment.size.max", "1MB")
            .property("raft.server.log.preallocated.size", "256KB")
            .property("raft.server.log.purge.gap", "16")
            .build()
            .start();
    servers.put(id, s);
    return s;
  }

  /**
   * Three free ports that no node of this cluster was given: a stopped node's ports are free but
   * must stay its own, or it could not start again.
   */
  private int[] freshPorts() throws IOException {
    java.util.Set<Integer> taken = new java.util.HashSet<>();
    for (PeerAddress p : peers) {
      taken.addAll(List.of(p.raftPort(), p.chunkPort(), p.adminPort()));
    }
    for (FerryServer s : servers.values()) {
      PeerAddress p = s.self();
      taken.addAll(List.of(p.raftPort(), p.chunkPort(), p.adminPort()));
    }
    while (true) {
      int[] ports = ProcessCluster.freePorts(3);
      if (java.util.Arrays.stream(ports).noneMatch(taken::contains)) {
        return ports;
      }
    }
  }

  /**
   * Starts a node that is not in the cluster's peer list (fresh ports, empty data directory) as a
   * Raft listener whose group names the current peers and itself, ready to be added with {@code
   * MembershipAdmin.addMember}. Its state machine comes from {@code stateMachine}; it runs with
   * this cluster's config.
   */
  public FerryServer startListener(
      String id, java.util.function.Supplier<KvStateMachine> stateMachine) throws IOException {
    return startListener(id, stateMachine, peers);
  }

  /**
   * As {@link #startListener(String, java.util.function.Supplier)}, with a group naming {@code
   * members} (the current voters, which may include nodes added since the cluster started) and
   * itself: a joining node installs from the peers its group names until the Raft configuration
   * reaches it.
   */
  public FerryServer startListener(
      String id,
      java.util.function.Supplier<KvStateMachine> stateMachine,
      List<PeerAddress> members)
      throws IOException {
    return startListener(id, stateMachine, members, secret);
  }

  /**
   * As {@link #startListener(String, java.util.function.Supplier, List)}, with the cluster secret
   * {@code nodeSecret} (another than the cluster's, to test a misconfigured joiner).
   */
  public FerryServer startListener(
      String id,
      java.util.function.Supplier<KvStateMachine> stateMachine,
      List<PeerAddress> members,
      ClusterSecret nodeSecret)
      throws IOException {
    if (servers.containsKey(id) || peers.stream().anyMatch(p -> p.id().equals(id))) {
      throw new IllegalArgumentException(id + " is already a node of this cluster");
    }
    if (tls != null) {
      throw new IllegalStateException("listeners are not supported with TLS in this harness");
    }
    int[] ports = freshPorts();
    PeerAddress self = new PeerAddress(id, "127.0.0.1", ports[0], ports[1], ports[2]);
    List<PeerAddress> all = new ArrayList<>(members);
    all.add(self);
    FerryServer s =
        FerryServer.builder()
            .clusterName(clusterName)
            .selfId(id)
            .peers(all)
            .asListener(true)
            .dataDir(dir.resolve(id))
            .stateMachine(stateMachine.get())
            .stateMachineConfig(config)
            .logPreservationEntries(LOG_PRESERVATION)
            .clusterSecret(nodeSecret)
            .jmx(false)
            .shipping(shipping)
            .installSources(installSources)
            .property("raft.server.log.segment.size.max", "1MB")
            .property("raft.server.log.preallocated.size", "256KB")
            .property("raft.server.log.purge.gap", "16")
            .build()
            .start();
    servers.put(id, s);
    return s;
  }

  /** Stops node {@code id} cleanly. */
  public void stop(String id) throws IOException {
    FerryServer s = servers.remove(id);
    if (s != null) {
      s.close();
    }
  }

  /** A running node. */
  public FerryServer server(String id) {
    FerryServer s = servers.get(id);
    if (s == null) {
      throw new IllegalArgumentException(id + " is not running");
    }
    return s;
  }

  /** The running node's state machine. */
  public KvStateMachine stateMachine(String id) {
    return (KvStateMachine) server(id).stateMachine();
  }

  /** The running node's replica engine (applied index, digest, snapshots, installs). */
  public Replica replica(String id) {
    return server(id).replica();
  }

  /** Ids of the running nodes. */
  public List<String> running() {
    return List.copyOf(servers.keySet());
  }

  /** The current leader's id, waiting up to {@code timeout} for one. */
  public String leader(Duration timeout) {
    String[] found = {null};
    await(
        timeout,
        () -> {
          for (FerryServer s : servers.values()) {
            if (s.isLeader()) {
              found[0] = s.self().id();
              return true;
            }
          }
          return false;
        },
        "a leader");
    return found[0];
  }

  /** All peers. */
  public List<PeerAddress> peers() {
    return peers;
  }

  /** A client that talks only to node {@code id} (caller closes). */
  public KvClient clientOf(String id, Duration timeout) {
    return connect(peers.stream().filter(p -> p.id().equals(id)).toList(), timeout);
  }

  /** A client, over TLS if the cluster runs it (caller closes). */
  public KvClient client(Duration timeout) {
    return connect(peers, timeout);
  }

  /** A plain-text client, even if the cluster runs TLS (caller closes). */
  public KvClient plainClient(Duration timeout) {
    return KvClient.connect(clusterName, peers, timeout);
  }

  private KvClient connect(List<PeerAddress> to, Duration timeout) {
    return tls == null
        ? KvClient.connect(clusterName, to, timeout)
        : KvClient.connect(clusterName, to, timeout, tls.client());
  }

  /** A running node other than the current leader. */
  public String follower(Duration timeout) {
    String leader = leader(timeout);
    return running().stream().filter(id -> !id.equals(leader)).findFirst().orElseThrow();
  }

  /** Node {@code id}'s snapshot installer (the cluster runs with a secret, so it has one). */
  public MultiSourceInstaller installer(String id) {
    return server(id).installer().orElseThrow();
  }

  /** Node {@code id}'s applied log index. */
  public long applied(String id) {
    return replica(id).appliedIndex();
  }

  /** The first index still in node {@code id}'s Raft log. */
  public long logStart(String id) {
    try {
      FerryServer s = server(id);
      return s.raftServer().getDivision(s.group().getGroupId()).getRaftLog().getStartIndex();
    } catch (IOException e) {
      throw new AssertionError(e);
    }
  }

  /**
   * Writes batches of {@code filler-N} keys until the leader's log starts after {@code index} (it
   * purged past it), failing after {@code timeout}.
   */
  public void writeUntilPurgedPast(KvClient c, long index, Duration timeout) throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    int i = 0;
    while (logStart(leader(timeout)) <= index + 1) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("the leader did not purge past " + index);
      }
      List<byte[][]> fillers = new ArrayList<>();
      for (int k = 0; k < 8; k++) {
        fillers.add(
            new byte[][] {
              ("filler-" + i++).getBytes(java.nio.charset.StandardCharsets.UTF_8), new byte[1024]
            });
      }
      c.putAll(fillers);
    }
  }

  /** Deletes a stopped node's data directory, so it restarts empty. */
  public void wipe(String id) throws IOException {
    if (servers.containsKey(id)) {
      throw new IllegalStateException(id + " is running");
    }
    try (java.util.stream.Stream<Path> paths = java.nio.file.Files.walk(dataDir(id))) {
      for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) {
        java.nio.file.Files.delete(p);
      }
    }
  }

  /** Polls {@code condition} until true or the deadline, then fails naming {@code what}. */
  public static void await(Duration timeout, BooleanSupplier condition, String what) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out after " + timeout + " waiting for " + what);
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new AssertionError("interrupted waiting for " + what, e);
      }
    }
  }

  @Override
  public void close() throws IOException {
    IOException first = null;
    for (String id : new ArrayList<>(servers.keySet())) {
      try {
        stop(id);
      } catch (IOException e) {
        if (first == null) {
          first = e;
        }
      }
    }
    if (first != null) {
      throw first;
    }
  }
}
