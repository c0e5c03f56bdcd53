package dev.ferry.bench.recovery;

import dev.ferry.raft.install.Shipping;
import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.stream.Stream;

/**
 * The side-by-side recovery benchmark (issue 6): the same generated state ({@link StateGenerator})
 * recovered on the same machine by
 *
 * <ol type="a">
 *   <li>Ratis's built-in leader-sent snapshot install ({@link RatisBaseline});
 *   <li>a Ferry cold join of an empty node, to caught up and to verified voter;
 *   <li>Ferry delta catch-ups of a stopped follower after 1 % and 10 % of the keys changed, at
 *       random and as one contiguous key range;
 *   <li>the raw limit: the state's bytes through a loopback socket into SHA-256 ({@link RawLimit});
 *   <li>Ferry cold joins with every source's chunk service limited to 1 Gbit/s and 100 Mbit/s,
 *       chunks shipped compressed and raw;
 *   <li>a Ferry cold join from 1 source against 3 sources, each limited to 100 Mbit/s.
 * </ol>
 *
 * Both systems run the same way: three (plus the joining one) Raft servers inside this JVM, each
 * with its own data directory, talking gRPC (and, for Ferry, its chunk service) over loopback.
 * Scenarios (e) and (f) run before (c), since every delta capture adds a layer that later full
 * transfers would also ship.
 *
 * <p>Usage: {@code RecoveryBenchmark [--size 128m] [--limited-size SIZE] [--warmup 8m] [--out
 * target/recovery] [--work DIR] [--scenarios abcdef] [--ratis-tuning key=value,...] [--seed N]}.
 * Writes {@code results.md}, {@code results.json} and {@code b-sources.png} (bytes over time per
 * source during the cold join) into {@code --out}. Give the JVM a heap of about eight times the
 * state size plus 2 GiB (four replicas of the state, and an install builds the new state beside the
 * old).
 */
public final class RecoveryBenchmark {
  private static final long MBIT = 1_000_000L / 8;

  private RecoveryBenchmark() {}

  /** What to run. */
  record Options(
      long size,
      long limitedSize,
      long warmupSize,
      Path out,
      Path work,
      String scenarios,
      Map<String, String> ratisTuning,
      long seed) {
    Options {
      ratisTuning = Map.copyOf(ratisTuning);
    }

    boolean has(char scenario) {
      return scenarios.indexOf(scenario) >= 0;
    }
  }

  public static void main(String[] args) throws Exception {
    long size = 128L << 20;
    Long limited = null;
    long warmup = 8L << 20;
    Path out = Path.of("target/recovery");
    Path work = null;
    String scenarios = "abcdef";
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
            scenarios,
            tuning,
            seed);
    Report r = run(o);
    System.out.println();
    System.out.println(r.table());
    System.out.println("Wrote " + o.out().toAbsolutePath());
    System.exit(0);
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

  /** Runs the chosen scenarios and writes the report into {@code o.out()}. */
  static Report run(Options o) throws IOException {
    long need = 12 * Math.max(o.size(), o.limitedSize()) + (1L << 30);
    Files.createDirectories(o.work());
    long free = Files.getFileStore(o.work()).getUsableSpace();
    if (free < need) {
      throw new IllegalStateException(
          "need about " + (need >> 20) + " MiB free in " + o.work() + ", have " + (free >> 20));
    }
    long heap = Runtime.getRuntime().maxMemory();
    if (heap < 6 * o.size() + (512L << 20)) {
      throw new IllegalStateException(
          "heap " + (heap >> 20) + " MiB is too small for " + (o.size() >> 20) + " MiB of state");
    }
    Duration timeout = Duration.ofSeconds(Math.max(180, o.size() / (1 << 20)));
    Map<String, Object> meta = new LinkedHashMap<>();
    meta.put("stateBytes", o.size());
    meta.put("limitedStateBytes", o.limitedSize());
    meta.put("seed", o.seed());
    meta.put("cores", Runtime.getRuntime().availableProcessors());
    meta.put("maxHeapBytes", heap);
    meta.put("java", System.getProperty("java.version"));
    meta.put(
        "loadAverageAtStart", ManagementFactory.getOperatingSystemMXBean().getSystemLoadAverage());
    meta.put("deployment", "in-JVM Raft servers over loopback (gRPC; Ferry chunk service TCP)");

    if (o.warmupSize() > 0) {
      warmUp(o, timeout);
    }
    meta.put("warmupStateBytes", o.warmupSize());
    List<Measurement> rows = new ArrayList<>();
    StateGenerator gen = new StateGenerator(o.size(), o.seed());
    meta.put("keys", gen.keys());
    log("state: %d keys, %d MiB raw", gen.keys(), gen.rawBytes() >> 20);

    if (o.has('a') || o.has('d')) {
      Path dir = o.work().resolve("ratis");
      Path rawFile = o.work().resolve("raw-state.bin");
      try (RatisBaseline ratis = new RatisBaseline(dir, Map.of())) {
        ratis.start();
        long t = System.nanoTime();
        ratis.load(gen);
        log("ratis: loaded in %.1f s", (System.nanoTime() - t) / 1e9);
        ratis.snapshot(timeout);
        if (o.has('a')) {
          rows.add(
              ratis.addEmptyNode(
                  "a", "a. Ratis built-in install, to caught up", gen.rawBytes(), timeout));
          log("ratis: %s", rows.get(rows.size() - 1).summary());
        }
        if (o.has('d')) {
          ratis.copySnapshot(rawFile);
        }
      } finally {
        deleteTree(dir);
      }
      if (!o.ratisTuning().isEmpty() && o.has('a')) {
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
          deleteTree(dir);
        }
      }
      if (o.has('d')) {
        rows.add(RawLimit.run("d", rawFile, gen.rawBytes(), 3));
        Files.deleteIfExists(rawFile);
      }
    }

    if (o.has('b') || o.has('c') || o.has('e') || o.has('f')) {
      Path dir = o.work().resolve("ferry");
      FerryBench ferry = FerryBench.start(dir, gen, timeout);
      try {
        long t = System.nanoTime();
        ferry.load();
        long[] snap = ferry.snapshotSize();
        log(
            "ferry: loaded and captured in %.1f s: %d raw bytes stored as %d (%.2f:1), manifest %d",
            (System.nanoTime() - t) / 1e9, snap[1], snap[0], (double) snap[1] / snap[0], snap[2]);
        meta.put("ferrySnapshotStoredBytes", snap[0]);
        meta.put("ferrySnapshotRawBytes", snap[1]);
        meta.put("ferryManifestBytes", snap[2]);
        if (o.has('b')) {
          FerryBench.Join j =
              ferry.coldJoin(
                  "b", "b. Ferry cold join, to caught up", Shipping.AUTO, Integer.MAX_VALUE, true);
          rows.add(j.caughtUp());
          rows.add(j.voter());
          log("ferry: %s", j.caughtUp().summary());
        }
        boolean separate = o.limitedSize() != o.size() && (o.has('e') || o.has('f'));
        if (!separate && (o.has('e') || o.has('f'))) {
          if (!o.has('b')) {
            fourthNode(ferry);
          }
          limited(ferry, o, rows, "");
        }
        if (o.has('c')) {
          deltas(ferry, gen, o.seed(), rows);
        }
        if (separate) {
          ferry.close();
          deleteTree(dir);
          StateGenerator small = new StateGenerator(o.limitedSize(), o.seed());
          ferry = FerryBench.start(dir, small, timeout);
          ferry.load();
          fourthNode(ferry);
          limited(ferry, o, rows, " (" + (o.limitedSize() >> 20) + " MiB)");
        }
      } finally {
        ferry.close();
        deleteTree(dir);
      }
    }
    Report report = new Report(meta, rows);
    report.write(o.out());
    return report;
  }

  /**
   * Runs a Ratis install, a Ferry cold join and a Ferry delta on a small state first, unmeasured,
   * so that neither system's install path is measured with cold classes and an unwarmed JIT (both
   * run in this JVM, and the load phase warms only the write path).
   */
  private static void warmUp(Options o, Duration timeout) throws IOException {
    log("warm-up at %d MiB", o.warmupSize() >> 20);
    StateGenerator small = new StateGenerator(o.warmupSize(), o.seed() + 1);
    Path dir = o.work().resolve("warmup");
    try (RatisBaseline ratis = new RatisBaseline(dir.resolve("ratis"), Map.of())) {
      ratis.start();
      ratis.load(small);
      ratis.snapshot(timeout);
      ratis.addEmptyNode("warmup", "warmup", small.rawBytes(), timeout);
    }
    try (FerryBench ferry = FerryBench.start(dir.resolve("ferry"), small, timeout)) {
      ferry.load();
      ferry.coldJoin("warmup", "warmup", Shipping.AUTO, Integer.MAX_VALUE, false);
      ferry.delta(
          "warmup",
          "warmup",
          randomSubset(small.keys(), small.keys() / 100, new SplittableRandom(1)));
    } finally {
      deleteTree(dir);
    }
  }

  /** Joins a fourth node for good (not measured), so installs have three followers to use. */
  private static void fourthNode(FerryBench ferry) throws IOException {
    ferry.coldJoin("join", "join", Shipping.AUTO, Integer.MAX_VALUE, true);
  }

  private static void limited(FerryBench ferry, Options o, List<Measurement> rows, String suffix)
      throws IOException {
    if (o.has('e')) {
      for (long mbit : new long[] {1000, 100}) {
        ferry.setSendRate(mbit * MBIT);
        for (Shipping s : new Shipping[] {Shipping.AS_STORED, Shipping.RAW}) {
          String name = s == Shipping.AS_STORED ? "compressed" : "raw";
          FerryBench.Join j =
              ferry.coldJoin(
                  "e." + mbit + "mbit." + name,
                  "e. Ferry cold join, 3 sources at " + mbit + " Mbit/s each, " + name + suffix,
                  s,
                  Integer.MAX_VALUE,
                  false);
          rows.add(j.caughtUp());
          log("ferry: %s", j.caughtUp().summary());
        }
      }
    }
    if (o.has('f')) {
      ferry.setSendRate(100 * MBIT);
      for (int sources : new int[] {1, 3}) {
        FerryBench.Join j =
            ferry.coldJoin(
                "f." + sources,
                "f. Ferry cold join, " + sources + " source(s) at 100 Mbit/s each" + suffix,
                Shipping.AUTO,
                sources,
                false);
        rows.add(j.caughtUp());
        log("ferry: %s", j.caughtUp().summary());
      }
    }
    ferry.setSendRate(0);
  }

  private static void deltas(
      FerryBench ferry, StateGenerator gen, long seed, List<Measurement> rows) throws IOException {
    int[] sorted = gen.sortedIndexes();
    SplittableRandom rnd = new SplittableRandom(seed ^ 0xDE17AL);
    for (int pct : new int[] {1, 10}) {
      int n = Math.max(1, gen.keys() * pct / 100);
      int[] random = randomSubset(gen.keys(), n, rnd);
      rows.add(
          ferry.delta(
              "c." + pct + "pct-random",
              "c. Ferry delta catch-up, " + pct + " % of keys changed at random",
              random));
      log("ferry: %s", rows.get(rows.size() - 1).summary());
      int start = rnd.nextInt(gen.keys() - n + 1);
      int[] range = Arrays.copyOfRange(sorted, start, start + n);
      rows.add(
          ferry.delta(
              "c." + pct + "pct-range",
              "c. Ferry delta catch-up, " + pct + " % of keys changed in one key range",
              range));
      log("ferry: %s", rows.get(rows.size() - 1).summary());
    }
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

  static void deleteTree(Path dir) throws IOException {
    if (!Files.exists(dir)) {
      return;
    }
    try (Stream<Path> paths = Files.walk(dir)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(p);
      }
    }
  }
}
