package dev.ferry.chaos.run;

import dev.ferry.chaos.checker.Budget;
import dev.ferry.chaos.checker.CheckReport;
import dev.ferry.chaos.harness.ChaosCluster;
import dev.ferry.chaos.harness.Convergence;
import dev.ferry.chaos.harness.NetworkMode;
import dev.ferry.chaos.harness.ShardGroups;
import dev.ferry.chaos.history.History;
import dev.ferry.chaos.nemesis.Nemesis;
import dev.ferry.chaos.workload.Workload;
import dev.ferry.kv.KvClient;
import dev.ferry.kv.shard.ClusterLayout;
import dev.ferry.kv.shard.RoutingKvClient;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Random;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.stream.Stream;

/**
 * Runs one {@link Scenario} with one seed: starts the cluster, preloads data, runs the workload
 * while nemesis rounds alternate with quiet periods, heals everything, checks that the replicas
 * converge, makes the final reads, and checks the history. Writes {@code history.txt} and {@code
 * summary.txt} to the run's directory (with the nodes' logs); on a pass the nodes' data is deleted,
 * on a failure everything is kept.
 *
 * <p>Blocks the calling thread for the scenario's duration plus setup and checks (about a minute
 * for a CI scenario). Not thread-safe: one run at a time per machine (the cluster's network names
 * are fixed).
 */
public final class ChaosRunner {
  private static final Duration START = Duration.ofSeconds(90);
  private static final Duration CONVERGE = Duration.ofSeconds(90);

  /** How long each group of a sharded cluster may take to end a membership change after healing. */
  private static final Duration SETTLE = Duration.ofSeconds(120);

  private static final Duration FINAL_READS = Duration.ofSeconds(30);
  private static final long LOG_LIMIT = 100L << 20;

  private final Path baseDir;
  private final Budget budget;

  /**
   * A runner writing each run's files under {@code baseDir/<scenario>-<seed>}, checking
   * linearizability with {@code budget} per key.
   */
  public ChaosRunner(Path baseDir, Budget budget) {
    this.baseDir = Objects.requireNonNull(baseDir, "baseDir");
    this.budget = Objects.requireNonNull(budget, "budget");
  }

  /**
   * Runs {@code scenario} with {@code seed}.
   *
   * @throws IOException if the cluster cannot be started or the run's files cannot be written
   */
  public RunResult run(Scenario scenario, long seed) throws IOException {
    long t0 = System.nanoTime();
    Path dir = baseDir.resolve(scenario.name() + "-" + seed);
    deleteTree(dir);
    Files.createDirectories(dir);
    Random random = new Random(seed);
    List<String> errors = new ArrayList<>();
    List<Fault> faults = new ArrayList<>();
    List<List<Nemesis>> combos = scenario.combos().get();
    History history = new History();
    Workload workload = null;
    String convergence = "not checked";
    boolean converged = false;
    CheckReport check = null;
    NetworkMode mode = scenario.network();
    ChaosCluster.Builder builder =
        ChaosCluster.builder(dir.resolve("cluster"))
            .voters(scenario.voters())
            .spares(scenario.spares())
            .network(scenario.network())
            .fakeTime(scenario.fakeTime())
            .diskBytes(scenario.diskBytes())
            .serverArgs(scenario.serverArgs().toArray(String[]::new));
    if (!scenario.splitKeys().isEmpty()) {
      builder.sharded(scenario.splitKeys());
    }
    try (ChaosCluster cluster = builder.start(START)) {
      mode = cluster.mode();
      preload(cluster, scenario.preloadBytes(), random.nextLong());
      Duration opTimeout = scenario.workload().opTimeout();
      workload =
          new Workload(
              cluster.sharded()
                  ? () -> routing(cluster, opTimeout)
                  : () -> cluster.client(opTimeout),
              history,
              scenario.workload(),
              random.nextLong());
      workload.setUp(Duration.ofSeconds(30));
      long start = System.nanoTime();
      workload.start();
      try {
        runRounds(cluster, scenario, combos, random, start, faults, errors);
      } finally {
        stop(workload, errors);
        healAll(cluster, combos, start, faults, errors);
      }
      Convergence.Result r =
          cluster.sharded()
              ? ShardGroups.converge(cluster, SETTLE, CONVERGE, keysByRange(cluster, workload))
              : Convergence.await(cluster, CONVERGE);
      converged = r.converged();
      convergence = r.detail();
      if (!workload.finalReads(FINAL_READS)) {
        errors.add("final reads did not all succeed within " + FINAL_READS);
      }
      errors.addAll(workload.anomalies());
      check = CheckReport.check(history.ops(), budget);
      for (String id : cluster.nodes()) {
        long size = Files.exists(cluster.logFile(id)) ? Files.size(cluster.logFile(id)) : 0;
        if (size > LOG_LIMIT) {
          errors.add(id + " logged " + (size >> 20) + " MiB: a loop of errors?");
        }
      }
      if (!converged || !errors.isEmpty() || check.status() == CheckReport.Status.INVALID) {
        for (String id : cluster.nodes()) {
          if (cluster.wasStarted(id)) {
            errors.add(id + " log tail:\n" + indent(cluster.tail(id, 15)));
          }
        }
      }
    } catch (IOException | RuntimeException e) {
      errors.add("run aborted: " + e);
    } finally {
      for (List<Nemesis> combo : combos) {
        for (Nemesis n : combo) {
          try {
            n.close();
          } catch (IOException e) {
            errors.add(n.name() + ": close: " + e);
          }
        }
      }
    }
    history.save(dir.resolve("history.txt"));
    RunResult result =
        new RunResult(
            scenario.name(),
            seed,
            mode,
            Duration.ofNanos(System.nanoTime() - t0),
            workload == null ? java.util.Map.of() : workload.counts(),
            faults,
            convergence,
            converged,
            check,
            errors,
            dir);
    Files.writeString(dir.resolve("summary.txt"), result.summary() + "\n", StandardCharsets.UTF_8);
    if (result.passed()) {
      deleteNodeData(dir.resolve("cluster"));
    }
    return result;
  }

  /** A routing client of a sharded cluster (the map file read now). */
  private static RoutingKvClient routing(ChaosCluster cluster, Duration timeout) {
    try {
      return cluster.routingClient(timeout);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read the cluster map", e);
    }
  }

  /** Which of the history's keys each range of a sharded cluster holds (its group checks them). */
  private static Map<Integer, List<String>> keysByRange(ChaosCluster cluster, Workload workload)
      throws IOException {
    ClusterLayout layout = cluster.layout();
    List<String> keys = new ArrayList<>(workload.registers());
    keys.add(Workload.COUNTER);
    keys.add(Workload.SET);
    Map<Integer, List<String>> out = new TreeMap<>();
    for (String k : keys) {
      int range = layout.rangeFor(Workload.storedAt(k).getBytes(StandardCharsets.UTF_8)).index();
      out.computeIfAbsent(range, i -> new ArrayList<>()).add(k);
    }
    return out;
  }

  /** Writes {@code bytes} of random 1 KiB values in batches, so snapshots have bulk to ship. */
  private static void preload(ChaosCluster cluster, long bytes, long seed) throws IOException {
    if (bytes <= 0) {
      return;
    }
    Random rnd = new Random(seed);
    try (KvClient c = cluster.client(Duration.ofSeconds(60))) {
      List<byte[][]> batch = new ArrayList<>();
      for (long i = 0, n = bytes / 1024; i < n; i++) {
        byte[] v = new byte[1024];
        rnd.nextBytes(v);
        batch.add(new byte[][] {("bulk/" + i).getBytes(StandardCharsets.UTF_8), v});
        if (batch.size() == 100 || i == n - 1) {
          c.putAll(batch);
          batch = new ArrayList<>();
        }
      }
    }
  }

  private static void runRounds(
      ChaosCluster cluster,
      Scenario s,
      List<List<Nemesis>> combos,
      Random random,
      long start,
      List<Fault> faults,
      List<String> errors) {
    long end = start + s.duration().toNanos();
    while (true) {
      long quiet = jitter(s.quiet(), random);
      long hold = jitter(s.hold(), random);
      if (System.nanoTime() + quiet + hold > end) {
        break;
      }
      park(quiet);
      List<Nemesis> combo = combos.get(random.nextInt(combos.size()));
      List<Nemesis> injected = new ArrayList<>();
      List<Integer> slots = new ArrayList<>();
      for (Nemesis n : combo) {
        if (!n.supports(cluster)) {
          continue;
        }
        if (!injected.isEmpty()) {
          park(TimeUnit.SECONDS.toNanos(1));
        }
        long at = millisSince(start);
        try {
          faults.add(new Fault(n.name(), n.inject(cluster, random), null, at, -1));
        } catch (Exception e) {
          faults.add(new Fault(n.name(), "failed: " + e, null, at, -1));
          errors.add(n.name() + ": inject: " + e);
        }
        injected.add(n);
        slots.add(faults.size() - 1);
      }
      park(hold);
      for (int i = injected.size() - 1; i >= 0; i--) {
        Nemesis n = injected.get(i);
        int slot = slots.get(i);
        try {
          faults.set(slot, faults.get(slot).healed(n.heal(cluster), millisSince(start)));
        } catch (Exception e) {
          faults.set(slot, faults.get(slot).healed("failed: " + e, millisSince(start)));
          errors.add(n.name() + ": heal: " + e);
        }
      }
    }
  }

  private static void stop(Workload workload, List<String> errors) {
    try {
      workload.stop();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      errors.add("interrupted stopping the workload");
    }
  }

  /** Heals every nemesis, the network and paused nodes, whatever the rounds left in place. */
  private static void healAll(
      ChaosCluster cluster,
      List<List<Nemesis>> combos,
      long start,
      List<Fault> faults,
      List<String> errors) {
    for (List<Nemesis> combo : combos) {
      for (int i = combo.size() - 1; i >= 0; i--) {
        Nemesis n = combo.get(i);
        try {
          String what = n.finalHeal(cluster);
          if (!what.isEmpty()) {
            faults.add(
                new Fault(n.name(), "final heal", what, millisSince(start), millisSince(start)));
          }
        } catch (Exception e) {
          errors.add(n.name() + ": final heal: " + e);
        }
      }
    }
    try {
      cluster.network().heal();
      for (String id : cluster.nodes()) {
        if (cluster.isPaused(id)) {
          cluster.resume(id);
        }
      }
    } catch (IOException e) {
      errors.add("final heal: " + e);
    }
  }

  private static long jitter(Duration d, Random random) {
    return (long) (d.toNanos() * (0.5 + random.nextDouble()));
  }

  private static void park(long nanos) {
    long deadline = System.nanoTime() + nanos;
    for (long left = nanos; left > 0; left = deadline - System.nanoTime()) {
      LockSupport.parkNanos(left);
    }
  }

  private static long millisSince(long start) {
    return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
  }

  private static String indent(String text) {
    return "    " + text.replace("\n", "\n    ");
  }

  /** Deletes the nodes' data directories (not their logs). */
  private static void deleteNodeData(Path clusterDir) throws IOException {
    if (!Files.isDirectory(clusterDir)) {
      return;
    }
    try (Stream<Path> entries = Files.list(clusterDir)) {
      for (Path p : entries.toList()) {
        if (Files.isDirectory(p) && p.getFileName().toString().matches("n\\d+")) {
          deleteTree(p);
        }
      }
    }
  }

  private static void deleteTree(Path dir) throws IOException {
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
