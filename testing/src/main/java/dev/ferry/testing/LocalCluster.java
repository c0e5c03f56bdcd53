package dev.ferry.testing;

import dev.ferry.raft.ClusterSecret;
import dev.ferry.raft.FerryServer;
import dev.ferry.raft.TlsFiles;
import dev.ferry.raft.admin.AdminClient;
import dev.ferry.shipping.FreePorts;
import dev.ferry.shipping.PeerAddress;
import dev.ferry.shipping.install.MultiSourceInstaller;
import dev.ferry.statemachine.DigestAt;
import dev.ferry.statemachine.StateMachine;
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
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * A cluster of Ferry nodes inside the test JVM: real Ratis servers talking gRPC over loopback
 * sockets, each with its own data directory, running any {@link StateMachine} (a fresh one per node
 * start, run with the cluster's {@link StateMachineConfig}). Faster to drive than a cluster of
 * processes, and the state machines can be inspected directly. Start one with {@link #start(Path,
 * int, StateMachineConfig, Supplier)}; stop a node, restart it, wipe it, add listeners, and wait on
 * conditions.
 *
 * <p>Concurrency: one test thread drives a cluster; the methods are not thread-safe. Methods that
 * wait ({@link #leader}, {@link #await}) poll with a deadline and fail with an {@link
 * AssertionError} naming what they waited for.
 *
 * <p>A state machine's own fixture may extend this class to add its clients (kvstore's tests do).
 */
public class LocalCluster implements Closeable {
  private final Path dir;
  private final String clusterName;
  private final List<PeerAddress> peers;
  private final StateMachineConfig config;
  private final Supplier<? extends StateMachine> stateMachines;
  private final Map<String, FerryServer> servers = new LinkedHashMap<>();
  private final ClusterSecret secret = ClusterSecret.random();
  private final Map<String, Long> sendRate = new java.util.HashMap<>();
  private static final long LOG_PRESERVATION = 50;
  private final Tls tls;

  /**
   * Mutual TLS for a cluster: each node's files, and the files its clients use (a subclass's client
   * methods read them through {@link #tls()}).
   */
  public record Tls(Map<String, TlsFiles> nodes, TlsFiles client) {
    /** Copies the map. */
    public Tls {
      nodes = Map.copyOf(nodes);
      java.util.Objects.requireNonNull(client, "client");
    }
  }

  private dev.ferry.shipping.install.Shipping shipping = dev.ferry.shipping.install.Shipping.AUTO;

  /** Sets how nodes started from now on ask for chunks when they install. */
  public void setShipping(dev.ferry.shipping.install.Shipping shipping) {
    this.shipping = shipping;
  }

  private int installSources = Integer.MAX_VALUE;

  /** Sets from how many peers at most nodes started from now on install (default: all). */
  public void setInstallSources(int max) {
    this.installSources = max;
  }

  private long installHoldBudget =
      dev.ferry.shipping.install.MultiSourceInstaller.DEFAULT_HOLD_BUDGET_BYTES;
  private Duration slowInstallAfter = Duration.ofMinutes(5);

  /** Sets the install hold budget (log bytes) of nodes started from now on. */
  public void setInstallHoldBudget(long bytes) {
    this.installHoldBudget = bytes;
  }

  /** Sets after how long an install of nodes started from now on is slow (alert, widening). */
  public void setSlowInstallAfter(Duration after) {
    this.slowInstallAfter = after;
  }

  private Duration stagingTimeout;

  /**
   * Sets the staging timeout ({@code FerryServer.Builder.stagingTimeout}) of nodes started from now
   * on; unset, the server's default.
   */
  public void setStagingTimeout(Duration timeout) {
    this.stagingTimeout = java.util.Objects.requireNonNull(timeout, "timeout");
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

  /**
   * Waits until every other running node has recorded node {@code id}'s storage identity (peers
   * learn it within seconds of both running), so that a wipe of {@code id} is found when it
   * restarts: it is then demoted and re-added through the digest gate (docs/membership.md, "A voter
   * that lost its disk"). Fails after {@code timeout}.
   */
  public void awaitStorageIdentityKnown(String id, Duration timeout) {
    String expected = server(id).storageId();
    for (String peer : running()) {
      if (!peer.equals(id)) {
        await(
            timeout,
            () -> recordedIdentity(peer, id).equals(java.util.Optional.of(expected)),
            peer + " to record the storage identity of " + id);
      }
    }
  }

  /**
   * The storage identity running node {@code peer} recorded for node {@code about}, asked over its
   * admin service; empty if none, or if it does not answer.
   */
  public java.util.Optional<String> recordedIdentity(String peer, String about) {
    try (AdminClient a =
        AdminClient.connect(
            server(peer).self(),
            AdminClient.groupId(clusterName),
            secret,
            tls == null ? null : tls.client(),
            "local-cluster")) {
      return a.identity(about).recorded();
    } catch (IOException | RuntimeException e) {
      return java.util.Optional.empty();
    }
  }

  /**
   * A cluster named {@code local} of {@code n} nodes (ids {@code n1..nN}, on free loopback ports),
   * not started: for a subclass, which then calls {@link #startAll}.
   *
   * @param dir where the nodes' data directories go
   * @param n how many nodes
   * @param config the configuration every node runs its state machine with
   * @param stateMachines builds a node's state machine, once per start
   * @param sendRate the chunk services' send rate, bytes/s (0: unlimited)
   * @param tls mutual TLS on every port, or null for none
   * @throws IOException if no free ports are found
   */
  protected LocalCluster(
      Path dir,
      int n,
      StateMachineConfig config,
      Supplier<? extends StateMachine> stateMachines,
      long sendRate,
      Tls tls)
      throws IOException {
    this(dir, "local", ids("n", n), config, stateMachines, sendRate, tls);
  }

  /**
   * A cluster named {@code clusterName} of the nodes {@code ids} (on free loopback ports), not
   * started: for a subclass, which then calls {@link #startAll}. Several such clusters with
   * distinct names and ids stand for the groups of a sharded cluster (each group on its own nodes).
   *
   * @param dir where the nodes' data directories go
   * @param clusterName the cluster (group) name
   * @param ids the node ids, distinct
   * @param config the configuration every node runs its state machine with
   * @param stateMachines builds a node's state machine, once per start
   * @param sendRate the chunk services' send rate, bytes/s (0: unlimited)
   * @param tls mutual TLS on every port, or null for none
   * @throws IOException if no free ports are found
   */
  protected LocalCluster(
      Path dir,
      String clusterName,
      List<String> ids,
      StateMachineConfig config,
      Supplier<? extends StateMachine> stateMachines,
      long sendRate,
      Tls tls)
      throws IOException {
    this(dir, loopback(ids), clusterName, config, stateMachines, sendRate, tls);
  }

  /**
   * A cluster named {@code clusterName} of the nodes {@code peers}, not started: for a subclass
   * that starts several clusters at once and so picks all their ports together (picked cluster by
   * cluster, before any node binds, two clusters could get the same port); it then calls {@link
   * #startAll}.
   *
   * @param dir where the nodes' data directories go
   * @param peers the nodes, distinct, with free loopback ports
   * @param clusterName the cluster (group) name
   * @param config the configuration every node runs its state machine with
   * @param stateMachines builds a node's state machine, once per start
   * @param sendRate the chunk services' send rate, bytes/s (0: unlimited)
   * @param tls mutual TLS on every port, or null for none
   */
  protected LocalCluster(
      Path dir,
      List<PeerAddress> peers,
      String clusterName,
      StateMachineConfig config,
      Supplier<? extends StateMachine> stateMachines,
      long sendRate,
      Tls tls) {
    if (peers.isEmpty()) {
      throw new IllegalArgumentException("a cluster needs at least one node: " + peers);
    }
    this.clusterName = java.util.Objects.requireNonNull(clusterName, "clusterName");
    this.dir = java.util.Objects.requireNonNull(dir, "dir");
    this.peers = List.copyOf(peers);
    this.config = java.util.Objects.requireNonNull(config, "config");
    this.stateMachines = java.util.Objects.requireNonNull(stateMachines, "stateMachines");
    this.tls = tls;
    for (PeerAddress p : peers) {
      this.sendRate.put(p.id(), sendRate);
    }
  }

  /** The nodes {@code ids} on free loopback ports. */
  private static List<PeerAddress> loopback(List<String> ids) throws IOException {
    int n = ids.size();
    if (n < 1) {
      throw new IllegalArgumentException("a cluster needs at least one node: " + n);
    }
    List<PeerAddress> peers = new ArrayList<>();
    // All ports at once: picked node by node, before any node binds, two nodes could get the same.
    int[] ports = FreePorts.pick(2 * n);
    for (int i = 0; i < n; i++) {
      peers.add(new PeerAddress(ids.get(i), "127.0.0.1", ports[2 * i], ports[2 * i + 1]));
    }
    return peers;
  }

  /** The ids {@code prefix1..prefixN}. */
  protected static List<String> ids(String prefix, int n) {
    List<String> ids = new ArrayList<>();
    for (int i = 1; i <= n; i++) {
      ids.add(prefix + i);
    }
    return ids;
  }

  /**
   * Starts {@code n} nodes running the state machines {@code stateMachines} builds, and waits until
   * one of them is a leader ready to serve (it committed an entry of its term).
   *
   * @throws IOException if a node cannot start (the others are then stopped)
   * @throws AssertionError if no leader is ready within 60 s
   */
  public static LocalCluster start(
      Path dir, int n, StateMachineConfig config, Supplier<? extends StateMachine> stateMachines)
      throws IOException {
    LocalCluster c = new LocalCluster(dir, n, config, stateMachines, 0, null);
    c.startAll(() -> c.awaitReadyLeader(Duration.ofSeconds(60)));
    return c;
  }

  /** What {@link #startAll} waits on once every node runs. */
  @FunctionalInterface
  protected interface Readiness {
    /** Returns once the cluster serves; throws if it does not. */
    void await() throws IOException;
  }

  /**
   * Starts every node, then waits on {@code ready}; stops them all if either fails.
   *
   * @throws IOException if a node cannot start or {@code ready} fails
   */
  protected final void startAll(Readiness ready) throws IOException {
    try {
      for (PeerAddress p : peers) {
        start(p.id());
      }
      ready.await();
    } catch (IOException | RuntimeException | Error e) {
      close();
      throw e;
    }
  }

  /** Waits until a running node is the leader and ready to serve, failing after {@code timeout}. */
  public void awaitReadyLeader(Duration timeout) {
    await(
        timeout,
        () -> {
          for (FerryServer s : servers.values()) {
            try {
              if (s.raftServer().getDivision(s.group().getGroupId()).getInfo().isLeaderReady()) {
                return true;
              }
            } catch (IOException e) {
              // not running yet
            }
          }
          return false;
        },
        "a leader ready to serve");
  }

  /** Mutual TLS of this cluster, or null if it runs plain TCP. */
  protected Tls tls() {
    return tls;
  }

  /** Starts (or restarts, recovering its storage) node {@code id}. */
  public FerryServer start(String id) throws IOException {
    FerryServer.Builder b =
        node(id, stateMachines.get())
            .peers(peers)
            .clusterSecret(secret)
            .chunkSendRate(sendRate.getOrDefault(id, 0L));
    if (tls != null) {
      b.tls(tls.nodes().get(id));
    }
    FerryServer s = b.build().start();
    servers.put(id, s);
    return s;
  }

  /** What every node of this cluster starts with: its id, directory and state machine, and more. */
  private FerryServer.Builder node(String id, StateMachine stateMachine) {
    FerryServer.Builder b = FerryServer.builder();
    if (stagingTimeout != null) {
      b.stagingTimeout(stagingTimeout);
    }
    return b.clusterName(clusterName)
        .selfId(id)
        .dataDir(dir.resolve(id))
        .stateMachine(stateMachine)
        .stateMachineConfig(config)
        .logPreservationEntries(LOG_PRESERVATION)
        .jmx(false)
        .shipping(shipping)
        .installSources(installSources)
        .installHoldBudget(installHoldBudget)
        .slowInstallAfter(slowInstallAfter)
        // Small log segments, so that tests reach purgeable (closed) segments quickly.
        .property("raft.server.log.segment.size.max", "1MB")
        .property("raft.server.log.preallocated.size", "256KB")
        .property("raft.server.log.purge.gap", "16");
  }

  /**
   * Two free ports that no node of this cluster was given: a stopped node's ports are free but must
   * stay its own, or it could not start again.
   */
  private int[] freshPorts() throws IOException {
    java.util.Set<Integer> taken = new java.util.HashSet<>();
    for (PeerAddress p : peers) {
      taken.addAll(List.of(p.raftPort(), p.chunkPort()));
    }
    for (FerryServer s : servers.values()) {
      PeerAddress p = s.self();
      taken.addAll(List.of(p.raftPort(), p.chunkPort()));
    }
    while (true) {
      int[] ports = FreePorts.pick(2);
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
  public FerryServer startListener(String id, Supplier<? extends StateMachine> stateMachine)
      throws IOException {
    return startListener(id, stateMachine, peers);
  }

  /**
   * As {@link #startListener(String, Supplier)}, with a group naming {@code members} (the current
   * voters, which may include nodes added since the cluster started) and itself: a joining node
   * installs from the peers its group names until the Raft configuration reaches it.
   */
  public FerryServer startListener(
      String id, Supplier<? extends StateMachine> stateMachine, List<PeerAddress> members)
      throws IOException {
    return startListener(id, stateMachine, members, secret);
  }

  /**
   * As {@link #startListener(String, Supplier, List)}, with the cluster secret {@code nodeSecret}
   * (another than the cluster's, to test a misconfigured joiner).
   */
  public FerryServer startListener(
      String id,
      Supplier<? extends StateMachine> stateMachine,
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
    PeerAddress self = new PeerAddress(id, "127.0.0.1", ports[0], ports[1]);
    List<PeerAddress> all = new ArrayList<>(members);
    all.add(self);
    listeners.put(id, List.copyOf(all));
    return startListener(id, stateMachine.get(), all, nodeSecret);
  }

  /**
   * Restarts listener {@code id}, stopped with {@link #stop}, on its old address and data directory
   * (so it recovers its storage), with the group it was first started with and the cluster secret.
   *
   * @throws IllegalStateException if {@code id} was not started as a listener or is running
   */
  public FerryServer restartListener(String id, Supplier<? extends StateMachine> stateMachine)
      throws IOException {
    List<PeerAddress> all = listeners.get(id);
    if (all == null || servers.containsKey(id)) {
      throw new IllegalStateException(id + " is not a stopped listener of this cluster");
    }
    return startListener(id, stateMachine.get(), all, secret);
  }

  private FerryServer startListener(
      String id, StateMachine stateMachine, List<PeerAddress> all, ClusterSecret nodeSecret)
      throws IOException {
    FerryServer s =
        node(id, stateMachine)
            .peers(all)
            .asListener(true)
            .clusterSecret(nodeSecret)
            .build()
            .start();
    servers.put(id, s);
    return s;
  }

  /** The group (members and itself) each listener was first started with, by id. */
  private final Map<String, List<PeerAddress>> listeners =
      new java.util.concurrent.ConcurrentHashMap<>();

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
  public StateMachine stateMachine(String id) {
    return server(id).stateMachine();
  }

  /** The running node's replica engine: applied index, digest, snapshots, installs. */
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

  /**
   * Waits until every replica in {@code replicas} of {@code group} applied the same index, then
   * checks that their digests there are equal (term, index and state digest).
   *
   * @throws AssertionError if they differ (naming the group and every digest)
   * @throws AssertionError also if they do not apply the same index within {@code timeout}
   */
  public static void assertSameDigest(String group, List<FerryServer> replicas, Duration timeout)
      throws Exception {
    await(
        timeout,
        () -> replicas.stream().mapToLong(r -> r.replica().appliedIndex()).distinct().count() == 1,
        "the replicas of " + group + " to apply the same index");
    List<DigestAt> digests = new ArrayList<>();
    for (FerryServer r : replicas) {
      digests.add(r.replica().digest().get(30, TimeUnit.SECONDS));
    }
    if (digests.stream().distinct().count() > 1) {
      throw new AssertionError(group + ": the replicas' digests differ: " + digests);
    }
  }
}
