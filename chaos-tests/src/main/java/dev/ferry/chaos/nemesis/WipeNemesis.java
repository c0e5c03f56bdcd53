package dev.ferry.chaos.nemesis;

import dev.ferry.chaos.harness.ChaosCluster;
import dev.ferry.raft.admin.AdminClient;
import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;

/**
 * A voter loses its disk: {@code kill -9}, its storage deleted, and restarted under its old id on
 * the empty directory, as after a disk replacement. The node must find it was wiped (its peers
 * remember another storage identity for it), have the leader demote it and be re-added through the
 * digest gate, never voting on its empty log meanwhile (docs/membership.md, "A voter that lost its
 * disk"). The node is a voter that does not lead, chosen only once a running peer has recorded its
 * storage identity (before that, the guard could not tell a wipe from a bootstrap), and only while
 * the configuration has three voters or more, all running, and no listener (no node rejoins): a
 * second disk lost while the first rejoins would leave two voters with one gone, a quorum lost for
 * good.
 *
 * <p>Heal: waits until the node is a voter again (in the leader's configuration, and by its own
 * status). If its re-add failed and it stopped (a failed add removes it and tells it to wipe its
 * state and stop), heal does what an operator would: starts it as a listener on its empty directory
 * and adds it ({@link AdminMembership}). Not re-added within {@link #REJOIN} fails the run. Used by
 * one scheduler thread.
 */
public final class WipeNemesis implements Nemesis {
  private static final Duration REJOIN = Duration.ofMinutes(3);
  private static final Duration CHANGE = Duration.ofSeconds(120);

  private String wiped;
  private Membership membership;

  @Override
  public String name() {
    return "wipe-follower";
  }

  @Override
  public String inject(ChaosCluster c, Random random) throws Exception {
    Optional<ChaosCluster.Configuration> conf = c.configuration();
    // Never a second disk while one rejoins (a listener here): with two voters left, losing one
    // more loses the quorum for good, whatever Ferry does.
    if (conf.isEmpty()
        || !conf.get().listeners().isEmpty()
        || conf.get().voters().size() < 3
        || !c.running().containsAll(conf.get().voters())) {
      return "nothing: not every voter of a stable three-voter configuration runs";
    }
    String leader = conf.get().leader();
    List<String> candidates =
        Targets.shuffled(conf.get().voters(), random).stream()
            .filter(id -> !id.equals(leader) && recorded(c, id))
            .toList();
    if (candidates.isEmpty()) {
      return "nothing: no follower whose storage identity a peer recorded runs";
    }
    String id = candidates.get(0);
    c.kill(id);
    c.wipe(id);
    c.start(id);
    wiped = id;
    return "wiped " + id + "'s storage and restarted it under its old id";
  }

  /**
   * Whether node {@code id} says it is a voter again: not waiting for its peers, not rejoining (the
   * leader's configuration still counts it as a voter before its demotion commits).
   */
  private static boolean voterAgain(ChaosCluster c, String id) {
    try (AdminClient a = admin(c, id)) {
      String role = a.status().role();
      return !role.equals("WAITING") && !role.equals("REJOINING") && !role.equals("LISTENER");
    } catch (IOException | RuntimeException e) {
      return false;
    }
  }

  private static AdminClient admin(ChaosCluster c, String id) throws IOException {
    return AdminClient.connect(
        c.address(id),
        AdminClient.groupId(ChaosCluster.CLUSTER_NAME),
        c.secret(),
        null,
        "chaos-wipe");
  }

  /** Whether a running peer of {@code id} recorded its storage identity. */
  private static boolean recorded(ChaosCluster c, String id) {
    for (String peer : c.running()) {
      if (peer.equals(id)) {
        continue;
      }
      try (AdminClient a = admin(c, peer)) {
        if (a.identity(id).recorded().isPresent()) {
          return true;
        }
      } catch (IOException | RuntimeException e) {
        // unreachable: ask the next
      }
    }
    return false;
  }

  @Override
  public String heal(ChaosCluster c) throws Exception {
    if (wiped == null) {
      return "";
    }
    String id = wiped;
    wiped = null;
    long start = System.nanoTime();
    long deadline = start + REJOIN.toNanos();
    while (System.nanoTime() < deadline) {
      if (c.configuration().map(conf -> conf.voters().contains(id)).orElse(false)
          && voterAgain(c, id)) {
        return id
            + " re-added through the digest gate in "
            + TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start)
            + " s of heal";
      }
      if (!c.isAlive(id)) {
        return id + "'s re-add failed and it stopped; " + readd(c, id);
      }
      LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(500));
    }
    throw new IOException(
        id + " was not a voter again " + REJOIN + " after heal began; log:\n" + c.tail(id, 20));
  }

  /** The operator's procedure: a listener on an empty directory, added through the digest gate. */
  private String readd(ChaosCluster c, String id) throws IOException, InterruptedException {
    if (membership == null) {
      membership = new AdminMembership(c, CHANGE);
    }
    c.wipe(id);
    c.startListener(id);
    try {
      return "re-added by heal ("
          + membership.add(c.address(id)).get(CHANGE.toMillis() + 10_000, TimeUnit.MILLISECONDS)
          + ")";
    } catch (ExecutionException | TimeoutException e) {
      throw new IOException(id + ": re-adding it failed: " + e, e);
    }
  }

  @Override
  public void close() throws IOException {
    if (membership != null) {
      membership.close();
    }
  }
}
