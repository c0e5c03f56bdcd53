package dev.ferry.chaos.run;

import dev.ferry.chaos.harness.NetworkMode;
import dev.ferry.chaos.nemesis.AdminMembership;
import dev.ferry.chaos.nemesis.ClockNemesis;
import dev.ferry.chaos.nemesis.DiskFullNemesis;
import dev.ferry.chaos.nemesis.LinkNemesis;
import dev.ferry.chaos.nemesis.MembershipNemesis;
import dev.ferry.chaos.nemesis.MultiRaftNemesis;
import dev.ferry.chaos.nemesis.Nemesis;
import dev.ferry.chaos.nemesis.PartitionNemesis;
import dev.ferry.chaos.nemesis.ProcessNemesis;
import dev.ferry.chaos.nemesis.SnapshotInstallNemesis;
import dev.ferry.chaos.nemesis.Target;
import dev.ferry.chaos.nemesis.WipeNemesis;
import dev.ferry.chaos.workload.WorkloadConfig;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Supplier;

/**
 * The scenarios of the chaos suites: {@link #ci()}, a bounded set for every build, and {@link
 * #extended()}, the longer set of {@code mvn verify -Pchaos}.
 */
public final class Scenarios {
  /** Frequent snapshots and a short log, so restarts and lagging nodes go through snapshots. */
  private static final String[] SNAPSHOTS = {"--capture-every", "300", "--log-preserve", "100"};

  private static final Duration MEMBERSHIP_WAIT = Duration.ofSeconds(30);
  private static final Duration CLOCK_STEP = Duration.ofSeconds(20);
  private static final Duration MOVE_DEADLINE = Duration.ofSeconds(20);
  private static final Duration MOVE_WAIT = Duration.ofSeconds(8);

  private Scenarios() {}

  /**
   * The CI suite, about a minute each: partitions and kills, pauses, membership changes during
   * faults, interrupted snapshot installs, clock skew, a full disk, the proxy fallback, and a
   * sharded cluster's node replacement and replica moves under partitions and kills.
   */
  public static List<Scenario> ci() {
    return List.of(
        partitionKill(),
        pause(),
        membership(),
        install(),
        clock(),
        disk(),
        proxyFallback(),
        multiRaft());
  }

  /**
   * The extended suite: the CI scenarios run three times as long (the sharded cluster's {@link
   * #multiRaft} too), plus packet loss and bandwidth limits, five-node clusters and wiped voters.
   */
  public static List<Scenario> extended() {
    List<Scenario> all = new ArrayList<>();
    for (Scenario s : ci()) {
      all.add(s.withDuration(s.duration().multipliedBy(3)));
    }
    all.add(degradedLinks());
    all.add(fiveNodes());
    all.add(wipe());
    return all;
  }

  /**
   * A voter's disk is wiped and it restarts under its old id, alone or with the leader killed right
   * after (the stale-follower election the wiped node must not vote in); it must be demoted and
   * re-added through the digest gate ({@link WipeNemesis}).
   */
  public static Scenario wipe() {
    return Scenario.builder("wipe")
        .serverArgs(SNAPSHOTS)
        .duration(Duration.ofSeconds(40))
        .hold(Duration.ofSeconds(6))
        .nemesis(WipeNemesis::new)
        .combo(
            () ->
                List.of(
                    new WipeNemesis(),
                    new ProcessNemesis(ProcessNemesis.Action.KILL, Target.LEADER)))
        .build();
  }

  /** Leader-isolating and other partitions, and kill -9 of the leader or any node. */
  public static Scenario partitionKill() {
    return Scenario.builder("partition-kill")
        .serverArgs(SNAPSHOTS)
        .duration(Duration.ofSeconds(40))
        .nemesis(() -> new PartitionNemesis(PartitionNemesis.Kind.ISOLATE_LEADER))
        .nemesis(() -> new PartitionNemesis(PartitionNemesis.Kind.MAJORITY_MINORITY))
        .nemesis(() -> new PartitionNemesis(PartitionNemesis.Kind.ONE_WAY))
        .nemesis(() -> new PartitionNemesis(PartitionNemesis.Kind.BRIDGE))
        .nemesis(() -> new ProcessNemesis(ProcessNemesis.Action.KILL, Target.LEADER))
        .nemesis(() -> new ProcessNemesis(ProcessNemesis.Action.KILL, Target.RANDOM))
        .build();
  }

  /** SIGSTOP of the leader or a follower, alone or with a partition. */
  public static Scenario pause() {
    return Scenario.builder("pause")
        .serverArgs(SNAPSHOTS)
        .duration(Duration.ofSeconds(30))
        .nemesis(() -> new ProcessNemesis(ProcessNemesis.Action.PAUSE, Target.LEADER))
        .nemesis(() -> new ProcessNemesis(ProcessNemesis.Action.PAUSE, Target.FOLLOWER))
        .combo(
            () ->
                List.of(
                    new ProcessNemesis(ProcessNemesis.Action.PAUSE, Target.LEADER),
                    new PartitionNemesis(PartitionNemesis.Kind.MAJORITY_MINORITY)))
        .build();
  }

  /** Adding and removing members while the leader is cut off or nodes die; leader crashes. */
  public static Scenario membership() {
    return Scenario.builder("membership")
        .serverArgs(SNAPSHOTS)
        .spares(1)
        .duration(Duration.ofSeconds(50))
        .hold(Duration.ofSeconds(6))
        .combo(
            () ->
                List.of(
                    membershipNemesis(false),
                    new PartitionNemesis(PartitionNemesis.Kind.ISOLATE_LEADER)))
        .combo(
            () ->
                List.of(
                    membershipNemesis(false),
                    new ProcessNemesis(ProcessNemesis.Action.KILL, Target.RANDOM)))
        .nemesis(() -> membershipNemesis(true))
        .build();
  }

  private static Nemesis membershipNemesis(boolean crashLeader) {
    return new MembershipNemesis(
        c -> new AdminMembership(c, Duration.ofSeconds(30)), crashLeader, 3, 4, MEMBERSHIP_WAIT);
  }

  /**
   * A spare node joining while its snapshot install is interrupted by killing it or a source, or by
   * corrupting a source's chunks (8 MiB of bulk data, chunks sent at 1 MB/s per source).
   */
  public static Scenario install() {
    return Scenario.builder("install")
        .serverArgs(
            "--capture-every", "200", "--log-preserve", "50", "--chunk-send-rate", "1000000")
        .spares(1)
        .preloadBytes(8L << 20)
        .duration(Duration.ofSeconds(50))
        .hold(Duration.ofSeconds(4))
        .nemesis(() -> installNemesis(SnapshotInstallNemesis.Kind.KILL_RECEIVER))
        .nemesis(() -> installNemesis(SnapshotInstallNemesis.Kind.KILL_SOURCE))
        .nemesis(() -> installNemesis(SnapshotInstallNemesis.Kind.CORRUPT_SOURCE))
        .build();
  }

  private static Nemesis installNemesis(SnapshotInstallNemesis.Kind kind) {
    return new SnapshotInstallNemesis(
        kind, c -> new AdminMembership(c, Duration.ofSeconds(30)), MEMBERSHIP_WAIT);
  }

  /**
   * Clocks jumping forward by up to 20 s, alone, with a paused leader or a leader-isolating
   * partition. (Jumps stay below Ratis's 60 s pause threshold, past which a node shuts its Raft
   * server down and the process exits; and no node restarts, since a restarted node's clock is only
   * brought forward after a while.)
   */
  public static Scenario clock() {
    return Scenario.builder("clock")
        .serverArgs(SNAPSHOTS)
        .fakeTime()
        .duration(Duration.ofSeconds(30))
        .nemesis(() -> new ClockNemesis(CLOCK_STEP))
        .combo(
            () ->
                List.of(
                    new ClockNemesis(CLOCK_STEP),
                    new ProcessNemesis(ProcessNemesis.Action.PAUSE, Target.LEADER)))
        .combo(
            () ->
                List.of(
                    new ClockNemesis(CLOCK_STEP),
                    new PartitionNemesis(PartitionNemesis.Kind.ISOLATE_LEADER)))
        .build();
  }

  /**
   * The disk of the leader or a follower fills up (a 96 MiB tmpfs per node; small log segments with
   * little preallocation, so that the Raft log needs new space while the disk is full).
   */
  public static Scenario disk() {
    return Scenario.builder("disk-full")
        .serverArgs(SNAPSHOTS)
        .serverArgs(
            "--raft-property",
            "raft.server.log.segment.size.max=128KB",
            "--raft-property",
            "raft.server.log.preallocated.size=32KB")
        .hold(Duration.ofSeconds(8))
        .diskBytes(96L << 20)
        .duration(Duration.ofSeconds(30))
        .nemesis(() -> new DiskFullNemesis(Target.LEADER))
        .nemesis(() -> new DiskFullNemesis(Target.FOLLOWER))
        .build();
  }

  /** The fallback network (no namespaces): partitions through the proxy, kills and pauses. */
  public static Scenario proxyFallback() {
    return Scenario.builder("proxy-fallback")
        .network(NetworkMode.PROXY)
        .serverArgs(SNAPSHOTS)
        .duration(Duration.ofSeconds(30))
        .nemesis(() -> new PartitionNemesis(PartitionNemesis.Kind.ISOLATE_LEADER))
        .nemesis(() -> new PartitionNemesis(PartitionNemesis.Kind.BRIDGE))
        .nemesis(() -> new ProcessNemesis(ProcessNemesis.Action.KILL, Target.RANDOM))
        .nemesis(() -> new ProcessNemesis(ProcessNemesis.Action.PAUSE, Target.LEADER))
        .build();
  }

  /**
   * A sharded cluster (static map): five ranges at replication 3 on n1..n4 (split so that the
   * counter and r0, r1, r2, r3 and the set each lie in one range), n5 a spare in the map. The first
   * round replaces a node by n5 (every group with a replica on it moving at once, the node killed
   * first in about half the runs), every later round moves a random range's replica ({@link
   * MultiRaftNemesis}), each while a partition or a kill holds. Needs network namespaces.
   */
  public static Scenario multiRaft() {
    List<Supplier<Nemesis>> faults =
        List.of(
            () -> new PartitionNemesis(PartitionNemesis.Kind.MAJORITY_MINORITY),
            () -> new PartitionNemesis(PartitionNemesis.Kind.ISOLATE_LEADER),
            () -> new ProcessNemesis(ProcessNemesis.Action.KILL, Target.LEADER),
            () -> new ProcessNemesis(ProcessNemesis.Action.KILL, Target.RANDOM));
    return Scenario.builder("multi-raft")
        .network(NetworkMode.NETNS)
        .voters(4)
        .spares(1)
        .sharded("reg/r1", "reg/r2", "reg/r3", "set/")
        .serverArgs(SNAPSHOTS)
        .duration(Duration.ofSeconds(30))
        .hold(Duration.ofSeconds(5))
        .nemesis(() -> new MultiRaftNemesis(faults, 0, MOVE_DEADLINE, MOVE_WAIT))
        .build();
  }

  /** Packet loss on every member, and a leader or follower limited to 1 Mbit/s. */
  public static Scenario degradedLinks() {
    return Scenario.builder("degraded-links")
        .serverArgs(SNAPSHOTS)
        .preloadBytes(2L << 20)
        .duration(Duration.ofSeconds(90))
        .hold(Duration.ofSeconds(8))
        .nemesis(() -> LinkNemesis.loss(0.3))
        .nemesis(() -> LinkNemesis.bandwidth(1_000_000, Target.LEADER))
        .nemesis(() -> LinkNemesis.bandwidth(1_000_000, Target.FOLLOWER))
        .combo(
            () ->
                List.of(
                    LinkNemesis.loss(0.2),
                    new ProcessNemesis(ProcessNemesis.Action.KILL, Target.LEADER)))
        .build();
  }

  /** Five voters and a spare: every partition shape, kills, pauses and membership changes. */
  public static Scenario fiveNodes() {
    List<Supplier<Nemesis>> each =
        List.of(
            () -> new PartitionNemesis(PartitionNemesis.Kind.MAJORITY_MINORITY),
            () -> new PartitionNemesis(PartitionNemesis.Kind.ISOLATE_LEADER),
            () -> new PartitionNemesis(PartitionNemesis.Kind.BRIDGE),
            () -> new PartitionNemesis(PartitionNemesis.Kind.ONE_WAY),
            () -> new ProcessNemesis(ProcessNemesis.Action.KILL, Target.LEADER),
            () -> new ProcessNemesis(ProcessNemesis.Action.PAUSE, Target.RANDOM));
    Scenario.Builder b =
        Scenario.builder("five-nodes")
            .voters(5)
            .spares(1)
            .serverArgs(SNAPSHOTS)
            .workload(new WorkloadConfig(6, 4, Duration.ofSeconds(5), Duration.ofMillis(30)))
            .duration(Duration.ofSeconds(120))
            .hold(Duration.ofSeconds(6));
    each.forEach(b::nemesis);
    b.combo(
        () ->
            List.of(
                new MembershipNemesis(
                    c -> new AdminMembership(c, Duration.ofSeconds(30)),
                    false,
                    4,
                    6,
                    MEMBERSHIP_WAIT),
                new PartitionNemesis(PartitionNemesis.Kind.MAJORITY_MINORITY)));
    return b.build();
  }
}
