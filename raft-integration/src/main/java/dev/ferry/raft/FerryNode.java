package dev.ferry.raft;

import dev.ferry.raft.admin.AdminServer;
import dev.ferry.raft.admin.NodeAdminServer;
import dev.ferry.raft.metrics.Health;
import dev.ferry.raft.metrics.MetricsHttpServer;
import dev.ferry.shipping.PeerAddress;
import dev.ferry.shipping.chunks.ChunkServer;
import dev.ferry.shipping.install.TransferPriority;
import dev.ferry.shipping.install.TransferScheduler;
import dev.ferry.shipping.metrics.NodeMetrics;
import dev.ferry.statemachine.StateMachine;
import dev.ferry.statemachine.StateMachineConfig;
import java.io.Closeable;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.ratis.conf.Parameters;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.protocol.ClientId;
import org.apache.ratis.protocol.GroupManagementRequest;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.server.RaftServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One Ferry process hosting many Raft groups: the parts every group shares, and the groups, each a
 * {@link FerryServer} built with {@link FerryServer.Builder#node}.
 *
 * <p>Shared, one per node: the Ratis {@link RaftServer} (one gRPC port; each group is a division of
 * it, added and removed at run time through Ratis's group management, its state machine found
 * through a {@code StateMachine.Registry}); the service port ({@link ChunkServer}: chunks for
 * installs and the admin requests of every group, each naming its group: a chunk connection names
 * its group once, an admin request in every frame; a request for a group the node does not host
 * gets the "not here" answer naming the groups it hosts); the Prometheus registry and its {@code
 * /metrics} and {@code /health} endpoint (every group's series labelled {@code group}); the
 * scheduler the groups' membership checks run on and the pool their admin services' blocking
 * requests run on. Each group keeps its own state machine instance, Raft log, snapshots and chunk
 * store (in the division's folder of the node's Raft storage), its storage identity ({@code
 * <dataDir>/groups/<name>/}), voter guard and membership service.
 *
 * <pre>{@code
 * FerryNode node = FerryNode.builder()
 *     .self(PeerAddress.parse("n1=10.0.0.1:7000:7001"))
 *     .dataDir(Path.of("/var/lib/ferry"))
 *     .clusterSecret(secret)
 *     .group(GroupSpec.of("kv.r0", peersOfR0, new KvStateMachine()))   // hosted at start
 *     .build()
 *     .start();
 * FerryServer r5 = node.addGroup(GroupSpec.of("kv.r5", peersOfR5, new KvStateMachine())
 *     .asListener());                                                    // at run time
 * node.removeGroup("kv.r0", FerryNode.Removal.DELETE);
 * }</pre>
 *
 * <p>Restarting: Ratis opens every group it finds in the node's Raft storage when the node starts,
 * so every such group must be given to the builder ({@link Builder#group}) or be found by the node
 * itself; a node whose storage holds a group it was neither given nor found refuses to start,
 * naming it. The node remembers each group it hosts in a small record, {@code
 * <dataDir>/groups/<name>/group.members} (the peers it was given and whether it joined as a
 * listener; written atomically and fsynced when it starts hosting the group). A node built with a
 * state machine factory ({@link Builder#stateMachines}) gets back at start every recorded group it
 * was not given, e.g. one it gained by a replica move, each with a new state machine from the
 * factory; {@link #removeGroup} takes a group's storage away, its record with it (deleted, or kept
 * aside under {@code <dataDir>/removed/}), so a group it lost stays lost. The node's storage, not a
 * cluster map, is the authority on what it hosts.
 *
 * <p>Starting: a group the node hosts from its start exists in its Raft server only once its
 * division was added, after the Raft port opened (Ratis adds divisions through its running server;
 * a fresh voter waits for its peers first). Until then the node answers a client request for it
 * "starting" (a retriable {@code ServerNotReadyException}, see {@code StartingGate}), not Ratis's
 * "group not found", which Ferry's clients take for "not here". Groups Ratis finds in the node's
 * storage are opened before the port opens.
 *
 * <p>Node-level admin requests: a node built with a state machine factory also serves {@link
 * NodeAdminServer}'s requests on its service port (host a group as a listener, list the groups),
 * which a replica move uses ({@link dev.ferry.raft.admin.ReplicaMover}).
 *
 * <p>Cost per group: about 7 threads per replica (most of them Ratis's, per division) and Ratis's
 * log write buffer, direct memory of {@code raft.server.log.write.buffer.size} (8 MiB by default)
 * per division: lower it, with {@code raft.server.log.appender.buffer.byte-limit} (which it must
 * exceed by 8 bytes, and which caps a command's size), through {@link Builder#property} for
 * hundreds of groups (docs/architecture.md, "Node and group").
 *
 * <p>Concurrency: thread-safe. {@link #addGroup} and {@link #removeGroup} block while the group's
 * division starts or stops; groups are added and removed concurrently with each other's traffic.
 */
public final class FerryNode implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(FerryNode.class);
  private static final Pattern GROUP_NAME = Pattern.compile("[A-Za-z0-9_-][A-Za-z0-9._-]{0,99}");

  /** Threads of the scheduler the groups' membership checks share. */
  static final int SCHEDULER_THREADS = 2;

  /** What {@link #removeGroup} does with the removed group's storage. */
  public enum Removal {
    /** Delete it: its Raft log, snapshots, chunk store and storage identity. */
    DELETE,
    /** Move it aside, to {@code <dataDir>/removed/<name>-<epoch millis>/}, for an operator. */
    KEEP
  }

  private enum State {
    NEW,
    RUNNING,
    CLOSED
  }

  private final PeerAddress self;
  private final Path dataDir;
  private final ClusterSecret secret;
  private final TlsFiles tls;
  private final boolean jmx;
  private final InetSocketAddress metricsBind;
  private final RaftProperties properties;
  private final List<GroupSpec> initial;
  private final ChunkServer chunkServer;
  private final NodeMetrics metrics;
  private final ScheduledThreadPoolExecutor scheduler;
  private final ScheduledExecutorService schedulerView;
  private final ExecutorService adminPool;
  private final MemberService.Shared executors;
  private final TransferScheduler transfers;
  private final ClientId clientId = ClientId.randomId();

  /** Answers "starting" for the groups the node hosts from its start until each is added. */
  private final StartingGate gate;

  private final AtomicLong callId = new AtomicLong();
  private final Function<String, StateMachine> factory;
  private final StateMachineConfig factoryConfig;
  private volatile NodeAdminServer nodeAdmin;

  /** The groups built on this node and not closed, by name (also while they start). */
  private final Map<String, FerryServer> groups = new ConcurrentHashMap<>();

  /** The same groups by group id: what the Raft server's state machine registry reads. */
  private final Map<RaftGroupId, FerryServer> byId = new ConcurrentHashMap<>();

  private State state = State.NEW;
  private volatile boolean closing;
  private volatile RaftServer raft;
  private volatile MetricsHttpServer metricsHttp;

  private FerryNode(Builder b, RaftProperties properties) throws IOException {
    this.self = b.self;
    this.dataDir = b.dataDir;
    this.secret = b.secret;
    this.tls = b.tls;
    this.jmx = b.jmx;
    this.metricsBind = b.metricsBind;
    this.properties = properties;
    this.initial = List.copyOf(b.groups);
    this.factory = b.factory;
    this.factoryConfig = b.factoryConfig;
    this.metrics = new NodeMetrics(self.id());
    this.gate = new StartingGate(self.id());
    this.chunkServer =
        ChunkServer.builder()
            .nodeId(self.id())
            .bind(self.host(), self.chunkPort())
            .secret(secret.bytes())
            .sendRateLimit(b.chunkSendRate)
            .tls(tls == null ? null : tls.chunkServerContext())
            .build();
    ServerMetrics.registerChunkService(metrics, chunkServer);
    this.transfers =
        TransferScheduler.builder()
            .name("ferry-transfers-" + self.id())
            .maxActiveInstalls(b.maxActiveInstalls)
            .maxBytesInFlight(b.installBytesInFlight)
            .maxDecodedBytes(b.installDecodedBytes)
            .build();
    ServerMetrics.registerTransferScheduler(metrics, transfers);
    metrics
        .registry()
        .register(
            new GroupMetrics(() -> groups.values().stream().map(FerryServer::prometheus).toList()));
    AtomicInteger n = new AtomicInteger();
    this.scheduler =
        new ScheduledThreadPoolExecutor(
            SCHEDULER_THREADS,
            r -> {
              Thread t = new Thread(r, "ferry-node-" + self.id() + "-" + n.incrementAndGet());
              t.setDaemon(true);
              return t;
            });
    scheduler.setRemoveOnCancelPolicy(true);
    this.schedulerView = new SchedulerView(scheduler, "node " + self.id());
    this.adminPool = AdminServer.newBlockingPool(self.id());
    this.executors = new MemberService.Shared(scheduler, adminPool);
  }

  /** A new builder. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * Starts the node: binds its service port, builds the groups given to the builder, starts the
   * Raft server (which opens the groups in its storage) and then each of those groups. Blocks until
   * all listen, except for a group whose replica is a fresh voter: it starts once its peers said it
   * may (see {@link FerryServer#start()}). On failure everything started is closed again.
   *
   * @throws IOException if a port cannot be bound or storage cannot be read
   * @throws IllegalStateException if already started or closed, or if the Raft storage holds a
   *     group not given to the builder
   */
  public FerryNode start() throws IOException {
    synchronized (this) {
      if (state != State.NEW) {
        throw new IllegalStateException(self.id() + ": node already started or closed");
      }
      state = State.RUNNING;
    }
    try {
      chunkServer.start();
      List<FerryServer> built = new ArrayList<>();
      for (GroupSpec spec : withRecordedGroups()) {
        built.add(builderFor(spec).build());
        GroupRecord.of(spec).write(groupDir(spec.name()));
      }
      checkStoredGroups();
      for (FerryServer g : built) {
        gate.starting(g.group().getGroupId());
      }
      Parameters parameters = tls != null ? tls.ratisParameters() : new Parameters();
      RaftPort.limitConnections(parameters, gate);
      RaftPort.quietGrpcLogs();
      RaftServer s =
          RaftServer.newBuilder()
              .setParameters(parameters)
              .setServerId(RaftPeerId.valueOf(self.id()))
              .setStateMachineRegistry(this::stateMachineOf)
              .setProperties(properties)
              .build();
      raft = s;
      s.start();
      for (FerryServer g : built) {
        g.start();
      }
      if (factory != null) {
        nodeAdmin = NodeAdminServer.serve(chunkServer, new Host(), adminPool);
      }
      if (metricsBind != null) {
        metrics.jvm();
        metricsHttp = MetricsHttpServer.start(metricsBind, metrics, this::health);
      }
    } catch (IOException | RuntimeException e) {
      close();
      throw e;
    }
    LOG.info(
        "{}: node started with {} group(s) {}, Raft port {}, service port {}",
        self.id(),
        groups.size(),
        new TreeMap<>(groups).keySet(),
        self.raftPort(),
        chunkServer.localAddress().getPort());
    return this;
  }

  /**
   * Adds a group at run time and starts this node's replica of it (see {@link FerryServer#start()}:
   * a fresh voter waits for its peers on a thread of its own). A group joined as a listener ({@link
   * GroupSpec#asListener()}) starts with its own peer entry's startup role LISTENER, as Ratis needs
   * of a node that is to be added to a running group. For per-group install tuning, build the
   * replica with {@link FerryServer#builder()}{@code .node(this)} instead. Blocks while the
   * division starts.
   *
   * @return the group's replica on this node
   * @throws IllegalStateException if the node does not run or already hosts a group of that name
   * @throws IllegalArgumentException if the spec does not fit this node (its peers list the node
   *     with another address)
   * @throws IOException if the group's storage cannot be created or its division not started
   */
  public FerryServer addGroup(GroupSpec spec) throws IOException {
    Objects.requireNonNull(spec, "spec");
    checkRunning();
    FerryServer g = builderFor(spec).build();
    Path record = groupDir(spec.name()).resolve(GroupRecord.FILE);
    try {
      GroupRecord.of(spec).write(groupDir(spec.name()));
      return g.start();
    } catch (IOException | RuntimeException e) {
      // A group that did not start is not hosted: the node must not get it back at its restart.
      g.close();
      Files.deleteIfExists(record);
      throw e;
    }
  }

  /**
   * The groups given to the builder, then, with a state machine factory, every group recorded in
   * the node's storage that was not given (sorted by name).
   */
  private List<GroupSpec> withRecordedGroups() throws IOException {
    List<GroupSpec> specs = new ArrayList<>(initial);
    Path groupsDir = dataDir.resolve("groups");
    if (factory == null || !Files.isDirectory(groupsDir)) {
      return specs;
    }
    List<Path> dirs;
    try (Stream<Path> list = Files.list(groupsDir)) {
      dirs = list.filter(Files::isDirectory).sorted().toList();
    }
    for (Path d : dirs) {
      String name = d.getFileName().toString();
      if (!GROUP_NAME.matcher(name).matches()
          || initial.stream().anyMatch(s -> s.name().equals(name))) {
        continue;
      }
      Optional<GroupRecord> r = GroupRecord.read(d);
      if (r.isPresent()) {
        LOG.info("{}: hosts group {} (from its record in {})", self.id(), name, d);
        specs.add(
            new GroupSpec(
                name,
                r.get().peers(),
                newStateMachine(name),
                factoryConfig,
                r.get().listener(),
                r.get().priority()));
      }
    }
    return specs;
  }

  private StateMachine newStateMachine(String group) {
    StateMachine sm = factory.apply(group);
    if (sm == null) {
      throw new IllegalStateException(self.id() + ": no state machine for group " + group);
    }
    return sm;
  }

  /** What the node-level admin requests ask of this node. */
  private final class Host implements NodeAdminServer.Host {
    @Override
    public List<String> groups() {
      java.util.TreeSet<String> names = new java.util.TreeSet<>(groupNames());
      names.addAll(removing);
      return List.copyOf(names);
    }

    @Override
    public boolean host(String name, List<PeerAddress> peers, TransferPriority priority)
        throws IOException {
      checkGroupName(name);
      if (peers.stream().noneMatch(p -> p.equals(self))) {
        throw new IllegalArgumentException(
            "the peers of " + name + " must list " + self + " itself: " + peers);
      }
      synchronized (hosting) {
        if (groups.containsKey(name)) {
          return false;
        }
        addGroup(new GroupSpec(name, peers, newStateMachine(name), factoryConfig, true, priority));
        return true;
      }
    }
  }

  /** Serializes the node-level requests to host a group. */
  private final Object hosting = new Object();

  /**
   * The groups whose removal runs ({@link #removeGroup}: closed, storage not yet gone). They cannot
   * be added again meanwhile: the removal would delete the new replica's files.
   */
  private final java.util.Set<String> removing = ConcurrentHashMap.newKeySet();

  private FerryServer.Builder builderFor(GroupSpec spec) {
    return FerryServer.builder()
        .node(this)
        .clusterName(spec.name())
        .peers(spec.peers())
        .asListener(spec.listener())
        .stateMachine(spec.stateMachine())
        .stateMachineConfig(spec.config())
        .installPriority(spec.priority());
  }

  /**
   * Stops this node's replica of group {@code name} (its admin service, membership checks and Raft
   * division; the group's other replicas are not told: change the group's membership first) and
   * deletes its storage or moves it aside. Also what a replica told it was removed from its group
   * does. Blocks while the division stops.
   *
   * @throws IllegalArgumentException if the node does not host that group
   * @throws IOException if stopping or moving the storage fails
   */
  public void removeGroup(String name, Removal removal) throws IOException {
    Objects.requireNonNull(removal, "removal");
    FerryServer g = groups.get(name);
    if (g == null) {
      throw new IllegalArgumentException(
          self.id() + " does not host group " + name + "; it hosts " + groupNames());
    }
    if (!removing.add(name)) {
      throw new IllegalStateException(self.id() + ": group " + name + " is being removed");
    }
    try {
      g.close();
      removeStorage(name, removal);
    } finally {
      removing.remove(name);
    }
  }

  /** Deletes the storage of a closed group or moves it aside. */
  private void removeStorage(String name, Removal removal) throws IOException {
    Path raftFolder = raftDir().resolve(FerryServer.groupId(name).getUuid().toString());
    Path ferryFolder = groupDir(name);
    if (removal == Removal.DELETE) {
      deleteTree(raftFolder);
      deleteTree(ferryFolder);
      LOG.info("{}: group {} removed, its storage deleted", self.id(), name);
    } else {
      Path aside = dataDir.resolve("removed").resolve(name + "-" + System.currentTimeMillis());
      Files.createDirectories(aside);
      if (Files.exists(raftFolder)) {
        Files.move(raftFolder, aside.resolve("raft-" + raftFolder.getFileName()));
      }
      if (Files.exists(ferryFolder)) {
        Files.move(ferryFolder, aside.resolve("ferry"));
      }
      LOG.info("{}: group {} removed, its storage kept in {}", self.id(), name, aside);
    }
  }

  private static void deleteTree(Path dir) throws IOException {
    MemberService.wipe(dir);
    Files.deleteIfExists(dir);
  }

  /** The groups hosted now (also those still starting), by name, sorted. */
  public Map<String, FerryServer> groups() {
    return Collections.unmodifiableMap(new TreeMap<>(groups));
  }

  /** This node's replica of group {@code name}, if it hosts it. */
  public Optional<FerryServer> group(String name) {
    return Optional.ofNullable(groups.get(name));
  }

  private List<String> groupNames() {
    return List.copyOf(new TreeMap<>(groups).keySet());
  }

  /** This node's address: its id, host, Raft port and service port. */
  public PeerAddress self() {
    return self;
  }

  /** The node's data directory. */
  public Path dataDir() {
    return dataDir;
  }

  /**
   * The node's Ratis server, shared by its groups.
   *
   * @throws IllegalStateException before {@link #start()} built it, or after {@link #close()}
   */
  public RaftServer raftServer() {
    RaftServer s = raft;
    if (s == null || closing) {
      throw new IllegalStateException(self.id() + ": the node's Raft server does not run");
    }
    return s;
  }

  /** The node's service port (chunks and admin requests of every group). */
  public ChunkServer chunkServer() {
    return chunkServer;
  }

  /**
   * The node's shared scheduler ({@value #SCHEDULER_THREADS} daemon threads), on which its groups'
   * membership checks run, for other periodic work of the node (e.g. the cluster map's reconciler).
   * Tasks must be short and must not block for long: every group of the node shares these threads,
   * so a task that waits on the network hands that part to a pool of its own (or bounds each wait
   * to well under a second). A view: {@code shutdown} and {@code shutdownNow} through it throw
   * {@link UnsupportedOperationException}; cancel your tasks instead. The scheduler stops when the
   * node closes: its tasks stop, and scheduling one then throws {@code RejectedExecutionException}.
   * Available from {@link Builder#build()} on; any thread.
   */
  public ScheduledExecutorService scheduler() {
    return schedulerView;
  }

  /**
   * The node's transfer scheduler: the installs of all its groups are admitted by it (by priority,
   * at most {@link Builder#maxActiveInstalls} at once), share its byte budget ({@link
   * Builder#installBytesInFlight}) and run on its pools. Its {@link TransferScheduler#stats()} say
   * which installs run and wait.
   */
  public TransferScheduler transferScheduler() {
    return transfers;
  }

  /**
   * The node's Prometheus metrics: the chunk service's, the JVM's (with the endpoint on), and every
   * group's, each series labelled with its group.
   */
  public NodeMetrics prometheus() {
    return metrics;
  }

  /** The address the metrics and health endpoint listens on, once started with one. */
  public Optional<InetSocketAddress> metricsAddress() {
    MetricsHttpServer h = metricsHttp;
    return h == null ? Optional.empty() : Optional.of(h.address());
  }

  /**
   * The node's health: ready when it hosts a group and every group's replica is ready ({@link
   * FerryServer#health()}); otherwise the reason names the first group that is not. Never blocks.
   */
  public Health health() {
    Map<String, FerryServer> now = new TreeMap<>(groups);
    if (now.isEmpty()) {
      return new Health(false, "NODE", false, null, false, "hosts no group");
    }
    boolean installing = false;
    boolean member = true;
    List<String> notReady = new ArrayList<>();
    for (Map.Entry<String, FerryServer> e : now.entrySet()) {
      Health h = e.getValue().health();
      installing |= h.installing();
      member &= h.member();
      if (!h.ready()) {
        notReady.add(e.getKey() + ": " + h.reason());
      }
    }
    String reason =
        notReady.isEmpty()
            ? "ready"
            : notReady.get(0)
                + (notReady.size() > 1 ? " (and " + (notReady.size() - 1) + " more)" : "");
    return new Health(notReady.isEmpty(), "NODE", member, null, installing, reason);
  }

  // ---- what the node's groups use (FerryServer) ------------------------------------------------

  /** Throws unless the node runs. */
  void checkRunning() {
    synchronized (this) {
      if (state != State.RUNNING || closing) {
        throw new IllegalStateException(self.id() + ": the node does not run (" + state + ")");
      }
    }
  }

  ClusterSecret secret() {
    return secret;
  }

  Optional<TlsFiles> tls() {
    return Optional.ofNullable(tls);
  }

  boolean jmx() {
    return jmx;
  }

  MemberService.Shared executors() {
    return executors;
  }

  /** Where Ratis keeps the groups' divisions. */
  Path raftDir() {
    return dataDir.resolve("raft");
  }

  /** The folder of Ferry's own files of group {@code name}. */
  Path groupDir(String name) {
    checkGroupName(name);
    return dataDir.resolve("groups").resolve(name);
  }

  /**
   * Checks that {@code name} can name a group's folder.
   *
   * @throws IllegalArgumentException if not
   */
  static String checkGroupName(String name) {
    if (!GROUP_NAME.matcher(name).matches()) {
      throw new IllegalArgumentException(
          "a group name is 1-100 characters of [A-Za-z0-9._-], not starting with a dot: '"
              + name
              + "'");
    }
    return name;
  }

  /** Records a replica built for this node, under its name and group id. */
  synchronized void reserve(FerryServer g) {
    if (state == State.CLOSED || closing) {
      throw new IllegalStateException(self.id() + ": node closed; cannot host " + g.groupName());
    }
    RaftGroupId gid = g.group().getGroupId();
    if (removing.contains(g.groupName())) {
      throw new IllegalStateException(
          self.id()
              + ": group "
              + g.groupName()
              + " is being removed (its storage deleted or moved aside); add it once it is gone");
    }
    if (groups.containsKey(g.groupName()) || byId.containsKey(gid)) {
      throw new IllegalStateException(self.id() + " already hosts group " + g.groupName());
    }
    groups.put(g.groupName(), g);
    byId.put(gid, g);
  }

  /** Forgets a replica that was closed. */
  synchronized void release(FerryServer g) {
    if (groups.remove(g.groupName(), g)) {
      gate.started(g.group().getGroupId());
    }
    byId.remove(g.group().getGroupId(), g);
  }

  /**
   * Starts the division of {@code group} in the node's Raft server, formatting its storage or
   * recovering it, unless the server opened it from its storage at start. Blocks until it runs.
   */
  void startDivision(RaftGroup group, boolean format) throws IOException {
    RaftServer s = raftServer();
    if (hosts(s, group.getGroupId())) {
      gate.started(group.getGroupId());
      return;
    }
    RaftClientReply r;
    try {
      r =
          s.groupManagement(
              GroupManagementRequest.newAdd(
                  clientId, s.getId(), callId.incrementAndGet(), group, format));
    } finally {
      // Added, or not hosted after all (the caller closes the replica): "not here" is true now.
      gate.started(group.getGroupId());
    }
    if (!r.isSuccess()) {
      throw new IOException(
          self.id() + ": cannot start group " + group.getGroupId() + ": " + r.getException(),
          r.getException());
    }
  }

  /**
   * Stops the division of group {@code gid} (its storage stays) unless the whole server is closing.
   * Blocks until it stopped.
   */
  void stopDivision(RaftGroupId gid) throws IOException {
    RaftServer s = raft;
    if (closing || s == null || !hosts(s, gid)) {
      return;
    }
    RaftClientReply r =
        s.groupManagement(
            GroupManagementRequest.newRemove(
                clientId, s.getId(), callId.incrementAndGet(), gid, false, false));
    if (!r.isSuccess()) {
      throw new IOException(
          self.id() + ": cannot stop group " + gid + ": " + r.getException(), r.getException());
    }
  }

  private static boolean hosts(RaftServer s, RaftGroupId gid) {
    for (RaftGroupId g : s.getGroupIds()) {
      if (g.equals(gid)) {
        return true;
      }
    }
    return false;
  }

  /** The Raft server's state machine registry: the adapter of the replica of {@code gid}. */
  private org.apache.ratis.statemachine.StateMachine stateMachineOf(RaftGroupId gid) {
    FerryServer g = byId.get(gid);
    if (g == null) {
      throw new IllegalStateException(
          self.id() + ": Ratis opened group " + gid + ", which this node was not given");
    }
    return g.adapter();
  }

  /**
   * Refuses to start when the Raft storage holds a group the node was not given: Ratis would open
   * it with no state machine.
   */
  private void checkStoredGroups() throws IOException {
    if (!Files.isDirectory(raftDir())) {
      return;
    }
    Map<String, String> names = new TreeMap<>();
    Path groupsDir = dataDir.resolve("groups");
    if (Files.isDirectory(groupsDir)) {
      try (Stream<Path> dirs = Files.list(groupsDir)) {
        dirs.map(d -> d.getFileName().toString())
            .filter(n -> GROUP_NAME.matcher(n).matches())
            .forEach(n -> names.put(FerryServer.groupId(n).getUuid().toString(), n));
      }
    }
    List<String> unknown = new ArrayList<>();
    try (Stream<Path> dirs = Files.list(raftDir())) {
      for (Path d : dirs.filter(Files::isDirectory).toList()) {
        String dir = d.getFileName().toString();
        RaftGroupId gid;
        try {
          gid = RaftGroupId.valueOf(UUID.fromString(dir));
        } catch (IllegalArgumentException e) {
          continue; // not a group's folder: Ratis ignores it too
        }
        if (!byId.containsKey(gid)) {
          unknown.add(names.getOrDefault(dir, "?") + " (" + dir + ")");
        }
      }
    }
    if (!unknown.isEmpty()) {
      throw new IllegalStateException(
          self.id()
              + ": its Raft storage "
              + raftDir()
              + " holds groups it was not given: "
              + unknown
              + "; give each to the builder (FerryNode.Builder#group) or move its folder away");
    }
  }

  /**
   * Stops every group's replica (their storage stays), the Raft server, the service port, the
   * metrics endpoint and the scheduler. Idempotent.
   */
  @Override
  public void close() throws IOException {
    synchronized (this) {
      if (state == State.CLOSED) {
        return;
      }
      state = State.CLOSED;
      closing = true;
    }
    NodeAdminServer na = nodeAdmin;
    if (na != null) {
      na.close();
    }
    if (metricsHttp != null) {
      metricsHttp.close();
    }
    IOException failure = null;
    for (FerryServer g : List.copyOf(groups.values())) {
      try {
        g.close();
      } catch (IOException e) {
        failure = e;
      }
    }
    RaftServer s = raft;
    try {
      if (s != null) {
        s.close();
      }
    } finally {
      chunkServer.close();
      transfers.close();
      scheduler.shutdownNow();
      adminPool.shutdownNow();
    }
    LOG.info("{}: node stopped", self.id());
    if (failure != null) {
      throw failure;
    }
  }

  /** Builds a {@link FerryNode}. Not thread-safe. */
  public static final class Builder {
    private PeerAddress self;
    private Path dataDir;
    private ClusterSecret secret;
    private TlsFiles tls;
    private boolean jmx = true;
    private InetSocketAddress metricsBind;
    private long chunkSendRate;
    private int maxActiveInstalls = TransferScheduler.DEFAULT_MAX_ACTIVE_INSTALLS;
    private long installBytesInFlight = TransferScheduler.DEFAULT_MAX_BYTES_IN_FLIGHT;
    private long installDecodedBytes = TransferScheduler.defaultMaxDecodedBytes();
    private final RaftTuning tuning = new RaftTuning();
    private final List<GroupSpec> groups = new ArrayList<>();
    private Function<String, StateMachine> factory;
    private StateMachineConfig factoryConfig = StateMachineConfig.defaults();

    private Builder() {}

    /**
     * The state machine of each group the node starts hosting without a {@link GroupSpec} from the
     * caller: a new instance per call, given the group's name. With it, the node gets back at start
     * the groups recorded in its storage that were not given ({@link FerryNode}), and serves the
     * node-level admin requests ({@link NodeAdminServer}: host a group as a listener, list the
     * groups). Called on the starting thread or on an admin thread; must not block long.
     */
    public Builder stateMachines(Function<String, StateMachine> factory) {
      this.factory = Objects.requireNonNull(factory, "factory");
      return this;
    }

    /**
     * With {@link #stateMachines}: the config those state machines run with (default {@link
     * StateMachineConfig#defaults()}).
     */
    public Builder stateMachines(
        Function<String, StateMachine> factory, StateMachineConfig config) {
      this.factoryConfig = Objects.requireNonNull(config, "config");
      return stateMachines(factory);
    }

    /** This node's id and addresses (host, Raft port, service port); required. */
    public Builder self(PeerAddress self) {
      this.self = Objects.requireNonNull(self, "self");
      return this;
    }

    /** The directory the node's Raft storage and its groups' files live in; required. */
    public Builder dataDir(Path dir) {
      this.dataDir = Objects.requireNonNull(dir, "dir");
      return this;
    }

    /**
     * The cluster secret every member of every group of this node shares; required (it guards the
     * service port that installs and admin requests use).
     */
    public Builder clusterSecret(ClusterSecret secret) {
      this.secret = Objects.requireNonNull(secret, "secret");
      return this;
    }

    /** Mutual TLS on both ports; see {@link FerryServer.Builder#tls}. */
    public Builder tls(TlsFiles files) {
      this.tls = Objects.requireNonNull(files, "files");
      return this;
    }

    /** Whether each group exports its metrics over JMX (domain {@code dev.ferry.<id>.<group>}). */
    public Builder jmx(boolean on) {
      this.jmx = on;
      return this;
    }

    /**
     * Serves {@code /metrics} and {@code /health}; see {@link FerryServer.Builder#metricsEndpoint}.
     */
    public Builder metricsEndpoint(InetSocketAddress bind) {
      this.metricsBind = Objects.requireNonNull(bind, "bind");
      return this;
    }

    /**
     * Limits the service port's chunk send rate (bytes per second, 0: unlimited): one limit for
     * every chunk the node sends, over all its groups and connections, which share it in turn.
     */
    public Builder chunkSendRate(long bytesPerSecond) {
      this.chunkSendRate = bytesPerSecond;
      return this;
    }

    /**
     * At most this many snapshot installs of the node's groups run at once; more wait in the node's
     * queue, by priority ({@link GroupSpec#priority()}). Default {@value
     * TransferScheduler#DEFAULT_MAX_ACTIVE_INSTALLS}.
     *
     * @throws IllegalArgumentException if {@code max < 1}
     */
    public Builder maxActiveInstalls(int max) {
      if (max < 1) {
        throw new IllegalArgumentException("maxActiveInstalls must be >= 1: " + max);
      }
      this.maxActiveInstalls = max;
      return this;
    }

    /**
     * At most this many chunk bytes requested and not yet written, over all the node's installs
     * (each chunk's bytes are reserved before it is asked for and released once it is written).
     * Default 256 MiB.
     *
     * @throws IllegalArgumentException if below 64 KiB
     */
    public Builder installBytesInFlight(long bytes) {
      if (bytes < (64L << 10)) {
        throw new IllegalArgumentException("installBytesInFlight must be >= 64 KiB: " + bytes);
      }
      this.installBytesInFlight = bytes;
      return this;
    }

    /**
     * At most this many bytes of decoded chunk content kept by all the node's installs together,
     * between a chunk's arrival and its shard's load; a chunk that does not fit is read back from
     * the store when its shard loads (a disk read instead of memory). Default {@link
     * TransferScheduler#defaultMaxDecodedBytes()} (a sixteenth of the maximum heap, at most 256
     * MiB); 0 keeps nothing.
     *
     * @throws IllegalArgumentException if negative
     */
    public Builder installDecodedBytes(long bytes) {
      if (bytes < 0) {
        throw new IllegalArgumentException("installDecodedBytes must be >= 0: " + bytes);
      }
      this.installDecodedBytes = bytes;
      return this;
    }

    /**
     * The election timeout range of every group; see {@link FerryServer.Builder#electionTimeout}.
     * With many groups, longer timeouts cost less when idle (fewer heartbeats).
     */
    public Builder electionTimeout(Duration min, Duration max) {
      tuning.electionTimeout(min, max);
      return this;
    }

    /** See {@link FerryServer.Builder#pauseStopThreshold}. */
    public Builder pauseStopThreshold(Duration threshold) {
      tuning.pauseStopThreshold(threshold);
      return this;
    }

    /** See {@link FerryServer.Builder#stagingTimeout}. */
    public Builder stagingTimeout(Duration timeout) {
      tuning.stagingTimeout(timeout);
      return this;
    }

    /** See {@link FerryServer.Builder#logPreservationEntries}. */
    public Builder logPreservationEntries(long entries) {
      tuning.logPreservationEntries = entries;
      return this;
    }

    /**
     * How often (in applied entries) Ratis asks each group for a snapshot to purge to; default the
     * default capture interval ({@link StateMachineConfig#captureEveryEntries()}).
     */
    public Builder snapshotTriggerEntries(long entries) {
      tuning.snapshotTriggerEntries = entries;
      return this;
    }

    /** Sets a raw Ratis property of the node's server (advanced; applied last). */
    public Builder property(String key, String value) {
      tuning.properties.put(key, value);
      return this;
    }

    /**
     * A group the node hosts from its start. Every group in the node's Raft storage must be given
     * when the node restarts (see {@link FerryNode}); others may be added later ({@link
     * #addGroup}).
     */
    public Builder group(GroupSpec spec) {
      groups.add(Objects.requireNonNull(spec, "spec"));
      return this;
    }

    /**
     * Validates and builds the node (not started).
     *
     * @throws IllegalArgumentException naming the bad setting
     * @throws IOException if the data directory cannot be created
     */
    public FerryNode build() throws IOException {
      Objects.requireNonNull(self, "self is required");
      Objects.requireNonNull(dataDir, "dataDir is required");
      Objects.requireNonNull(secret, "clusterSecret is required");
      tuning.validate();
      if (chunkSendRate < 0) {
        throw new IllegalArgumentException("chunkSendRate < 0: " + chunkSendRate);
      }
      if (groups.stream().map(GroupSpec::name).distinct().count() != groups.size()) {
        throw new IllegalArgumentException(
            "group names must be unique: " + groups.stream().map(GroupSpec::name).toList());
      }
      if (Files.exists(dataDir) && !Files.isDirectory(dataDir)) {
        throw new IllegalArgumentException("dataDir is not a directory: " + dataDir);
      }
      Files.createDirectories(dataDir);
      if (!Files.isWritable(dataDir)) {
        throw new IllegalArgumentException("dataDir is not writable: " + dataDir);
      }
      Path removed = dataDir.resolve("removed");
      RaftProperties p =
          tuning.properties(
              dataDir.resolve("raft"), self.raftPort(), StateMachineConfig.defaults(), removed);
      return new FerryNode(this, p);
    }
  }
}
