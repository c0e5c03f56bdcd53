package dev.ferry.bench.replace;

import dev.ferry.bench.Procfs;
import dev.ferry.bench.Scrape;
import dev.ferry.bench.move.CpuSampler;
import dev.ferry.bench.move.KeySpace;
import dev.ferry.bench.move.MoveResults;
import dev.ferry.bench.move.MoveUnderLoadBenchmark;
import dev.ferry.bench.move.RoutedLoad;
import dev.ferry.bench.recovery.ShapedNet;
import dev.ferry.chaos.harness.ChaosLock;
import dev.ferry.kv.cluster.ProcessCluster;
import dev.ferry.kv.shard.ClusterLayout;
import dev.ferry.kv.shard.NodeMoves;
import dev.ferry.kv.shard.Range;
import dev.ferry.kv.shard.RoutingKvClient;
import dev.ferry.kv.shard.StaticClusterMap;
import dev.ferry.shipping.PeerAddress;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Consumer;

/**
 * Issue 19's "node replacement vs number of groups": for each G, a fresh cluster of 7 {@code ferry
 * server --map} processes (6 nodes holding G ranges at replication 3, split evenly, and an empty
 * 7th), the same total state loaded; 16 clients put to random keys; after a warm-up and a baseline
 * one node holding a replica of range 0 is killed and every group with a replica on it is moved to
 * the 7th node by the product's {@link NodeMoves#replace} (its moves recorded by {@link
 * Replacement.Recorder}; one more pass if a move failed). Measured per G: the state re-created on
 * the new node (its installed snapshots' sizes), the replacement's wall time and throughput, the
 * sources the new node received from (distinct, and most at once: its per-source fetched bytes
 * sampled every second), the bytes on the wire, the ideal time (wire bytes ÷ the used sources'
 * measured link rates) and the clients' puts per second and p99 during the replacement against the
 * window before.
 *
 * <p>Usage: {@code NodeReplacementBenchmark [--groups 1,6,24,96] [--size 192m] [--value-bytes 1024]
 * [--clients 16] [--warmup 10] [--baseline 30] [--after 10] [--heap 1536m] [--parallel 8]
 * [--deadline 900] [--profile unshaped|shaped]... [--rate-mbit 100] [--out DIR] [--work DIR]
 * [--server-arg ARG]...}. {@code shaped} runs the nodes in network namespaces with each one's
 * egress shaped by {@code tc tbf} (needs root; the shaped recovery benchmark's {@link ShapedNet},
 * under the chaos lock). Writes {@code DIR/results.json} and {@code DIR/results.md} after every
 * step; a failed step is recorded and the run goes on with the next G. Exits 1 if a step failed.
 */
public final class NodeReplacementBenchmark {
  static final int NODES = 6;
  private static final Duration START = Duration.ofSeconds(240);
  private static final Duration CLIENT_TIMEOUT = Duration.ofSeconds(30);
  private static final long SAMPLE_MILLIS = 1000;

  /** The run's settings. */
  record Options(
      List<Integer> groups,
      long sizeBytes,
      int valueBytes,
      int clients,
      int warmupSeconds,
      int baselineSeconds,
      int afterSeconds,
      String heap,
      int parallel,
      int deadlineSeconds,
      List<String> profiles,
      long rateBits,
      Path out,
      Path work,
      List<String> serverArgs) {
    Options {
      groups = List.copyOf(groups);
      profiles = List.copyOf(profiles);
      serverArgs = List.copyOf(serverArgs);
      if (groups.isEmpty() || groups.stream().anyMatch(g -> g < 1)) {
        throw new IllegalArgumentException("--groups must be positive numbers: " + groups);
      }
      if (profiles.isEmpty()
          || !List.of("unshaped", "shaped").containsAll(profiles)
          || profiles.stream().distinct().count() != profiles.size()) {
        throw new IllegalArgumentException("--profile is unshaped or shaped, once: " + profiles);
      }
      if (clients < 1 || valueBytes < 1 || sizeBytes < 1 || parallel < 1 || rateBits < 1) {
        throw new IllegalArgumentException(
            "--clients, --value-bytes, --size, --parallel and --rate-mbit must be positive");
      }
      if (warmupSeconds < 0 || baselineSeconds < 1 || afterSeconds < 0 || deadlineSeconds < 1) {
        throw new IllegalArgumentException(
            "--warmup and --after must be >= 0, --baseline and --deadline >= 1 second");
      }
    }

    Map<String, Object> asMap() {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("nodes", NODES);
      m.put("new_node", "n" + (NODES + 1));
      m.put("replication", 3);
      m.put("groups", groups);
      m.put("size_bytes", sizeBytes);
      m.put("value_bytes", valueBytes);
      m.put("clients", clients);
      m.put("warmup_s", warmupSeconds);
      m.put("baseline_s", baselineSeconds);
      m.put("after_s", afterSeconds);
      m.put("node_jvm", "-Xmx" + heap + ", default collector, full JIT");
      m.put("parallel_moves", parallel);
      m.put("deadline_s", deadlineSeconds);
      m.put("profiles", profiles);
      m.put("shaped_rate_bits", rateBits);
      m.put("server_args", serverArgs);
      return m;
    }
  }

  private NodeReplacementBenchmark() {}

  /** Parses the command line (see the class comment). */
  static Options parse(String[] args) {
    List<Integer> groups = List.of(1, 6, 24, 96);
    long size = 192L << 20;
    int valueBytes = 1024;
    int clients = 16;
    int warmup = 10;
    int baseline = 30;
    int after = 10;
    String heap = "1536m";
    int parallel = 8;
    int deadline = 900;
    List<String> profiles = new ArrayList<>();
    long rateMbit = 100;
    Path out = Path.of("replace-results");
    Path work = null;
    List<String> serverArgs = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (i + 1 >= args.length) {
        throw new IllegalArgumentException(a + " needs a value");
      }
      String v = args[++i];
      switch (a) {
        case "--groups" ->
            groups = java.util.Arrays.stream(v.split(",")).map(Integer::parseInt).toList();
        case "--size" -> size = MoveUnderLoadBenchmark.bytes(v);
        case "--value-bytes" -> valueBytes = Math.toIntExact(MoveUnderLoadBenchmark.bytes(v));
        case "--clients" -> clients = Integer.parseInt(v);
        case "--warmup" -> warmup = Integer.parseInt(v);
        case "--baseline" -> baseline = Integer.parseInt(v);
        case "--after" -> after = Integer.parseInt(v);
        case "--heap" -> heap = v;
        case "--parallel" -> parallel = Integer.parseInt(v);
        case "--deadline" -> deadline = Integer.parseInt(v);
        case "--profile" -> profiles.add(v);
        case "--rate-mbit" -> rateMbit = Long.parseLong(v);
        case "--out" -> out = Path.of(v);
        case "--work" -> work = Path.of(v);
        case "--server-arg" -> serverArgs.add(v);
        default -> throw new IllegalArgumentException("unknown argument: " + a);
      }
    }
    return new Options(
        groups,
        size,
        valueBytes,
        clients,
        warmup,
        baseline,
        after,
        heap,
        parallel,
        deadline,
        profiles.isEmpty() ? List.of("unshaped") : profiles,
        rateMbit * 1_000_000,
        out,
        work != null ? work : out.resolve("work"),
        serverArgs);
  }

  /** Runs the benchmark and prints the report; exits 1 if a step failed. */
  public static void main(String[] args) throws Exception {
    Options o = parse(args);
    ReplacementResults r =
        new ReplacementResults(
            o.out(), "NodeReplacementBenchmark " + String.join(" ", args), o.asMap());
    r.write();
    for (String profile : o.profiles()) {
      runProfile(o, profile, r);
    }
    r.machine().put("loadavg_end", Procfs.loadAverage());
    r.write();
    System.out.println(r.markdown());
    System.out.println("results in " + o.out().toAbsolutePath());
    System.exit(r.errors().isEmpty() ? 0 : 1);
  }

  /** One profile: its network, the link probe, then every G; failures are recorded. */
  private static void runProfile(Options o, String profile, ReplacementResults r)
      throws IOException {
    boolean shaped = profile.equals("shaped");
    ChaosLock lock = null;
    ShapedNet net = null;
    try {
      if (shaped) {
        lock = ChaosLock.acquire(ChaosLock.defaultFile(), Duration.ofMinutes(30));
        net = ShapedNet.create(NODES + 1, lock);
        if (!net.namespaces()) {
          throw new IOException("the shaped profile needs root, iproute2 and tc");
        }
      } else {
        net = ShapedNet.loopback(NODES + 1);
      }
      long bits = shaped ? o.rateBits() : 0;
      net.shape(bits);
      List<String> java = javaCommand();
      try {
        r.linkRate(profile, net.probe(bits, 1, NODES + 1, java) / 8);
      } catch (IOException | RuntimeException e) {
        r.error(profile + ": link probe", e);
      }
      net.shape(0);
      r.write();
      for (int g : o.groups()) {
        Map<String, Object> row = r.newRow(profile, g);
        try {
          oneG(o, g, net, bits, row, r);
        } catch (Exception | OutOfMemoryError e) {
          r.error(profile + " G=" + g, e);
          row.put("error", String.valueOf(e));
        } finally {
          net.shape(0);
          r.write();
        }
      }
    } catch (Exception e) {
      r.error(profile + ": network", e);
    } finally {
      if (net != null) {
        net.close();
      }
      if (lock != null) {
        lock.close();
      }
      r.write();
    }
  }

  private static List<String> javaCommand() {
    return new ArrayList<>(
        List.of(
            Path.of(System.getProperty("java.home"), "bin", "java").toString(),
            "-Xmx64m",
            "-cp",
            System.getProperty("java.class.path")));
  }

  /** Peers n1..n7: loopback ports, or one address per namespace with fixed ports. */
  private static List<PeerAddress> peers(ShapedNet net) throws IOException {
    if (!net.namespaces()) {
      return ProcessCluster.loopbackPeers(NODES + 1);
    }
    List<PeerAddress> out = new ArrayList<>();
    for (int i = 1; i <= NODES + 1; i++) {
      out.add(new PeerAddress("n" + i, net.host(i), 9100, 9101));
    }
    return out;
  }

  /**
   * The layout: G ranges split evenly over the key space, placed on n1..n6 at replication 3, with
   * n7 a node of the map that hosts nothing.
   */
  static ClusterLayout layout(String cluster, List<PeerAddress> peers, KeySpace keys, int groups) {
    ClusterLayout six =
        ClusterLayout.create(cluster, peers.subList(0, NODES), keys.splitKeys(groups), 3);
    return new ClusterLayout(cluster, 1, 3, peers, six.ranges());
  }

  /** The replaced node: range 0's second replica (a node holding a replica for every G). */
  static String replaced(ClusterLayout layout) {
    return layout.range(0).replicas().get(1);
  }

  private static void oneG(
      Options o, int g, ShapedNet net, long bits, Map<String, Object> row, ReplacementResults r)
      throws Exception {
    Path work = o.work().resolve(row.get("profile") + "-g" + g);
    Files.createDirectories(work);
    KeySpace keys = KeySpace.ofSize(o.sizeBytes(), o.valueBytes());
    String cluster = "repl" + Long.toHexString(ThreadLocalRandom.current().nextLong() & 0xffffff);
    ClusterLayout layout = layout(cluster, peers(net), keys, g);
    Path mapFile = work.resolve("cluster.map");
    layout.write(mapFile);
    String dead = replaced(layout);
    PeerAddress target = layout.nodes().get(NODES);
    List<Range> affected = Replacement.affected(layout, dead);
    long state = keys.keys() * (KeySpace.KEY_BYTES + keys.valueBytes());
    row.put("state_bytes", state);
    row.put("state_bytes_per_group", state / g);
    row.put("replaced", dead);
    row.put("new_node", target.id());
    row.put("groups_moved", affected.size());
    long written = 0;
    for (Range rg : affected) {
      written += keys.stateBytesOf(rg.index(), g);
    }
    row.put("state_bytes_of_moved_groups", written);
    row.put("loadavg_start", Procfs.loadAverage());
    r.write();
    long t0 = System.nanoTime();
    Path dir = work.resolve("nodes");
    ProcessCluster c =
        ProcessCluster.builder(dir, NODES + 1)
            .map(mapFile)
            .heap("-Xmx" + o.heap())
            .launcher(
                (id, cmd, env) -> {
                  MoveUnderLoadBenchmark.nodeCommand(cmd, dir.resolve(id + "-gc.log"));
                  net.place(Integer.parseInt(id.substring(1)), cmd);
                })
            .serverArgs(o.serverArgs().toArray(String[]::new))
            .start(START);
    try {
      row.put("cluster_start_s", (System.nanoTime() - t0) / 1e9);
      r.write();
      double preload = MoveUnderLoadBenchmark.preload(keys, g, mapFile);
      row.put("preload_s", preload);
      r.write();
      net.shape(bits);
      Map<String, Long> pids = new LinkedHashMap<>();
      c.peers().forEach(p -> pids.put(p.id(), c.pid(p.id())));
      pids.put("benchmark", ProcessHandle.current().pid());
      try (CpuSampler cpu = new CpuSampler(pids)) {
        underLoad(o, layout, mapFile, keys, c, dead, target, cpu, row, r);
      }
    } finally {
      try {
        c.stopAll();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      } catch (RuntimeException e) {
        r.error("stopping the nodes", e);
      } finally {
        c.close();
      }
    }
  }

  private static void underLoad(
      Options o,
      ClusterLayout layout,
      Path mapFile,
      KeySpace keys,
      ProcessCluster c,
      String dead,
      PeerAddress target,
      CpuSampler cpu,
      Map<String, Object> row,
      ReplacementResults r)
      throws Exception {
    RoutedLoad load = new RoutedLoad(keys, o.clients());
    load.start(
        () -> {
          try {
            return RoutingKvClient.connect(StaticClusterMap.read(mapFile), CLIENT_TIMEOUT);
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        });
    long measureFrom = System.nanoTime() + o.warmupSeconds() * 1_000_000_000L;
    long start = 0;
    long end = 0;
    try {
      MoveUnderLoadBenchmark.awaitNodes(c, measureFrom + o.baselineSeconds() * 1_000_000_000L);
      Map<String, Double> servedBefore = served(c, row);
      row.put("loadavg_replacement_start", Procfs.loadAverage());
      start = System.nanoTime();
      long zero = start;
      c.kill(dead);
      List<String> steps = java.util.Collections.synchronizedList(new ArrayList<>());
      row.put("steps", steps);
      SourceActivity activity = new SourceActivity();
      List<Replacement.GroupMove> moves;
      Sampler sampler = new Sampler(c, target.id(), activity);
      try {
        moves = replace(o, mapFile, dead, target, c, zero, steps, row);
      } finally {
        sampler.close();
      }
      end = System.nanoTime();
      row.put("loadavg_replacement_end", Procfs.loadAverage());
      row.put("replacement_s", (end - start) / 1e9);
      recordMoves(moves, row);
      row.put("sources_distinct", activity.distinct());
      row.put("sources_max_at_once", activity.maxAtOnce());
      row.put("bytes_flowing_s", activity.activeSeconds());
      row.put("received_per_source_sampled", activity.received());
      row.put("sources_timeline", activity.timeline(start));
      r.write();
      afterFigures(c, layout, dead, target.id(), servedBefore, row);
      r.write();
      MoveUnderLoadBenchmark.awaitNodes(c, end + o.afterSeconds() * 1_000_000_000L, dead);
    } finally {
      long loadEnd = System.nanoTime();
      try {
        load.stop();
      } catch (IOException e) {
        r.error("stopping the clients", e);
      }
      if (end > start && start >= measureFrom) {
        loadFigures(load, cpu, measureFrom, start, end, loadEnd, row);
      } else {
        row.put("load_note", "the load ran out before the replacement, no windows");
      }
    }
  }

  /**
   * Replaces {@code dead} by {@code target} with {@link NodeMoves#replace} on the benchmark's
   * static map (priority {@code REPAIR}, {@code --parallel} moves at once, each with {@code
   * --deadline}); blocks until every move ended. If a move failed, the replacement runs once more,
   * on the first pass's {@link NodeMoves.Result#layout} (so only the moves still to do), and each
   * failed pass counts in the group's {@code failedTries}. {@code NodeMoves} itself tries a move
   * that could not reach a node again, up to 5 times (its step lines say so). The map file is not
   * rewritten: the clients read it once at their start and never see a newer version.
   *
   * @param steps receives {@code "N ms: group: line"} lines, from the moves' threads
   * @throws IOException if the first pass failed before or outside its moves (e.g. interrupted)
   */
  private static List<Replacement.GroupMove> replace(
      Options o,
      Path mapFile,
      String dead,
      PeerAddress target,
      ProcessCluster c,
      long zero,
      List<String> steps,
      Map<String, Object> row)
      throws IOException {
    Consumer<String> lines =
        line -> steps.add((System.nanoTime() - zero) / 1_000_000 + " ms: " + line);
    Replacement.Recorder recorder = new Replacement.Recorder(zero, System::nanoTime, lines);
    NodeMoves.Options options =
        NodeMoves.Options.of(c.secret())
            .withParallelism(o.parallel())
            .withDeadline(Duration.ofSeconds(o.deadlineSeconds()));
    List<NodeMoves.Result> passes = new ArrayList<>();
    passes.add(NodeMoves.replace(StaticClusterMap.read(mapFile), dead, target, options, recorder));
    List<NodeMoves.GroupProgress> failed = passes.get(0).failed();
    if (!failed.isEmpty()) {
      lines.accept(failed.size() + " moves failed; running the replacement once more");
      try {
        passes.add(
            NodeMoves.replace(
                StaticClusterMap.of(passes.get(0).layout()), dead, target, options, recorder));
      } catch (IOException | RuntimeException e) {
        lines.accept("the second pass failed: " + e);
        row.put("second_pass_error", String.valueOf(e));
      }
    }
    row.put("passes", passes.size());
    return recorder.moves(passes);
  }

  private static void recordMoves(List<Replacement.GroupMove> moves, Map<String, Object> row) {
    List<Map<String, Object>> out = new ArrayList<>();
    List<String> failed = new ArrayList<>();
    List<String> retried = new ArrayList<>();
    for (Replacement.GroupMove m : moves) {
      Map<String, Object> x = new LinkedHashMap<>();
      x.put("group", m.group());
      x.put("done_s", m.seconds());
      if (!m.bytesPerSource().isEmpty()) {
        x.put("bytes_per_source", m.bytesPerSource());
      }
      if (!m.failedTries().isEmpty()) {
        x.put("failed_tries", m.failedTries());
        retried.add(m.group());
      }
      if (!m.error().isEmpty()) {
        x.put("error", m.error());
        failed.add(m.group() + ": " + m.error());
      }
      out.add(x);
    }
    row.put("moves", out);
    row.put("moves_failed", failed);
    row.put("moves_tried_again", retried);
  }

  /** Each live node's chunk service bytes served so far. */
  private static Map<String, Double> served(ProcessCluster c, Map<String, Object> row) {
    Map<String, Double> out = new TreeMap<>();
    for (PeerAddress p : c.peers()) {
      if (!c.isAlive(p.id())) {
        continue;
      }
      try {
        out.put(
            p.id(),
            Scrape.of(c.metricsAddress(p.id()))
                .value("ferry_chunk_served_bytes_total", Map.of())
                .orElse(0));
      } catch (IOException | RuntimeException e) {
        row.put("scrape_error_" + p.id(), String.valueOf(e));
      }
    }
    return out;
  }

  /**
   * From the new node's metrics after the replacement: its installed snapshots' raw sizes (the
   * state re-created), the fetched bytes per source (the wire), and what each node served.
   */
  private static void afterFigures(
      ProcessCluster c,
      ClusterLayout layout,
      String dead,
      String target,
      Map<String, Double> servedBefore,
      Map<String, Object> row)
      throws IOException {
    Scrape t = Scrape.of(c.metricsAddress(target));
    long recreated = 0;
    Map<String, Long> perGroup = new TreeMap<>();
    for (Range rg : Replacement.affected(layout, dead)) {
      long b = (long) t.value("ferry_snapshot_size_bytes", Map.of("group", rg.group())).orElse(0);
      perGroup.put(rg.group(), b);
      recreated += b;
    }
    row.put("recreated_bytes", recreated);
    row.put("recreated_bytes_per_group", perGroup);
    Map<String, Long> fetched = new TreeMap<>();
    for (Scrape.Sample s : t.samples()) {
      if (s.name().equals("ferry_install_fetched_bytes_total")) {
        fetched.merge(s.labels().get("source"), (long) s.value(), Long::sum);
      }
    }
    row.put("wire_bytes_per_source", fetched);
    row.put("wire_bytes", fetched.values().stream().mapToLong(Long::longValue).sum());
    Map<String, Double> servedAfter = served(c, row);
    Map<String, Long> served = new TreeMap<>();
    servedAfter.forEach(
        (id, v) -> {
          long d = (long) (v - servedBefore.getOrDefault(id, 0.0));
          if (d > 0) {
            served.put(id, d);
          }
        });
    row.put("served_bytes_per_node", served);
  }

  private static void loadFigures(
      RoutedLoad load,
      CpuSampler cpu,
      long measureFrom,
      long start,
      long end,
      long loadEnd,
      Map<String, Object> row) {
    long[][] w = MoveResults.windows(measureFrom, start, end, loadEnd);
    String[] names = {"before", "during", "after"};
    Map<String, Object> l = new LinkedHashMap<>();
    for (int i = 0; i < 3; i++) {
      if (w[i] != null && w[i][1] > w[i][0]) {
        Map<String, Object> f =
            MoveResults.figures(load.window(w[i][0], w[i][1]), load.failures(w[i][0], w[i][1]));
        f.put("cpu_cores", cpu.cores(w[i][0], w[i][1]));
        l.put(names[i], f);
      }
    }
    l.put("failure_kinds", load.failureKinds());
    l.put(
        "per_second_from_start", MoveResults.timeline(load.records(), start, measureFrom, loadEnd));
    row.put("load", l);
  }

  /**
   * Samples the new node's fetched bytes per source (summed over its groups) every second on a
   * thread of its own, into a {@link SourceActivity}, until closed (one last sample then).
   */
  private static final class Sampler implements AutoCloseable {
    private final ProcessCluster c;
    private final String node;
    private final SourceActivity activity;
    private final Thread thread;
    private volatile boolean running = true;

    Sampler(ProcessCluster c, String node, SourceActivity activity) {
      this.c = c;
      this.node = node;
      this.activity = activity;
      sample();
      this.thread = new Thread(this::loop, "source-sampler");
      thread.setDaemon(true);
      thread.start();
    }

    private void loop() {
      while (running) {
        try {
          Thread.sleep(SAMPLE_MILLIS);
        } catch (InterruptedException e) {
          return;
        }
        sample();
      }
    }

    private synchronized void sample() {
      long at = System.nanoTime();
      try {
        Map<String, Long> bytes = new TreeMap<>();
        for (Scrape.Sample s : Scrape.of(c.metricsAddress(node)).samples()) {
          if (s.name().equals("ferry_install_fetched_bytes_total")) {
            bytes.merge(s.labels().get("source"), (long) s.value(), Long::sum);
          }
        }
        activity.add(at, bytes);
      } catch (IOException | RuntimeException e) {
        // A missed sample merges two intervals; the next one goes on.
      }
    }

    @Override
    public void close() {
      running = false;
      thread.interrupt();
      try {
        thread.join(10_000);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      sample();
    }
  }
}
