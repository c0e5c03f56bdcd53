package dev.ferry.chaos.nemesis;

import dev.ferry.chaos.harness.ChaosCluster;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

/**
 * Clock skew: shifts the wall clock of some running nodes by random offsets up to {@code max}
 * either way (libfaketime; the monotonic clock Ratis times elections with is left alone, as on a
 * real host whose NTP steps the clock). Heal sets every shifted clock back. Needs a cluster started
 * with fake time. Used by one scheduler thread.
 */
public final class ClockNemesis implements Nemesis {
  private final Duration max;
  private final List<String> skewed = new ArrayList<>();

  /** Offsets uniformly in [-max, +max], whole seconds. */
  public ClockNemesis(Duration max) {
    if (max.toSeconds() < 1) {
      throw new IllegalArgumentException("max must be at least a second: " + max);
    }
    this.max = max;
  }

  @Override
  public String name() {
    return "clock-skew";
  }

  @Override
  public boolean supports(ChaosCluster cluster) {
    return cluster.hasFakeTime();
  }

  @Override
  public String inject(ChaosCluster c, Random random) throws Exception {
    List<String> nodes = Targets.shuffled(Targets.members(c), random);
    int n = 1 + random.nextInt(Math.max(1, nodes.size()));
    StringBuilder what = new StringBuilder("clocks");
    for (String id : nodes.subList(0, Math.min(n, nodes.size()))) {
      long s = random.nextLong(-max.toSeconds(), max.toSeconds() + 1);
      c.skewClock(id, Duration.ofSeconds(s));
      skewed.add(id);
      what.append(' ').append(id).append(s >= 0 ? "+" : "").append(s).append('s');
    }
    return what.toString();
  }

  @Override
  public String heal(ChaosCluster c) throws Exception {
    for (String id : skewed) {
      c.skewClock(id, Duration.ZERO);
    }
    String what = skewed.isEmpty() ? "" : "clocks reset on " + skewed;
    skewed.clear();
    return what;
  }
}
