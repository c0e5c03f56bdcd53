package dev.ferry.chaos.nemesis;

import dev.ferry.chaos.harness.ChaosCluster;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Random;

/**
 * Process faults on one node: {@link Action#KILL} ({@code kill -9}; heal restarts it, recovering
 * its storage) or {@link Action#PAUSE} ({@code SIGSTOP}; heal sends {@code SIGCONT}). The node is
 * the leader, a random voter or a follower, as configured. Used by one scheduler thread.
 */
public final class ProcessNemesis implements Nemesis {
  /** What happens to the process. */
  public enum Action {
    /** SIGKILL, then a restart. */
    KILL,
    /** SIGSTOP, then SIGCONT. */
    PAUSE
  }

  private final Action action;
  private final Target target;
  private final List<String> hit = new ArrayList<>();

  /** A nemesis doing {@code action} to a {@code target} node. */
  public ProcessNemesis(Action action, Target target) {
    this.action = Objects.requireNonNull(action, "action");
    this.target = Objects.requireNonNull(target, "target");
  }

  @Override
  public String name() {
    return action.name().toLowerCase(java.util.Locale.ROOT)
        + "-"
        + target.name().toLowerCase(java.util.Locale.ROOT);
  }

  @Override
  public String inject(ChaosCluster c, Random random) throws Exception {
    Optional<String> node = Targets.pick(c, target, random);
    if (node.isEmpty()) {
      return "nothing: no " + target.name().toLowerCase(java.util.Locale.ROOT) + " runs";
    }
    String id = node.get();
    if (action == Action.KILL) {
      c.kill(id);
    } else {
      c.pause(id);
    }
    hit.add(id);
    return (action == Action.KILL ? "killed " : "paused ") + id;
  }

  @Override
  public String heal(ChaosCluster c) throws Exception {
    List<String> done = new ArrayList<>();
    for (String id : hit) {
      if (action == Action.KILL) {
        if (!c.isAlive(id)) {
          c.start(id);
          done.add("restarted " + id);
        }
      } else if (c.isPaused(id)) {
        c.resume(id);
        done.add("resumed " + id);
      }
    }
    hit.clear();
    return String.join(", ", done);
  }
}
