package dev.ferry.kv.cluster;

import dev.ferry.kv.KvClient;
import dev.ferry.kv.shard.ClusterLayout;
import dev.ferry.kv.shard.Range;
import dev.ferry.kv.shard.RoutingKvClient;
import dev.ferry.kv.shard.StaticClusterMap;
import dev.ferry.raft.ClusterSecret;
import dev.ferry.shipping.FreePorts;
import dev.ferry.shipping.PeerAddress;
import java.io.Closeable;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * A cluster of {@code ferry server} processes on loopback, each a separate JVM with its own data
 * directory: what the demo, the benchmarks and tests that need real processes (kill -9, restart)
 * run.
 *
 * <p>Each node's output goes to {@code <dir>/<id>.log}; {@link #startedLogs()} lists the log files
 * of every node started in this JVM, so that a test harness can keep them when a test fails. {@link
 * #close()} kills every process it started (also registered as a shutdown hook), so a failing test
 * leaves nothing running. The child processes run the classpath of this JVM.
 *
 * <p>A harness can place the nodes elsewhere: {@link Builder#peers} gives their addresses, {@link
 * Builder#clientPeers} the addresses clients dial when those differ (a proxy in between), and a
 * {@link Launcher} adjusts each node's command and environment (run it in a network namespace, add
 * JVM flags or a preloaded library). {@link #startListener} starts a node that is not yet a member.
 *
 * <p>A sharded cluster: {@link Builder#map} runs every node as {@code ferry server --map FILE}, the
 * nodes and the cluster name taken from the map ({@code ferry shard create}'s descriptor); {@link
 * #routingClient} routes by the map file as it is when called.
 *
 * <p>Not thread-safe: drive it from one thread.
 */
public final class ProcessCluster implements Closeable {
  private static final CopyOnWriteArrayList<Path> STARTED_LOGS = new CopyOnWriteArrayList<>();

  private final Path dir;
  private final String clusterName;
  private final List<PeerAddress> peers;
  private final List<PeerAddress> clientPeers;
  private final List<String> extraArgs;
  private final List<String> jvmArgs;
  private final Launcher launcher;
  private final Path map;
  private final Map<String, Process> processes = new LinkedHashMap<>();
  private final Map<String, List<String>> listenerArgs = new LinkedHashMap<>();
  private final Map<String, InetSocketAddress> metricsBinds = new LinkedHashMap<>();
  private final Map<String, String> clientHosts = new LinkedHashMap<>();
  private final Thread hook;

  private ProcessCluster(Builder b, List<PeerAddress> peers, int[] metricsPorts)
      throws IOException {
    this.dir = b.dir;
    this.map = b.map;
    this.clusterName = b.map == null ? b.clusterName : ClusterLayout.read(b.map).cluster();
    this.peers = List.copyOf(peers);
    this.clientPeers = b.clientPeers == null ? this.peers : b.clientPeers;
    for (int i = 0; i < peers.size(); i++) {
      PeerAddress p = peers.get(i);
      metricsBinds.put(p.id(), InetSocketAddress.createUnresolved(p.host(), metricsPorts[i]));
    }
    for (PeerAddress p : clientPeers) {
      clientHosts.put(p.id(), p.host());
    }
    this.extraArgs = List.copyOf(b.serverArgs);
    this.jvmArgs = List.copyOf(b.jvmArgs);
    this.launcher = b.launcher;
    this.hook = new Thread(this::killAll, "process-cluster-cleanup");
    Runtime.getRuntime().addShutdownHook(hook);
  }

  /** A builder for a cluster of {@code nodes} processes under {@code dir}. */
  public static Builder builder(Path dir, int nodes) {
    return new Builder(dir, nodes);
  }

  /**
   * Adjusts a node's process before it starts, e.g. to run it in a network namespace (prefix the
   * command), with extra JVM flags (insert them after the first element, {@code java}) or with
   * environment variables.
   */
  @FunctionalInterface
  public interface Launcher {
    /**
     * Called on the thread that starts node {@code id}, each time it starts (restarts included).
     *
     * @param command the full command line, the {@code java} executable first; change it in place
     * @param environment the process's environment; change it in place
     * @throws IOException to fail the start
     */
    void prepare(String id, List<String> command, Map<String, String> environment)
        throws IOException;
  }

  /** Configures a {@link ProcessCluster}. */
  public static final class Builder {
    private final Path dir;
    private final int nodes;
    // A name of its own: a node of another cluster that happens to take a port this one probed
    // free (other clusters run on the same machine) then belongs to another Raft group, and
    // refuses this cluster's clients instead of answering them.
    private String clusterName =
        "test-" + Long.toHexString(java.util.concurrent.ThreadLocalRandom.current().nextLong());
    private List<PeerAddress> peers;
    private List<PeerAddress> clientPeers;
    private Launcher launcher = (id, command, environment) -> {};
    private final List<String> serverArgs = new ArrayList<>();
    private ReadyCheck ready;
    private Path map;
    private final List<String> jvmArgs =
        new ArrayList<>(
            List.of("-Xmx384m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss512k"));

    private Builder(Path dir, int nodes) {
      this.dir = Objects.requireNonNull(dir);
      if (nodes < 1) {
        throw new IllegalArgumentException("nodes must be >= 1: " + nodes);
      }
      this.nodes = nodes;
    }

    /**
     * How {@link #start} knows the cluster is up (default: a key-value write succeeds); for nodes
     * that run another state machine ({@code --state-machine}).
     */
    public Builder readyWhen(ReadyCheck check) {
      this.ready = Objects.requireNonNull(check, "check");
      return this;
    }

    /** Extra arguments to every {@code ferry server}. */
    public Builder serverArgs(String... args) {
      serverArgs.addAll(List.of(args));
      return this;
    }

    /** The cluster name (default {@code test-} and a random suffix). */
    public Builder clusterName(String name) {
      if (Objects.requireNonNull(name, "name").isBlank()) {
        throw new IllegalArgumentException("cluster name must not be blank");
      }
      this.clusterName = name;
      return this;
    }

    /**
     * The nodes' addresses, as they reach each other ({@code nodes} of them; default: free ports on
     * 127.0.0.1). Each node listens on its own.
     */
    public Builder peers(List<PeerAddress> peers) {
      if (peers.size() != nodes) {
        throw new IllegalArgumentException(nodes + " peers expected: " + peers);
      }
      this.peers = List.copyOf(peers);
      return this;
    }

    /**
     * The addresses clients dial, when they differ from {@link #peers} (e.g. the nodes reach each
     * other through proxies but clients reach them directly). Same ids; default: the peers.
     */
    public Builder clientPeers(List<PeerAddress> peers) {
      this.clientPeers = List.copyOf(peers);
      return this;
    }

    /** Adjusts every node's process before it starts (default: leaves it alone). */
    public Builder launcher(Launcher launcher) {
      this.launcher = Objects.requireNonNull(launcher, "launcher");
      return this;
    }

    /**
     * Runs a sharded cluster: every node is started as {@code ferry server --map descriptor} (no
     * {@code --peers}, {@code --cluster}), the nodes are the map's ({@code nodes} of them, in map
     * order, at its addresses) and the cluster name is the map's ({@link #clusterName} is not
     * used). Ready (by default) once every range's group answers a linearizable read. Not with
     * {@link #peers}.
     */
    public Builder map(Path descriptor) {
      this.map = Objects.requireNonNull(descriptor, "descriptor").toAbsolutePath();
      return this;
    }

    /** Replaces the JVM heap setting, e.g. {@code -Xmx1g}. */
    public Builder heap(String xmx) {
      jvmArgs.removeIf(a -> a.startsWith("-Xmx"));
      jvmArgs.add(xmx);
      return this;
    }

    /** Starts every node and waits until the cluster accepts writes. */
    public ProcessCluster start(Duration timeout) throws IOException {
      List<PeerAddress> peers = this.peers;
      if (map != null) {
        if (peers != null) {
          throw new IllegalStateException(
              "a sharded cluster's nodes are the map's: not with peers");
        }
        peers = ClusterLayout.read(map).nodes();
        if (peers.size() != nodes) {
          throw new IllegalArgumentException(
              nodes + " nodes expected, the map " + map + " has " + peers.size());
        }
      }
      int[] metricsPorts;
      if (peers == null) {
        // Every port at once: picked node by node, two nodes could get the same (unbound) port.
        int[] ports = freePorts(3 * nodes);
        peers = new ArrayList<>();
        metricsPorts = new int[nodes];
        for (int i = 0; i < nodes; i++) {
          int k = 3 * i;
          peers.add(new PeerAddress("n" + (i + 1), "127.0.0.1", ports[k], ports[k + 1]));
          metricsPorts[i] = ports[k + 2];
        }
      } else {
        metricsPorts = freePortsExcept(nodes, portsOf(peers));
      }
      ProcessCluster c = new ProcessCluster(this, peers, metricsPorts);
      try {
        for (PeerAddress p : peers) {
          c.start(p.id());
        }
        if (ready == null && map != null) {
          c.awaitReady(timeout, ProcessCluster::readEveryRange);
        } else if (ready == null) {
          c.awaitWritable(timeout);
        } else {
          c.awaitReady(timeout, ready);
        }
        return c;
      } catch (IOException | RuntimeException e) {
        c.close();
        throw e;
      }
    }
  }

  /** The peers, in order n1, n2, …. */
  public List<PeerAddress> peers() {
    return peers;
  }

  /** The {@code --peers} argument naming every node. */
  public String peersArg() {
    return peers.stream().map(PeerAddress::toString).collect(Collectors.joining(","));
  }

  /** The cluster name. */
  public String clusterName() {
    return clusterName;
  }

  /** A node's data directory. */
  public Path dataDir(String id) {
    return dir.resolve(id);
  }

  /** The cluster secret's file (created on first use, readable by its owner only). */
  public Path secretFile() throws IOException {
    Path f = dir.resolve("cluster.secret");
    if (!Files.exists(f)) {
      Files.createDirectories(dir);
      ClusterSecret.random().writeTo(f);
    }
    return f;
  }

  /** The cluster secret. */
  public ClusterSecret secret() throws IOException {
    return ClusterSecret.fromFile(secretFile());
  }

  /** A node's log file. */
  public Path logFile(String id) {
    return dir.resolve(id + ".log");
  }

  /**
   * A new client of the cluster (caller closes).
   *
   * @throws IllegalStateException for a sharded cluster (use {@link #routingClient})
   */
  public KvClient client(Duration timeout) {
    if (map != null) {
      throw new IllegalStateException("a sharded cluster has no single group: use routingClient");
    }
    return KvClient.connect(clusterName, clientPeers, timeout);
  }

  /** The map file of a sharded cluster ({@link Builder#map}), empty for a single group. */
  public java.util.Optional<Path> map() {
    return java.util.Optional.ofNullable(map);
  }

  /**
   * A new client of a sharded cluster routing by its map file as it is now (caller closes): a
   * {@link StaticClusterMap}, which a later move recorded in the file does not change.
   *
   * @throws IllegalStateException for a cluster not started with {@link Builder#map}
   * @throws IOException if the map file cannot be read
   */
  public RoutingKvClient routingClient(Duration timeout) throws IOException {
    if (map == null) {
      throw new IllegalStateException("not a sharded cluster (no map): use client");
    }
    return RoutingKvClient.connect(StaticClusterMap.read(map), timeout);
  }

  /** Ready check of a sharded cluster: every range's group serves a read of the range's start. */
  private static void readEveryRange(ProcessCluster cluster) throws IOException {
    try (RoutingKvClient c = cluster.routingClient(Duration.ofSeconds(5))) {
      for (Range r : c.map().current().ranges()) {
        c.get(r.start());
      }
    }
  }

  /**
   * Starts node {@code node} as a Raft listener whose peers are the other {@link #peers()} and
   * itself: the first step of adding it as a member (with the membership admin). The node is new,
   * or one of the peers that was removed and whose storage was wiped. Later {@link #start(String)}
   * calls restart it the same way.
   */
  public void startListener(PeerAddress node) throws IOException {
    if (map != null) {
      throw new IllegalStateException(
          "a sharded cluster's nodes join groups by replica moves, not as listeners");
    }
    List<PeerAddress> all = new ArrayList<>();
    for (PeerAddress p : peers) {
      if (!p.id().equals(node.id())) {
        all.add(p);
      }
    }
    all.add(node);
    if (!metricsBinds.containsKey(node.id())) {
      Set<Integer> taken = portsOf(all);
      metricsBinds.values().forEach(a -> taken.add(a.getPort()));
      metricsBinds.put(
          node.id(), InetSocketAddress.createUnresolved(node.host(), freePortsExcept(1, taken)[0]));
      clientHosts.putIfAbsent(node.id(), node.host());
    }
    listenerArgs.put(
        node.id(),
        List.of(
            "--peers",
            all.stream().map(PeerAddress::toString).collect(Collectors.joining(",")),
            "--listener"));
    start(node.id());
  }

  /** Starts (or restarts) node {@code id}; its storage is recovered if it exists. */
  public void start(String id) throws IOException {
    Process old = processes.get(id);
    if (old != null && old.isAlive()) {
      throw new IllegalStateException(id + " is already running");
    }
    List<String> membership = new ArrayList<>();
    if (map != null) {
      membership.addAll(List.of("--map", map.toString()));
    } else {
      membership.addAll(listenerArgs.getOrDefault(id, List.of("--peers", peersArg())));
      membership.addAll(List.of("--cluster", clusterName));
    }
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.addAll(jvmArgs);
    cmd.add("-cp");
    cmd.add(System.getProperty("java.class.path"));
    cmd.add("dev.ferry.kv.cli.FerryCli");
    cmd.add("server");
    cmd.add("--id");
    cmd.add(id);
    cmd.addAll(membership);
    cmd.add("--data");
    cmd.add(dataDir(id).toString());
    cmd.add("--secret-file");
    cmd.add(secretFile().toString());
    InetSocketAddress metrics = metricsBinds.get(id);
    cmd.add("--metrics-port");
    cmd.add(String.valueOf(metrics.getPort()));
    cmd.add("--metrics-bind");
    cmd.add(metrics.getHostString());
    cmd.addAll(extraArgs);
    Files.createDirectories(dir);
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    launcher.prepare(id, pb.command(), pb.environment());
    Path log = logFile(id).toAbsolutePath();
    pb.redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()));
    STARTED_LOGS.addIfAbsent(log);
    processes.put(id, pb.start());
  }

  /** Kills node {@code id} with SIGKILL and waits for it to be gone. */
  public void kill(String id) throws InterruptedException {
    Process p = processes.get(id);
    if (p != null) {
      p.destroyForcibly();
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        throw new IllegalStateException(id + " did not die after SIGKILL");
      }
    }
  }

  /** Stops node {@code id} with SIGTERM (a clean shutdown) and waits. */
  public void stop(String id) throws InterruptedException {
    Process p = processes.get(id);
    if (p != null) {
      p.destroy();
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    }
  }

  /**
   * Stops every running node with SIGTERM at once (clean shutdowns in parallel) and waits for each
   * (SIGKILL after 30 s).
   */
  public void stopAll() throws InterruptedException {
    List<Process> running = processes.values().stream().filter(Process::isAlive).toList();
    running.forEach(Process::destroy);
    for (Process p : running) {
      if (!p.waitFor(30, TimeUnit.SECONDS)) {
        p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    }
  }

  /**
   * Where node {@code id}'s metrics and health endpoint is reached ({@code GET /metrics}, {@code
   * GET /health}): the host clients dial and the free port the cluster gave it (a port of its own,
   * never the Raft port + 3 default, which may belong to another node or cluster here).
   *
   * @throws IllegalArgumentException for a node this cluster never started
   */
  public InetSocketAddress metricsAddress(String id) {
    InetSocketAddress bind = metricsBinds.get(id);
    if (bind == null) {
      throw new IllegalArgumentException("unknown node " + id);
    }
    return new InetSocketAddress(
        clientHosts.getOrDefault(id, bind.getHostString()), bind.getPort());
  }

  /** True when node {@code id}'s process is alive. */
  public boolean isAlive(String id) {
    Process p = processes.get(id);
    return p != null && p.isAlive();
  }

  /** The process id of node {@code id} (for signals). */
  public long pid(String id) {
    return processes.get(id).pid();
  }

  /** Waits until a write through the cluster succeeds. */
  public void awaitWritable(Duration timeout) throws IOException {
    try (KvClient c = client(Duration.ofSeconds(5))) {
      awaitReady(
          timeout, cluster -> c.put("__ready".getBytes(StandardCharsets.UTF_8), new byte[0]));
    }
  }

  /**
   * One attempt to use the cluster, for {@link #awaitReady}: returns normally once the cluster
   * serves, throws while it does not.
   */
  @FunctionalInterface
  public interface ReadyCheck {
    /** Tries once; may block for a while (its own client timeout). */
    void attempt(ProcessCluster cluster) throws Exception;
  }

  /**
   * Repeats {@code check} until it succeeds, failing at once when a node exits (with its log) and
   * after {@code timeout} with the last attempt's error.
   */
  public void awaitReady(Duration timeout, ReadyCheck check) throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    Exception last = null;
    while (System.nanoTime() < deadline) {
      for (String id : processes.keySet()) {
        if (!isAlive(id)) {
          throw new IOException(id + " exited; log:\n" + tail(id, 40));
        }
      }
      try {
        check.attempt(this);
        return;
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new java.io.InterruptedIOException("interrupted waiting for the cluster");
      } catch (Exception e) {
        last = e;
        java.util.concurrent.locks.LockSupport.parkNanos(100_000_000L);
      }
    }
    throw new IOException("cluster not ready within " + timeout, last);
  }

  /**
   * The last {@code lines} lines of a node's log (for failure messages); see {@link #tail(Path,
   * int)}.
   */
  public String tail(String id, int lines) {
    return tail(logFile(id), lines);
  }

  /**
   * The last {@code lines} lines of a log file, read from its last 64 KiB at most (a node in
   * trouble may log gigabytes), or a note saying why there is none.
   */
  public static String tail(Path file, int lines) {
    try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(file.toFile(), "r")) {
      long start = Math.max(0, f.length() - (64 << 10));
      byte[] b = new byte[(int) (f.length() - start)];
      f.seek(start);
      f.readFully(b);
      List<String> all = new String(b, StandardCharsets.UTF_8).lines().toList();
      return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    } catch (IOException e) {
      return "(no log: " + e + ")";
    }
  }

  /**
   * The log file of every node a {@code ProcessCluster} of this JVM has started (restarts count
   * once), oldest first: what a test harness keeps when a test fails. Thread-safe; the list is a
   * copy and only grows between calls.
   */
  public static List<Path> startedLogs() {
    return List.copyOf(STARTED_LOGS);
  }

  private void killAll() {
    for (Process p : processes.values()) {
      p.destroyForcibly();
    }
    for (Process p : processes.values()) {
      try {
        p.waitFor(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** Kills every node. */
  @Override
  public void close() {
    killAll();
    try {
      Runtime.getRuntime().removeShutdownHook(hook);
    } catch (IllegalStateException ignored) {
      // already shutting down
    }
  }

  /**
   * Finds {@code n} distinct free TCP ports on loopback, below Linux's ephemeral range (32768+), so
   * that outgoing connections made meanwhile cannot take them before the nodes bind them.
   */
  public static int[] freePorts(int n) throws IOException {
    return FreePorts.pick(n);
  }

  /**
   * Nodes {@code n1..n<nodes>} on 127.0.0.1, each with a free Raft port and service port (for a
   * cluster map to give {@link Builder#map}).
   */
  public static List<PeerAddress> loopbackPeers(int nodes) throws IOException {
    int[] ports = freePorts(2 * nodes);
    List<PeerAddress> peers = new ArrayList<>();
    for (int i = 0; i < nodes; i++) {
      peers.add(new PeerAddress("n" + (i + 1), "127.0.0.1", ports[2 * i], ports[2 * i + 1]));
    }
    return peers;
  }

  /** Every port the peers use (Raft, chunk, admin); a mutable set. */
  private static Set<Integer> portsOf(List<PeerAddress> peers) {
    Set<Integer> ports = new HashSet<>();
    for (PeerAddress p : peers) {
      ports.addAll(List.of(p.raftPort(), p.chunkPort()));
    }
    return ports;
  }

  /** Like {@link #freePorts}, none of them in {@code taken} (ports picked but not bound yet). */
  public static int[] freePortsExcept(int n, Set<Integer> taken) throws IOException {
    return FreePorts.except(n, taken);
  }
}
