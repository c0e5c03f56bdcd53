package dev.ferry.chaos.nemesis;

import dev.ferry.chaos.harness.ChaosCluster;
import dev.ferry.chaos.harness.Network;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Random;

/**
 * Network partitions between the running members (clients still reach every node):
 *
 * <ul>
 *   <li>{@link Kind#MAJORITY_MINORITY}: a random minority against the majority;
 *   <li>{@link Kind#ISOLATE_LEADER}: the leader alone;
 *   <li>{@link Kind#ONE_WAY}: packets from the leader to the others, or from the others to the
 *       leader, are dropped (needs {@link Network.Capability#ONE_WAY});
 *   <li>{@link Kind#BRIDGE}: two halves that cannot reach each other, and one node that reaches
 *       both.
 * </ul>
 *
 * Heal removes every network fault. Used by one scheduler thread.
 */
public final class PartitionNemesis implements Nemesis {
  /** The shape of the partition. */
  public enum Kind {
    /** A random minority against the majority. */
    MAJORITY_MINORITY,
    /** The leader against everyone else. */
    ISOLATE_LEADER,
    /** One direction between the leader and the others. */
    ONE_WAY,
    /** Two halves joined only through one node. */
    BRIDGE
  }

  private final Kind kind;
  private boolean active;

  /** A nemesis making partitions of this shape. */
  public PartitionNemesis(Kind kind) {
    this.kind = Objects.requireNonNull(kind, "kind");
  }

  @Override
  public String name() {
    return "partition-" + kind.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
  }

  @Override
  public boolean supports(ChaosCluster cluster) {
    return kind != Kind.ONE_WAY
        || cluster.network().capabilities().contains(Network.Capability.ONE_WAY);
  }

  @Override
  public String inject(ChaosCluster c, Random random) throws Exception {
    List<String> members = Targets.shuffled(Targets.members(c), random);
    if (members.size() < 2) {
      return "nothing: fewer than two members run";
    }
    Network net = c.network();
    active = true;
    switch (kind) {
      case MAJORITY_MINORITY -> {
        int minority = (members.size() - 1) / 2;
        List<String> small = members.subList(0, Math.max(1, minority));
        List<String> big = members.subList(Math.max(1, minority), members.size());
        cutAll(net, small, big);
        return small + " | " + big;
      }
      case ISOLATE_LEADER -> {
        Optional<String> leader = c.leader();
        if (leader.isEmpty() || !members.contains(leader.get())) {
          active = false;
          return "nothing: no leader";
        }
        List<String> rest = new ArrayList<>(members);
        rest.remove(leader.get());
        cutAll(net, List.of(leader.get()), rest);
        return "leader " + leader.get() + " | " + rest;
      }
      case ONE_WAY -> {
        Optional<String> leader = c.leader();
        if (leader.isEmpty() || !members.contains(leader.get())) {
          active = false;
          return "nothing: no leader";
        }
        boolean fromLeader = random.nextBoolean();
        for (String other : members) {
          if (!other.equals(leader.get())) {
            if (fromLeader) {
              net.cutOneWay(leader.get(), other);
            } else {
              net.cutOneWay(other, leader.get());
            }
          }
        }
        return fromLeader
            ? "leader " + leader.get() + " -/-> others"
            : "others -/-> leader " + leader.get();
      }
      case BRIDGE -> {
        if (members.size() < 3) {
          active = false;
          return "nothing: a bridge needs three members";
        }
        int half = (members.size() - 1) / 2;
        String bridge = members.get(half);
        List<String> left = members.subList(0, half);
        List<String> right = members.subList(half + 1, members.size());
        cutAll(net, left, right);
        return left + " | " + right + " bridged by " + bridge;
      }
      default -> throw new IllegalStateException("unknown kind " + kind);
    }
  }

  private static void cutAll(Network net, List<String> a, List<String> b) throws Exception {
    for (String x : a) {
      for (String y : b) {
        net.cut(x, y);
      }
    }
  }

  @Override
  public String heal(ChaosCluster c) throws Exception {
    if (!active) {
      return "";
    }
    c.network().heal();
    active = false;
    return "network healed";
  }
}
