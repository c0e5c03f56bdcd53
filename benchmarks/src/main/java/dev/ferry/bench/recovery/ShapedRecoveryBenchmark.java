package dev.ferry.bench.recovery;

import dev.ferry.bench.LoadWindow;
import dev.ferry.chaos.harness.ChaosLock;
import dev.ferry.chaos.harness.Shell;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The shaped, multi-process recovery benchmark (issue 12): every node of Ferry and of the Ratis
 * baseline is its own process in its own network namespace ({@link ShapedNet}), links shaped per
 * profile with {@code tc tbf} on each node's egress; an empty node joins each loaded cluster
 * (Ferry: {@code MembershipAdmin.addMember}; Ratis: {@code setConfiguration} and the leader-sent
 * install), measured from outside the processes: wall time, bytes on the wire (namespace counters),
 * the receiver's CPU seconds ({@code /proc/<pid>/stat}) and its heap after GC (its GC log). Without
 * root it runs on loopback, unshaped, and says so.
 *
 * <p>Usage: {@code ShapedRecoveryBenchmark [--size 64m] [--profiles unshaped,1gbit,100mbit]
 * [--repeat 3] [--scenarios cold,delta1,restart-delta1,foreground] [--out DIR] [--work DIR]
 * [--ratis-tuning k=v,...] [--fg-window SECONDS] [--fg-profiles unshaped,...] [--timeout SECONDS]}.
 * Writes {@code results.json} and {@code results.md} after every scenario and a PNG per join; exits
 * 1 if any scenario failed. See docs/benchmarks.md.
 */
public final class ShapedRecoveryBenchmark {
  /** Link profiles: name → bits/s (0: unshaped). */
  static final Map<String, Long> PROFILES =
      Map.of("unshaped", 0L, "1gbit", 1_000_000_000L, "100mbit", 100_000_000L);

  /** The scenarios that time a join, paired Ratis/Ferry for the ratios. */
  static final List<String> JOIN_KINDS = List.of("cold", "delta1", "restart-delta1");

  /** Every scenario, in the order each profile runs them. */
  static final List<String> KINDS = List.of("cold", "delta1", "restart-delta1", "foreground");

  /** Foreground puts before the measured "before" window that count in neither (JIT, clients). */
  static final Duration FG_WARMUP = Duration.ofSeconds(2);

  /** The tuning of the second Ratis run, as in the in-JVM benchmark's documented command. */
  static final String DEFAULT_TUNING =
      "raft.grpc.flow.control.window=32MB,raft.server.log.appender.snapshot.chunk.size.max=32MB";

  /** How long one join, catch-up or load step may take before its row fails (--timeout). */
  static final Duration DEFAULT_TIMEOUT = Duration.ofMinutes(20);

  /**
   * Every node JVM gives memory back after a collection (at most 30 % of its heap free): seven
   * loaded JVMs at 1 GiB would otherwise keep their high-water heaps and crowd the 24 GiB machine.
   */
  static final List<String> HEAP_SHRINK =
      List.of("-XX:MinHeapFreeRatio=10", "-XX:MaxHeapFreeRatio=30");

  private static final Pattern GC_AFTER =
      Pattern.compile("(\\d+)([KMG])->(\\d+)([KMG])\\((\\d+)([KMG])\\)");

  /** The run's settings. */
  record Options(
      long size,
      List<String> profiles,
      int repeat,
      Set<String> kinds,
      Path out,
      Path work,
      Map<String, String> tuning,
      double fgWindow,
      List<String> fgProfiles,
      Duration timeout,
      String command) {
    Options {
      if (timeout.isNegative() || timeout.isZero()) {
        throw new IllegalArgumentException("--timeout must be positive: " + timeout);
      }
      fgProfiles = fgProfiles == null ? List.copyOf(profiles) : List.copyOf(fgProfiles);
      if (!profiles.containsAll(fgProfiles)) {
        throw new IllegalArgumentException(
            "--fg-profiles " + fgProfiles + " must be among --profiles " + profiles);
      }
      if (!(fgWindow >= 0)) {
        throw new IllegalArgumentException("--fg-window must be >= 0 seconds: " + fgWindow);
      }
      for (String p : profiles) {
        if (!PROFILES.containsKey(p)) {
          throw new IllegalArgumentException(
              "unknown profile " + p + " (one of " + PROFILES.keySet() + ")");
        }
      }
      for (String k : kinds) {
        if (!KINDS.contains(k)) {
          throw new IllegalArgumentException(
              "unknown scenario " + k + " (implemented: " + KINDS + ")");
        }
      }
      if (repeat < 1) {
        throw new IllegalArgumentException("--repeat must be >= 1: " + repeat);
      }
    }
  }

  private ShapedRecoveryBenchmark() {}

  /** Runs the benchmark from the command line; exit status 1 if any scenario failed. */
  public static void main(String[] args) throws Exception {
    System.setProperty("java.awt.headless", "true");
    Options o = parse(args);
    ShapedResults r = run(o);
    System.out.println();
    System.out.println(r.table());
    System.out.println("Wrote " + o.out().toAbsolutePath());
    System.exit(r.failed() ? 1 : 0);
  }

  static Options parse(String[] args) {
    long size = 64L << 20;
    List<String> profiles = List.of("unshaped", "1gbit", "100mbit");
    int repeat = 3;
    Set<String> kinds = new LinkedHashSet<>(KINDS);
    Path out = Path.of("target/shaped");
    Path work = null;
    Map<String, String> tuning = parseTuning(DEFAULT_TUNING);
    double fgWindow = 0;
    List<String> fgProfiles = null;
    Duration timeout = DEFAULT_TIMEOUT;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--size" -> size = RecoveryBenchmark.parseSize(args[++i]);
        case "--profiles" -> profiles = List.of(args[++i].split(","));
        case "--repeat" -> repeat = Integer.parseInt(args[++i]);
        case "--scenarios" -> kinds = new LinkedHashSet<>(List.of(args[++i].split(",")));
        case "--out" -> out = Path.of(args[++i]);
        case "--work" -> work = Path.of(args[++i]);
        case "--ratis-tuning" -> tuning = parseTuning(args[++i]);
        case "--fg-window" -> fgWindow = Double.parseDouble(args[++i]);
        case "--fg-profiles" -> fgProfiles = List.of(args[++i].split(","));
        case "--timeout" -> timeout = Duration.ofSeconds(Long.parseLong(args[++i]));
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    return new Options(
        size,
        profiles,
        repeat,
        kinds,
        out,
        work == null ? out.resolve("work") : work,
        tuning,
        fgWindow,
        fgProfiles,
        timeout,
        "ShapedRecoveryBenchmark " + String.join(" ", args));
  }

  private static Map<String, String> parseTuning(String spec) {
    Map<String, String> t = new LinkedHashMap<>();
    for (String kv : spec.split(",")) {
      if (kv.isBlank()) {
        continue;
      }
      String[] p = kv.split("=", 2);
      if (p.length != 2) {
        throw new IllegalArgumentException("--ratis-tuning needs key=value pairs: " + kv);
      }
      t.put(p[0].trim(), p[1].trim());
    }
    return t;
  }

  /**
   * With {@code -Dferry.bench.jfr=true}: a JFR recording (the JDK's {@code profile} settings) in
   * every joiner, both systems alike, dumped beside its GC log ({@code <gc log>.jfr}) when the join
   * is measured, for a breakdown of the receiver's CPU. Off by default (about 1 % overhead).
   */
  static List<String> joinerProfile() {
    return Boolean.getBoolean("ferry.bench.jfr")
        ? List.of("-XX:StartFlightRecording=settings=profile")
        : List.of();
  }

  /**
   * With {@code -Dferry.bench.joinerGc="<JVM flags>"}: every joiner (both systems alike) runs with
   * these collector flags in place of the serial collector and {@link #HEAP_SHRINK}, e.g. {@code
   * -XX:+UseParallelGC} to see what the receiver's GC pauses cost. Empty by default.
   */
  static List<String> joinerGc() {
    String flags = System.getProperty("ferry.bench.joinerGc", "").strip();
    return flags.isEmpty() ? List.of() : List.of(flags.split("\\s+"));
  }

  /**
   * Puts {@link #joinerGc()}'s flags in place of the serial collector and {@link #HEAP_SHRINK} in
   * joiner command {@code cmd}, if any are set.
   */
  static void applyJoinerGc(List<String> cmd) {
    List<String> gc = joinerGc();
    if (!gc.isEmpty()) {
      cmd.removeIf(a -> a.equals("-XX:+UseSerialGC") || HEAP_SHRINK.contains(a));
      cmd.addAll(1, gc);
    }
  }

  /** A JVM command for a node: this JVM's java and classpath, serial GC, {@code -Xmx}. */
  static List<String> javaCommand(String xmx, Path gcLog) {
    List<String> cmd = new ArrayList<>();
    cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    cmd.addAll(List.of(xmx, "-XX:+UseSerialGC", "-Xss512k"));
    cmd.addAll(HEAP_SHRINK);
    if (gcLog != null) {
      cmd.addAll(joinerProfile());
      cmd.add("-Xlog:gc:file=" + gcLog);
      applyJoinerGc(cmd);
    }
    cmd.addAll(List.of("-cp", System.getProperty("java.class.path")));
    return cmd;
  }

  /**
   * Runs the benchmark: takes the chaos lock, builds the network, measures the link profiles,
   * starts and loads both clusters, and runs every join; writes the results after each.
   *
   * @throws IOException only if the run cannot start (lock, network, clusters, output directory)
   */
  static ShapedResults run(Options o) throws IOException {
    RecoveryBenchmark.deleteTree(o.work());
    Files.createDirectories(o.out());
    Files.createDirectories(o.work());
    ShapedResults results = new ShapedResults(o.out(), o.command(), o.size());
    try (ChaosLock lock = ChaosLock.acquire(ChaosLock.defaultFile(), Duration.ofMinutes(60));
        ShapedNet net = ShapedNet.create(8, lock)) {
      Thread cleanup = new Thread(net::close, "shaped-net-cleanup");
      Runtime.getRuntime().addShutdownHook(cleanup);
      try {
        new Run(o, net, results).go();
      } finally {
        try {
          Runtime.getRuntime().removeShutdownHook(cleanup);
        } catch (IllegalStateException shuttingDown) {
          // the hook runs anyway
        }
      }
    }
    results.write();
    return results;
  }

  /** One run: both clusters, every profile and join. */
  private static final class Run {
    private final Options o;
    private final ShapedNet net;
    private final ShapedResults results;
    private final StateGenerator gen;
    private final String voterHeap;
    private final String receiverHeap;
    private int deltas;

    Run(Options o, ShapedNet net, ShapedResults results) {
      this.o = o;
      this.net = net;
      this.results = results;
      this.gen = new StateGenerator(o.size(), dev.ferry.bench.BenchData.SEED);
      // Voters hold the state (about 1.2× its raw size in maps), build a new one beside it on an
      // install, and keep capture buffers: 3× plus a fixed 384 MiB.
      this.voterHeap = "-Xmx" + ((3 * o.size() >> 20) + 384) + "m";
      // The target: the join completes with 2.5× the state (at least 256 MiB: below that a
      // node's fixed needs, not the state, decide).
      this.receiverHeap = "-Xmx" + Math.max(256, (5 * o.size() / 2) >> 20) + "m";
    }

    void go() throws IOException {
      List<String> profiles = new ArrayList<>(o.profiles());
      results.meta("shaped", net.namespaces());
      results.meta("voter_heap", voterHeap);
      results.meta("receiver_heap", receiverHeap);
      Set<String> kinds = new LinkedHashSet<>(o.kinds());
      if (!net.namespaces()) {
        profiles.retainAll(List.of("unshaped"));
        kinds.retainAll(List.of("cold", "foreground"));
        System.out.println(
            "[shaped] loopback fallback: only the unshaped profile, cold joins and foreground run"
                + " (the deltas need namespaces for their partition and counters)");
      }
      for (String p : profiles) {
        try {
          results.linkRate(p, probe(PROFILES.get(p)), PROFILES.get(p));
        } catch (IOException | RuntimeException e) {
          results.linkRateFailed(p, e);
        }
      }
      net.shape(0);
      results.write();
      try (ShapedFerry ferry =
              new ShapedFerry(net, o.work().resolve("ferry"), 1, voterHeap, o.timeout());
          ShapedRatis ratis =
              new ShapedRatis(net, o.work().resolve("ratis"), 5, voterHeap, o.timeout())) {
        ratis.start();
        long t0 = System.nanoTime();
        ferry.load(gen);
        results.meta("ferry_load_s", (System.nanoTime() - t0) / 1e9);
        t0 = System.nanoTime();
        ratis.load(gen);
        results.meta("ratis_load_s", (System.nanoTime() - t0) / 1e9);
        results.write();
        for (String p : profiles) {
          net.shape(PROFILES.get(p));
          for (int rep = 1; rep <= o.repeat() && kinds.contains("cold"); rep++) {
            coldJoin(ratis, p, rep);
            coldJoin(ferry, p, rep);
          }
          for (boolean restart : new boolean[] {false, true}) {
            String kind = restart ? "restart-delta1" : "delta1";
            for (int rep = 1; rep <= o.repeat() && kinds.contains(kind); rep++) {
              int[] keys =
                  RecoveryBenchmark.randomSubset(
                      gen.keys(),
                      Math.max(1, gen.keys() / 100),
                      new java.util.SplittableRandom(31L * ++deltas));
              delta(ratis, p, rep, keys, deltas, restart);
              delta(ferry, p, rep, keys, deltas, restart);
            }
          }
          if (kinds.contains("foreground") && o.fgProfiles().contains(p)) {
            foreground(ratis, p);
            foreground(ferry, p);
          }
          if (!o.tuning().isEmpty() && kinds.contains("cold")) {
            ratis.restart("ratis-tuned", o.tuning());
            for (int rep = 1; rep <= o.repeat(); rep++) {
              coldJoin(ratis, p, rep);
            }
            ratis.restart("ratis", Map.of());
          }
        }
        net.shape(0);
      }
    }

    /**
     * Scenario delta1 ({@code restart} false): a follower cut off from the other voters (iptables
     * in the namespaces; it keeps running) while {@code keys} are rewritten at {@code version};
     * every other voter captures and purges past it; then the cut heals. Measured from the heal
     * until it applied the leader's commit index at the heal; for Ferry {@code seconds} counts from
     * the install notification seen on its metrics ({@code ferry_install_in_progress}, polled),
     * with {@code heal_to_notification_s} beside it. Scenario restart-delta1 ({@code restart}
     * true): the follower's process is killed instead, and restarted where delta1 heals; measured
     * from the restart (a JVM start, its local load, the install, the log) to caught up.
     */
    private void delta(
        ShapedSystem sys, String link, int rep, int[] keys, int version, boolean restart) {
      String kind = restart ? "restart-delta1" : "delta1";
      String tag = sys.name() + "-" + kind + "-" + link + "-" + rep;
      System.out.println("[shaped] " + tag);
      Map<String, Object> row = new LinkedHashMap<>();
      row.put("system", sys.name());
      row.put("kind", kind);
      row.put("link", link);
      row.put("rep", rep);
      List<Integer> cut = new ArrayList<>();
      try {
        if (!net.namespaces()) {
          throw new UnsupportedOperationException(kind + " needs network namespaces (root)");
        }
        String f = sys.follower();
        int node = sys.nodeOf(f);
        long cutAt = sys.applied(f);
        long marker0 = sys.installMarker(f);
        List<Integer> sources = new ArrayList<>(sys.sourceNodes());
        sources.remove(Integer.valueOf(node));
        if (restart) {
          sys.killVoter(f);
        } else {
          cut.add(node);
          cut.addAll(sources);
          for (int other : sources) {
            net.cut(node, other);
          }
        }
        sys.writeDelta(gen, keys, version);
        sys.snapshotExcept(f);
        long commit = sys.leaderCommit();
        long rx0 = net.counter(node, true);
        long[] tx0 = sent(sources);
        double cpu0 = restart ? 0 : cpuSeconds(sys.pid(f));
        long t0 = System.nanoTime();
        if (restart) {
          sys.restartVoter(f);
        }
        for (int n : cut) {
          net.heal(n);
        }
        cut.clear();
        long notified = -1;
        long deadline = t0 + o.timeout().toNanos();
        while (sys.applied(f) < commit) {
          if (notified < 0 && sys.installing(f)) {
            notified = System.nanoTime();
          }
          if (System.nanoTime() > deadline) {
            throw new IOException(f + " did not catch up within " + o.timeout());
          }
          ShapedSystem.pause(50);
        }
        long caught = System.nanoTime();
        double cpu = cpuSeconds(sys.pid(f)) - cpu0;
        long rx = net.counter(node, true) - rx0;
        long marker = sys.installMarker(f);
        if (marker <= (restart && sys.installMarkerResetsOnRestart() ? 0 : marker0)) {
          throw new IllegalStateException(
              f + " caught up without a snapshot install (log not purged past " + cutAt + "?)");
        }
        Map<String, Long> perSource = new LinkedHashMap<>();
        int used = 0;
        for (int i = 0; i < tx0.length; i++) {
          long tx = net.counter(sources.get(i), false) - tx0[i];
          perSource.put("node" + sources.get(i), tx);
          used += tx >= rx / 20 ? 1 : 0;
        }
        double healToCaught = (caught - t0) / 1e9;
        if (sys.name().equals("ferry") && notified > 0 && !restart) {
          row.put("seconds", (caught - notified) / 1e9);
          row.put("heal_to_notification_s", (notified - t0) / 1e9);
        } else {
          row.put("seconds", healToCaught);
          if (sys.name().equals("ferry") && !restart) {
            row.put("notification_seen", false);
          }
        }
        row.put(restart ? "restart_to_caught_up_s" : "heal_to_caught_up_s", healToCaught);
        if (restart && notified > 0) {
          row.put("restart_to_notification_s", (notified - t0) / 1e9);
        }
        row.put("wire_bytes", rx);
        row.put("per_source_tx_bytes", perSource);
        row.put("sources", used);
        row.put("receiver_cpu_s", cpu);
        row.put("receiver_heap_max_bytes", null);
        row.put("changed_keys", keys.length);
        row.put("commit_index_at_heal", commit);
        row.put("status", "ok");
      } catch (IOException | RuntimeException e) {
        failed(row, tag, e, "");
      } finally {
        for (int n : cut) {
          try {
            net.heal(n);
          } catch (IOException | RuntimeException e) {
            row.put("status", "FAILED");
            row.merge("error", "healing: " + e, (a, b) -> a + "; " + b);
          }
        }
      }
      finish(row);
    }

    /**
     * The foreground scenario: {@link ForegroundLoad}'s 16 clients put 1 KiB values through {@code
     * sys} for {@link #FG_WARMUP} plus a window W, then an empty node is started and joins as in
     * the cold scenario while they go on. The puts completed during the join (call to completion)
     * are compared with those completed in the window of the join's length that ends where the
     * joiner's start begins (or all of W if the join took longer: {@code window_s_before} says
     * which); the joiner's start-up counts in neither. W: {@code --fg-window}, else 1.25 × the
     * median cold join of this system and link in this run, at least 5 s (20 s without one).
     */
    private void foreground(ShapedSystem sys, String link) {
      String tag = sys.name() + "-foreground-" + link;
      System.out.println("[shaped] " + tag);
      Map<String, Object> row = new LinkedHashMap<>();
      row.put("system", sys.name());
      row.put("kind", "foreground");
      row.put("link", link);
      row.put("rep", 1);
      ShapedSystem.Joiner j = null;
      ForegroundLoad load = null;
      try {
        double w = foregroundWindow(sys.name(), link);
        load = new ForegroundLoad(sys);
        load.start();
        long measureFrom = System.nanoTime() + FG_WARMUP.toNanos();
        long until = measureFrom + (long) (w * 1e9);
        while (System.nanoTime() < until && load.running()) {
          ShapedSystem.pause(50);
        }
        if (!load.running()) {
          ForegroundLoad failed = load;
          load = null;
          failed.stop(); // throws the put's failure
          throw new IllegalStateException("the foreground clients stopped before the join");
        }
        // The joiner starts after the before-window, right before the join, as in the cold
        // scenario. Its start-up lies in neither window.
        long beforeEnd = System.nanoTime();
        j = sys.startJoiner(receiverHeap, o.work().resolve(tag + ".gc.log"));
        long t0 = System.nanoTime();
        Map<String, Object> extra = sys.join(j, t0, at -> {});
        long t1 = System.nanoTime();
        ForegroundLoad stopping = load;
        load = null;
        stopping.stop();
        LoadWindow before =
            stopping.window(Math.max(measureFrom, beforeEnd - (t1 - t0)), beforeEnd);
        LoadWindow during = stopping.window(t0, t1);
        row.put("join_seconds", (t1 - t0) / 1e9);
        row.put("joiner_start_s", (t0 - beforeEnd) / 1e9);
        row.put("window_s_before", before.seconds());
        row.put("ops_before", before.ops());
        row.put("ops_during", during.ops());
        row.put("ops_per_s_before", before.opsPerSecond());
        row.put("ops_per_s_during", during.opsPerSecond());
        row.put("ops_ratio", during.opsPerSecond() / before.opsPerSecond());
        row.put("p99_ms_before", before.p99Millis());
        row.put("p99_ms_during", during.p99Millis());
        row.put("p99_ratio", during.p99Millis() / before.p99Millis());
        row.put("clients", ForegroundLoad.CLIENTS);
        row.put("value_bytes", ForegroundLoad.VALUE_BYTES);
        row.putAll(extra);
        if (before.ops() == 0 || during.ops() == 0) {
          throw new IllegalStateException(
              "no puts completed " + (before.ops() == 0 ? "before" : "during") + " the join");
        }
        row.put("status", "ok");
      } catch (IOException | RuntimeException e) {
        failed(row, tag, e, "");
      } finally {
        if (load != null) {
          try {
            load.stop();
          } catch (IOException | RuntimeException e) {
            row.put("status", "FAILED");
            row.merge("error", "stopping the clients: " + e, (a, b) -> a + "; " + b);
          }
        }
        removeJoiner(sys, j, row);
      }
      finish(row);
    }

    /** The foreground scenario's window W in seconds (see {@link #foreground}). */
    private double foregroundWindow(String system, String link) {
      if (o.fgWindow() > 0) {
        return o.fgWindow();
      }
      Double cold = results.medianSeconds(system, "cold", link);
      return cold == null ? 20 : Math.max(5, 1.25 * cold);
    }

    /** Removes joiner {@code j} (if started); a failure fails {@code row}. */
    private void removeJoiner(ShapedSystem sys, ShapedSystem.Joiner j, Map<String, Object> row) {
      if (j == null) {
        return;
      }
      try {
        sys.remove(j);
      } catch (IOException | RuntimeException e) {
        row.put("status", "FAILED");
        row.merge("error", "removing the joiner: " + e, (a, b) -> a + "; " + b);
      }
    }

    /** Marks {@code row} failed with {@code e} (and {@code note}); says so on stdout. */
    private static void failed(Map<String, Object> row, String tag, Exception e, String note) {
      row.put("status", "FAILED");
      row.put("error", e + note);
      System.out.println("[shaped] " + tag + " FAILED: " + e + note);
      e.printStackTrace(System.out);
    }

    /** What each of {@code sources} has sent so far (its eth0 tx bytes). */
    private long[] sent(List<Integer> sources) throws IOException {
      long[] v = new long[sources.size()];
      for (int i = 0; i < v.length; i++) {
        v[i] = net.counter(sources.get(i), false);
      }
      return v;
    }

    private void finish(Map<String, Object> row) {
      results.add(row);
      try {
        results.write();
      } catch (IOException e) {
        System.out.println("[shaped] could not write results: " + e);
      }
    }

    /** A raw TCP transfer from node 1 to node 4 at this profile; returns the bits/s measured. */
    private double probe(long bitsPerSecond) throws IOException {
      net.shape(bitsPerSecond);
      return net.probe(bitsPerSecond, 1, 4, javaCommand("-Xmx64m", null));
    }

    /**
     * One cold join of {@code sys} at link profile {@code link}; a failure becomes a FAILED run.
     */
    private void coldJoin(ShapedSystem sys, String link, int rep) {
      String tag = sys.name() + "-cold-" + link + "-" + rep;
      System.out.println("[shaped] " + tag);
      Map<String, Object> row = new LinkedHashMap<>();
      row.put("system", sys.name());
      row.put("kind", "cold");
      row.put("link", link);
      row.put("rep", rep);
      Path gcLog = o.work().resolve(tag + ".gc.log");
      ShapedSystem.Joiner j = null;
      Sampler sampler = null;
      try {
        sys.beforeColdJoin();
        j = sys.startJoiner(receiverHeap, gcLog);
        List<Integer> sources = sys.sourceNodes();
        long rx0 = net.counter(j.node(), true);
        long[] tx0 = sent(sources);
        double cpu0 = cpuSeconds(j.pid());
        sampler = new Sampler(net, sources);
        long t0 = System.nanoTime();
        sampler.start(t0);
        long[] caught = {-1};
        Map<String, Object> extra = sys.join(j, t0, at -> caught[0] = at);
        double voter = (System.nanoTime() - t0) / 1e9;
        sampler.stop();
        double cpu = cpuSeconds(j.pid()) - cpu0;
        long rx = net.counter(j.node(), true) - rx0;
        Map<String, Long> perSource = new LinkedHashMap<>();
        int used = 0;
        long txSum = 0;
        for (int i = 0; i < tx0.length; i++) {
          long tx = net.counter(sources.get(i), false) - tx0[i];
          perSource.put("node" + sources.get(i), tx);
          txSum += tx;
        }
        // A source counts as used when it sent at least 5 % of what the receiver took in.
        for (long tx : perSource.values()) {
          if (tx >= rx / 20) {
            used++;
          }
        }
        long heap = heapAfterGc(j.pid(), gcLog);
        row.put("seconds", voter);
        row.put("caught_up_seconds", caught[0] < 0 ? null : (caught[0] - t0) / 1e9);
        row.put("wire_bytes", rx);
        row.put("sources_tx_bytes", txSum);
        row.put("per_source_tx_bytes", net.namespaces() ? perSource : Map.of());
        row.put("sources", net.namespaces() ? used : null);
        row.put("receiver_cpu_s", cpu);
        row.put("receiver_heap_max_bytes", heap);
        row.put("receiver_xmx", receiverHeap);
        double linkRate = results.measuredRate(link);
        if (linkRate > 0 && net.namespaces()) {
          row.put("ideal_seconds", rx * 8 / (linkRate * Math.max(1, used)));
        }
        row.putAll(extra);
        if (net.namespaces()) {
          Measurement m =
              new Measurement(
                  tag,
                  sys.name() + " cold join, " + link + ", run " + rep + ": bytes sent per source",
                  voter,
                  rx,
                  o.size(),
                  perSource,
                  Map.of(),
                  sampler.samples());
          results.chart(tag, m);
        }
        row.put("status", "ok");
      } catch (IOException | RuntimeException e) {
        String oom =
            j != null && ranOutOfHeap(sys.logOf(j.id()))
                ? " (the receiver ran out of heap:"
                    + " OutOfMemoryError in its log, with "
                    + receiverHeap
                    + ")"
                : "";
        failed(row, tag, e, oom);
      } finally {
        if (sampler != null) {
          sampler.stop();
        }
        removeJoiner(sys, j, row);
      }
      finish(row);
    }
  }

  /** Whether a node's log reports an OutOfMemoryError. */
  static boolean ranOutOfHeap(Path log) {
    try {
      return Files.exists(log)
          && Files.readString(log, StandardCharsets.UTF_8).contains("OutOfMemoryError");
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  /** utime + stime of process {@code pid}, in seconds. */
  static double cpuSeconds(long pid) throws IOException {
    return dev.ferry.bench.Procfs.cpuSeconds(pid);
  }

  /**
   * The largest heap after a collection in {@code gcLog}, after asking the process for one more
   * full collection ({@code jcmd GC.run}) so that a short join still has a figure; -1 if none.
   */
  static long heapAfterGc(long pid, Path gcLog) throws IOException {
    if (!joinerProfile().isEmpty()) {
      try {
        Shell.run("jcmd", String.valueOf(pid), "JFR.dump", "filename=" + gcLog + ".jfr");
      } catch (IOException | RuntimeException e) {
        // A profile is a by-product: a join without one is still measured.
        System.err.println("no JFR dump of " + pid + ": " + e);
      }
    }
    Shell.run("jcmd", String.valueOf(pid), "GC.run");
    if (!Files.exists(gcLog)) {
      return -1;
    }
    long max = -1;
    Matcher m = GC_AFTER.matcher(Files.readString(gcLog, StandardCharsets.UTF_8));
    while (m.find()) {
      max = Math.max(max, Long.parseLong(m.group(3)) * unit(m.group(4)));
    }
    return max;
  }

  private static long unit(String u) {
    return switch (u) {
      case "K" -> 1L << 10;
      case "M" -> 1L << 20;
      default -> 1L << 30;
    };
  }

  /** Samples the sources' sent bytes every 150 ms on its own thread. */
  static final class Sampler {
    private final ShapedNet net;
    private final List<Integer> sources;
    private final List<long[]> samples = new java.util.concurrent.CopyOnWriteArrayList<>();
    private volatile boolean running;
    private Thread thread;

    Sampler(ShapedNet net, List<Integer> sources) {
      this.net = net;
      this.sources = sources;
    }

    void start(long t0) {
      long[] base = read();
      running = true;
      thread =
          new Thread(
              () -> {
                while (running) {
                  long[] now = read();
                  long[] s = new long[1 + now.length];
                  s[0] = (System.nanoTime() - t0) / 1_000_000;
                  for (int i = 0; i < now.length; i++) {
                    s[1 + i] = Math.max(0, now[i] - base[i]);
                  }
                  samples.add(s);
                  try {
                    Thread.sleep(150);
                  } catch (InterruptedException e) {
                    return;
                  }
                }
              },
              "shaped-sampler");
      thread.setDaemon(true);
      thread.start();
    }

    private long[] read() {
      long[] v = new long[sources.size()];
      for (int i = 0; i < v.length; i++) {
        v[i] = net.sentQuick(sources.get(i));
      }
      return v;
    }

    void stop() {
      running = false;
      if (thread != null) {
        thread.interrupt();
        try {
          thread.join(5000);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
        }
      }
    }

    List<long[]> samples() {
      return List.copyOf(samples);
    }
  }

  /** Rows sorted for the tables. */
  static Map<String, List<Map<String, Object>>> group(List<Map<String, Object>> runs) {
    Map<String, List<Map<String, Object>>> g = new TreeMap<>();
    for (Map<String, Object> r : runs) {
      g.computeIfAbsent(
              r.get("system") + "|" + r.get("kind") + "|" + r.get("link"), k -> new ArrayList<>())
          .add(r);
    }
    return g;
  }
}
