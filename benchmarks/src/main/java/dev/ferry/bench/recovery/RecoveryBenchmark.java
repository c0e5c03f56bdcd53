package dev.ferry.bench.recovery;

import dev.ferry.shipping.install.Shipping;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.DirectoryNotEmptyException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.SplittableRandom;

/**
 * The side-by-side recovery benchmark (issues 6 and 11): the same generated state ({@link
 * StateGenerator}) recovered on the same machine by
 *
 * <ol type="a">
 *   <li>Ratis's built-in leader-sent snapshot install ({@link RatisBaseline});
 *   <li>a Ferry cold join of an empty node, to caught up and to verified voter;
 *   <li>Ferry delta catch-ups of a stopped follower after 1 % and 10 % of the keys changed, at
 *       random and as one contiguous key range;
 *   <li>the raw limit: the state's bytes through a loopback socket into SHA-256 ({@link RawLimit});
 *   <li>Ferry cold joins with every source's chunk service limited to 1 Gbit/s and 100 Mbit/s,
 *       chunks shipped compressed and raw;
 *   <li>a Ferry cold join from 1 source against 3 sources, each limited to 100 Mbit/s;
 * </ol>
 *
 * and by name:
 *
 * <ul>
 *   <li>{@code delta1}: a follower cut off by a {@link Partition} (not restarted) while 1 % of the
 *       keys change and the leader's log is purged past it, then healed; Ferry and Ratis;
 *   <li>{@code restart-delta1}: the same follower stopped instead and restarted (a new server in
 *       this JVM), with each phase of its recovery;
 *   <li>{@code restart}: a follower restarted with its log intact, its local load rate next to a
 *       single-threaded load of the same snapshot.
 * </ul>
 *
 * The headline comparisons (a against b, and delta1) run as {@code --repeat} interleaved pairs (R F
 * R F ...) on one loaded cluster of each system, and are reported as the median ratio with its
 * minimum and maximum. Both systems run the same way: three (plus the joining one) Raft servers
 * inside this JVM, each with its own data directory, talking gRPC (and, for Ferry, its chunk
 * service) over loopback.
 *
 * <p>Usage: {@code RecoveryBenchmark [--size 128m] [--limited-size SIZE] [--warmup 8m] [--out
 * target/recovery] [--work DIR] [--scenarios abcdef,delta1,restart-delta1,restart] [--repeat 3]
 * [--ratis-tuning key=value,...] [--seed N]}. Writes {@code results.md}, {@code results.json}
 * (after every scenario) and {@code <id>-sources.png} charts into {@code --out}. A scenario that
 * fails is recorded with its exception and the run goes on; the exit status is then 1. Give the JVM
 * a heap of about ten times the state size plus 2 GiB (both systems' clusters are loaded at once
 * for the interleaved pairs, and an install builds the new state beside the old).
 */
public final class RecoveryBenchmark {
  private static final long MBIT = 1_000_000L / 8;

  /** Scenarios chosen by name rather than by letter. */
  static final List<String> NAMED = List.of("delta1", "restart-delta1", "restart");

  /** Every scenario, as {@code --scenarios} takes them. */
  static final String ALL = "abcdef," + String.join(",", NAMED);

  private RecoveryBenchmark() {}

  /** What to run. */
  record Options(
      long size,
      long limitedSize,
      long warmupSize,
      Path out,
      Path work,
      Set<String> scenarios,
      Map<String, String> ratisTuning,
      long seed,
      int repeat) {
    Options {
      ratisTuning = Map.copyOf(ratisTuning);
      scenarios = Set.copyOf(scenarios);
      if (repeat < 1) {
        throw new IllegalArgumentException("repeat must be at least 1: " + repeat);
      }
    }

    boolean has(char scenario) {
      return scenarios.contains(String.valueOf(scenario));
    }

    boolean has(String scenario) {
      return scenarios.contains(scenario);
    }
  }

  /**
   * Parses {@code --scenarios}: comma-separated, each either letters of {@code abcdef} (one
   * scenario per letter) or a name of {@link #NAMED}.
   */
  static Set<String> parseScenarios(String spec) {
    Set<String> out = new java.util.LinkedHashSet<>();
    for (String token : spec.split(",")) {
      String t = token.trim();
      if (t.isEmpty()) {
        continue;
      }
      if (NAMED.contains(t)) {
        out.add(t);
      } else if (t.chars().allMatch(c -> c >= 'a' && c <= 'f')) {
        t.chars().forEach(c -> out.add(String.valueOf((char) c)));
      } else {
        throw new IllegalArgumentException(
            "unknown scenario " + t + " (letters of abcdef, or one of " + NAMED + ")");
      }
    }
    return out;
  }

  public static void main(String[] args) throws Exception {
    System.setProperty("java.awt.headless", "true");
    long size = 128L << 20;
    Long limited = null;
    long warmup = 8L << 20;
    Path out = Path.of("target/recovery");
    Path work = null;
    String scenarios = ALL;
    int repeat = 3;
    Map<String, String> tuning = new LinkedHashMap<>();
    long seed = dev.ferry.bench.BenchData.SEED;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--size" -> size = parseSize(args[++i]);
        case "--limited-size" -> limited = parseSize(args[++i]);
        case "--warmup" -> warmup = parseSize(args[++i]);
        case "--out" -> out = Path.of(args[++i]);
        case "--work" -> work = Path.of(args[++i]);
        case "--scenarios" -> scenarios = args[++i];
        case "--repeat" -> repeat = Integer.parseInt(args[++i]);
        case "--seed" -> seed = Long.parseLong(args[++i]);
        case "--ratis-tuning" -> {
          for (String kv : args[++i].split(",")) {
            String[] p = kv.split("=", 2);
            tuning.put(p[0], p[1]);
          }
        }
        default -> throw new IllegalArgumentException("unknown argument " + args[i]);
      }
    }
    Options o =
        new Options(
            size,
            limited == null ? size : limited,
            warmup,
            out,
            work == null ? out.resolve("work") : work,
            parseScenarios(scenarios),
            tuning,
            seed,
            repeat);
    Report r = run(o);
    System.out.println();
    System.out.println(r.table());
    System.out.println("Wrote " + o.out().toAbsolutePath());
    if (!r.failures().isEmpty()) {
      System.out.println(r.failures().size() + " scenario(s) failed: " + r.failures());
    }
    System.exit(r.failures().isEmpty() ? 0 : 1);
  }

  /** Parses {@code 128m}, {@code 1g}, {@code 4096k} or a byte count. */
  static long parseSize(String s) {
    String t = s.trim().toLowerCase(Locale.ROOT);
    long unit = 1;
    char last = t.charAt(t.length() - 1);
    if (last == 'k' || last == 'm' || last == 'g') {
      unit = last == 'k' ? 1L << 10 : last == 'm' ? 1L << 20 : 1L << 30;
      t = t.substring(0, t.length() - 1);
    }
    return Long.parseLong(t) * unit;
  }

  /**
   * Runs the chosen scenarios and writes the report into {@code o.out()} after each one. A failing
   * scenario is recorded in the report ({@link Report#failures()}) and the others still run.
   *
   * @throws IOException only if the run cannot start (disk space, heap, the output directory)
   */
  static Report run(Options o) throws IOException {
    boolean both = (o.has('a') || o.has('d') || o.has("delta1")) && ferrySide(o);
    long need = 12 * Math.max(o.size(), o.limitedSize()) + (1L << 30);
    Files.createDirectories(o.work());
    long free = Files.getFileStore(o.work()).getUsableSpace();
    if (free < need) {
      throw new IllegalStateException(
          "need about " + (need >> 20) + " MiB free in " + o.work() + ", have " + (free >> 20));
    }
    long heap = Runtime.getRuntime().maxMemory();
    long heapNeed = (both ? 10 : 6) * o.size() + (512L << 20);
    if (heap < heapNeed) {
      throw new IllegalStateException(
          "heap "
              + (heap >> 20)
              + " MiB is too small for "
              + (o.size() >> 20)
              + " MiB of state (want "
              + (heapNeed >> 20)
              + " MiB)");
    }
    return new Run(o).all();
  }

  private static boolean ferrySide(Options o) {
    return o.has('b')
        || o.has('c')
        || o.has('e')
        || o.has('f')
        || o.has("delta1")
        || o.has("restart-delta1")
        || o.has("restart");
  }

  /** One run: the scenarios in order, their results so far, written after each. */
  private static final class Run {
    private final Options o;
    private final Duration timeout;
    private final Map<String, Object> meta = new LinkedHashMap<>();
    private final List<Measurement> rows = new ArrayList<>();
    private final List<Report.Failure> failures = new ArrayList<>();
    private final List<Report.Pairs> pairs = new ArrayList<>();
    private StateGenerator gen;
    private RatisBaseline ratis;
    private FerryBench ferry;

    Run(Options o) {
      // A Ratis server that cannot start (a port taken meanwhile) calls System.exit by default,
      // which would lose every result: make it throw instead, so the scenario fails alone.
      org.apache.ratis.util.ExitUtils.disableSystemExit();
      this.o = o;
      this.timeout = Duration.ofSeconds(Math.max(180, o.size() / (1 << 20)));
    }

    /** A step of a scenario. */
    private interface Step {
      void run() throws Exception;
    }

    /**
     * Runs {@code step}; on failure records {@code name} and the exception as a failed scenario
     * instead of throwing. Writes the results so far either way.
     */
    private boolean attempt(String name, Step step) {
      boolean ok = false;
      try {
        step.run();
        ok = true;
      } catch (Exception | Error e) { // AssertionError from the cluster fixture's waits too
        failures.add(new Report.Failure(name, e.toString()));
        log("FAILED %s: %s", name, e);
        e.printStackTrace(System.out);
      }
      flush();
      return ok;
    }

    private Report report() {
      meta.put("peakHeapUsedBytes", peakHeap());
      return new Report(meta, rows, failures, pairs);
    }

    private void flush() {
      try {
        report().write(o.out());
      } catch (IOException | RuntimeException e) {
        log("could not write the results: %s", e);
      }
    }

    Report all() {
      meta.put("stateBytes", o.size());
      meta.put("limitedStateBytes", o.limitedSize());
      meta.put("seed", o.seed());
      meta.put("scenarios", String.join(",", new java.util.TreeSet<>(o.scenarios())));
      meta.put("repeat", o.repeat());
      meta.put("cores", Runtime.getRuntime().availableProcessors());
      meta.put("maxHeapBytes", Runtime.getRuntime().maxMemory());
      meta.put("java", System.getProperty("java.version"));
      meta.put(
          "loadAverageAtStart",
          ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
      meta.put("deployment", "in-JVM Raft servers over loopback (gRPC; Ferry chunk service TCP)");
      meta.put(
          "partition", "Ratis CodeInjectionForTesting hooks: Raft traffic only (Partition.java)");
      meta.put("warmupStateBytes", o.warmupSize());
      Path rdir = o.work().resolve("ratis");
      Path fdir = o.work().resolve("ferry");
      // Left over by a run that was killed: the servers would refuse to format over them.
      for (String d : List.of("ratis", "ferry", "warmup", "raw-state.bin")) {
        deleteQuietly(o.work().resolve(d));
      }
      try {
        if (o.warmupSize() > 0) {
          attempt("warm-up", this::warmUp);
        }
        gen = new StateGenerator(o.size(), o.seed());
        meta.put("keys", gen.keys());
        log("state: %d keys, %d MiB raw", gen.keys(), gen.rawBytes() >> 20);
        if (o.has('a') || o.has('d') || o.has("delta1")) {
          if (!attempt("Ratis load", () -> loadRatis(rdir))) {
            closeRatis(rdir);
          }
        }
        if (ferrySide(o)) {
          if (!attempt("Ferry load", () -> loadFerry(fdir))) {
            closeFerry(fdir);
          }
        }
        // Heap sizing for bigger runs: what both loaded clusters hold, after a collection.
        System.gc();
        meta.put(
            "heapUsedAfterLoadsBytes",
            ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed());
        coldJoinPairs();
        if (o.has('d') && ratis != null) {
          attempt("d", this::rawLimit);
        }
        if (o.has("delta1")) {
          delta1Pairs();
        }
        closeRatis(rdir);
        if (!o.ratisTuning().isEmpty() && o.has('a')) {
          attempt("a'", () -> tunedRatis(rdir));
        }
        ferryOnly(fdir);
      } finally {
        closeRatis(rdir);
        closeFerry(fdir);
      }
      Report r = report();
      flush();
      r.writeCharts(o.out());
      return r;
    }

    private void loadRatis(Path dir) throws IOException {
      ratis = new RatisBaseline(dir, Map.of());
      ratis.start();
      long t = System.nanoTime();
      ratis.load(gen);
      log("ratis: loaded in %.1f s", (System.nanoTime() - t) / 1e9);
      ratis.snapshot(timeout);
    }

    private void loadFerry(Path dir) throws IOException {
      ferry = FerryBench.start(dir, gen, timeout);
      long t = System.nanoTime();
      ferry.load();
      long[] snap = ferry.snapshotSize();
      log(
          "ferry: loaded and captured in %.1f s: %d raw bytes stored as %d (%.2f:1), manifest %d",
          (System.nanoTime() - t) / 1e9, snap[1], snap[0], (double) snap[1] / snap[0], snap[2]);
      meta.put("ferrySnapshotStoredBytes", snap[0]);
      meta.put("ferrySnapshotRawBytes", snap[1]);
      meta.put("ferryManifestBytes", snap[2]);
    }

    private static String rep(int k) {
      return k == 1 ? "" : "." + k;
    }

    private String of(int k) {
      return o.repeat() == 1 ? "" : " (pair " + k + " of " + o.repeat() + ")";
    }

    /** a and b as interleaved pairs: Ratis join, Ferry join, Ratis join, ... */
    private void coldJoinPairs() {
      if (!o.has('a') && !o.has('b')) {
        return;
      }
      List<Double> r = new ArrayList<>();
      List<Double> f = new ArrayList<>();
      for (int k = 1; k <= o.repeat(); k++) {
        int n = k;
        r.add(null);
        f.add(null);
        if (o.has('a') && ratis != null) {
          attempt(
              "a" + rep(k),
              () -> {
                Measurement m =
                    ratis.addEmptyNode(
                        "a" + rep(n),
                        "a. Ratis built-in install, to caught up" + of(n),
                        gen.rawBytes(),
                        timeout);
                rows.add(m);
                r.set(n - 1, m.seconds());
                log("ratis: %s", m.summary());
              });
        }
        if (o.has('b') && ferry != null) {
          attempt(
              "b" + rep(k),
              () -> {
                FerryBench.Join j =
                    ferry.coldJoin(
                        "b" + rep(n),
                        "b. Ferry cold join, to caught up" + of(n),
                        Shipping.AUTO,
                        Integer.MAX_VALUE,
                        false);
                rows.add(j.caughtUp());
                rows.add(j.voter());
                f.set(n - 1, j.caughtUp().seconds());
                log("ferry: %s", j.caughtUp().summary());
              });
        }
      }
      if (o.has('a') && o.has('b')) {
        pairs.add(
            new Report.Pairs(
                "cold-join",
                "cold join to caught up: Ratis built-in install (a) ÷ Ferry (b)",
                r,
                f));
        flush();
      }
    }

    private void rawLimit() throws IOException {
      Path rawFile = o.work().resolve("raw-state.bin");
      try {
        ratis.copySnapshot(rawFile);
        rows.add(RawLimit.run("d", rawFile, gen.rawBytes(), 3));
      } finally {
        Files.deleteIfExists(rawFile);
      }
    }

    /** delta1 as interleaved pairs on the two loaded clusters, the same keys within a pair. */
    private void delta1Pairs() {
      SplittableRandom rnd = new SplittableRandom(o.seed() ^ 0xD1L);
      int n = Math.max(1, gen.keys() / 100);
      List<Double> r = new ArrayList<>();
      List<Double> f = new ArrayList<>();
      for (int k = 1; k <= o.repeat(); k++) {
        int rk = k;
        int[] keys = randomSubset(gen.keys(), n, rnd);
        r.add(null);
        f.add(null);
        if (ratis != null) {
          attempt(
              "delta1.ratis" + rep(k),
              () -> {
                Measurement m =
                    ratis.partitionDelta(
                        "delta1.ratis" + rep(rk),
                        "delta1. Ratis built-in install, partitioned follower, 1 % of keys changed,"
                            + " heal → caught up"
                            + of(rk),
                        gen,
                        keys,
                        timeout);
                rows.add(m);
                r.set(rk - 1, m.seconds());
                log("ratis: %s", m.summary());
              });
        }
        if (ferry != null) {
          attempt(
              "delta1" + rep(k),
              () -> {
                Measurement m =
                    ferry.partitionDelta(
                        "delta1" + rep(rk),
                        "delta1. Ferry, partitioned follower, 1 % of keys changed, heal → caught up"
                            + of(rk),
                        keys);
                rows.add(m);
                f.set(rk - 1, m.seconds());
                log("ferry: %s", m.summary());
              });
        }
      }
      if (ratis != null || ferry != null) {
        pairs.add(
            new Report.Pairs(
                "delta1", "delta1, partitioned follower, heal to caught up: Ratis ÷ Ferry", r, f));
        flush();
      }
    }

    private void tunedRatis(Path dir) throws IOException {
      try (RatisBaseline tuned = new RatisBaseline(dir, o.ratisTuning())) {
        tuned.start();
        tuned.load(gen);
        tuned.snapshot(timeout);
        rows.add(
            tuned.addEmptyNode(
                "a.tuned",
                "a'. Ratis built-in install, tuned (" + o.ratisTuning() + ")",
                gen.rawBytes(),
                timeout));
      } finally {
        deleteQuietly(dir);
      }
    }

    /** e, f, c, restart-delta1 and restart: Ferry alone, Ratis's cluster closed. */
    private void ferryOnly(Path dir) {
      if (ferry == null) {
        return;
      }
      boolean limited = o.has('e') || o.has('f');
      boolean separate = o.limitedSize() != o.size() && limited;
      if (!separate && limited && attempt("join a fourth node", this::fourthNode)) {
        limited("");
      }
      if (o.has('c')) {
        deltas();
      }
      if (o.has("restart-delta1")) {
        attempt(
            "restart-delta1",
            () -> {
              int n = Math.max(1, gen.keys() / 100);
              int[] keys = randomSubset(gen.keys(), n, new SplittableRandom(o.seed() ^ 0x5EDL));
              Measurement m =
                  ferry.delta(
                      "restart-delta1",
                      "restart-delta1. Ferry follower restarted after 1 % of keys changed at"
                          + " random, restart → caught up",
                      keys);
              rows.add(m);
              log("ferry: %s %s", m.summary(), m.extra());
            });
      }
      if (o.has("restart")) {
        attempt(
            "restart",
            () -> {
              FerryBench.Restart r =
                  ferry.restart(
                      "restart", "restart. Ferry follower restart, log intact: local load");
              rows.add(r.load());
              rows.add(r.reference());
              log("ferry: %s %s", r.load().summary(), r.load().extra());
            });
      }
      if (separate) {
        closeFerry(dir);
        if (attempt(
            "load the limited-size cluster",
            () -> {
              StateGenerator small = new StateGenerator(o.limitedSize(), o.seed());
              ferry = FerryBench.start(dir, small, timeout);
              ferry.load();
              fourthNode();
            })) {
          limited(" (" + (o.limitedSize() >> 20) + " MiB)");
        }
      }
    }

    /** Joins a fourth node for good (not measured), so installs have three followers to use. */
    private void fourthNode() throws IOException {
      ferry.coldJoin("join", "join", Shipping.AUTO, Integer.MAX_VALUE, true);
    }

    private void limited(String suffix) {
      if (o.has('e')) {
        for (long mbit : new long[] {1000, 100}) {
          for (Shipping s : new Shipping[] {Shipping.AS_STORED, Shipping.RAW}) {
            String name = s == Shipping.AS_STORED ? "compressed" : "raw";
            String id = "e." + mbit + "mbit." + name;
            attempt(
                id,
                () -> {
                  ferry.setSendRate(mbit * MBIT);
                  try {
                    FerryBench.Join j =
                        ferry.coldJoin(
                            id,
                            "e. Ferry cold join, 3 sources at "
                                + mbit
                                + " Mbit/s each, "
                                + name
                                + suffix,
                            s,
                            Integer.MAX_VALUE,
                            false);
                    rows.add(j.caughtUp());
                    log("ferry: %s", j.caughtUp().summary());
                  } finally {
                    ferry.setSendRate(0);
                  }
                });
          }
        }
      }
      if (o.has('f')) {
        for (int sources : new int[] {1, 3}) {
          attempt(
              "f." + sources,
              () -> {
                ferry.setSendRate(100 * MBIT);
                try {
                  FerryBench.Join j =
                      ferry.coldJoin(
                          "f." + sources,
                          "f. Ferry cold join, "
                              + sources
                              + " source(s) at 100 Mbit/s each"
                              + suffix,
                          Shipping.AUTO,
                          sources,
                          false);
                  rows.add(j.caughtUp());
                  log("ferry: %s", j.caughtUp().summary());
                } finally {
                  ferry.setSendRate(0);
                }
              });
        }
      }
    }

    private void deltas() {
      int[] sorted = gen.sortedIndexes();
      SplittableRandom rnd = new SplittableRandom(o.seed() ^ 0xDE17AL);
      for (int pct : new int[] {1, 10}) {
        int n = Math.max(1, gen.keys() * pct / 100);
        int[] random = randomSubset(gen.keys(), n, rnd);
        attempt(
            "c." + pct + "pct-random",
            () -> {
              rows.add(
                  ferry.delta(
                      "c." + pct + "pct-random",
                      "c. Ferry delta catch-up, " + pct + " % of keys changed at random",
                      random));
              log("ferry: %s", rows.get(rows.size() - 1).summary());
            });
        // A contiguous run of the sorted keys (keys sort in hash order: see StateGenerator).
        int start = rnd.nextInt(gen.keys() - n + 1);
        int[] range = Arrays.copyOfRange(sorted, start, start + n);
        attempt(
            "c." + pct + "pct-range",
            () -> {
              rows.add(
                  ferry.delta(
                      "c." + pct + "pct-range",
                      "c. Ferry delta catch-up, " + pct + " % of keys changed in one key range",
                      range));
              log("ferry: %s", rows.get(rows.size() - 1).summary());
            });
      }
    }

    /**
     * Runs a Ratis install, a Ferry cold join and a Ferry delta (and, with delta1, a partitioned
     * one) on a small state first, unmeasured, so that neither system's install path is measured
     * with cold classes and an unwarmed JIT (both run in this JVM, and the load phase warms only
     * the write path).
     */
    private void warmUp() throws IOException {
      log("warm-up at %d MiB", o.warmupSize() >> 20);
      StateGenerator small = new StateGenerator(o.warmupSize(), o.seed() + 1);
      Path dir = o.work().resolve("warmup");
      int[] keys = randomSubset(small.keys(), small.keys() / 100, new SplittableRandom(1));
      try {
        try (RatisBaseline r = new RatisBaseline(dir.resolve("ratis"), Map.of())) {
          r.start();
          r.load(small);
          r.snapshot(timeout);
          r.addEmptyNode("warmup", "warmup", small.rawBytes(), timeout);
        }
        try (FerryBench f = FerryBench.start(dir.resolve("ferry"), small, timeout)) {
          f.load();
          f.coldJoin("warmup", "warmup", Shipping.AUTO, Integer.MAX_VALUE, false);
          f.delta("warmup", "warmup", keys);
          if (o.has("delta1")) {
            f.partitionDelta("warmup", "warmup", keys);
          }
        }
      } finally {
        deleteQuietly(dir);
      }
    }

    private void closeRatis(Path dir) {
      if (ratis != null) {
        try {
          ratis.close();
        } catch (IOException | RuntimeException e) {
          log("closing Ratis's cluster: %s", e);
        }
        ratis = null;
      }
      deleteQuietly(dir);
    }

    private void closeFerry(Path dir) {
      if (ferry != null) {
        try {
          ferry.close();
        } catch (IOException | RuntimeException e) {
          log("closing Ferry's cluster: %s", e);
        }
        ferry = null;
      }
      deleteQuietly(dir);
    }
  }

  /** Sum of the heap pools' peak usage (an upper bound of the peak heap in use). */
  private static long peakHeap() {
    long sum = 0;
    for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) {
      if (p.getType() == MemoryType.HEAP && p.getPeakUsage() != null) {
        sum += p.getPeakUsage().getUsed();
      }
    }
    return sum;
  }

  /** {@code n} distinct indexes in {@code [0, bound)} (partial Fisher–Yates). */
  static int[] randomSubset(int bound, int n, SplittableRandom rnd) {
    int[] all = new int[bound];
    for (int i = 0; i < bound; i++) {
      all[i] = i;
    }
    for (int i = 0; i < n; i++) {
      int j = i + rnd.nextInt(bound - i);
      int t = all[i];
      all[i] = all[j];
      all[j] = t;
    }
    return Arrays.copyOf(all, n);
  }

  private static void log(String format, Object... args) {
    System.out.printf(Locale.ROOT, "[recovery] " + format + "%n", args);
  }

  /**
   * Deletes {@code dir} and everything under it; files and directories that vanish meanwhile (a
   * node that was still writing its log when it stopped) are fine. Retries a few times a directory
   * that something refilled. Call it only after every node using {@code dir} is stopped.
   */
  static void deleteTree(Path dir) throws IOException {
    for (int attempt = 1; ; attempt++) {
      try {
        deleteOnce(dir);
        return;
      } catch (DirectoryNotEmptyException e) {
        if (attempt >= 10) {
          throw e;
        }
        try {
          Thread.sleep(100L * attempt);
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          throw new InterruptedIOException("deleting " + dir);
        }
      }
    }
  }

  private static void deleteOnce(Path dir) throws IOException {
    if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) {
      return;
    }
    Files.walkFileTree(
        dir,
        new SimpleFileVisitor<>() {
          @Override
          public FileVisitResult visitFile(Path file, BasicFileAttributes attrs)
              throws IOException {
            Files.deleteIfExists(file);
            return FileVisitResult.CONTINUE;
          }

          @Override
          public FileVisitResult visitFileFailed(Path file, IOException e) throws IOException {
            if (e instanceof NoSuchFileException) {
              return FileVisitResult.CONTINUE;
            }
            throw e;
          }

          @Override
          public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
            if (e != null && !(e instanceof NoSuchFileException)) {
              throw e;
            }
            Files.deleteIfExists(d);
            return FileVisitResult.CONTINUE;
          }
        });
  }

  /** {@link #deleteTree}, logging instead of throwing: cleanup never ends a run. */
  static void deleteQuietly(Path dir) {
    try {
      deleteTree(dir);
    } catch (IOException | RuntimeException e) {
      log("could not delete %s: %s", dir, e);
    }
  }
}
