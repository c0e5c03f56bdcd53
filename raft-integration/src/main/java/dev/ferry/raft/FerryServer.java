package dev.ferry.raft;

import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.jmx.JmxReporter;
import dev.ferry.raft.admin.AdminClient;
import dev.ferry.raft.admin.AdminServer;
import dev.ferry.raft.admin.MembershipAdmin;
import dev.ferry.raft.admin.NodeStatus;
import dev.ferry.raft.internal.RatisStateMachine;
import dev.ferry.raft.metrics.Health;
import dev.ferry.raft.metrics.MetricsHttpServer;
import dev.ferry.raft.metrics.ServiceCounters;
import dev.ferry.raft.metrics.ServiceMetrics;
import dev.ferry.shipping.PeerAddress;
import dev.ferry.shipping.chunks.ChunkServer;
import dev.ferry.shipping.chunks.SnapshotSource;
import dev.ferry.shipping.install.MultiSourceInstaller;
import dev.ferry.shipping.install.Shipping;
import dev.ferry.shipping.install.TransferPriority;
import dev.ferry.shipping.install.TransferScheduler;
import dev.ferry.shipping.metrics.InstallMetrics;
import dev.ferry.shipping.metrics.NodeMetrics;
import dev.ferry.snapshot.transfer.TransferConfig;
import dev.ferry.statemachine.DigestAt;
import dev.ferry.statemachine.MembershipChange;
import dev.ferry.statemachine.StateMachine;
import dev.ferry.statemachine.StateMachineConfig;
import dev.ferry.statemachine.replica.Installer;
import dev.ferry.statemachine.replica.Replica;
import java.io.Closeable;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import org.apache.ratis.conf.Parameters;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.proto.RaftProtos.RaftPeerRole;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.server.DivisionInfo;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.storage.RaftStorage;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One Ferry node: a Ratis server (gRPC) running a user's {@link StateMachine} (through a {@link
 * Replica}, the engine that applies, captures and installs, and an internal Ratis adapter),
 * configured the way Ferry needs Ratis to run:
 *
 * <ul>
 *   <li>snapshot install in notification mode (Ferry's installer ships chunks, not Ratis);
 *   <li>log purge up to the snapshot index with a preservation buffer, so the log stays bounded and
 *       a follower that lags beyond it installs a (delta) snapshot;
 *   <li>Ratis's snapshot auto-trigger at the capture interval, which only reports Ferry's newest
 *       durable snapshot so that Ratis purges its log;
 *   <li>a short staging timeout ({@link Builder#stagingTimeout}, 15 s): Ratis ends the staging of a
 *       joining node that has not answered the leader for that long (a joiner answers heartbeats
 *       while it installs, however long the install takes), so a failed add of a node that went
 *       away does not block every later change for the whole install deadline;
 *   <li>election and RPC timeouts that tolerate several JVMs sharing two cores;
 *   <li>bounds on the gRPC port: inbound messages no larger than what Ratis sends (the appender
 *       buffer limit plus 1 MiB, 5 MiB by default), a 10 s handshake timeout, idle connections
 *       closed after a minute, and a GOAWAY after 200 stream resets in 10 s (HTTP/2 rapid reset);
 *       gRPC's stack traces about bad connections become one log line each (see {@code RaftPort}).
 * </ul>
 *
 * With {@link Builder#tls(TlsFiles)} both of the node's ports use mutual TLS: Ratis's gRPC port
 * accepts only clients and peers presenting a trusted certificate (so nobody without one can send
 * Raft RPCs or change membership), the node presents its own certificate to its peers, and the
 * chunk service and its clients use the same identity.
 *
 * <p>A node whose storage directory already holds Raft state restarts with {@code RECOVER};
 * otherwise it formats a new one.
 *
 * <p>Build with {@link #builder()}; validation happens in {@link Builder#build()}. Thread-safe.
 */
public final class FerryServer implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(FerryServer.class);

  private final PeerAddress self;
  private final List<PeerAddress> peers;
  private volatile boolean listener;
  private final RaftGroup group;

  /**
   * The Raft server; null while a fresh voter waits for its peers ({@link VoterGuard}) before it
   * may be built.
   */
  private volatile RaftServer server;

  private final CompletableFuture<RaftServer> raftBuilt = new CompletableFuture<>();
  private final RaftHost raftHost;

  /** Whether the division waits for its peers' answers ({@link VoterGuard}) before it starts. */
  private final boolean guarded;

  /** What the service port serves of this replica's snapshots. */
  private final SnapshotSource chunkSource;

  /** The node hosting this replica among its groups, or null for a server of its own. */
  private final FerryNode node;

  private final String name;
  private final StorageIdentity storage;
  private volatile boolean raftStarted;

  /** Why the Raft server does not run yet, for status requests meanwhile. */
  private volatile String notStarted = "not started";

  private volatile VoterGuard guard;
  private final StateMachine stateMachine;
  private final Replica replica;
  private final RatisStateMachine adapter;
  private final Path dataDir;
  private final MetricRegistry metrics;
  private final ChunkServer chunkServer;
  private final MultiSourceInstaller installer;
  private final PeerClients peerClients;
  private final RaftLogHold logHold;
  private final JmxReporter jmx;
  private final ClusterSecret secret;
  private final TlsFiles tls;
  private final NodeMetrics nodeMetrics;
  private final InetSocketAddress metricsBind;
  private volatile MetricsHttpServer metricsHttp;
  private volatile MemberService members;
  private volatile boolean closed;
  private final CompletableFuture<Throwable> failed = new CompletableFuture<>();

  private FerryServer(
      Builder b,
      RaftGroup group,
      RaftServer server,
      RaftHost raftHost,
      boolean guarded,
      SnapshotSource chunkSource,
      StorageIdentity storage,
      RatisStateMachine adapter,
      ChunkServer chunkServer,
      MultiSourceInstaller installer,
      PeerClients peerClients,
      RaftLogHold logHold,
      NodeMetrics nodeMetrics) {
    this.self = b.self();
    this.peers = List.copyOf(b.peers);
    this.listener = b.listener || storage.rejoining();
    this.group = group;
    this.server = server;
    this.raftHost = raftHost;
    this.guarded = guarded;
    this.chunkSource = chunkSource;
    this.node = b.node;
    this.name = b.clusterName;
    this.storage = storage;
    if (server != null) {
      raftBuilt.complete(server);
    }
    this.stateMachine = b.stateMachine;
    this.adapter = adapter;
    this.replica = adapter.replica();
    this.dataDir = b.dataDir;
    this.metrics = b.metricRegistry;
    this.chunkServer = chunkServer;
    this.installer = installer;
    this.peerClients = peerClients;
    this.logHold = logHold;
    this.secret = b.secret;
    this.tls = b.tls;
    ServiceMetrics.register(metrics, () -> NodeCounters.read(this));
    String domain = "dev.ferry." + self.id() + (node == null ? "" : "." + name);
    this.jmx = b.jmx ? JmxReporter.forRegistry(metrics).inDomain(domain).build() : null;
    this.nodeMetrics = nodeMetrics;
    this.metricsBind = b.metricsBind;
    // In a node, the chunk service's metrics are the node's (one service port).
    ServerMetrics.register(nodeMetrics, this, name, replica, node == null ? chunkServer : null);
  }

  /** A new builder. */
  public static Builder builder() {
    return new Builder();
  }

  /** The Raft group id a cluster name maps to (name-based UUID). */
  public static RaftGroupId groupId(String clusterName) {
    return RaftGroupId.valueOf(UUID.fromString(AdminClient.groupId(clusterName)));
  }

  /**
   * Starts the chunk service, (with a cluster secret) the admin service and the Raft server. Blocks
   * until all are listening, except for a voter whose Raft storage is fresh (a new cluster, a node
   * late to one, or a voter whose disk was wiped): its Raft server starts on a thread of its own
   * once its peers said it may, and as a listener if they remember another storage for it (see
   * {@link VoterGuard}; docs/membership.md). {@link #raftServer()} waits for it meanwhile.
   */
  public FerryServer start() throws IOException {
    try {
      return startServices();
    } catch (IOException | RuntimeException e) {
      // Nothing keeps running half-started: the admin service starts before the Raft server now.
      close();
      throw e;
    }
  }

  private FerryServer startServices() throws IOException {
    if (node != null) {
      node.checkRunning();
      chunkServer.serveChunks(group.getGroupId().getUuid().toString(), chunkSource);
    } else if (chunkServer != null) {
      chunkServer.start();
    }
    if (jmx != null) {
      jmx.start();
    }
    if (secret != null) {
      // Before Raft: a fresh peer asks its storage identity questions while Raft has not started.
      members =
          MemberService.start(
              new MemberHost(), secret, tls, node == null ? null : node.executors());
    }
    if (!guarded) {
      RaftServer s = server;
      if (s == null) {
        s = raftHost.server(listener);
        server = s;
        raftBuilt.complete(s);
      }
      startRaft(s);
    } else {
      VoterGuard g =
          new VoterGuard(
              self,
              peers,
              storage,
              peer -> {
                try (AdminClient c =
                    AdminClient.connect(
                        peer, group.getGroupId().getUuid().toString(), secret, tls, self.id())) {
                  return c.identity(self.id());
                }
              },
              members.admin());
      guard = g;
      notStarted = "fresh storage: waiting for its peers to say whether it may vote";
      Thread t = new Thread(() -> guardThenStart(g), "ferry-voter-guard-" + self.id() + "-" + name);
      t.setDaemon(true);
      t.start();
    }
    // Fail-stop: Ratis keeps a server whose log write failed running, failing every later write.
    // Close on a thread of our own (Ratis's log worker reports the failure and close() waits for
    // it).
    adapter
        .logFailure()
        .thenAcceptAsync(
            this::failStop,
            r -> {
              Thread t = new Thread(r, "ferry-fail-stop");
              t.setDaemon(true);
              t.start();
            });
    if (node == null && metricsBind != null) {
      nodeMetrics.jvm();
      metricsHttp = MetricsHttpServer.start(metricsBind, nodeMetrics, this::health);
    }
    LOG.info(
        "{}: {}started ({}), peers {}{}",
        self.id(),
        node == null ? "" : "group " + name + " ",
        guarded && server == null
            ? "Raft waits for its peers: fresh storage"
            : listener
                ? "listener" + (storage.rejoining() ? ", rejoining after a wipe" : "")
                : "voter",
        peers.stream().map(PeerAddress::id).toList(),
        metricsAddress()
            .map(
                a ->
                    ", metrics and health on http://"
                        + a.getHostString()
                        + ":"
                        + a.getPort()
                        + " (unauthenticated)")
            .orElse(""));
    return this;
  }

  private void startRaft(RaftServer s) throws IOException {
    raftHost.start(s, listener);
    raftStarted = true;
  }

  /** The voter guard's thread: decides, builds and starts the Raft server. */
  private void guardThenStart(VoterGuard g) {
    try {
      Optional<VoterGuard.Start> start = g.await();
      synchronized (this) {
        if (start.isEmpty() || closed) {
          return;
        }
        boolean asListener = start.get() == VoterGuard.Start.LISTENER;
        listener = asListener;
        RaftServer s = raftHost.server(asListener);
        server = s;
        raftBuilt.complete(s);
        startRaft(s);
      }
      LOG.info("{}: Raft started ({})", self.id(), listener ? "listener, rejoining" : "voter");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (IOException | RuntimeException e) {
      failStop("its Raft server could not start", e);
    }
  }

  /** This node's storage identity: the random id its data directory got when first used. */
  public String storageId() {
    return storage.id();
  }

  /**
   * Whether this node runs as a listener until it is re-added through the digest gate because it
   * started on a wiped disk while the cluster still counted it as a voter.
   */
  public boolean rejoining() {
    return storage.rejoining();
  }

  /** This node's address. */
  public PeerAddress self() {
    return self;
  }

  /** The peers this node was started with (itself included). */
  public List<PeerAddress> peers() {
    return peers;
  }

  /** The Raft group. */
  public RaftGroup group() {
    return group;
  }

  /** The cluster name this replica's group was built with (its group id derives from it). */
  public String groupName() {
    return name;
  }

  /**
   * The node hosting this replica among its groups, if it was built with one ({@link
   * Builder#node}).
   */
  public Optional<FerryNode> node() {
    return Optional.ofNullable(node);
  }

  /**
   * The underlying Ratis server. Blocks while a fresh voter waits for its peers before its Raft
   * server may be built (see {@link #start()}).
   *
   * @throws IllegalStateException if the node was closed before its Raft server was built
   */
  public RaftServer raftServer() {
    RaftServer s = server;
    if (s != null) {
      return s;
    }
    try {
      return raftBuilt.join();
    } catch (java.util.concurrent.CompletionException e) {
      throw new IllegalStateException(self.id() + ": closed before its Raft server started", e);
    }
  }

  /** The division, without waiting; fails while the Raft server does not run. */
  RaftServer.Division division() throws IOException {
    RaftServer s = server;
    if (s == null || !raftStarted) {
      throw new IOException(self.id() + ": Raft server not running yet (" + notStarted + ")");
    }
    return s.getDivision(group.getGroupId());
  }

  /** The Ratis adapter of the replica (what the node's state machine registry hands Ratis). */
  RatisStateMachine adapter() {
    return adapter;
  }

  /** The user's state machine this node runs (as given to {@link Builder#stateMachine}). */
  public StateMachine stateMachine() {
    return stateMachine;
  }

  /**
   * The engine running the state machine on this node: applied index, digest, checkpoints,
   * snapshots, installs, recovery timeline. The server's SPI; thread-safe (see {@link Replica}).
   */
  public Replica replica() {
    return replica;
  }

  /** The data directory. */
  public Path dataDir() {
    return dataDir;
  }

  /** True when this node is currently the leader. */
  public boolean isLeader() {
    try {
      return division().getInfo().isLeader();
    } catch (IOException e) {
      return false;
    }
  }

  /** The current leader's id, if known. */
  public Optional<String> leaderId() {
    if (!raftStarted) {
      return Optional.empty();
    }
    return Optional.ofNullable(knownLeader(server, group)).map(RaftPeerId::toString);
  }

  /** The leader {@code server}'s division of {@code group} knows of, or null. */
  private static RaftPeerId knownLeader(RaftServer server, RaftGroup group) {
    if (server == null || group == null) {
      return null;
    }
    try {
      return server.getDivision(group.getGroupId()).getInfo().getLeaderId();
    } catch (IOException e) {
      return null;
    }
  }

  /**
   * The metrics of this node: installs ({@link InstallMetrics}) and the counters of its chunk and
   * admin services and chunk store ({@link ServiceMetrics}).
   */
  public MetricRegistry metrics() {
    return metrics;
  }

  /**
   * The node's Prometheus metrics: what {@code /metrics} serves when the endpoint is on ({@link
   * Builder#metricsEndpoint}). Register further metrics here (see {@link NodeMetrics}). In a {@link
   * FerryNode}: this group's series only, which the node's endpoint serves with its other groups'
   * ({@link FerryNode#prometheus()}).
   */
  public NodeMetrics prometheus() {
    return nodeMetrics;
  }

  /** The address the metrics and health endpoint listens on, once started with one. */
  public Optional<InetSocketAddress> metricsAddress() {
    if (node != null) {
      return node.metricsAddress();
    }
    MetricsHttpServer h = metricsHttp;
    return h == null ? Optional.empty() : Optional.of(h.address());
  }

  /**
   * The node's health: ready when it is a voter in its group's current configuration, knows a
   * leader and is not installing a snapshot. Thread-safe, never blocks.
   */
  public Health health() {
    RaftServer.Division d;
    try {
      d = division();
    } catch (IOException | RuntimeException e) {
      return Health.of("UNKNOWN", false, null, false);
    }
    DivisionInfo info = d.getInfo();
    boolean voter =
        d.getRaftConf().getCurrentPeers(RaftPeerRole.FOLLOWER).stream()
            .anyMatch(p -> p.getId().equals(d.getId()));
    // A candidate has no leader, though Ratis keeps reporting the last one it knew.
    RaftPeerId leader = info.isCandidate() ? null : info.getLeaderId();
    return Health.of(
        info.getCurrentRole().name(),
        voter,
        leader == null ? null : leader.toString(),
        replica.installing());
  }

  /** This node's counters of its services and chunk store, read now. */
  public ServiceCounters counters() {
    return NodeCounters.read(this);
  }

  /** The snapshot installer, if the chunk service is configured. */
  public Optional<MultiSourceInstaller> installer() {
    return Optional.ofNullable(installer);
  }

  /** The chunk service, if configured. */
  public Optional<ChunkServer> chunkServer() {
    return Optional.ofNullable(chunkServer);
  }

  /**
   * The membership admin this node's admin service runs changes with, once started with a cluster
   * secret.
   */
  public Optional<MembershipAdmin> membership() {
    MemberService m = members;
    return m == null ? Optional.empty() : Optional.of(m.admin());
  }

  /** The admin service, once started with a cluster secret. */
  public Optional<AdminServer> adminService() {
    MemberService m = members;
    return m == null ? Optional.empty() : Optional.of(m.adminServer());
  }

  /**
   * Completes with the reason when an admin told this node it was removed from the cluster; by then
   * the node has stopped (and wiped its data directory, for a node that never became a verified
   * voter). Never completes for a node started without a cluster secret.
   */
  public CompletableFuture<String> retired() {
    MemberService m = members;
    return m == null ? new CompletableFuture<>() : m.retired();
  }

  /**
   * Completes with the cause when this node's Raft log could not be written (a full disk, an I/O
   * error), or its Raft server could not be started after a fresh voter's wait for its peers; the
   * node then closes itself. Ratis would otherwise keep the node running with a log it no longer
   * writes. The close is best effort: after a log failure Ratis may not shut down cleanly (its
   * state machine updater spins on the closed log), so a process running the node should exit at
   * once, as {@code ferry server} does. Restart the node once the cause is fixed: it recovers its
   * log (what it acknowledged is on disk).
   */
  public CompletableFuture<Throwable> failed() {
    return failed;
  }

  private void failStop(Throwable cause) {
    failStop("the Raft log could not be written", cause);
  }

  private void failStop(String what, Throwable cause) {
    LOG.error("{}: {}; stopping: {}", self.id(), what, cause.toString());
    failed.complete(cause); // first: close() may not return
    try {
      close();
    } catch (IOException | RuntimeException e) {
      LOG.warn("{}: error while stopping: {}", self.id(), e.toString());
    }
  }

  /** This server as its {@link MemberService} sees it. */
  private final class MemberHost implements MemberService.Host {
    @Override
    public PeerAddress self() {
      return self;
    }

    @Override
    public RaftGroup group() {
      return group;
    }

    @Override
    public ChunkServer chunkServer() {
      return chunkServer;
    }

    @Override
    public RaftServer.Division division() throws IOException {
      return FerryServer.this.division();
    }

    @Override
    public StorageIdentity storage() {
      return storage;
    }

    @Override
    public boolean raftStarted() {
      return raftStarted;
    }

    @Override
    public Optional<MembershipChange> pendingMembershipChange() {
      return replica().pendingMembershipChange();
    }

    @Override
    public CompletableFuture<DigestAt> digest() {
      return replica().digest();
    }

    @Override
    public Optional<DigestAt> lastCheckpoint() {
      return replica().lastCheckpoint();
    }

    @Override
    public Optional<MultiSourceInstaller> installer() {
      return FerryServer.this.installer();
    }

    @Override
    public NodeStatus.Counters counters() {
      return NodeCounters.forStatus(FerryServer.this);
    }

    @Override
    public boolean startedAsListener() {
      return listener;
    }

    @Override
    public NodeStatus.Recovery recovery() {
      Replica.HoldCounts holds = replica().retentionHoldCounts();
      long lowest =
          replica().retentionHolds().stream()
              .mapToLong(dev.ferry.statemachine.RetentionHold::floor)
              .min()
              .orElse(-1);
      java.util.Optional<dev.ferry.shipping.metrics.InstallMetrics> m =
          installer().map(MultiSourceInstaller::metrics);
      return new NodeStatus.Recovery(
          lowest,
          holds.placed(),
          holds.expired(),
          m.map(x -> x.rebases()).orElse(0L),
          m.map(x -> x.alerts().values().stream().mapToLong(Long::longValue).sum()).orElse(0L));
    }

    @Override
    public void retire(boolean wipe) throws IOException {
      if (node != null) {
        node.removeGroup(name, wipe ? FerryNode.Removal.DELETE : FerryNode.Removal.KEEP);
        return;
      }
      FerryServer.this.close();
      if (wipe) {
        MemberService.wipe(dataDir);
      }
    }
  }

  /**
   * Stops the admin service, the Raft server, the state machine and the chunk service. Idempotent.
   */
  @Override
  public synchronized void close() throws IOException {
    if (closed) {
      return;
    }
    closed = true;
    VoterGuard g = guard;
    if (g != null) {
      g.close();
    }
    raftBuilt.completeExceptionally(new IOException(self.id() + " closed"));
    if (metricsHttp != null) {
      metricsHttp.close();
    }
    if (members != null) {
      members.close();
    }
    try {
      // A node's server runs on for its other groups: only this group's division stops.
      if (server != null) {
        raftHost.stop(server);
      }
    } finally {
      if (peerClients != null) {
        peerClients.close();
      }
      if (logHold != null) {
        logHold.close();
      }
      if (node == null && installer != null) {
        installer.scheduler().close(); // its own: a node's outlives its groups
      }
      if (node != null) {
        chunkServer.stopServingChunks(group.getGroupId().getUuid().toString(), chunkSource);
      } else if (chunkServer != null) {
        chunkServer.close();
      }
      if (jmx != null) {
        jmx.close();
      }
      if (node != null) {
        node.release(this);
      }
    }
    LOG.info("{}: {}stopped", self.id(), node == null ? "" : "group " + name + " ");
  }

  /**
   * Where the replica's Raft division runs: in a Raft server of its own (built with its group) or
   * in its node's (added and removed through Ratis's group management).
   */
  private interface RaftHost {
    /** The Raft server, built (a server of its own) or found (a node's); nothing started yet. */
    RaftServer server(boolean selfListener) throws IOException;

    /** Starts the division in {@code s}, with this node as a listener or as a voter. */
    void start(RaftServer s, boolean selfListener) throws IOException;

    /** Stops the division (a server of its own: the whole server); its storage stays. */
    void stop(RaftServer s) throws IOException;
  }

  /** Builds a {@link FerryServer}. Not thread-safe. */
  public static final class Builder {
    private String clusterName = "ferry";
    private String selfId;
    private final List<PeerAddress> peers = new ArrayList<>();
    private boolean listener;
    private Path dataDir;
    private StateMachine stateMachine;
    private StateMachineConfig stateMachineConfig = StateMachineConfig.defaults();
    private Installer installer;
    private final RaftTuning tuning = new RaftTuning();
    private FerryNode node;

    /** The node-wide settings set on this builder: refused with {@link #node}. */
    private final Set<String> nodeWide = new TreeSet<>();

    private ClusterSecret secret;
    private long chunkSendRate;
    private TransferConfig transferConfig = TransferConfig.defaults();
    private MetricRegistry metricRegistry = new MetricRegistry();
    private boolean jmx = true;
    private Shipping shipping = Shipping.AUTO;
    private int installSources = Integer.MAX_VALUE;
    private boolean installLeaderLast = true;
    private long installHoldBudget = MultiSourceInstaller.DEFAULT_HOLD_BUDGET_BYTES;
    private Duration slowInstallAfter = Duration.ofMinutes(5);
    private TransferPriority installPriority = TransferPriority.CATCH_UP;
    private TlsFiles tls;
    private InetSocketAddress metricsBind;

    private final RaftServer[] serverRef = new RaftServer[1];
    private final RaftGroup[] groupRef = new RaftGroup[1];

    private Builder() {}

    /** The cluster name; the Raft group id is derived from it. Default {@code "ferry"}. */
    public Builder clusterName(String name) {
      this.clusterName = name;
      return this;
    }

    /**
     * Runs this replica in {@code node}, one of the groups it hosts, instead of in a Raft server
     * and chunk service of its own: the group's division goes into the node's Raft server, its
     * chunks and admin requests are served on the node's service port, its metrics on the node's
     * endpoint, and its background checks run on the node's shared scheduler. The node-wide
     * settings (self id, data directory, cluster secret, TLS, Raft timeouts and properties, chunk
     * send rate, JMX, metrics endpoint) are the node's: setting one here too fails at {@link
     * #build()}. The group's state (its Raft log, snapshots and chunk store in the node's Raft
     * storage; its storage identity in {@code <node dir>/groups/<cluster name>/}) is its own. The
     * node must be started before this replica is ({@link FerryNode#addGroup} does both). Default:
     * none, a server of its own.
     */
    public Builder node(FerryNode node) {
      this.node = Objects.requireNonNull(node, "node");
      return this;
    }

    /** This node's id: one of the peers. */
    public Builder selfId(String id) {
      this.selfId = id;
      nodeWide.add("selfId");
      return this;
    }

    /** The cluster's members, this node included. */
    public Builder peers(List<PeerAddress> peers) {
      this.peers.clear();
      this.peers.addAll(peers);
      return this;
    }

    /**
     * Start this node as a Raft LISTENER (it replicates but does not vote), the first step of
     * joining a cluster. Its group names the voters and itself with the LISTENER startup role.
     */
    public Builder asListener(boolean listener) {
      this.listener = listener;
      return this;
    }

    /** The directory Raft and snapshot storage live in. */
    public Builder dataDir(Path dir) {
      this.dataDir = dir;
      nodeWide.add("dataDir");
      return this;
    }

    /**
     * The state machine this node runs: a new instance per server (it holds the node's live state).
     * Required.
     */
    public Builder stateMachine(StateMachine sm) {
      this.stateMachine = Objects.requireNonNull(sm, "sm");
      return this;
    }

    /**
     * How the node runs its state machine: capture policy, sessions, snapshot retention, install
     * deadline, checks. Values that shape the replicated state or snapshots must be the same on
     * every node. Default {@link StateMachineConfig#defaults()}.
     */
    public Builder stateMachineConfig(StateMachineConfig config) {
      this.stateMachineConfig = Objects.requireNonNull(config, "config");
      return this;
    }

    /** The snapshot installer; without one, installs fail with a clear message. */
    public Builder installer(Installer installer) {
      this.installer = installer;
      return this;
    }

    /** Election timeout range. Defaults 1.5–3 s (several JVMs on two cores). */
    public Builder electionTimeout(Duration min, Duration max) {
      tuning.electionTimeout(min, max);
      nodeWide.add("electionTimeout");
      return this;
    }

    /**
     * A pause of the whole process longer than this (a long GC, a stopped or suspended process, a
     * clock jump) makes Ratis close the server: the node stops, and a supervisor should restart it
     * (docs/operations.md has a systemd unit). Shorter pauses are logged as warnings. Default 60 s,
     * Ratis's {@code raft.server.close.threshold}.
     */
    public Builder pauseStopThreshold(Duration threshold) {
      tuning.pauseStopThreshold(threshold);
      nodeWide.add("pauseStopThreshold");
      return this;
    }

    /**
     * How long the leader keeps staging a joining node (Ratis's {@code
     * raft.server.staging.timeout}) that does not answer it: Ratis fails the staged configuration
     * change when the node's last answer is older than this. A joining node answers heartbeats
     * while it installs, so this bounds how long an add of a node that went away (stopped, paused,
     * cut off) blocks later changes, not how long an install may take (that is the install
     * deadline). Keep it below the 30 s an admin allows for undoing a failed add. Default 15 s.
     */
    public Builder stagingTimeout(Duration timeout) {
      tuning.stagingTimeout(timeout);
      nodeWide.add("stagingTimeout");
      return this;
    }

    /** How many log entries beyond the snapshot index to keep when purging. Default 10,000. */
    public Builder logPreservationEntries(long entries) {
      tuning.logPreservationEntries = entries;
      nodeWide.add("logPreservationEntries");
      return this;
    }

    /**
     * How often (in applied entries) Ratis asks for a snapshot to purge to. Default: the state
     * machine config's capture interval ({@link StateMachineConfig#captureEveryEntries()}).
     */
    public Builder snapshotTriggerEntries(long entries) {
      tuning.snapshotTriggerEntries = entries;
      nodeWide.add("snapshotTriggerEntries");
      return this;
    }

    /**
     * The cluster secret. With it the node runs its chunk service (peers authenticate with the
     * secret) and installs snapshots from its peers; without it, a follower that needs a snapshot
     * fails the install with a clear message.
     */
    public Builder clusterSecret(ClusterSecret secret) {
      this.secret = secret;
      nodeWide.add("clusterSecret");
      return this;
    }

    /** Limits the chunk service's send rate, in bytes per second (0: unlimited; for benchmarks). */
    public Builder chunkSendRate(long bytesPerSecond) {
      this.chunkSendRate = bytesPerSecond;
      nodeWide.add("chunkSendRate");
      return this;
    }

    /** Tuning of the snapshot transfer protocol. */
    public Builder transferConfig(TransferConfig config) {
      this.transferConfig = Objects.requireNonNull(config, "config");
      return this;
    }

    /** In which form this node asks for chunks when it installs (default AUTO). */
    public Builder shipping(Shipping shipping) {
      this.shipping = Objects.requireNonNull(shipping, "shipping");
      return this;
    }

    /**
     * The most log bytes an install's retention hold may make the voters keep before the install
     * rebases onto a newer baseline (default {@link
     * MultiSourceInstaller#DEFAULT_HOLD_BUDGET_BYTES}, 256 MiB). See {@link
     * MultiSourceInstaller.Builder#holdBudgetBytes}.
     */
    public Builder installHoldBudget(long bytes) {
      if (bytes <= 0) {
        throw new IllegalArgumentException("installHoldBudget must be positive: " + bytes);
      }
      this.installHoldBudget = bytes;
      return this;
    }

    /**
     * How long an install may run before the {@code slow} alert fires and the install is widened
     * (default 5 minutes). See {@link MultiSourceInstaller.Builder#slowAfter}.
     */
    public Builder slowInstallAfter(Duration after) {
      if (after.isNegative() || after.isZero()) {
        throw new IllegalArgumentException("slowInstallAfter must be positive: " + after);
      }
      this.slowInstallAfter = after;
      return this;
    }

    /**
     * The priority this replica's install is admitted at by its node's transfer scheduler ({@link
     * GroupSpec#priority()}; until one install succeeded, then {@code CATCH_UP}). Default {@code
     * CATCH_UP}. A server of its own has a scheduler of its own that admits every install at once.
     */
    public Builder installPriority(TransferPriority priority) {
      this.installPriority = Objects.requireNonNull(priority, "priority");
      return this;
    }

    /**
     * Installs fetch from at most this many peers at once, followers before the leader (default:
     * every peer holding the baseline).
     */
    public Builder installSources(int max) {
      if (max < 1) {
        throw new IllegalArgumentException("installSources must be >= 1: " + max);
      }
      this.installSources = max;
      return this;
    }

    /**
     * Whether this node's installs ask the leader last (default true): the leader then serves a
     * chunk only when no follower can, keeping an install's load off the node that orders every
     * write. False: the leader is a source like the others (a cold join over slow links fetches
     * from every voter at once). See {@link MultiSourceInstaller.Builder#leaderLast}.
     */
    public Builder installLeaderLast(boolean last) {
      this.installLeaderLast = last;
      return this;
    }

    /**
     * The registry metrics go to (default: a new one per server). One registry per server: the
     * service counters' names are the same on every node ({@link ServiceMetrics}).
     */
    public Builder metricRegistry(MetricRegistry registry) {
      this.metricRegistry = Objects.requireNonNull(registry, "registry");
      return this;
    }

    /** Whether to export metrics over JMX (domain {@code dev.ferry.<id>}); default true. */
    public Builder jmx(boolean on) {
      this.jmx = on;
      nodeWide.add("jmx");
      return this;
    }

    /**
     * Runs the node with mutual TLS (default: plain text): Ratis's gRPC port requires a client
     * certificate chaining to {@link TlsFiles#trustedCertificates()} and the node's own gRPC
     * channels to its peers present {@link TlsFiles#certificateChain()}; the chunk service and the
     * node's chunk clients use the same files. Every member of the cluster, and every client, must
     * then use TLS too. Peers' certificates must name the host they are addressed by (gRPC checks
     * host names).
     */
    public Builder tls(TlsFiles files) {
      this.tls = Objects.requireNonNull(files, "files");
      nodeWide.add("tls");
      return this;
    }

    /**
     * Serves {@code GET /metrics} (Prometheus text format) and {@code GET /health} on this address
     * (port 0: a free port, see {@link FerryServer#metricsAddress()}); default: off. The endpoint
     * is not authenticated: bind it to an address only the monitoring network reaches.
     */
    public Builder metricsEndpoint(InetSocketAddress bind) {
      this.metricsBind = Objects.requireNonNull(bind, "bind");
      nodeWide.add("metricsEndpoint");
      return this;
    }

    /** Sets a raw Ratis property (advanced; applied last). */
    public Builder property(String key, String value) {
      tuning.properties.put(key, value);
      nodeWide.add("property");
      return this;
    }

    PeerAddress self() {
      return peers.stream().filter(p -> p.id().equals(selfId)).findFirst().orElseThrow();
    }

    /**
     * Validates and builds the server (not started). With a {@link #node}, the replica is reserved
     * in the node under its cluster name until it is closed.
     *
     * @throws IllegalArgumentException naming the bad setting
     * @throws IllegalStateException if the node is closed or already hosts the group
     * @throws IOException if the data directory cannot be created
     */
    public FerryServer build() throws IOException {
      Objects.requireNonNull(stateMachine, "stateMachine is required");
      if (clusterName == null || clusterName.isBlank()) {
        throw new IllegalArgumentException("clusterName must not be blank");
      }
      if (node != null) {
        if (!nodeWide.isEmpty()) {
          throw new IllegalArgumentException(
              "set on the FerryNode, not on a group it hosts: " + nodeWide);
        }
        selfId = node.self().id();
        dataDir = node.groupDir(clusterName);
        secret = node.secret();
        tls = node.tls().orElse(null);
        jmx = node.jmx();
      }
      Objects.requireNonNull(selfId, "selfId is required");
      Objects.requireNonNull(dataDir, "dataDir is required");
      if (peers.isEmpty()) {
        throw new IllegalArgumentException("peers must not be empty");
      }
      if (peers.stream().map(PeerAddress::id).distinct().count() != peers.size()) {
        throw new IllegalArgumentException("peer ids must be unique: " + peers);
      }
      if (peers.stream().noneMatch(p -> p.id().equals(selfId))) {
        throw new IllegalArgumentException(
            "selfId '" + selfId + "' is not among the peers " + peers);
      }
      if (node != null && !self().equals(node.self())) {
        throw new IllegalArgumentException(
            "the peers of "
                + clusterName
                + " list this node as "
                + self()
                + ", but the node runs as "
                + node.self());
      }
      tuning.validate();
      if (Files.exists(dataDir) && !Files.isDirectory(dataDir)) {
        throw new IllegalArgumentException("dataDir is not a directory: " + dataDir);
      }
      Files.createDirectories(dataDir);
      if (!Files.isWritable(dataDir)) {
        throw new IllegalArgumentException("dataDir is not writable: " + dataDir);
      }
      if (chunkSendRate < 0) {
        throw new IllegalArgumentException("chunkSendRate < 0: " + chunkSendRate);
      }
      PeerAddress self = self();
      NodeMetrics nodeMetrics = new NodeMetrics(self.id());
      MultiSourceInstaller multiSource = null;
      PeerClients clients = null;
      Installer chosen = installer != null ? installer : Installer.unavailable();
      RaftLogHold logHold = null;
      if (installer == null && secret != null) {
        // In a node, the peers' service ports serve many groups: the clients name this one.
        clients =
            new PeerClients(
                self.id(),
                secret,
                tls == null ? null : tls.chunkClientContext(),
                node == null ? null : groupId(clusterName).getUuid().toString());
        logHold =
            new RaftLogHold(
                self.id(),
                () -> groupRef[0],
                () -> knownLeader(serverRef[0], groupRef[0]),
                tls == null ? null : tls.ratisParameters());
        PeerClients c = clients;
        RaftGroupId gid = groupId(clusterName);
        multiSource =
            MultiSourceInstaller.builder()
                .selfId(self.id())
                .peers(() -> c.current(serverRef[0], gid, peers))
                .transferConfig(transferConfig)
                .shipping(shipping)
                .maxSources(installSources)
                .leaderLast(installLeaderLast)
                .logHold(logHold)
                .holdBudgetBytes(installHoldBudget)
                .slowAfter(slowInstallAfter)
                .metrics(new InstallMetrics(metricRegistry, nodeMetrics, clusterName))
                .name(clusterName)
                .priority(installPriority)
                // A node's groups share its scheduler; a server of its own admits all at once.
                .scheduler(
                    node != null
                        ? node.transferScheduler()
                        : TransferScheduler.unlimited("ferry-install-" + self.id()))
                .build();
        if (node == null) {
          ServerMetrics.registerTransferScheduler(nodeMetrics, multiSource.scheduler());
        }
        chosen = multiSource;
      }
      Replica replica = new Replica(stateMachine, stateMachineConfig, chosen, self.id());
      ChunkServer chunkServer = null;
      SnapshotSource chunkSource = SnapshotSource.of(replica::manifests, replica::chunkStore);
      if (node != null) {
        chunkServer = node.chunkServer();
      } else if (secret != null) {
        // The node's service port: chunks for installs, and admin requests (MemberService).
        chunkServer =
            ChunkServer.builder()
                .nodeId(self.id())
                .bind(self.host(), self.chunkPort())
                .source(chunkSource)
                .secret(secret.bytes())
                .sendRateLimit(chunkSendRate)
                .tls(tls == null ? null : tls.chunkServerContext())
                .build();
      }
      RatisStateMachine adapter = new RatisStateMachine(replica);

      Path raftDir = node != null ? node.raftDir() : dataDir.resolve("raft");
      RaftGroupId gid = groupId(clusterName);
      Path groupDir = raftDir.resolve(gid.getUuid().toString());
      boolean recover = Files.isDirectory(groupDir);
      StorageIdentity storage = StorageIdentity.open(dataDir, !recover);
      boolean asListener = listener || storage.rejoining();
      if (recover && asListener) {
        StoredConfiguration.forgetIfItOmits(groupDir, selfId);
      }
      RaftHost host =
          node != null
              ? nodeRaft(node, gid, recover)
              : ownRaft(
                  recover,
                  adapter,
                  tuning.properties(
                      raftDir, self.raftPort(), stateMachineConfig, dataDir.resolve("removed")));
      // A voter on fresh storage may not start its division before its peers have answered.
      boolean guarded = !recover && !asListener && secret != null;
      // A server of its own is built now (raftServer() works before start()); a node's at start.
      RaftServer server = guarded || node != null ? null : host.server(asListener);
      if (!guarded) {
        groupRef[0] = group(asListener);
      }
      FerryServer built =
          new FerryServer(
              this,
              group(asListener),
              server,
              host,
              guarded,
              chunkSource,
              storage,
              adapter,
              chunkServer,
              multiSource,
              clients,
              logHold,
              nodeMetrics);
      if (node != null) {
        node.reserve(built);
      }
      return built;
    }

    /** A Raft server of this replica's own, built with its one group. */
    private RaftHost ownRaft(boolean recover, RatisStateMachine adapter, RaftProperties p) {
      return new RaftHost() {
        @Override
        public RaftServer server(boolean selfListener) throws IOException {
          RaftGroup g = group(selfListener);
          groupRef[0] = g;
          Parameters parameters = tls != null ? tls.ratisParameters() : new Parameters();
          RaftPort.limitConnections(parameters);
          RaftPort.quietGrpcLogs();
          RaftServer s =
              RaftServer.newBuilder()
                  .setParameters(parameters)
                  .setServerId(RaftPeerId.valueOf(selfId))
                  .setGroup(g)
                  .setStateMachine(adapter)
                  .setProperties(p)
                  .setOption(
                      recover
                          ? RaftStorage.StartupOption.RECOVER
                          : RaftStorage.StartupOption.FORMAT)
                  .build();
          serverRef[0] = s;
          return s;
        }

        @Override
        public void start(RaftServer s, boolean selfListener) throws IOException {
          s.start();
        }

        @Override
        public void stop(RaftServer s) throws IOException {
          s.close();
        }
      };
    }

    /**
     * The node's Raft server, into which this replica's division is added (formatted when its
     * storage is fresh, else recovered) unless the node loaded it from its storage at start.
     */
    private RaftHost nodeRaft(FerryNode node, RaftGroupId gid, boolean recover) {
      return new RaftHost() {
        @Override
        public RaftServer server(boolean selfListener) {
          groupRef[0] = group(selfListener);
          RaftServer s = node.raftServer();
          serverRef[0] = s;
          return s;
        }

        @Override
        public void start(RaftServer s, boolean selfListener) throws IOException {
          node.startDivision(group(selfListener), !recover);
        }

        @Override
        public void stop(RaftServer s) throws IOException {
          node.stopDivision(gid);
        }
      };
    }

    /** The group: the peers as voters, this node as a listener if {@code selfListener}. */
    private RaftGroup group(boolean selfListener) {
      List<RaftPeer> raftPeers = new ArrayList<>();
      for (PeerAddress peer : peers) {
        boolean isListener = selfListener && peer.id().equals(selfId);
        raftPeers.add(
            RaftPeers.toRaftPeer(peer, isListener ? RaftPeerRole.LISTENER : RaftPeerRole.FOLLOWER));
      }
      return RaftGroup.valueOf(groupId(clusterName), raftPeers);
    }
  }
}
