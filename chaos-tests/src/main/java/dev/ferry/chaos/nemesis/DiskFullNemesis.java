package dev.ferry.chaos.nemesis;

import dev.ferry.chaos.harness.ChaosCluster;
import java.util.Objects;
import java.util.Optional;
import java.util.Random;

/**
 * A full disk on one node: its tmpfs is filled with a filler file. Heal deletes the filler and
 * restarts the node if it exited meanwhile (a node may stop itself on a failed log write). Needs a
 * cluster started with a disk per node. Used by one scheduler thread.
 */
public final class DiskFullNemesis implements Nemesis {
  private final Target target;
  private String full;

  /** Fills the disk of a {@code target} node. */
  public DiskFullNemesis(Target target) {
    this.target = Objects.requireNonNull(target, "target");
  }

  @Override
  public String name() {
    return "disk-full-" + target.name().toLowerCase(java.util.Locale.ROOT);
  }

  @Override
  public boolean supports(ChaosCluster cluster) {
    return cluster.hasDisks();
  }

  @Override
  public String inject(ChaosCluster c, Random random) throws Exception {
    Optional<String> node = Targets.pick(c, target, random);
    if (node.isEmpty()) {
      return "nothing: no node runs";
    }
    full = node.get();
    long bytes = c.fillDisk(full);
    return "filled " + full + "'s disk (" + bytes / (1 << 20) + " MiB filler)";
  }

  @Override
  public String heal(ChaosCluster c) throws Exception {
    if (full == null) {
      return "";
    }
    String id = full;
    full = null;
    c.freeDisk(id);
    if (!c.isAlive(id)) {
      c.start(id);
      return "freed " + id + "'s disk; it had exited, restarted";
    }
    return "freed " + id + "'s disk";
  }
}
