package dev.ferry.chaos.harness;

import dev.ferry.kv.cluster.ShardStatus;
import dev.ferry.kv.cluster.ShardStatus.GroupView;
import dev.ferry.kv.shard.ClusterLayout;
import dev.ferry.kv.shard.Range;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;

/**
 * The groups of a sharded {@link ChaosCluster}: each range's group as its leader reports it,
 * waiting for membership changes to end, the map file brought in line with the groups, and the
 * convergence of every group after healing. Stateless; any thread; every method blocks on the
 * network.
 */
public final class ShardGroups {
  private static final Duration ASK = Duration.ofSeconds(5);
  private static final long POLL_NANOS = TimeUnit.MILLISECONDS.toNanos(250);

  private ShardGroups() {}

  /**
   * Range {@code range}'s group as its leader reports it (every node of the map is asked).
   *
   * @throws IOException if no leader answers within {@code timeout}
   */
  public static GroupView view(ChaosCluster c, int range, Duration timeout) throws IOException {
    ClusterLayout layout = c.layout();
    return ShardStatus.group(layout, layout.range(range), c.secret(), timeout);
  }

  /**
   * Range {@code range}'s group once its leader reports no membership change pending or staged (an
   * interrupted move is finished or undone by the group's leader, a next leader after 5 s).
   *
   * @throws IOException if it is not so within {@code timeout}, with the last view or failure
   */
  public static GroupView settled(ChaosCluster c, int range, Duration timeout) throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    String last = "nothing";
    while (true) {
      try {
        GroupView v = view(c, range, ASK);
        if (v.leaderStatus().pending().isEmpty() && v.leaderStatus().staged().isEmpty()) {
          return v;
        }
        last =
            "voters "
                + v.voters()
                + ", listeners "
                + v.listeners()
                + ", pending "
                + v.leaderStatus().pending().map(Object::toString).orElse("none")
                + ", staged "
                + v.leaderStatus().staged();
      } catch (IOException e) {
        last = e.getMessage();
      }
      if (System.nanoTime() - deadline > 0) {
        throw new IOException(
            "range " + range + "'s group did not settle within " + timeout + ": " + last);
      }
      LockSupport.parkNanos(POLL_NANOS);
    }
  }

  /**
   * Rewrites the map file so that the range of {@code view} lists the group's voters (those that
   * stay keep their place), if the group has the replication factor's number of voters and the map
   * differs; what a client then routes by. Returns whether the file changed.
   */
  public static boolean recordInMap(ChaosCluster c, GroupView view) throws IOException {
    int index = view.range().index();
    List<String> voters = view.voters();
    boolean[] changed = {false};
    c.updateMap(
        layout -> {
          List<String> mapped = layout.range(index).replicas();
          if (voters.size() != layout.replication()
              || new HashSet<>(mapped).equals(new HashSet<>(voters))) {
            return layout;
          }
          changed[0] = true;
          return layout.withReplicas(index, inPlace(mapped, voters));
        });
    return changed[0];
  }

  /** {@code voters} in the order of {@code mapped}: those that stay keep their place. */
  static List<String> inPlace(List<String> mapped, List<String> voters) {
    List<String> out = new ArrayList<>(mapped);
    List<String> added = new ArrayList<>(voters);
    added.removeAll(mapped);
    for (int i = 0; i < out.size(); i++) {
      if (!voters.contains(out.get(i))) {
        out.set(i, added.remove(0));
      }
    }
    return out;
  }

  /**
   * After healing, every group of the cluster: waits until no membership change is pending (at most
   * {@code settle} per group), checks it has exactly the replication factor's number of voters and
   * no listener, records it in the map file, starts members that do not run, and waits for its
   * members to agree ({@link Convergence#awaitGroup}, with {@code stall}). {@code keys} says which
   * of the history's keys each range holds, for the detail.
   */
  public static Convergence.Result converge(
      ChaosCluster c, Duration settle, Duration stall, Map<Integer, List<String>> keys)
      throws IOException {
    ClusterLayout layout = c.layout();
    List<String> problems = new ArrayList<>();
    List<String> agreed = new ArrayList<>();
    Set<String> members = new java.util.TreeSet<>();
    for (Range r : layout.ranges()) {
      String what = r.group() + " " + keys.getOrDefault(r.index(), List.of());
      GroupView v;
      try {
        v = settled(c, r.index(), settle);
      } catch (IOException e) {
        problems.add(what + ": " + e.getMessage());
        continue;
      }
      if (v.voters().size() != layout.replication() || !v.listeners().isEmpty()) {
        problems.add(
            what
                + ": "
                + v.voters().size()
                + " voters "
                + v.voters()
                + " and listeners "
                + v.listeners()
                + ", not "
                + layout.replication()
                + " voters");
      }
      recordInMap(c, v);
      List<String> group = new ArrayList<>(v.voters());
      group.addAll(v.listeners());
      for (String m : group) {
        if (!c.isAlive(m)) {
          c.start(m);
        }
      }
      members.addAll(group);
      Convergence.Result res = Convergence.awaitGroup(c, r.group(), group, stall);
      if (res.converged()) {
        agreed.add(what + ": " + res.detail());
      } else {
        problems.add(what + ": " + res.detail());
      }
    }
    boolean ok = problems.isEmpty();
    String detail =
        ok
            ? layout.ranges().size() + " groups converged: " + String.join("; ", agreed)
            : String.join("; ", problems)
                + (agreed.isEmpty() ? "" : " (agreed: " + String.join("; ", agreed) + ")");
    return new Convergence.Result(ok, List.copyOf(members), null, Map.of(), detail);
  }
}
