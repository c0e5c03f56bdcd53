package dev.ferry.chaos.nemesis;

import dev.ferry.chaos.harness.ChaosCluster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;

/**
 * A full disk on one node: its tmpfs is filled with a filler file. Heal deletes the filler and
 * restarts the node if it exited meanwhile (a node may stop itself on a failed log write), then
 * waits until the restarted node serves its group or exits again.
 *
 * <p>One restart failure is a known Ratis bug, not a finding: a failed write on the full disk can
 * leave {@code raft-meta} empty, and the node exits at start because its term and vote are lost
 * (docs/ratis-workarounds.md). For that signature only (see {@link RaftMetaLoss}) heal does what an
 * operator must: it removes the node through the membership admin, wipes its storage, starts it as
 * a listener on the empty directory and adds it back (digest-verified). Its heal text then contains
 * {@link #REPLACED}. Any other exit after the restart, or a replacement that fails, fails the run.
 * Needs a cluster started with a disk per node. Used by one scheduler thread.
 */
public final class DiskFullNemesis implements Nemesis {
  /** What a heal says when it replaced a node whose {@code raft-meta} Ratis left empty. */
  public static final String REPLACED = "replaced: removed, wiped, re-added";

  private static final Duration STARTUP = Duration.ofSeconds(60);
  private static final Duration CHANGE = Duration.ofSeconds(120);

  private final Target target;
  private String full;
  private Membership membership;

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
    if (c.isAlive(id)) {
      return "freed " + id + "'s disk";
    }
    Path log = c.logFile(id);
    long logFrom = Files.exists(log) ? Files.size(log) : 0;
    c.start(id);
    if (!exitsAtStart(c, id)) {
      return "freed " + id + "'s disk; it had exited, restarted";
    }
    String since = RaftMetaLoss.readFrom(log, logFrom);
    if (RaftMetaLoss.emptiedMeta(since, c.dataDir(id)).isEmpty()) {
      throw new IOException(id + " exited again after its restart; log:\n" + c.tail(id, 20));
    }
    return "freed "
        + id
        + "'s disk; it had exited, restarted; "
        + id
        + " could not restart: Ratis left raft-meta empty (docs/ratis-workarounds.md); "
        + replace(c, id);
  }

  /**
   * Waits until restarted node {@code id} serves its group (false) or exits (true); false too if it
   * still runs without serving after {@link #STARTUP} (the convergence check judges it then).
   */
  private static boolean exitsAtStart(ChaosCluster c, String id) {
    long deadline = System.nanoTime() + STARTUP.toNanos();
    while (System.nanoTime() < deadline) {
      if (!c.isAlive(id)) {
        return true;
      }
      if (c.serves(id)) {
        return false;
      }
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(200));
    }
    return false;
  }

  /** The operator's procedure for a node that lost its term and vote: remove, wipe, add again. */
  private String replace(ChaosCluster c, String id) throws IOException, InterruptedException {
    if (membership == null) {
      membership = new AdminMembership(c, CHANGE);
    }
    String removed = await(membership.remove(id), id, "remove");
    c.wipe(id);
    c.startListener(id);
    String added = await(membership.add(c.address(id)), id, "add");
    return REPLACED + " (" + removed + "; " + added + ")";
  }

  private static String await(Future<String> change, String id, String step)
      throws IOException, InterruptedException {
    try {
      return change.get(CHANGE.toMillis() + 10_000, TimeUnit.MILLISECONDS);
    } catch (ExecutionException | TimeoutException e) {
      Throwable cause = e.getCause() == null ? e : e.getCause();
      throw new IOException(
          id + " has an empty raft-meta; replacing it failed at the " + step + ": " + cause, cause);
    }
  }

  @Override
  public void close() throws IOException {
    if (membership != null) {
      membership.close();
    }
  }
}
