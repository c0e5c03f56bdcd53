package dev.ferry.chaos.nemesis;

import dev.ferry.chaos.harness.ChaosCluster;
import java.time.Duration;
import java.util.List;
import java.util.Random;

/**
 * Clock jumps: moves the clocks of some running nodes forward by random steps of up to {@code max}
 * (libfaketime; wall and monotonic clocks together, see {@link ChaosCluster#bumpClock}). A node
 * whose clocks jump sees every timer fire at once, as after a long pause, and its wall clock then
 * runs ahead of its peers'. Clocks never go back, so heal has nothing to undo: the skew between
 * nodes stays and grows over the run. Needs a cluster started with fake time. Used by one scheduler
 * thread.
 */
public final class ClockNemesis implements Nemesis {
  private final Duration max;

  /** Steps uniformly in [1 s, max], whole seconds. */
  public ClockNemesis(Duration max) {
    if (max.toSeconds() < 1) {
      throw new IllegalArgumentException("max must be at least a second: " + max);
    }
    this.max = max;
  }

  @Override
  public String name() {
    return "clock-jump";
  }

  @Override
  public boolean supports(ChaosCluster cluster) {
    return cluster.hasFakeTime();
  }

  @Override
  public String inject(ChaosCluster c, Random random) throws Exception {
    List<String> nodes = Targets.shuffled(Targets.members(c), random);
    if (nodes.isEmpty()) {
      return "nothing: no node runs";
    }
    int n = 1 + random.nextInt(nodes.size());
    StringBuilder what = new StringBuilder("clocks forward:");
    for (String id : nodes.subList(0, n)) {
      long s = 1 + random.nextInt((int) Math.min(Integer.MAX_VALUE - 1, max.toSeconds()));
      Duration total = c.bumpClock(id, Duration.ofSeconds(s));
      what.append(' ')
          .append(id)
          .append(" +")
          .append(s)
          .append("s (now +")
          .append(total.toSeconds())
          .append("s)");
    }
    return what.toString();
  }

  @Override
  public String heal(ChaosCluster c) {
    return ""; // clocks do not go back
  }
}
