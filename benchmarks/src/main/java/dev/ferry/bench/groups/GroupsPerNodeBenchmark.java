package dev.ferry.bench.groups;

import dev.ferry.bench.Procfs;
import dev.ferry.bench.Scrape;
import dev.ferry.chaos.harness.Shell;
import dev.ferry.kv.KvClient;
import dev.ferry.kv.cluster.ProcessCluster;
import dev.ferry.shipping.PeerAddress;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Issue 18's "groups per node" measurement. Phase 1, for each G of {@code --groups}: three nodes,
 * each its own JVM ({@link GroupsNode}, started through a {@link ProcessCluster}), host groups
 * {@code <cluster>.r0 .. r<G-1>}, each replicated on all three; once every group has a leader, a
 * few writes go to every group, then the cluster idles for {@code --idle} seconds. Reported per
 * node: CPU over the idle window (from {@code /proc/<pid>/stat}, % of one core), threads ({@code
 * /proc/<pid>/status}), heap after a full collection ({@code jcmd GC.run}, read from the node's GC
 * log), the JVM's direct buffer pool and Netty's own count (from the node's {@code /metrics}), and
 * for the cluster the leader changes in the idle window (the sum over groups of the growth of the
 * group's highest Raft term, {@code ferry_raft_term}, and the groups whose leader differs).
 *
 * <p>Phase 2: create/remove churn ({@link GroupChurn}) in this JVM, with the direct memory and
 * thread trend.
 *
 * <p>Usage: {@code GroupsPerNodeBenchmark [--groups 256[,..]] [--idle 120] [--churn 100] [--out
 * DIR] [--work DIR] [--heap 1536m] [--election-ms 3000,6000] [--churn-election-ms 1000,2000]
 * [--raft-property key=value]... [--writes 3] [--settle 10]}; the Ratis properties go to every
 * node's {@link dev.ferry.raft.FerryNode.Builder#property}, the churn's nodes' too. The churn's
 * nodes elect faster (its figures are memory and threads, and the first election of each new group
 * is most of a cycle). Results go to {@code DIR/results.json} and {@code DIR/results.md}, rewritten
 * after every phase, so a failure keeps what was measured before it; a phase that fails is recorded
 * with its error and the run goes on.
 */
public final class GroupsPerNodeBenchmark {
  /** The targets. */
  static final double CPU_TARGET_PERCENT = 10;

  static final long HEAP_TARGET_BYTES = 1L << 30;

  /** A full collection asked for: by {@code jcmd GC.run} (G1 says so) or System.gc(). */
  /** Groups written to at once after the start. */
  static final int WRITERS = 8;

  private static final Pattern FULL_GC =
      Pattern.compile(
          "Pause Full \\((?:Diagnostic Command|System\\.gc\\(\\))\\) \\d+[KMG]->(\\d+)([KMG])\\(\\d+[KMG]\\)");

  /** The run's settings. */
  record Options(
      List<Integer> groups,
      int idleSeconds,
      int churnCycles,
      Path out,
      Path work,
      String heap,
      Duration[] election,
      Duration[] churnElection,
      Map<String, String> raftProperties,
      int writes,
      int settleSeconds) {
    Options {
      groups = List.copyOf(groups);
      election = election.clone();
      churnElection = churnElection.clone();
      raftProperties = java.util.Collections.unmodifiableMap(new LinkedHashMap<>(raftProperties));
    }

    Map<String, Object> asMap() {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("groups", groups);
      m.put("idle_s", idleSeconds);
      m.put("churn_cycles", churnCycles);
      m.put("heap", "-Xmx" + heap);
      m.put("election_timeout_ms", List.of(election[0].toMillis(), election[1].toMillis()));
      m.put(
          "churn_election_timeout_ms",
          List.of(churnElection[0].toMillis(), churnElection[1].toMillis()));
      m.put("raft_properties", raftProperties);
      m.put("writes_per_group", writes);
      m.put("settle_s", settleSeconds);
      return m;
    }
  }

  private GroupsPerNodeBenchmark() {}

  /** Parses the command line (see the class comment). */
  static Options parse(String[] args) {
    List<Integer> groups = List.of(256);
    int idle = 120;
    int churn = 100;
    Path out = Path.of("groups-results");
    Path work = null;
    String heap = "1536m";
    Duration[] election = {Duration.ofMillis(3000), Duration.ofMillis(6000)};
    Duration[] churnElection = {Duration.ofMillis(1000), Duration.ofMillis(2000)};
    Map<String, String> properties = new LinkedHashMap<>();
    int writes = 3;
    int settle = 10;
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (i + 1 >= args.length) {
        throw new IllegalArgumentException(a + " needs a value");
      }
      String v = args[++i];
      switch (a) {
        case "--groups" -> {
          List<Integer> g = new ArrayList<>();
          for (String s : v.split(",")) {
            g.add(positive("--groups", Integer.parseInt(s.strip())));
          }
          groups = g;
        }
        case "--idle" -> idle = positive(a, Integer.parseInt(v));
        case "--churn" -> churn = Integer.parseInt(v);
        case "--out" -> out = Path.of(v);
        case "--work" -> work = Path.of(v);
        case "--heap" -> heap = v;
        case "--election-ms" -> election = GroupsNode.electionTimeout(v);
        case "--churn-election-ms" -> churnElection = GroupsNode.electionTimeout(v);
        case "--raft-property" -> {
          String[] kv = GroupsNode.property(v);
          properties.put(kv[0], kv[1]);
        }
        case "--writes" -> writes = positive(a, Integer.parseInt(v));
        case "--settle" -> settle = Integer.parseInt(v);
        default -> throw new IllegalArgumentException("unknown argument: " + a);
      }
    }
    if (churn < 0 || settle < 0) {
      throw new IllegalArgumentException("--churn and --settle must be >= 0");
    }
    return new Options(
        groups,
        idle,
        churn,
        out,
        work != null ? work : out.resolve("work"),
        heap,
        election,
        churnElection,
        properties,
        writes,
        settle);
  }

  private static int positive(String what, int v) {
    if (v < 1) {
      throw new IllegalArgumentException(what + " must be >= 1: " + v);
    }
    return v;
  }

  /** Runs the benchmark and prints the table; exits 1 if a phase failed. */
  public static void main(String[] args) throws Exception {
    Options o = parse(args);
    GroupsResults r = run(o, "GroupsPerNodeBenchmark " + String.join(" ", args));
    System.out.println(r.markdown());
    System.out.println("results in " + o.out().toAbsolutePath());
    System.exit(r.errors().isEmpty() ? 0 : 1);
  }

  /**
   * Runs every phase, writing the results after each; never throws for a failed phase (its error is
   * in the results).
   *
   * @throws IOException only if the results cannot be written
   */
  static GroupsResults run(Options o, String command) throws IOException {
    GroupsResults r = new GroupsResults(o, command);
    r.write();
    for (int g : o.groups()) {
      Map<String, Object> row = new LinkedHashMap<>();
      row.put("groups", g);
      r.addIdle(row);
      try {
        idle(o, g, row, r);
        row.put("status", "ok");
      } catch (Exception e) {
        row.put("status", "failed");
        r.error("idle, " + g + " groups", e);
      } finally {
        r.write();
      }
    }
    if (o.churnCycles() > 0) {
      GroupChurn churn =
          new GroupChurn(
              o.work().resolve("churn"),
              "churn" + suffix(),
              o.churnElection(),
              o.raftProperties(),
              Duration.ofSeconds(60));
      try {
        churn.run(
            o.churnCycles(),
            samples -> {
              r.churn(samples, churn.cycleMillis());
              writeQuietly(r);
            });
      } catch (Exception e) {
        r.error("churn", e);
      } finally {
        r.churn(churn.samples(), churn.cycleMillis());
        churn.closeFailures().forEach(f -> r.error("churn cleanup", new IOException(f)));
        r.write();
      }
    }
    r.finish();
    r.write();
    return r;
  }

  private static void writeQuietly(GroupsResults r) {
    try {
      r.write();
    } catch (IOException e) {
      throw new java.io.UncheckedIOException(e);
    }
  }

  private static String suffix() {
    return Long.toHexString(ThreadLocalRandom.current().nextLong() & 0xffffffL);
  }

  /** Phase 1 with {@code groups} groups; fills {@code row} as it goes. */
  private static void idle(Options o, int groups, Map<String, Object> row, GroupsResults r)
      throws Exception {
    Path dir = o.work().resolve("g" + groups);
    Files.createDirectories(dir);
    String cluster = "gpn" + suffix();
    long t0 = System.nanoTime();
    OomWatch oom = new OomWatch();
    // Startup is dominated by creating and electing the groups: allow 2 s per group and node.
    Duration startTimeout = Duration.ofSeconds(120 + 6L * groups);
    try (ProcessCluster c =
        ProcessCluster.builder(dir, 3)
            .clusterName(cluster)
            .heap("-Xmx" + o.heap())
            .launcher((id, cmd, env) -> nodeCommand(cmd, dir.resolve(id + "-gc.log")))
            .serverArgs(nodeArgs(o, groups))
            .readyWhen(
                pc -> {
                  oom.check(pc, row);
                  everyGroupLed(pc, cluster, groups);
                })
            .start(startTimeout)) {
      row.put("start_s", (System.nanoTime() - t0) / 1e9);
      List<String> ids = c.peers().stream().map(PeerAddress::id).toList();
      write(c, cluster, groups, o.writes(), row);
      r.write();
      if (o.settleSeconds() > 0) {
        Thread.sleep(o.settleSeconds() * 1000L); // let the writes' follow-up work end
      }
      Map<String, Scrape> before = scrapeAll(c, ids);
      Map<String, Double> cpu0 = new HashMap<>();
      for (String id : ids) {
        cpu0.put(id, Procfs.cpuSeconds(c.pid(id)));
      }
      row.put("loadavg_idle_start", Procfs.loadAverage());
      long w0 = System.nanoTime();
      Map<String, List<Integer>> threadSamples = new LinkedHashMap<>();
      long end = w0 + o.idleSeconds() * 1_000_000_000L;
      while (true) {
        for (String id : ids) {
          if (!c.isAlive(id)) {
            throw new IOException(id + " exited while idle; log:\n" + c.tail(id, 30));
          }
          threadSamples.computeIfAbsent(id, k -> new ArrayList<>()).add(Procfs.threads(c.pid(id)));
        }
        long left = end - System.nanoTime();
        if (left <= 0) {
          break;
        }
        Thread.sleep(Math.min(10_000, left / 1_000_000 + 1));
      }
      Map<String, Double> cpu1 = new HashMap<>();
      for (String id : ids) {
        cpu1.put(id, Procfs.cpuSeconds(c.pid(id)));
      }
      double window = (System.nanoTime() - w0) / 1e9;
      row.put("idle_window_s", window);
      row.put("loadavg_idle_end", Procfs.loadAverage());
      Map<String, Scrape> after = scrapeAll(c, ids);
      leaderChanges(before, after, groups, cluster, row);
      List<Map<String, Object>> nodes = new ArrayList<>();
      row.put("nodes", nodes);
      for (String id : ids) {
        Map<String, Object> n = new LinkedHashMap<>();
        n.put("id", id);
        n.put("cpu_percent_of_core", 100 * (cpu1.get(id) - cpu0.get(id)) / window);
        n.put("threads", Procfs.threads(c.pid(id)));
        n.put("threads_min_max_idle", minMax(threadSamples.get(id)));
        n.put("groups_led", after.get(id).ledGroups().size());
        nodes.add(n);
      }
      for (int k = 0; k < ids.size(); k++) {
        String id = ids.get(k);
        Map<String, Object> n = nodes.get(k);
        Path gcLog = dir.resolve(id + "-gc.log");
        n.put("heap_after_full_gc_bytes", heapAfterFullGc(c.pid(id), gcLog));
        n.put("collector", collector(gcLog));
        Scrape s = Scrape.of(c.metricsAddress(id));
        n.put("direct_pool_bytes", s.directPoolBytes());
        n.put("netty_direct_bytes", s.nettyDirectBytes());
        n.put("rss_bytes", Procfs.rssBytes(c.pid(id)));
      }
    }
  }

  /** The arguments every {@link GroupsNode} gets besides {@code ProcessCluster}'s. */
  private static String[] nodeArgs(Options o, int groups) {
    List<String> a = new ArrayList<>();
    a.addAll(List.of("--groups", String.valueOf(groups)));
    a.addAll(
        List.of("--election-ms", o.election()[0].toMillis() + "," + o.election()[1].toMillis()));
    o.raftProperties().forEach((k, v) -> a.addAll(List.of("--raft-property", k + "=" + v)));
    return a.toArray(String[]::new);
  }

  /**
   * Turns {@code ProcessCluster}'s {@code ferry server} command into a {@link GroupsNode} one, run
   * as a user runs {@code ferry server}: the JVM's default collector (G1 here) and full JIT (the
   * test flags {@code -XX:+UseSerialGC -XX:TieredStopAtLevel=1 -Xss512k} removed), the heap given,
   * and a GC log.
   */
  static void nodeCommand(List<String> cmd, Path gcLog) throws IOException {
    int main = cmd.indexOf("dev.ferry.kv.cli.FerryCli");
    if (main < 0 || main + 1 >= cmd.size() || !cmd.get(main + 1).equals("server")) {
      throw new IOException("unexpected node command (ProcessCluster changed?): " + cmd);
    }
    cmd.set(main, GroupsNode.class.getName());
    cmd.remove(main + 1);
    cmd.removeAll(List.of("-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-Xss512k"));
    cmd.add(1, "-Xlog:gc:file=" + gcLog);
  }

  /**
   * Watches the nodes' logs while they start: a node that logs an {@code OutOfMemoryError} (a
   * group's division could not allocate its buffers) is killed, so that the start fails at once
   * with its log instead of waiting for a leader that will not come; the line is recorded.
   */
  private static final class OomWatch {
    private final Map<String, Long> offsets = new HashMap<>();

    void check(ProcessCluster c, Map<String, Object> row) throws IOException, InterruptedException {
      for (PeerAddress p : c.peers()) {
        String id = p.id();
        try (java.io.RandomAccessFile f =
            new java.io.RandomAccessFile(c.logFile(id).toFile(), "r")) {
          long from = offsets.getOrDefault(id, 0L);
          byte[] b = new byte[(int) Math.min(f.length() - from, 64L << 20)];
          f.seek(from);
          f.readFully(b);
          offsets.put(id, from + b.length);
          String text = new String(b, StandardCharsets.UTF_8);
          int at = text.indexOf("OutOfMemoryError");
          if (at >= 0) {
            int end = text.indexOf('\n', at);
            String line = text.substring(at, end < 0 ? text.length() : end);
            row.put("node_failure", id + ": " + line);
            c.kill(id);
            throw new IOException(id + " ran out of memory: " + line);
          }
        } catch (java.io.FileNotFoundException e) {
          // not started yet
        }
      }
    }
  }

  /** The ready check: every group has a leader that every node knows; else waits and throws. */
  private static void everyGroupLed(ProcessCluster c, String cluster, int groups)
      throws IOException, InterruptedException {
    List<String> ids = c.peers().stream().map(PeerAddress::id).toList();
    Set<String> led = new TreeSet<>();
    int known = Integer.MAX_VALUE;
    for (String id : ids) {
      Scrape s;
      try {
        s = Scrape.of(c.metricsAddress(id));
      } catch (IOException e) {
        Thread.sleep(2000);
        throw e; // not up yet
      }
      led.addAll(s.ledGroups());
      known =
          Math.min(
              known,
              (int)
                  s.byGroup("ferry_raft_leader_known").values().stream()
                      .filter(v -> v == 1)
                      .count());
    }
    led.removeIf(g -> !g.startsWith(cluster + ".r"));
    if (led.size() < groups || known < groups) {
      Thread.sleep(2000); // a scrape of many groups costs the nodes CPU: not too often
      throw new IllegalStateException(
          led.size() + " of " + groups + " groups have a leader; each node knows " + known);
    }
  }

  /**
   * {@code writes} puts to every group, {@value #WRITERS} groups at a time (each through a client
   * of its own); records how many groups took them all.
   */
  private static void write(
      ProcessCluster c, String cluster, int groups, int writes, Map<String, Object> row)
      throws InterruptedException {
    List<String> failed = java.util.Collections.synchronizedList(new ArrayList<>());
    long t0 = System.nanoTime();
    ExecutorService pool = Executors.newFixedThreadPool(WRITERS);
    try {
      for (int g = 0; g < groups; g++) {
        String name = GroupsNode.groupName(cluster, g);
        pool.execute(() -> writeGroup(c.peers(), name, writes, failed));
      }
      pool.shutdown();
      if (!pool.awaitTermination(10, TimeUnit.MINUTES)) {
        failed.add("writes still running after 10 minutes");
      }
    } finally {
      pool.shutdownNow();
    }
    row.put("write_s", (System.nanoTime() - t0) / 1e9);
    row.put("groups_written", groups - failed.size());
    row.put("write_failures", List.copyOf(failed.subList(0, Math.min(5, failed.size()))));
  }

  private static void writeGroup(
      List<PeerAddress> peers, String name, int writes, List<String> failed) {
    try (KvClient k = KvClient.connect(name, peers, Duration.ofSeconds(30))) {
      for (int w = 0; w < writes; w++) {
        k.put(
            ("k" + w).getBytes(StandardCharsets.UTF_8),
            (name + "-" + w).getBytes(StandardCharsets.UTF_8));
      }
    } catch (IOException | RuntimeException e) {
      failed.add(name + ": " + e);
    }
  }

  private static Map<String, Scrape> scrapeAll(ProcessCluster c, List<String> ids)
      throws IOException {
    Map<String, Scrape> out = new LinkedHashMap<>();
    for (String id : ids) {
      out.put(id, Scrape.of(c.metricsAddress(id)));
    }
    return out;
  }

  /**
   * Leader changes between two scrapes of every node: per group, the growth of its highest term
   * (every election raises it), the groups whose leader differs, and the groups led before and
   * after.
   */
  static void leaderChanges(
      Map<String, Scrape> before,
      Map<String, Scrape> after,
      int groups,
      String cluster,
      Map<String, Object> row) {
    Map<String, Double> t0 = maxTerms(before);
    Map<String, Double> t1 = maxTerms(after);
    Map<String, String> l0 = leaders(before);
    Map<String, String> l1 = leaders(after);
    long termGrowth = 0;
    int changed = 0;
    for (int g = 0; g < groups; g++) {
      String name = GroupsNode.groupName(cluster, g);
      if (t0.containsKey(name) && t1.containsKey(name)) {
        termGrowth += Math.round(t1.get(name) - t0.get(name));
      }
      if (l0.get(name) == null || !l0.get(name).equals(l1.get(name))) {
        changed++;
      }
    }
    row.put("term_increments_idle", termGrowth);
    row.put("groups_leader_changed_idle", changed);
    row.put("groups_led_before_idle", l0.size());
    row.put("groups_led_after_idle", l1.size());
  }

  private static Map<String, Double> maxTerms(Map<String, Scrape> scrapes) {
    Map<String, Double> out = new HashMap<>();
    for (Scrape s : scrapes.values()) {
      s.byGroup("ferry_raft_term").forEach((g, t) -> out.merge(g, t, Math::max));
    }
    return out;
  }

  private static Map<String, String> leaders(Map<String, Scrape> scrapes) {
    Map<String, String> out = new HashMap<>();
    scrapes.forEach((id, s) -> s.ledGroups().forEach(g -> out.put(g, id)));
    return out;
  }

  private static List<Integer> minMax(List<Integer> xs) {
    return List.of(
        xs.stream().mapToInt(Integer::intValue).min().orElse(-1),
        xs.stream().mapToInt(Integer::intValue).max().orElse(-1));
  }

  /**
   * Asks process {@code pid} for a full collection ({@code jcmd GC.run}) and returns the heap in
   * use after it, from the last {@code Pause Full (System.gc())} line of its GC log (waiting up to
   * 10 s for the line); -1 if none appears.
   */
  static long heapAfterFullGc(long pid, Path gcLog) throws IOException, InterruptedException {
    int seen = fullGcs(gcLog).size();
    String jcmd = Path.of(System.getProperty("java.home"), "bin", "jcmd").toString();
    Shell.Result res = Shell.run(jcmd, String.valueOf(pid), "GC.run");
    if (!res.ok()) {
      throw new IOException("jcmd " + pid + " GC.run failed: " + res.output());
    }
    long deadline = System.nanoTime() + 10_000_000_000L;
    while (System.nanoTime() < deadline) {
      List<Long> after = fullGcs(gcLog);
      if (after.size() > seen) {
        return after.get(after.size() - 1);
      }
      Thread.sleep(100);
    }
    return -1;
  }

  /** The collector a GC log names ({@code Using G1}), or {@code "?"}. */
  static String collector(Path gcLog) throws IOException {
    Matcher m =
        Pattern.compile("\\] Using (\\S+)")
            .matcher(Files.readString(gcLog, StandardCharsets.UTF_8));
    return m.find() ? m.group(1) : "?";
  }

  /** The heap after each explicit full collection in {@code gcLog}, bytes, in order. */
  static List<Long> fullGcs(Path gcLog) throws IOException {
    List<Long> out = new ArrayList<>();
    if (!Files.exists(gcLog)) {
      return out;
    }
    Matcher m = FULL_GC.matcher(Files.readString(gcLog, StandardCharsets.UTF_8));
    while (m.find()) {
      long unit =
          switch (m.group(2)) {
            case "K" -> 1L << 10;
            case "M" -> 1L << 20;
            default -> 1L << 30;
          };
      out.add(Long.parseLong(m.group(1)) * unit);
    }
    return out;
  }

  static String mib(long bytes) {
    return bytes < 0 ? "n/a" : String.format(Locale.ROOT, "%.1f MiB", bytes / (double) (1 << 20));
  }
}
