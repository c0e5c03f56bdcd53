package dev.ferry.chaos.run;

import dev.ferry.chaos.harness.NetworkMode;
import dev.ferry.chaos.nemesis.Nemesis;
import dev.ferry.chaos.workload.WorkloadConfig;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Supplier;

/**
 * One chaos scenario: a cluster shape, a workload, and the fault rounds a {@link ChaosRunner}
 * alternates with quiet periods for {@link #duration()}.
 *
 * <p>Each round picks one of the scenario's combinations of nemeses at random and injects them in
 * order (a second apart), holds them for {@code hold}, then heals them in reverse order, then stays
 * quiet for {@code quiet}. Combinations let faults overlap, e.g. a membership change while the
 * leader is cut off. Nemeses keep state, so the scenario holds a supplier of fresh ones per run.
 *
 * @param name a short name (file names, summaries)
 * @param voters initial voters
 * @param spares nodes for membership changes
 * @param serverArgs extra {@code ferry server} arguments
 * @param network where the nodes run
 * @param fakeTime whether the nodes run under libfaketime
 * @param diskBytes size of each node's own tmpfs (0: none)
 * @param preloadBytes bytes of bulk data written before the workload starts (so snapshots have
 *     something to ship)
 * @param workload the workload's shape
 * @param duration how long the workload and the faults run
 * @param hold how long each round's faults stay in place
 * @param quiet how long the cluster is left alone between rounds
 * @param combos makes the nemesis combinations a run draws its rounds from
 * @param splitKeys for a sharded cluster, the keys its ranges are split at ({@link
 *     dev.ferry.chaos.harness.ChaosCluster.Builder#sharded}: ranges on the voters, the spares in
 *     the map); empty for a cluster of one group
 */
public record Scenario(
    String name,
    int voters,
    int spares,
    List<String> serverArgs,
    NetworkMode network,
    boolean fakeTime,
    long diskBytes,
    long preloadBytes,
    WorkloadConfig workload,
    Duration duration,
    Duration hold,
    Duration quiet,
    Supplier<List<List<Nemesis>>> combos,
    List<String> splitKeys) {

  public Scenario {
    splitKeys = List.copyOf(splitKeys);
    Objects.requireNonNull(name, "name");
    if (!name.matches("[a-z0-9-]+")) {
      throw new IllegalArgumentException("name must be [a-z0-9-]+: " + name);
    }
    serverArgs = List.copyOf(serverArgs);
    Objects.requireNonNull(network, "network");
    Objects.requireNonNull(workload, "workload");
    Objects.requireNonNull(duration, "duration");
    Objects.requireNonNull(hold, "hold");
    Objects.requireNonNull(quiet, "quiet");
    Objects.requireNonNull(combos, "combos");
    if (voters < 1 || spares < 0 || diskBytes < 0 || preloadBytes < 0) {
      throw new IllegalArgumentException(
          "bad sizes: voters "
              + voters
              + ", spares "
              + spares
              + ", diskBytes "
              + diskBytes
              + ", preloadBytes "
              + preloadBytes);
    }
  }

  /** A builder with the defaults of a short CI scenario. */
  public static Builder builder(String name) {
    return new Builder(name);
  }

  /** A copy that runs for {@code d} instead. */
  public Scenario withDuration(Duration d) {
    return new Scenario(
        name,
        voters,
        spares,
        serverArgs,
        network,
        fakeTime,
        diskBytes,
        preloadBytes,
        workload,
        d,
        hold,
        quiet,
        combos,
        splitKeys);
  }

  /** A copy on another network (and named after it). */
  public Scenario on(NetworkMode mode, String newName) {
    return new Scenario(
        newName,
        voters,
        spares,
        serverArgs,
        mode,
        fakeTime,
        diskBytes,
        preloadBytes,
        workload,
        duration,
        hold,
        quiet,
        combos,
        splitKeys);
  }

  /** Builds a {@link Scenario}. Defaults: 3 voters, 30 s, faults held 5 s, quiet 3 s. */
  public static final class Builder {
    private final String name;
    private int voters = 3;
    private int spares;
    private final List<String> serverArgs = new ArrayList<>();
    private NetworkMode network = NetworkMode.AUTO;
    private boolean fakeTime;
    private long diskBytes;
    private long preloadBytes;
    private WorkloadConfig workload = WorkloadConfig.defaults();
    private Duration duration = Duration.ofSeconds(30);
    private Duration hold = Duration.ofSeconds(5);
    private Duration quiet = Duration.ofSeconds(3);
    private final List<Supplier<List<Nemesis>>> combos = new ArrayList<>();
    private List<String> splitKeys = List.of();

    private Builder(String name) {
      this.name = name;
    }

    /** Initial voters. */
    public Builder voters(int n) {
      this.voters = n;
      return this;
    }

    /** Spare nodes for membership changes. */
    public Builder spares(int n) {
      this.spares = n;
      return this;
    }

    /** Extra {@code ferry server} arguments. */
    public Builder serverArgs(String... args) {
      serverArgs.addAll(List.of(args));
      return this;
    }

    /** The network. */
    public Builder network(NetworkMode mode) {
      this.network = mode;
      return this;
    }

    /** Runs the nodes under libfaketime. */
    public Builder fakeTime() {
      this.fakeTime = true;
      return this;
    }

    /** Gives each node a tmpfs of this size. */
    public Builder diskBytes(long bytes) {
      this.diskBytes = bytes;
      return this;
    }

    /** Writes this much bulk data before the workload. */
    public Builder preloadBytes(long bytes) {
      this.preloadBytes = bytes;
      return this;
    }

    /** The workload. */
    public Builder workload(WorkloadConfig config) {
      this.workload = config;
      return this;
    }

    /** How long the workload and faults run. */
    public Builder duration(Duration d) {
      this.duration = d;
      return this;
    }

    /** How long each round's faults hold. */
    public Builder hold(Duration d) {
      this.hold = d;
      return this;
    }

    /** How long the quiet periods last. */
    public Builder quiet(Duration d) {
      this.quiet = d;
      return this;
    }

    /**
     * Makes the cluster sharded: ranges split at {@code keys} on the {@link #voters} nodes at
     * replication 3, the {@link #spares} in the map and running, holding no range.
     */
    public Builder sharded(String... keys) {
      this.splitKeys = List.of(keys);
      return this;
    }

    /** Adds a combination of nemeses (made fresh for each run). */
    public Builder combo(Supplier<List<Nemesis>> combo) {
      combos.add(combo);
      return this;
    }

    /** Adds a combination of one nemesis (made fresh for each run). */
    public Builder nemesis(Supplier<Nemesis> nemesis) {
      combos.add(() -> List.of(nemesis.get()));
      return this;
    }

    /** Builds the scenario. */
    public Scenario build() {
      if (combos.isEmpty()) {
        throw new IllegalStateException(name + ": no nemesis");
      }
      List<Supplier<List<Nemesis>>> c = List.copyOf(combos);
      return new Scenario(
          name,
          voters,
          spares,
          serverArgs,
          network,
          fakeTime,
          diskBytes,
          preloadBytes,
          workload,
          duration,
          hold,
          quiet,
          () -> c.stream().map(Supplier::get).toList(),
          splitKeys);
    }
  }
}
