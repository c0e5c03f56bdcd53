package dev.ferry.chaos.nemesis;

import dev.ferry.chaos.harness.ChaosCluster;
import dev.ferry.chaos.harness.Network;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Random;

/**
 * Degraded links rather than cut ones: packet loss on every member's input ({@link #loss}) or a
 * bandwidth limit on one node's output ({@link #bandwidth}). Heal removes every network fault. Used
 * by one scheduler thread.
 */
public final class LinkNemesis implements Nemesis {
  private final boolean loss;
  private final double probability;
  private final long bitsPerSecond;
  private final Target target;
  private boolean active;

  private LinkNemesis(boolean loss, double probability, long bitsPerSecond, Target target) {
    this.loss = loss;
    this.probability = probability;
    this.bitsPerSecond = bitsPerSecond;
    this.target = target;
  }

  /**
   * Each running member drops packets from other nodes with a probability drawn uniformly from (0,
   * {@code maxProbability}].
   */
  public static LinkNemesis loss(double maxProbability) {
    if (!(maxProbability > 0 && maxProbability <= 1)) {
      throw new IllegalArgumentException("maxProbability must be in (0, 1]: " + maxProbability);
    }
    return new LinkNemesis(true, maxProbability, 0, null);
  }

  /** The {@code target} node's outgoing traffic is limited to {@code bitsPerSecond}. */
  public static LinkNemesis bandwidth(long bitsPerSecond, Target target) {
    if (bitsPerSecond < 8_000) {
      throw new IllegalArgumentException("at least 8 kbit/s: " + bitsPerSecond);
    }
    return new LinkNemesis(false, 0, bitsPerSecond, target);
  }

  @Override
  public String name() {
    return loss ? "loss" : "bandwidth-" + target.name().toLowerCase(Locale.ROOT);
  }

  @Override
  public boolean supports(ChaosCluster cluster) {
    return cluster
        .network()
        .capabilities()
        .contains(loss ? Network.Capability.LOSS : Network.Capability.BANDWIDTH);
  }

  @Override
  public String inject(ChaosCluster c, Random random) throws Exception {
    if (loss) {
      List<String> members = Targets.members(c);
      StringBuilder what = new StringBuilder("loss");
      for (String id : members) {
        double p = Math.max(0.01, Math.round(random.nextDouble() * probability * 100) / 100.0);
        c.network().loss(id, p);
        what.append(String.format(Locale.ROOT, " %s=%.2f", id, p));
      }
      active = true;
      return what.toString();
    }
    Optional<String> node = Targets.pick(c, target, random);
    if (node.isEmpty()) {
      return "nothing: no node runs";
    }
    c.network().bandwidth(node.get(), bitsPerSecond);
    active = true;
    return node.get() + " limited to " + bitsPerSecond / 1000 + " kbit/s";
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
