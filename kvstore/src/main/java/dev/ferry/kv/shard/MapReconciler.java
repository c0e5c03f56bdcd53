package dev.ferry.kv.shard;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.function.BooleanSupplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps the replicated map true to the groups: the groups' own configurations are the authority on
 * where their replicas are; the map follows them. One round ({@link #runOnce}):
 *
 * <ol>
 *   <li>reads the metadata group's layout; if it holds none yet, seeds it with the descriptor's
 *       ({@code SET_IF_VERSION(0, …)}, on any node: only one wins);
 *   <li>on the metadata group's leader only: asks each range's group for its voters ({@link
 *       Voters}); a group with a membership change pending, or with another number of voters than
 *       the replication factor (a move between its add and its remove), is left for a later round;
 *       a settled group whose voters differ from the map's replicas gets them recorded, by
 *       compare-and-set from the version read (replicas that stay keep their place, new ones take
 *       the free places), one INFO line per repair. A lost race ends the round;
 *   <li>on the leader still, the same for the metadata group's own voters and the map's {@code
 *       meta} line ({@link MetaVoters}): a settled group of as many voters as the line has nodes,
 *       whose voters differ from it (a meta move done and not recorded), gets them recorded the
 *       same way.
 * </ol>
 *
 * <p>Concurrency: rounds run on one thread at a time (the caller's scheduler); a round blocks on
 * the network. Failures to reach a group or the metadata group skip that part of the round.
 */
public final class MapReconciler {
  private static final Logger LOG = LoggerFactory.getLogger(MapReconciler.class);

  /** Where a group's replicas are, by its own configuration. */
  @FunctionalInterface
  public interface Voters {
    /**
     * The voters of {@code range}'s group by its leader's configuration, or empty when the group
     * has a membership change pending or no member answered. Blocks on the network.
     *
     * @param layout the layout the range is from (its nodes' addresses)
     */
    Optional<List<String>> of(ClusterLayout layout, Range range) throws IOException;
  }

  /** Where the metadata group's replicas are, by its own configuration. */
  @FunctionalInterface
  public interface MetaVoters {
    /**
     * The metadata group's voters by its leader's configuration, or empty when it has a membership
     * change pending or no member answered. Blocks on the network.
     *
     * @param layout the layout read (its meta nodes' addresses)
     */
    Optional<List<String>> of(ClusterLayout layout) throws IOException;
  }

  private final ReplicatedClusterMap map;
  private final ClusterLayout seed;
  private final BooleanSupplier metaLeader;
  private final Voters voters;
  private final MetaVoters metaVoters;

  /**
   * A reconciler of {@code map}.
   *
   * @param seed the layout to seed an empty metadata group with (the descriptor's)
   * @param metaLeader whether this node leads the metadata group now
   * @param voters reads a group's voters
   */
  public MapReconciler(
      ReplicatedClusterMap map, ClusterLayout seed, BooleanSupplier metaLeader, Voters voters) {
    this(map, seed, metaLeader, voters, l -> Optional.empty());
  }

  /**
   * A reconciler of {@code map} that also keeps the {@code meta} line true to the metadata group's
   * own voters.
   *
   * @param seed the layout to seed an empty metadata group with (the descriptor's)
   * @param metaLeader whether this node leads the metadata group now
   * @param voters reads a group's voters
   * @param metaVoters reads the metadata group's voters
   */
  public MapReconciler(
      ReplicatedClusterMap map,
      ClusterLayout seed,
      BooleanSupplier metaLeader,
      Voters voters,
      MetaVoters metaVoters) {
    this.map = Objects.requireNonNull(map, "map");
    this.seed = Objects.requireNonNull(seed, "seed");
    this.metaLeader = Objects.requireNonNull(metaLeader, "metaLeader");
    this.voters = Objects.requireNonNull(voters, "voters");
    this.metaVoters = Objects.requireNonNull(metaVoters, "metaVoters");
  }

  /**
   * One round (see the class comment). Blocks on the network; never throws for an unreachable
   * group.
   *
   * @return how many ranges it repaired
   */
  public int runOnce() {
    ReplicatedClusterMap.Stored s;
    try {
      s = map.read();
      if (s.layout() == null) {
        if (map.compareAndSet(0, seed.withVersion(1)).applied()) {
          LOG.info("cluster map of {} seeded from the descriptor: version 1", seed.cluster());
        }
        return 0;
      }
    } catch (IOException e) {
      LOG.debug("metadata group not read: {}", e.toString());
      return 0;
    }
    if (!metaLeader.getAsBoolean()) {
      return 0;
    }
    ClusterLayout l = s.layout();
    int repaired = 0;
    for (Range r : l.ranges()) {
      ClusterLayout at = l;
      Optional<List<String>> truth;
      try {
        truth = voters.of(at, r);
      } catch (IOException | RuntimeException e) {
        LOG.debug("voters of {} not read: {}", r.group(), e.toString());
        continue;
      }
      Optional<List<String>> repair = truth.flatMap(v -> repair(at, r, v));
      if (repair.isEmpty()) {
        continue;
      }
      try {
        ClusterLayout next = l.withReplicas(r.index(), repair.get());
        ReplicatedClusterMap.CasResult c = map.compareAndSet(l.version(), next);
        if (!c.applied()) {
          return repaired;
        }
        LOG.info(
            "cluster map of {}: range {} ({}) replicas {} -> {} as its group's configuration says"
                + " (version {})",
            l.cluster(),
            r.index(),
            r.group(),
            r.replicas(),
            repair.get(),
            next.version());
        l = next;
        repaired++;
      } catch (IOException | IllegalArgumentException e) {
        LOG.warn(
            "cluster map of {}: range {} not repaired: {}", l.cluster(), r.index(), e.toString());
        return repaired;
      }
    }
    return repaired + repairMeta(l);
  }

  /** The metadata group's part of a round, from layout {@code l}: 1 if it repaired the line. */
  private int repairMeta(ClusterLayout l) {
    Optional<List<String>> repair;
    try {
      ClusterLayout at = l;
      repair = metaVoters.of(at).flatMap(v -> repairMeta(at, v));
    } catch (IOException | RuntimeException e) {
      LOG.debug("voters of the metadata group not read: {}", e.toString());
      return 0;
    }
    if (repair.isEmpty()) {
      return 0;
    }
    try {
      ClusterLayout next = l.withMeta(repair.get());
      if (!map.compareAndSet(l.version(), next).applied()) {
        return 0;
      }
      LOG.info(
          "cluster map of {}: meta {} -> {} as the metadata group's configuration says (version"
              + " {})",
          l.cluster(),
          l.meta(),
          repair.get(),
          next.version());
      return 1;
    } catch (IOException | IllegalArgumentException e) {
      LOG.warn("cluster map of {}: meta line not repaired: {}", l.cluster(), e.toString());
      return 0;
    }
  }

  /**
   * The {@code meta} line to record when the metadata group's {@code voters} differ from it: as
   * {@link #repair} does for a range (the line's nodes that are voters keep their places, the other
   * voters, sorted, take the others'), the line's length standing for the replication factor.
   */
  static Optional<List<String>> repairMeta(ClusterLayout l, List<String> voters) {
    Set<String> truth = new HashSet<>(voters);
    if (truth.equals(new HashSet<>(l.meta())) || truth.size() != l.meta().size()) {
      return Optional.empty();
    }
    Set<String> known = new HashSet<>();
    l.nodes().forEach(n -> known.add(n.id()));
    if (!known.containsAll(truth)) {
      LOG.warn(
          "cluster map of {}: the metadata group has voters {} the map does not list all of; not"
              + " repaired",
          l.cluster(),
          voters);
      return Optional.empty();
    }
    List<String> added =
        new ArrayList<>(voters.stream().filter(v -> !l.meta().contains(v)).sorted().toList());
    List<String> out = new ArrayList<>();
    for (String n : l.meta()) {
      out.add(truth.contains(n) ? n : added.remove(0));
    }
    return Optional.of(List.copyOf(out));
  }

  /**
   * The replicas to record for {@code r} when its group's {@code voters} differ from the map's: the
   * map's replicas that are voters keep their places, the other voters (sorted) take the places of
   * those that are not. Empty when they agree, or when the voters cannot be recorded (another
   * number than the replication factor, a node the map does not know).
   */
  static Optional<List<String>> repair(ClusterLayout l, Range r, List<String> voters) {
    Set<String> truth = new HashSet<>(voters);
    if (truth.equals(new HashSet<>(r.replicas())) || truth.size() != l.replication()) {
      return Optional.empty();
    }
    Set<String> known = new HashSet<>();
    l.nodes().forEach(n -> known.add(n.id()));
    if (!known.containsAll(truth)) {
      LOG.warn(
          "cluster map of {}: group {} has voters {} the map does not list all of; not repaired",
          l.cluster(),
          r.group(),
          voters);
      return Optional.empty();
    }
    List<String> added =
        new ArrayList<>(voters.stream().filter(v -> !r.replicas().contains(v)).sorted().toList());
    List<String> out = new ArrayList<>();
    for (String n : r.replicas()) {
      out.add(truth.contains(n) ? n : added.remove(0));
    }
    return Optional.of(List.copyOf(out));
  }
}
