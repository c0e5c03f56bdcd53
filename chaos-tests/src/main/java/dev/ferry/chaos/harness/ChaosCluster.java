package dev.ferry.chaos.harness;

import dev.ferry.kv.KvClient;
import dev.ferry.kv.cluster.ProcessCluster;
import dev.ferry.kv.shard.ClusterLayout;
import dev.ferry.kv.shard.RoutingKvClient;
import dev.ferry.kv.shard.StaticClusterMap;
import dev.ferry.shipping.PeerAddress;
import java.io.Closeable;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.UnaryOperator;
import java.util.stream.Stream;
import org.apache.ratis.proto.RaftProtos.RaftConfigurationProto;
import org.apache.ratis.proto.RaftProtos.RaftPeerProto;
import org.apache.ratis.proto.RaftProtos.RaftPeerRole;
import org.apache.ratis.protocol.GroupInfoReply;
import org.apache.ratis.protocol.RaftPeerId;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A Ferry cluster for chaos tests: each node a {@code ferry server} JVM (run by {@link
 * ProcessCluster}) on a {@link Network} that can be cut, with optional control of each node's clock
 * (libfaketime) and disk (a small tmpfs per node).
 *
 * <p>Nodes are {@code n1 … n<voters+spares>}: the first {@code voters} form the initial
 * configuration; spares start only when a membership change adds them ({@link #startListener}).
 *
 * <p>Cleanup: at start it removes what an earlier run that crashed left behind (node JVMs marked
 * {@code -Dferry.chaos.node}, {@code fe-*} namespaces and links, tmpfs mounts named {@code
 * fe-chaos}), and {@link #close()} (also a shutdown hook) removes everything it made. It touches
 * nothing else. One chaos cluster per machine at a time: it holds the {@link ChaosLock} from before
 * that cleanup until {@link #close()} has removed everything, and a cluster started meanwhile (by
 * another build, say) waits for it, saying so.
 *
 * <p>A sharded cluster ({@link Builder#sharded}): every node runs {@code ferry server --map} with a
 * static cluster map ({@link #mapFile()}) whose ranges are placed on the first {@code voters}
 * nodes; the spares are in the map, run from the start and host nothing until replicas move to
 * them. It needs network namespaces (the map names the nodes' addresses, which the test's clients
 * dial too). There {@link #configuration()} reports the whole node set as voters and the leader of
 * range 0's group as leader, so that the nemeses' targets ("the leader", "a voter", "the members")
 * span every node.
 *
 * <p>Concurrency: the process methods (start, kill, pause, …) are synchronized; {@link #network()}
 * is thread-safe; queries ({@link #leader()}, {@link #configuration()}) may run from any thread.
 */
public final class ChaosCluster implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(ChaosCluster.class);

  /** The cluster name every chaos cluster runs with. */
  public static final String CLUSTER_NAME = "chaos";

  static final String NODE_MARKER = "-Dferry.chaos.node=";
  static final String MOUNT_SOURCE = "fe-chaos";
  private static final List<String> LIBFAKETIME =
      List.of(
          "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1",
          "/usr/lib/aarch64-linux-gnu/faketime/libfaketime.so.1",
          "/usr/lib64/faketime/libfaketime.so.1",
          "/usr/lib/faketime/libfaketime.so.1",
          "/usr/local/lib/faketime/libfaketime.so.1");

  private final Path dir;
  private final List<String> ids;
  private final List<String> initialVoters;
  private final Fabric fabric;
  private final String libfaketime;
  private final long diskBytes;
  private final Map<String, List<String>> nodeArgs;
  private final List<String> splitKeys;
  private final Set<String> mounted = ConcurrentHashMap.newKeySet();
  private final Set<String> paused = ConcurrentHashMap.newKeySet();
  private final Set<String> started = ConcurrentHashMap.newKeySet();
  private final Map<String, Duration> clockOffsets = new java.util.HashMap<>();
  private final Thread hook;
  private final ChaosLock lock;
  private ProcessCluster processes;
  private KvClient admin;
  private boolean closed;

  private ChaosCluster(
      Builder b, List<String> ids, Fabric fabric, String libfaketime, ChaosLock lock) {
    this.lock = lock;
    this.dir = b.dir;
    this.ids = List.copyOf(ids);
    this.initialVoters = List.copyOf(ids.subList(0, b.voters));
    this.fabric = fabric;
    this.libfaketime = libfaketime;
    this.diskBytes = b.diskBytes;
    this.nodeArgs = Map.copyOf(b.nodeArgs);
    this.splitKeys = b.splitKeys;
    this.hook = new Thread(this::close, "chaos-cluster-cleanup");
    Runtime.getRuntime().addShutdownHook(hook);
  }

  /** A builder of a cluster whose files (data, logs, hosts files) live under {@code dir}. */
  public static Builder builder(Path dir) {
    return new Builder(dir);
  }

  /** Configures a {@link ChaosCluster}. Not thread-safe. */
  public static final class Builder {
    private final Path dir;
    private int voters = 3;
    private int spares;
    private NetworkMode mode = NetworkMode.AUTO;
    private final List<String> serverArgs = new ArrayList<>();
    private final Map<String, List<String>> nodeArgs = new java.util.HashMap<>();
    private boolean fakeTime;
    private long diskBytes;
    private String heap = "-Xmx256m";
    private List<String> splitKeys;
    private Duration lockWait =
        Duration.ofSeconds(Long.getLong("ferry.chaos.lockWaitSeconds", 2 * 3600));

    private Builder(Path dir) {
      this.dir = Objects.requireNonNull(dir, "dir");
    }

    /** Initial voters (default 3). */
    public Builder voters(int n) {
      if (n < 1 || n > 9) {
        throw new IllegalArgumentException("voters must be in 1..9: " + n);
      }
      this.voters = n;
      return this;
    }

    /** Nodes that are not members at first, for membership changes (default 0). */
    public Builder spares(int n) {
      if (n < 0 || n > 4) {
        throw new IllegalArgumentException("spares must be in 0..4: " + n);
      }
      this.spares = n;
      return this;
    }

    /** Where the nodes live (default {@link NetworkMode#AUTO}). */
    public Builder network(NetworkMode mode) {
      this.mode = Objects.requireNonNull(mode, "mode");
      return this;
    }

    /** Extra arguments to every {@code ferry server} (e.g. {@code --capture-every 200}). */
    public Builder serverArgs(String... args) {
      serverArgs.addAll(List.of(args));
      return this;
    }

    /**
     * Extra arguments to node {@code id}'s {@code ferry server} only (an option given here must not
     * also be among {@link #serverArgs}).
     */
    public Builder nodeArgs(String id, String... args) {
      nodeArgs.computeIfAbsent(id, k -> new ArrayList<>()).addAll(List.of(args));
      return this;
    }

    /**
     * Runs every node under libfaketime so that {@link #bumpClock} can move its clocks.
     *
     * @throws IllegalStateException at {@link #start} if libfaketime is not installed
     */
    public Builder fakeTime(boolean on) {
      this.fakeTime = on;
      return this;
    }

    /**
     * Gives every node's data directory its own tmpfs of this size (0: none, the default), so that
     * {@link #fillDisk} can fill it. Needs root.
     */
    public Builder diskBytes(long bytes) {
      if (bytes < 0) {
        throw new IllegalArgumentException("bytes < 0: " + bytes);
      }
      this.diskBytes = bytes;
      return this;
    }

    /**
     * Makes the cluster sharded: one range per gap between {@code splitKeys} (UTF-8, strictly
     * increasing), placed at replication 3 on the {@link #voters} nodes, in a static map that every
     * node reads ({@code ferry server --map}); the spares host nothing at first. Needs network
     * namespaces ({@link NetworkMode#NETNS}: {@link #start} fails on the proxy).
     */
    public Builder sharded(List<String> splitKeys) {
      this.splitKeys = List.copyOf(splitKeys);
      return this;
    }

    /** Node JVM heap, e.g. {@code -Xmx256m} (the default). */
    public Builder heap(String xmx) {
      if (!xmx.startsWith("-Xmx")) {
        throw new IllegalArgumentException("heap must be an -Xmx flag: " + xmx);
      }
      this.heap = xmx;
      return this;
    }

    /**
     * How long {@link #start} waits for another chaos run on this machine to release the {@link
     * ChaosLock} (default 2 hours; system property {@code ferry.chaos.lockWaitSeconds}).
     */
    public Builder lockWait(Duration wait) {
      if (wait.isNegative()) {
        throw new IllegalArgumentException("negative wait: " + wait);
      }
      this.lockWait = wait;
      return this;
    }

    /**
     * Takes the {@link ChaosLock} (waiting for another chaos run to finish), removes leftovers of
     * an earlier run, builds the network, starts the initial voters and waits until the cluster
     * accepts writes.
     *
     * @throws IOException if the lock is not free within {@link #lockWait}, a node does not start
     *     or the cluster is not writable in time
     * @throws IllegalStateException if a requested capability (fake time, disk) is unavailable
     */
    public ChaosCluster start(Duration timeout) throws IOException {
      List<String> ids = new ArrayList<>();
      for (int i = 1; i <= voters + spares; i++) {
        ids.add("n" + i);
      }
      String faketimeLib = null;
      if (fakeTime) {
        faketimeLib = findLibfaketime();
        if (faketimeLib == null) {
          throw new IllegalStateException(
              "libfaketime not found (apt-get install faketime) in " + LIBFAKETIME);
        }
      }
      if (diskBytes > 0 && !Shell.isRoot()) {
        throw new IllegalStateException("a tmpfs per node needs root");
      }
      ChaosLock lock = ChaosLock.acquire(ChaosLock.defaultFile(), lockWait);
      ChaosCluster c;
      try {
        removeLeftovers(lock);
        Files.createDirectories(dir);
        c = new ChaosCluster(this, ids, makeFabric(ids, lock), faketimeLib, lock);
      } catch (IOException | RuntimeException e) {
        lock.close();
        throw e;
      }
      try {
        c.begin(this, timeout);
        return c;
      } catch (IOException | RuntimeException e) {
        c.close();
        throw e;
      }
    }

    private Fabric makeFabric(List<String> ids, ChaosLock lock) throws IOException {
      switch (mode) {
        case NETNS:
          return NetnsNetwork.create(ids, lock);
        case PROXY:
          return ProxyNetwork.create(ids, dir.resolve("net"));
        default:
          try {
            return NetnsNetwork.create(ids, lock);
          } catch (IOException e) {
            LOG.info("chaos: no network namespaces (" + e.getMessage() + "): proxy");
            return ProxyNetwork.create(ids, dir.resolve("net"));
          }
      }
    }
  }

  private void begin(Builder b, Duration timeout) throws IOException {
    for (String id : ids) {
      Files.createDirectories(dataDir(id));
      if (diskBytes > 0) {
        Shell.check(
            "mount",
            "-t",
            "tmpfs",
            "-o",
            "size=" + diskBytes,
            MOUNT_SOURCE,
            dataDir(id).toAbsolutePath().toString());
        mounted.add(id);
      }
      if (libfaketime != null) {
        writeAtomically(clockFile(id), "+0\n");
      }
    }
    if (splitKeys != null) {
      beginSharded(b, timeout);
      return;
    }
    List<PeerAddress> nodes = initialVoters.stream().map(fabric::nodeAddress).toList();
    List<PeerAddress> clients = initialVoters.stream().map(fabric::clientAddress).toList();
    started.addAll(initialVoters);
    processes =
        ProcessCluster.builder(dir, b.voters)
            .clusterName(CLUSTER_NAME)
            .peers(nodes)
            .clientPeers(clients)
            .heap(b.heap)
            .serverArgs(b.serverArgs.toArray(String[]::new))
            .launcher(this::prepare)
            .start(timeout);
    admin = client(Duration.ofSeconds(3));
  }

  /** Writes the static map (ranges on the initial voters, spares empty) and starts every node. */
  private void beginSharded(Builder b, Duration timeout) throws IOException {
    if (fabric.mode() != NetworkMode.NETNS) {
      throw new IllegalStateException(
          "a sharded chaos cluster needs network namespaces (root): the map's addresses are"
              + " dialled by the nodes and the clients alike");
    }
    List<PeerAddress> all = ids.stream().map(fabric::nodeAddress).toList();
    ClusterLayout onVoters =
        ClusterLayout.create(
            CLUSTER_NAME,
            all.subList(0, initialVoters.size()),
            splitKeys.stream().map(k -> k.getBytes(StandardCharsets.UTF_8)).toList(),
            3);
    new ClusterLayout(CLUSTER_NAME, 1, 3, all, onVoters.ranges()).write(mapFile());
    started.addAll(ids);
    processes =
        ProcessCluster.builder(dir, ids.size())
            .map(mapFile())
            .heap(b.heap)
            .serverArgs(b.serverArgs.toArray(String[]::new))
            .launcher(this::prepare)
            .start(timeout);
    admin = KvClient.connect(onVoters.ranges().get(0).group(), all, Duration.ofSeconds(3));
  }

  private void prepare(String id, List<String> command, Map<String, String> environment) {
    command.add(1, NODE_MARKER + id);
    // Diagnostics: extra JVM options for every node, e.g. Ratis's server logs at INFO
    // (-Dferry.chaos.nodeJvmArgs=-Dorg.slf4j.simpleLogger.log.org.apache.ratis.server=info).
    String extra = System.getProperty("ferry.chaos.nodeJvmArgs", "").strip();
    if (!extra.isEmpty()) {
      command.addAll(2, List.of(extra.split("\\s+")));
    }
    command.addAll(nodeArgs.getOrDefault(id, List.of()));
    if (libfaketime != null) {
      environment.put("LD_PRELOAD", libfaketime);
      environment.put("FAKETIME_TIMESTAMP_FILE", clockFile(id).toAbsolutePath().toString());
      environment.put("FAKETIME_CACHE_DURATION", "1");
    }
    fabric.prepare(id, command, environment);
  }

  /** Whether this machine can run clusters with {@link Builder#fakeTime} (libfaketime found). */
  public static boolean fakeTimeAvailable() {
    return findLibfaketime() != null;
  }

  /** Whether this machine can run nodes in network namespaces (root, iproute2). */
  public static boolean namespacesAvailable() {
    return Shell.isRoot() && Shell.available("ip");
  }

  /** Whether this machine can run clusters with {@link Builder#diskBytes} (root, for tmpfs). */
  public static boolean disksAvailable() {
    return Shell.isRoot();
  }

  private static String findLibfaketime() {
    String override = System.getProperty("ferry.chaos.libfaketime");
    if (override != null) {
      return Files.isRegularFile(Path.of(override)) ? override : null;
    }
    return LIBFAKETIME.stream()
        .filter(p -> Files.isRegularFile(Path.of(p)))
        .findFirst()
        .orElse(null);
  }

  /**
   * Kills node JVMs an earlier run left (marked with {@code -Dferry.chaos.node}), unmounts its
   * tmpfs mounts (named {@code fe-chaos}) and, as root, deletes its {@code fe-*} namespaces and
   * links.
   *
   * @throws IllegalStateException if {@code lock} is not held (they could be another run's)
   */
  static void removeLeftovers(ChaosLock lock) throws IOException {
    ChaosLock.requireHeld(lock);
    try (Stream<Path> procs = Files.list(Path.of("/proc"))) {
      for (Path p : procs.toList()) {
        String name = p.getFileName().toString();
        if (!name.matches("\\d+") || Long.parseLong(name) == ProcessHandle.current().pid()) {
          continue;
        }
        try {
          String cmdline = Files.readString(p.resolve("cmdline"), StandardCharsets.ISO_8859_1);
          if (cmdline.contains(NODE_MARKER)) {
            ProcessHandle.of(Long.parseLong(name)).ifPresent(ProcessHandle::destroyForcibly);
          }
        } catch (IOException gone) {
          // exited meanwhile, or not ours to read
        }
      }
    }
    for (String line : Files.readAllLines(Path.of("/proc/mounts"))) {
      String[] f = line.split(" ");
      if (f.length > 2 && f[0].equals(MOUNT_SOURCE) && f[2].equals("tmpfs")) {
        Shell.run("umount", "-l", f[1].replace("\\040", " "));
      }
    }
    if (Shell.isRoot() && Shell.available("ip")) {
      NetnsNetwork.removeLeftovers(lock);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // topology
  // ---------------------------------------------------------------------------------------------

  /** Every node id, spares included, in order. */
  public List<String> nodes() {
    return ids;
  }

  /** The nodes of the initial configuration. */
  public List<String> initialVoters() {
    return initialVoters;
  }

  /** The network mode in use ({@link NetworkMode#NETNS} or {@link NetworkMode#PROXY}). */
  public NetworkMode mode() {
    return fabric.mode();
  }

  /** The network, to inject faults into. */
  public Network network() {
    return fabric;
  }

  /** Node {@code id}'s address as the nodes see it (what membership requests carry). */
  public PeerAddress address(String id) {
    return fabric.nodeAddress(id);
  }

  /**
   * A new client that knows every node, spares included (the caller closes it). Each operation
   * retries until {@code timeout}.
   */
  public KvClient client(Duration timeout) {
    if (sharded()) {
      throw new IllegalStateException("a sharded cluster has no single group: routingClient");
    }
    return KvClient.connect(
        CLUSTER_NAME, ids.stream().map(fabric::clientAddress).toList(), timeout);
  }

  /** Whether the cluster is sharded ({@link Builder#sharded}). */
  public boolean sharded() {
    return splitKeys != null;
  }

  /** The cluster map file of a sharded cluster (every node reads it at start). */
  public Path mapFile() {
    return dir.resolve("cluster.map");
  }

  /**
   * The map of a sharded cluster as its file says now.
   *
   * @throws IOException if the file cannot be read
   */
  public ClusterLayout layout() throws IOException {
    return ClusterLayout.read(mapFile());
  }

  /**
   * Rewrites the map file of a sharded cluster with {@code change} applied to what it holds (the
   * change returns its argument, or a layout at its version + 1); atomically, one change at a time.
   *
   * @return the layout the file holds afterwards
   */
  public synchronized ClusterLayout updateMap(UnaryOperator<ClusterLayout> change)
      throws IOException {
    ClusterLayout now = layout();
    ClusterLayout next = change.apply(now);
    if (next != now) {
      next.write(mapFile());
    }
    return next;
  }

  /**
   * A new client of a sharded cluster routing by its map file (re-read when a client is told a
   * group is not where it asked; the caller closes it). Each operation retries until {@code
   * timeout}.
   */
  public RoutingKvClient routingClient(Duration timeout) throws IOException {
    if (!sharded()) {
      throw new IllegalStateException("not a sharded cluster: client");
    }
    return RoutingKvClient.connect(StaticClusterMap.read(mapFile()), timeout);
  }

  /**
   * A new client of group {@code group} of a sharded cluster knowing {@code members} (the caller
   * closes it).
   */
  public KvClient groupClient(String group, List<String> members, Duration timeout) {
    return KvClient.connect(group, members.stream().map(fabric::clientAddress).toList(), timeout);
  }

  /** Whether the clock of each node can be shifted ({@link Builder#fakeTime}). */
  public boolean hasFakeTime() {
    return libfaketime != null;
  }

  /** Whether each node has its own small disk ({@link Builder#diskBytes}). */
  public boolean hasDisks() {
    return diskBytes > 0;
  }

  /** Node {@code id}'s data directory. */
  public Path dataDir(String id) {
    return dir.resolve(id);
  }

  /** Node {@code id}'s log file (output of every run of its process). */
  public Path logFile(String id) {
    return dir.resolve(id + ".log");
  }

  /**
   * The last {@code lines} lines of node {@code id}'s log, from its last 64 KiB at most (a node in
   * trouble may log gigabytes).
   */
  public String tail(String id, int lines) {
    return ProcessCluster.tail(logFile(id), lines);
  }

  // ---------------------------------------------------------------------------------------------
  // processes
  // ---------------------------------------------------------------------------------------------

  /** Restarts node {@code id} (a spare that joined restarts as it first started). */
  public synchronized void start(String id) throws IOException {
    check(id);
    paused.remove(id);
    processes.start(id);
    started.add(id);
  }

  /**
   * Starts node {@code id} as a Raft listener that knows the initial voters: the first step of
   * adding it. Its storage must be empty (see {@link #wipe}).
   */
  public synchronized void startListener(String id) throws IOException {
    check(id);
    paused.remove(id);
    processes.startListener(fabric.nodeAddress(id));
    started.add(id);
  }

  /** Kills node {@code id} with SIGKILL (paused or not) and waits until it is gone. */
  public synchronized void kill(String id) throws IOException {
    check(id);
    try {
      processes.kill(id);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted killing " + id, e);
    }
    paused.remove(id);
  }

  /** Stops node {@code id} with SIGSTOP. */
  public synchronized void pause(String id) throws IOException {
    check(id);
    if (isAlive(id) && paused.add(id)) {
      Shell.check("kill", "-STOP", String.valueOf(processes.pid(id)));
    }
  }

  /** Resumes node {@code id} with SIGCONT. */
  public synchronized void resume(String id) throws IOException {
    check(id);
    if (paused.remove(id) && isAlive(id)) {
      Shell.check("kill", "-CONT", String.valueOf(processes.pid(id)));
    }
  }

  /** Whether node {@code id}'s process runs (paused counts as running). */
  public boolean isAlive(String id) {
    check(id);
    return processes.isAlive(id);
  }

  /** Whether node {@code id} is paused. */
  public boolean isPaused(String id) {
    return paused.contains(id);
  }

  /** Whether node {@code id} has ever been started in this cluster. */
  public boolean wasStarted(String id) {
    return started.contains(id);
  }

  /** The nodes whose processes run and are not paused. */
  public List<String> running() {
    return ids.stream().filter(id -> isAlive(id) && !isPaused(id)).toList();
  }

  /** Deletes node {@code id}'s storage; it must not be running. */
  public synchronized void wipe(String id) throws IOException {
    check(id);
    if (isAlive(id)) {
      throw new IllegalStateException(id + " is running");
    }
    Path d = dataDir(id);
    if (!Files.exists(d)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(d)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
        if (!p.equals(d)) {
          Files.delete(p);
        }
      }
    }
  }

  private void check(String id) {
    if (!ids.contains(id)) {
      throw new IllegalArgumentException("no such node: " + id + " (nodes " + ids + ")");
    }
  }

  // ---------------------------------------------------------------------------------------------
  // clock and disk
  // ---------------------------------------------------------------------------------------------

  private Path clockFile(String id) {
    return dir.resolve(id + ".faketime");
  }

  /**
   * Moves node {@code id}'s clocks forward by {@code step} (whole seconds): its wall clock and its
   * monotonic clock jump ahead within a second, as after a long suspension of the host, and stay
   * ahead of its peers' from then on. Clocks never go back: a monotonic clock that does is not a
   * fault real hosts have, and libfaketime's wall-clock-only mode ({@code
   * FAKETIME_DONT_FAKE_MONOTONIC}) slowed the node JVMs tenfold here.
   *
   * @return the node's total offset now
   * @throws IllegalStateException if the cluster runs without fake time
   */
  public synchronized Duration bumpClock(String id, Duration step) throws IOException {
    check(id);
    if (libfaketime == null) {
      throw new IllegalStateException("started without fakeTime(true)");
    }
    if (step.isNegative()) {
      throw new IllegalArgumentException("clocks only move forward: " + step);
    }
    Duration total = clockOffsets.getOrDefault(id, Duration.ZERO).plusSeconds(step.toSeconds());
    clockOffsets.put(id, total);
    writeAtomically(clockFile(id), "+" + total.toSeconds() + "\n");
    return total;
  }

  /** The cluster secret the nodes share (for admin tools). */
  public dev.ferry.raft.ClusterSecret secret() throws IOException {
    return processes.secret();
  }

  /**
   * Fills node {@code id}'s disk: writes a filler file until the tmpfs is full.
   *
   * @return the filler's size in bytes
   * @throws IllegalStateException if the cluster runs without its own disks
   */
  public long fillDisk(String id) throws IOException {
    check(id);
    if (!mounted.contains(id)) {
      throw new IllegalStateException("started without diskBytes");
    }
    Path filler = dataDir(id).resolve("fe-filler");
    byte[] block = new byte[1 << 20];
    long written = 0;
    try (OutputStream out = Files.newOutputStream(filler)) {
      while (written < diskBytes) {
        out.write(block);
        written += block.length;
      }
    } catch (IOException full) {
      // ENOSPC: the disk is full, as wanted
    }
    return Files.exists(filler) ? Files.size(filler) : 0;
  }

  /** Deletes node {@code id}'s filler file, if any. */
  public void freeDisk(String id) throws IOException {
    check(id);
    Files.deleteIfExists(dataDir(id).resolve("fe-filler"));
  }

  private static void writeAtomically(Path file, String text) throws IOException {
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    Files.writeString(tmp, text, StandardCharsets.UTF_8);
    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
  }

  // ---------------------------------------------------------------------------------------------
  // queries
  // ---------------------------------------------------------------------------------------------

  /** The Raft configuration as a leader reported it. */
  public record Configuration(String leader, List<String> voters, List<String> listeners) {
    public Configuration {
      voters = List.copyOf(voters);
      listeners = List.copyOf(listeners);
    }

    /** Voters and listeners. */
    public List<String> members() {
      List<String> all = new ArrayList<>(voters);
      all.addAll(listeners);
      return all;
    }
  }

  /** The leader, if a running node says it leads (asks each running node, ~ms each). */
  public Optional<String> leader() {
    return configuration().map(Configuration::leader);
  }

  /**
   * The configuration the first running node that says it leads reports (joint configurations
   * report the new one), or empty if none does. In a sharded cluster: range 0's leader, and every
   * node as a voter.
   */
  public Optional<Configuration> configuration() {
    for (String id : running()) {
      try {
        GroupInfoReply r =
            admin
                .raftClient()
                .getGroupManagementApi(RaftPeerId.valueOf(id))
                .info(admin.group().getGroupId());
        if (r.getRoleInfoProto().getRole() == RaftPeerRole.LEADER && r.getConf().isPresent()) {
          if (sharded()) {
            return Optional.of(new Configuration(id, ids, List.of()));
          }
          RaftConfigurationProto conf = r.getConf().get();
          return Optional.of(
              new Configuration(id, ids(conf.getPeersList()), ids(conf.getListenersList())));
        }
      } catch (IOException | RuntimeException e) {
        // unreachable or not ready: ask the next
      }
    }
    return Optional.empty();
  }

  /**
   * Whether node {@code id} answers a group-info request (its Raft server has loaded its storage
   * and serves the group). Any thread; blocks for one request.
   */
  public boolean serves(String id) {
    check(id);
    try {
      admin
          .raftClient()
          .getGroupManagementApi(RaftPeerId.valueOf(id))
          .info(admin.group().getGroupId());
      return true;
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  private static List<String> ids(List<RaftPeerProto> peers) {
    return peers.stream().map(p -> p.getId().toStringUtf8()).toList();
  }

  // ---------------------------------------------------------------------------------------------
  // cleanup
  // ---------------------------------------------------------------------------------------------

  /**
   * Resumes paused nodes, heals the network, kills every node, unmounts the disks and removes the
   * network. Idempotent.
   */
  @Override
  public synchronized void close() {
    if (closed) {
      return;
    }
    closed = true;
    if (admin != null) {
      try {
        admin.close();
      } catch (IOException ignored) {
        // closing anyway
      }
    }
    if (processes != null) {
      processes.close();
    }
    fabric.close();
    for (String id : new LinkedHashSet<>(mounted)) {
      try {
        Shell.run("umount", "-l", dataDir(id).toAbsolutePath().toString());
      } catch (IOException e) {
        LOG.warn("chaos: cannot unmount " + dataDir(id) + ": " + e);
      }
    }
    lock.close();
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException ignored) {
      // already shutting down
    }
  }

  @Override
  public String toString() {
    return "ChaosCluster[" + fabric + ", voters " + initialVoters + "]";
  }
}
