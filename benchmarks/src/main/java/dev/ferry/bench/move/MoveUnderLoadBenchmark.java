package dev.ferry.bench.move;

import dev.ferry.bench.Procfs;
import dev.ferry.bench.Scrape;
import dev.ferry.kv.cluster.ProcessCluster;
import dev.ferry.kv.cluster.ShardStatus;
import dev.ferry.kv.shard.ClusterLayout;
import dev.ferry.kv.shard.Range;
import dev.ferry.kv.shard.RoutingKvClient;
import dev.ferry.kv.shard.StaticClusterMap;
import dev.ferry.raft.ClusterSecret;
import dev.ferry.raft.admin.AddProgress;
import dev.ferry.raft.admin.AddResult;
import dev.ferry.raft.admin.ReplicaMover;
import dev.ferry.raft.admin.ReplicaMover.MoveRequest;
import dev.ferry.raft.admin.ReplicaMover.MoveResult;
import dev.ferry.shipping.PeerAddress;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Issue 18's "move under load": a sharded cluster of {@code ferry server --map} processes ({@link
 * ProcessCluster}, each node its own JVM with the heap given), {@code --ranges} ranges at
 * replication 3 holding {@code --size} of state spread evenly over them; {@code --clients} client
 * threads, each with its own {@link RoutingKvClient}, put values to random keys across all ranges;
 * after a warm-up and a baseline, one replica of one range moves ({@link ReplicaMover}: from a
 * follower holding the range to a node that does not). Measured: the move's wall time and its
 * phases (the {@link AddResult}, the steps as the mover reports them), the bytes the target
 * received (per source, from the {@link AddResult} and from its {@code /metrics}) against the
 * range's state (the keys written to it, and the target's installed snapshot's size), and the
 * clients' puts per second, p99 latency and failures in the move and in a window of the same length
 * just before it (and just after it).
 *
 * <p>Usage: {@code MoveUnderLoadBenchmark [--nodes 4] [--ranges 8] [--size 256m] [--value-bytes
 * 1024] [--clients 16] [--warmup 15] [--baseline 60] [--after 30] [--heap 2g] [--range R] [--from
 * leader|follower] [--deadline 600] [--out DIR] [--work DIR] [--server-arg ARG]...}; sizes take
 * k/m/g suffixes (powers of 1024), times are seconds. Writes {@code DIR/results.json} and {@code
 * DIR/results.md} after every step, so a failure keeps what was measured before it; a step that
 * fails is recorded with its error. Exits 1 if a step failed.
 */
public final class MoveUnderLoadBenchmark {
  private static final Duration START = Duration.ofSeconds(180);
  private static final Duration CLIENT_TIMEOUT = Duration.ofSeconds(30);
  private static final int PRELOAD_BATCH_BYTES = 512 << 10;
  private static final int PRELOAD_THREADS = 4;

  /** The run's settings. */
  record Options(
      int nodes,
      int ranges,
      long sizeBytes,
      int valueBytes,
      int clients,
      int warmupSeconds,
      int baselineSeconds,
      int afterSeconds,
      String heap,
      int range,
      boolean fromLeader,
      int deadlineSeconds,
      Path out,
      Path work,
      List<String> serverArgs) {
    Options {
      serverArgs = List.copyOf(serverArgs);
      if (nodes < 4) {
        throw new IllegalArgumentException(
            "--nodes must be >= 4 (replication 3 and a node without the range): " + nodes);
      }
      if (ranges < 1 || range < -1 || range >= ranges) {
        throw new IllegalArgumentException(
            "--ranges must be >= 1 and --range in 0.." + (ranges - 1) + ": " + range);
      }
      if (clients < 1 || valueBytes < 1 || sizeBytes < 1 || deadlineSeconds < 1) {
        throw new IllegalArgumentException(
            "--clients, --value-bytes, --size and --deadline must be positive");
      }
      if (warmupSeconds < 0 || baselineSeconds < 1 || afterSeconds < 0) {
        throw new IllegalArgumentException(
            "--warmup and --after must be >= 0, --baseline >= 1 second");
      }
    }

    /** The moved range: {@code --range}, else the middle one. */
    int movedRange() {
      return range >= 0 ? range : ranges / 2;
    }

    Map<String, Object> asMap() {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("nodes", nodes);
      m.put("ranges", ranges);
      m.put("replication", 3);
      m.put("size_bytes", sizeBytes);
      m.put("value_bytes", valueBytes);
      m.put("clients", clients);
      m.put("warmup_s", warmupSeconds);
      m.put("baseline_s", baselineSeconds);
      m.put("after_s", afterSeconds);
      m.put("node_jvm", "-Xmx" + heap + ", default collector, full JIT");
      m.put("moved_range", movedRange());
      m.put("from", fromLeader ? "leader" : "follower");
      m.put("deadline_s", deadlineSeconds);
      m.put("server_args", serverArgs);
      return m;
    }
  }

  private MoveUnderLoadBenchmark() {}

  /** Parses the command line (see the class comment). */
  static Options parse(String[] args) {
    int nodes = 4;
    int ranges = 8;
    long size = 256L << 20;
    int valueBytes = 1024;
    int clients = 16;
    int warmup = 15;
    int baseline = 60;
    int after = 30;
    String heap = "2g";
    int range = -1;
    boolean fromLeader = false;
    int deadline = 600;
    Path out = Path.of("move-results");
    Path work = null;
    List<String> serverArgs = new ArrayList<>();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (i + 1 >= args.length) {
        throw new IllegalArgumentException(a + " needs a value");
      }
      String v = args[++i];
      switch (a) {
        case "--nodes" -> nodes = Integer.parseInt(v);
        case "--ranges" -> ranges = Integer.parseInt(v);
        case "--size" -> size = bytes(v);
        case "--value-bytes" -> valueBytes = Math.toIntExact(bytes(v));
        case "--clients" -> clients = Integer.parseInt(v);
        case "--warmup" -> warmup = Integer.parseInt(v);
        case "--baseline" -> baseline = Integer.parseInt(v);
        case "--after" -> after = Integer.parseInt(v);
        case "--heap" -> heap = v;
        case "--range" -> range = Integer.parseInt(v);
        case "--from" -> {
          if (!v.equals("leader") && !v.equals("follower")) {
            throw new IllegalArgumentException("--from is leader or follower: " + v);
          }
          fromLeader = v.equals("leader");
        }
        case "--deadline" -> deadline = Integer.parseInt(v);
        case "--out" -> out = Path.of(v);
        case "--work" -> work = Path.of(v);
        case "--server-arg" -> serverArgs.add(v);
        default -> throw new IllegalArgumentException("unknown argument: " + a);
      }
    }
    return new Options(
        nodes,
        ranges,
        size,
        valueBytes,
        clients,
        warmup,
        baseline,
        after,
        heap,
        range,
        fromLeader,
        deadline,
        out,
        work != null ? work : out.resolve("work"),
        serverArgs);
  }

  /** A size: a number of bytes with an optional k, m or g suffix (powers of 1024). */
  public static long bytes(String s) {
    String t = s.strip().toLowerCase(Locale.ROOT);
    int shift =
        switch (t.isEmpty() ? ' ' : t.charAt(t.length() - 1)) {
          case 'k' -> 10;
          case 'm' -> 20;
          case 'g' -> 30;
          default -> 0;
        };
    long n = Long.parseLong(shift == 0 ? t : t.substring(0, t.length() - 1));
    if (n < 1) {
      throw new IllegalArgumentException("a size must be positive: " + s);
    }
    return Math.multiplyExact(n, 1L << shift);
  }

  /** Runs the benchmark and prints the report; exits 1 if a step failed. */
  public static void main(String[] args) throws Exception {
    Options o = parse(args);
    MoveResults r = run(o, "MoveUnderLoadBenchmark " + String.join(" ", args));
    System.out.println(r.markdown());
    System.out.println("results in " + o.out().toAbsolutePath());
    System.exit(r.errors().isEmpty() ? 0 : 1);
  }

  /**
   * Runs every step, writing the results after each; never throws for a failed step (its error is
   * in the results), nor for a failure to clean up.
   *
   * @throws IOException only if the results cannot be written
   */
  static MoveResults run(Options o, String command) throws IOException {
    MoveResults r = new MoveResults(o.out(), command, o.asMap());
    r.write();
    try {
      Files.createDirectories(o.work());
      KeySpace keys = KeySpace.ofSize(o.sizeBytes(), o.valueBytes());
      List<PeerAddress> nodes = ProcessCluster.loopbackPeers(o.nodes());
      String cluster = "move" + Long.toHexString(ThreadLocalRandom.current().nextLong() & 0xffffff);
      ClusterLayout layout = ClusterLayout.create(cluster, nodes, keys.splitKeys(o.ranges()), 3);
      Path mapFile = o.work().resolve("cluster.map");
      layout.write(mapFile);
      r.setup().put("cluster", cluster);
      r.setup().put("keys", keys.keys());
      r.setup().put("state_bytes", keys.keys() * (KeySpace.KEY_BYTES + keys.valueBytes()));
      r.setup().put("map", layout.format());
      inCluster(o, keys, layout, mapFile, r);
    } catch (Exception | OutOfMemoryError e) {
      r.error("run (cluster, preload or load)", e);
    } finally {
      r.machine().put("loadavg_end", Procfs.loadAverage());
      r.write();
    }
    return r;
  }

  private static void inCluster(
      Options o, KeySpace keys, ClusterLayout layout, Path mapFile, MoveResults r)
      throws Exception {
    long t0 = System.nanoTime();
    Path dir = o.work().resolve("nodes");
    ProcessCluster c =
        ProcessCluster.builder(dir, o.nodes())
            .map(mapFile)
            .heap("-Xmx" + o.heap())
            .launcher((id, cmd, env) -> nodeCommand(cmd, dir.resolve(id + "-gc.log")))
            .serverArgs(o.serverArgs().toArray(String[]::new))
            .start(START);
    try {
      r.setup().put("cluster_start_s", (System.nanoTime() - t0) / 1e9);
      r.setup().put("node_pids", pids(c));
      r.write();
      preload(o, keys, mapFile, r);
      r.write();
      measure(o, keys, layout, mapFile, c, r);
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

  private static Map<String, Long> pids(ProcessCluster c) {
    Map<String, Long> m = new LinkedHashMap<>();
    c.peers().forEach(p -> m.put(p.id(), c.pid(p.id())));
    return m;
  }

  /**
   * Turns {@code ProcessCluster}'s node command into the one a user runs: the JVM's default
   * collector and full JIT (its test flags removed), the heap as given, and a GC log.
   */
  public static void nodeCommand(List<String> cmd, Path gcLog) throws IOException {
    if (!cmd.contains("dev.ferry.kv.cli.FerryCli")) {
      throw new IOException("unexpected node command (ProcessCluster changed?): " + cmd);
    }
    cmd.removeAll(List.of("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss512k"));
    cmd.add(1, "-Xlog:gc:file=" + gcLog);
  }

  /** Writes every key once and records how long it took. */
  private static void preload(Options o, KeySpace keys, Path mapFile, MoveResults r)
      throws Exception {
    r.machine().put("loadavg_preload_start", Procfs.loadAverage());
    double s = preload(keys, o.ranges(), mapFile);
    r.setup().put("preload_s", s);
    r.setup()
        .put("preload_mb_per_s", keys.keys() * (KeySpace.KEY_BYTES + keys.valueBytes()) / s / 1e6);
  }

  /**
   * Writes every key of {@code keys} once, range by range (of {@code ranges} even ranges) in
   * batches of about 512 KiB, from 4 threads each with its own {@link RoutingKvClient} over the map
   * in {@code mapFile}. Blocks until done.
   *
   * @return the seconds it took
   * @throws Exception the first failure of a writer
   */
  public static double preload(KeySpace keys, int ranges, Path mapFile) throws Exception {
    long t0 = System.nanoTime();
    int batch = Math.max(1, PRELOAD_BATCH_BYTES / (KeySpace.KEY_BYTES + keys.valueBytes()));
    ExecutorService pool = Executors.newFixedThreadPool(PRELOAD_THREADS);
    try {
      List<Future<?>> done = new ArrayList<>();
      for (int t = 0; t < PRELOAD_THREADS; t++) {
        int thread = t;
        done.add(
            pool.submit(
                () -> {
                  SplittableRandom random = new SplittableRandom(thread);
                  try (RoutingKvClient kv =
                      RoutingKvClient.connect(StaticClusterMap.read(mapFile), CLIENT_TIMEOUT)) {
                    // Thread t writes ranges t, t + threads, ...: each batch is one range's
                    // command.
                    for (int rg = thread; rg < ranges; rg += PRELOAD_THREADS) {
                      long end = keys.firstOf(rg + 1, ranges);
                      List<byte[][]> b = new ArrayList<>(batch);
                      for (long k = keys.firstOf(rg, ranges); k < end; k++) {
                        b.add(new byte[][] {keys.key(k), keys.value(random)});
                        if (b.size() == batch || k == end - 1) {
                          kv.putAll(b);
                          b = new ArrayList<>(batch);
                        }
                      }
                    }
                  }
                  return null;
                }));
      }
      for (Future<?> f : done) {
        f.get();
      }
    } finally {
      pool.shutdownNow();
    }
    return (System.nanoTime() - t0) / 1e9;
  }

  /** The load, the move under it, and what both measured. */
  private static void measure(
      Options o, KeySpace keys, ClusterLayout layout, Path mapFile, ProcessCluster c, MoveResults r)
      throws Exception {
    Range range = layout.range(o.movedRange());
    ClusterSecret secret = c.secret();
    ShardStatus.GroupView view = ShardStatus.group(layout, range, secret, Duration.ofSeconds(60));
    String leader = view.leader();
    String from =
        o.fromLeader()
            ? leader
            : view.voters().stream().filter(v -> !v.equals(leader)).findFirst().orElseThrow();
    PeerAddress to =
        layout.nodes().stream()
            .filter(n -> !range.replicas().contains(n.id()))
            .findFirst()
            .orElseThrow();
    Map<String, Object> m = r.move();
    m.put("group", range.group());
    m.put("from", from);
    m.put("to", to.id());
    m.put("leader_before", leader);
    m.put("voters_before", view.voters());
    m.put("state_bytes_of_range", keys.stateBytesOf(range.index(), o.ranges()));
    r.write();

    Map<String, Long> pids = pids(c);
    pids.put("benchmark", ProcessHandle.current().pid());
    try (CpuSampler cpu = new CpuSampler(pids)) {
      underLoad(o, keys, layout, mapFile, c, r, from, to, cpu);
    }
  }

  /** The load, the move under it, and the figures of both. */
  private static void underLoad(
      Options o,
      KeySpace keys,
      ClusterLayout layout,
      Path mapFile,
      ProcessCluster c,
      MoveResults r,
      String from,
      PeerAddress to,
      CpuSampler cpu)
      throws Exception {
    Range range = layout.range(o.movedRange());
    Map<String, Object> m = r.move();
    ClusterSecret secret = c.secret();
    RoutedLoad load = new RoutedLoad(keys, o.clients());
    load.start(
        () -> {
          try {
            return RoutingKvClient.connect(StaticClusterMap.read(mapFile), CLIENT_TIMEOUT);
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        });
    long loadStart = System.nanoTime();
    long measureFrom = loadStart + o.warmupSeconds() * 1_000_000_000L;
    long moveStart = 0;
    long moveEnd = 0;
    try {
      awaitNodes(c, measureFrom + o.baselineSeconds() * 1_000_000_000L);
      Map<String, Scrape> before = scrapeAll(c, r, "scrape before the move");
      r.machine().put("loadavg_move_start", Procfs.loadAverage());
      moveStart = System.nanoTime();
      try {
        move(
            secret,
            new MoveRequest(
                range.group(),
                layout.peers(range),
                from,
                to,
                Duration.ofSeconds(o.deadlineSeconds())),
            moveStart,
            m);
      } catch (Exception e) {
        r.error("move", e);
      }
      moveEnd = System.nanoTime();
      r.machine().put("loadavg_move_end", Procfs.loadAverage());
      m.put("move_s", (moveEnd - moveStart) / 1e9);
      r.write();
      Map<String, Scrape> after = scrapeAll(c, r, "scrape after the move");
      transferFigures(range.group(), to.id(), before, after, m);
      r.write();
      awaitNodes(c, moveEnd + o.afterSeconds() * 1_000_000_000L);
    } finally {
      long loadEnd = System.nanoTime();
      try {
        load.stop();
      } catch (IOException e) {
        r.error("stopping the clients", e);
      }
      if (moveEnd > moveStart && moveStart >= measureFrom) {
        loadFigures(load, cpu, measureFrom, moveStart, moveEnd, loadEnd, r.load());
      } else {
        r.load().put("note", "the load ran out before the move, no windows");
      }
    }
  }

  /** Sleeps until {@code until} (nanoTime), failing at once if a node exits. */
  public static void awaitNodes(ProcessCluster c, long until)
      throws IOException, InterruptedException {
    awaitNodes(c, until, null);
  }

  /**
   * Sleeps until {@code until} (nanoTime), failing at once if a node other than {@code gone} (a
   * node stopped on purpose; null: none) exits.
   */
  public static void awaitNodes(ProcessCluster c, long until, String gone)
      throws IOException, InterruptedException {
    while (true) {
      for (PeerAddress p : c.peers()) {
        if (!p.id().equals(gone) && !c.isAlive(p.id())) {
          throw new IOException(p.id() + " exited; log:\n" + c.tail(p.id(), 30));
        }
      }
      long left = until - System.nanoTime();
      if (left <= 0) {
        return;
      }
      Thread.sleep(Math.min(1000, left / 1_000_000 + 1));
    }
  }

  /** Runs the move, recording its steps, phases and result into {@code m} as they come. */
  private static void move(ClusterSecret secret, MoveRequest req, long start, Map<String, Object> m)
      throws IOException {
    List<String> steps = new ArrayList<>();
    Map<String, Long> install = new LinkedHashMap<>();
    m.put("steps", steps);
    m.put("install_progress_max", install);
    ReplicaMover.Listener listener =
        new ReplicaMover.Listener() {
          private AddProgress.Phase phase;

          @Override
          public void step(String line) {
            steps.add(at(start) + " ms: " + line);
          }

          @Override
          public void progress(AddProgress p) {
            if (p.phase() != phase) {
              phase = p.phase();
              steps.add(at(start) + " ms: phase " + phase);
            }
            p.install()
                .ifPresent(
                    i -> {
                      install.merge("bytes_wanted", i.bytesWanted(), Math::max);
                      install.merge("bytes_done", i.bytesDone(), Math::max);
                    });
          }
        };
    MoveResult res = ReplicaMover.builder(secret).build().move(req, listener);
    steps.add(at(start) + " ms: done, voters " + res.voters());
    m.put("voters_after", res.voters());
    m.put("mover_took_s", res.took().toNanos() / 1e9);
    res.added()
        .ifPresent(
            a -> {
              Map<String, Object> add = new LinkedHashMap<>();
              add.put("listener_added_s", a.listenerAdded().toNanos() / 1e9);
              add.put("caught_up_s", a.caughtUp().toNanos() / 1e9);
              add.put("verified_s", a.verifiedIn().toNanos() / 1e9);
              add.put("promoted_s", a.promoted().toNanos() / 1e9);
              add.put("total_s", a.total().toNanos() / 1e9);
              add.put("verified_digest_index", a.verified().index());
              add.put("bytes_per_source", new TreeMap<>(a.bytesShipped()));
              m.put("add", add);
              m.put("bytes_received", a.totalBytesShipped());
              m.put("sources", new ArrayList<>(new TreeMap<>(a.bytesShipped()).keySet()));
            });
    res.removed()
        .ifPresent(
            rm -> {
              Map<String, Object> remove = new LinkedHashMap<>();
              remove.put("outcome", rm.outcome().toString());
              remove.put("leadership_transferred", rm.leadershipTransferred());
              remove.put("leader_after", rm.leaderAfter());
              remove.put("s", rm.duration().toNanos() / 1e9);
              m.put("remove", remove);
            });
  }

  private static long at(long start) {
    return (System.nanoTime() - start) / 1_000_000;
  }

  private static Map<String, Scrape> scrapeAll(ProcessCluster c, MoveResults r, String step) {
    Map<String, Scrape> out = new LinkedHashMap<>();
    for (PeerAddress p : c.peers()) {
      try {
        out.put(p.id(), Scrape.of(c.metricsAddress(p.id())));
      } catch (IOException | RuntimeException e) {
        r.error(step + " of " + p.id(), e);
      }
    }
    return out;
  }

  /**
   * From the nodes' metrics: the target's fetched bytes per source, its install's phases and its
   * installed snapshot's size (the range's state as the target holds it), and the chunk bytes each
   * node's chunk service served during the move.
   */
  static void transferFigures(
      String group,
      String target,
      Map<String, Scrape> before,
      Map<String, Scrape> after,
      Map<String, Object> m) {
    Scrape t = after.get(target);
    if (t != null) {
      Map<String, Long> fetched = new TreeMap<>();
      Map<String, Double> phases = new LinkedHashMap<>();
      Map<String, Double> counters = new TreeMap<>();
      for (Scrape.Sample s : t.samples()) {
        if (!group.equals(s.labels().get("group"))) {
          continue;
        }
        if (s.name().equals("ferry_install_fetched_bytes_total")) {
          fetched.put(s.labels().get("source"), (long) s.value());
        } else if (s.name().equals("ferry_install_phase_seconds_sum")) {
          phases.put(s.labels().get("phase"), s.value());
        } else if (s.name().startsWith("ferry_install_")
            && s.name().endsWith("_total")
            && s.value() != 0) {
          counters.put(series(s), s.value());
        }
      }
      m.put("target_metrics_fetched_bytes_per_source", fetched);
      m.put(
          "target_metrics_fetched_bytes",
          fetched.values().stream().mapToLong(Long::longValue).sum());
      m.put("target_install_phases_s", phases);
      // Rebases, demoted sources, outcomes, bytes avoided (those not zero): why more than the
      // state may cross.
      m.put("target_install_counters", counters);
      t.value("ferry_snapshot_size_bytes", Map.of("group", group))
          .ifPresent(v -> m.put("target_snapshot_raw_bytes", (long) v));
      m.putIfAbsent("bytes_received", fetched.values().stream().mapToLong(Long::longValue).sum());
    }
    // The chunk service is the node's (one series per node, no group label): nothing else
    // installs during the move, so its growth is what the node served to the target.
    Map<String, Long> served = new TreeMap<>();
    after.forEach(
        (id, s) -> {
          Scrape b = before.get(id);
          double grew = served(s) - (b == null ? 0 : served(b));
          if (grew > 0) {
            served.put(id, (long) grew);
          }
        });
    m.put("served_bytes_per_node", served);
  }

  /** A series' name and its labels other than node and group, e.g. {@code x{reason=dedup}}. */
  private static String series(Scrape.Sample s) {
    Map<String, String> rest = new TreeMap<>(s.labels());
    rest.remove("node");
    rest.remove("group");
    return rest.isEmpty() ? s.name() : s.name() + rest;
  }

  private static double served(Scrape s) {
    return s.value("ferry_chunk_served_bytes_total", Map.of()).orElse(0);
  }

  /** The windows' figures and the second-by-second timeline. */
  private static void loadFigures(
      RoutedLoad load,
      CpuSampler cpu,
      long measureFrom,
      long moveStart,
      long moveEnd,
      long loadEnd,
      Map<String, Object> l) {
    long[][] w = MoveResults.windows(measureFrom, moveStart, moveEnd, loadEnd);
    String[] names = {"before", "during", "after"};
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
        "per_second_from_move_start",
        MoveResults.timeline(load.records(), moveStart, measureFrom, loadEnd));
  }
}
