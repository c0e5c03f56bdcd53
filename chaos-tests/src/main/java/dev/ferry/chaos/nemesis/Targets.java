package dev.ferry.chaos.nemesis;

import dev.ferry.chaos.harness.ChaosCluster;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Optional;
import java.util.Random;

/** Choosing which nodes a fault hits. Stateless. */
final class Targets {
  private Targets() {}

  /**
   * The current members that run (the leader's configuration, or every running node if no leader
   * answers), in a stable order.
   */
  static List<String> members(ChaosCluster c) {
    List<String> running = c.running();
    return c.configuration()
        .map(conf -> conf.members().stream().filter(running::contains).toList())
        .filter(l -> !l.isEmpty())
        .orElse(running);
  }

  /** The current voters that run, or every running node if no leader answers. */
  static List<String> voters(ChaosCluster c) {
    List<String> running = c.running();
    return c.configuration()
        .map(conf -> conf.voters().stream().filter(running::contains).toList())
        .filter(l -> !l.isEmpty())
        .orElse(running);
  }

  /** One node for {@code target}, if any runs. */
  static Optional<String> pick(ChaosCluster c, Target target, Random random) {
    List<String> members = voters(c);
    if (members.isEmpty()) {
      return Optional.empty();
    }
    Optional<String> leader = target == Target.RANDOM ? Optional.empty() : c.leader();
    return switch (target) {
      case LEADER -> leader.or(() -> Optional.of(any(members, random)));
      case RANDOM -> Optional.of(any(members, random));
      case FOLLOWER -> {
        List<String> followers = new ArrayList<>(members);
        leader.ifPresent(followers::remove);
        yield followers.isEmpty() ? Optional.empty() : Optional.of(any(followers, random));
      }
    };
  }

  static String any(List<String> nodes, Random random) {
    return nodes.get(random.nextInt(nodes.size()));
  }

  /** {@code nodes} in a random order. */
  static List<String> shuffled(List<String> nodes, Random random) {
    List<String> l = new ArrayList<>(nodes);
    Collections.shuffle(l, random);
    return l;
  }
}
