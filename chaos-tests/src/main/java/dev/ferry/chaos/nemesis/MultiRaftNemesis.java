package dev.ferry.chaos.nemesis;

import dev.ferry.chaos.harness.ChaosCluster;
import dev.ferry.chaos.harness.ShardGroups;
import dev.ferry.kv.cluster.ShardStatus.GroupView;
import dev.ferry.kv.shard.Range;
import dev.ferry.raft.admin.MembershipConflictException;
import dev.ferry.raft.admin.MembershipException;
import dev.ferry.raft.admin.MembershipTimeoutException;
import dev.ferry.raft.admin.ReplicaMover;
import dev.ferry.raft.admin.ReplicaMover.MoveRequest;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.locks.LockSupport;
import java.util.function.Supplier;

/**
 * Replica moves in a sharded cluster ({@link ChaosCluster#sharded}) under other faults. Each round
 * starts, in the background, either a move of a random range's replica from a random voter to a
 * node that holds none ({@link ReplicaMover}: one membership change of the group, recorded in its
 * membership record, so that a next leader finishes or undoes it), or, in the round given, the
 * <b>node replacement</b>: every group with a replica on a random node that hosts ranges gets one
 * on the spare instead, all moves at once (the node killed first, and left down, in about half the
 * runs). A second later it injects one fault of its list (partitions, kills), which then holds.
 *
 * <p>Heal heals the fault and waits for the round's moves, at most {@code roundWait} each: a move
 * that ended here is finished (and recorded in the map file, which the clients route by); one that
 * did not goes on at its group's leader. The final heal waits for each of those to be finished or
 * undone by its group (it classifies them by the group's voters then), does the replacement if no
 * round did, runs once more (as an operator would) the replacement moves of groups that still have
 * a replica on the replaced node, and ends with the tally of the run's moves.
 *
 * <p>Used by one scheduler thread; the moves run on a pool of its own ({@link #close} stops it).
 */
public final class MultiRaftNemesis implements Nemesis {
  private static final Duration SETTLE = Duration.ofSeconds(60);
  private static final Duration VIEW = Duration.ofSeconds(5);

  private final List<Nemesis> faults;
  private final int replaceRound;
  private final Duration moveDeadline;
  private final Duration roundWait;
  private final ExecutorService pool =
      Executors.newCachedThreadPool(
          r -> {
            Thread t = new Thread(r, "chaos-move");
            t.setDaemon(true);
            return t;
          });
  private final List<Move> running = new ArrayList<>();
  private final List<Unresolved> unresolved = new ArrayList<>();
  private final Map<String, Integer> tally = new TreeMap<>();
  private Nemesis fault;
  private int round;
  private String replaced;
  private boolean replacedKilled;

  /** A move this nemesis started, and how it went. */
  private record Move(int range, String group, String from, String to, Future<String> outcome) {}

  /** A move that did not end while this process waited ({@code seen}: how it saw it). */
  private record Unresolved(Move move, String seen) {}

  /**
   * A nemesis moving replicas, replacing one node in round {@code replaceRound} (0-based; in the
   * final heal if the run has fewer rounds), and injecting one of {@code faults} per round.
   *
   * @param moveDeadline each move's deadline (the change's, at the group's leader)
   * @param roundWait how long a round's heal waits for its moves; those that did not end by then go
   *     on at their groups' leaders and are followed in the final heal
   */
  public MultiRaftNemesis(
      List<Supplier<Nemesis>> faults, int replaceRound, Duration moveDeadline, Duration roundWait) {
    this.faults = faults.stream().map(Supplier::get).toList();
    if (this.faults.isEmpty()) {
      throw new IllegalArgumentException("no fault to combine moves with");
    }
    this.replaceRound = replaceRound;
    this.moveDeadline = Objects.requireNonNull(moveDeadline, "moveDeadline");
    this.roundWait = Objects.requireNonNull(roundWait, "roundWait");
  }

  @Override
  public String name() {
    return "multi-raft";
  }

  @Override
  public boolean supports(ChaosCluster cluster) {
    return cluster.sharded();
  }

  @Override
  public String inject(ChaosCluster c, Random random) throws Exception {
    String what;
    if (round++ == replaceRound && replaced == null) {
      what = startReplacement(c, random, roundWait);
    } else {
      what = startMove(c, random);
    }
    LockSupport.parkNanos(TimeUnit.SECONDS.toNanos(1));
    Nemesis f = faults.get(random.nextInt(faults.size()));
    if (f.supports(c)) {
      fault = f;
      what += "; " + f.name() + ": " + f.inject(c, random);
    }
    return what;
  }

  /**
   * Starts one move of a random range whose group runs no membership change (an earlier move may
   * still be going on at its leader), from a random voter to a running node holding none.
   */
  private String startMove(ChaosCluster c, Random random) throws IOException {
    List<Range> ranges = new ArrayList<>(c.layout().ranges());
    java.util.Collections.shuffle(ranges, random);
    Range r = null;
    GroupView v = null;
    for (Range candidate : ranges) {
      try {
        GroupView view = ShardGroups.view(c, candidate.index(), VIEW);
        if (view.leaderStatus().pending().isEmpty()) {
          r = candidate;
          v = view;
          break;
        }
      } catch (IOException e) {
        // no leader answers: try another range
      }
    }
    if (v == null) {
      return "no move (no group without a pending change answered)";
    }
    List<String> targets = new ArrayList<>(c.running());
    targets.removeAll(v.voters());
    targets.removeAll(v.listeners());
    targets.remove(replaced);
    if (replaced == null) {
      targets.removeAll(spares(c));
    }
    if (targets.isEmpty()) {
      return "no move (no node to move " + r.group() + " to)";
    }
    String from = Targets.any(v.voters(), random);
    String to = Targets.any(targets, random);
    submit(c, r, from, to, roundWait);
    return "move of " + r.group() + " " + from + " -> " + to;
  }

  /**
   * Picks the node to replace (one that hosts ranges) and the spare, kills the node in about half
   * the runs, and starts the replacement.
   */
  private String startReplacement(ChaosCluster c, Random random, Duration wait) throws IOException {
    List<String> hosts = new ArrayList<>(c.initialVoters());
    String node = Targets.any(hosts, random);
    String spare = spares(c).get(0);
    replaced = node;
    if (random.nextBoolean()) {
      c.kill(node);
      replacedKilled = true;
    }
    List<String> groups = replace(c, node, spare, wait);
    return "replacement of "
        + node
        + (replacedKilled ? " (killed first, left down)" : "")
        + " by "
        + spare
        + ": "
        + groups.size()
        + " groups "
        + groups;
  }

  /**
   * Replaces {@code node} by {@code with}: one move per group that has a replica on {@code node},
   * all at once (each group's leader runs its own). Returns the groups moving. Kept to this one
   * step so that {@code NodeMoves.replace} can take its place.
   */
  private List<String> replace(ChaosCluster c, String node, String with, Duration wait)
      throws IOException {
    List<String> groups = new ArrayList<>();
    for (Range r : c.layout().ranges()) {
      if (hasReplicaOn(c, r, node)) {
        submit(c, r, node, with, wait);
        groups.add(r.group());
      }
    }
    return groups;
  }

  /**
   * Whether the group of {@code r} has a voter on {@code node} (the map's word if none answers).
   */
  private static boolean hasReplicaOn(ChaosCluster c, Range r, String node) {
    try {
      return ShardGroups.view(c, r.index(), VIEW).voters().contains(node);
    } catch (IOException e) {
      return r.replicas().contains(node);
    }
  }

  private static List<String> spares(ChaosCluster c) {
    List<String> s = new ArrayList<>(c.nodes());
    s.removeAll(c.initialVoters());
    return s;
  }

  /**
   * Starts a move in the background; this process waits at most {@code wait} for it (the group's
   * leader goes on with it until the move's deadline).
   */
  private void submit(ChaosCluster c, Range r, String from, String to, Duration wait)
      throws IOException {
    ReplicaMover mover = ReplicaMover.builder(c.secret()).build();
    List<dev.ferry.shipping.PeerAddress> known = c.layout().peers(r);
    MoveRequest request =
        new MoveRequest(r.group(), known, from, c.address(to), moveDeadline)
            .waitingAtMost(min(wait, moveDeadline));
    Future<String> f = pool.submit(() -> runMove(mover, request));
    running.add(new Move(r.index(), r.group(), from, to, f));
    count("started");
  }

  private static Duration min(Duration a, Duration b) {
    return a.compareTo(b) < 0 ? a : b;
  }

  /** Runs one move; returns how this process saw it end. */
  private static String runMove(ReplicaMover mover, MoveRequest request) {
    try {
      mover.move(request, ReplicaMover.Listener.NONE);
      return "done";
    } catch (MembershipConflictException e) {
      return "refused (another change pending): " + e.getMessage();
    } catch (MembershipTimeoutException e) {
      return "timed out here: " + e.getMessage();
    } catch (MembershipException | IllegalStateException | IOException e) {
      return "failed here: " + e;
    }
  }

  @Override
  public String heal(ChaosCluster c) throws Exception {
    List<String> done = new ArrayList<>();
    if (fault != null) {
      String healed = fault.heal(c);
      if (!healed.isEmpty()) {
        done.add(healed);
      }
      fault = null;
    }
    done.addAll(awaitMoves(c));
    return String.join("; ", done);
  }

  /**
   * Heals as {@link #heal} does; then does the replacement if no round did it, runs its moves once
   * more (as an operator would) for groups that still have a replica on the replaced node, and ends
   * with the tally of the run's moves.
   */
  @Override
  public String finalHeal(ChaosCluster c) throws Exception {
    List<String> out = new ArrayList<>();
    String healed = heal(c);
    if (!healed.isEmpty()) {
      out.add(healed);
    }
    out.addAll(classify(c));
    if (replaced == null) {
      out.add(
          "replacement not done in a round: "
              + startReplacement(c, new Random(round), moveDeadline));
      out.addAll(awaitMoves(c));
      out.addAll(classify(c));
    }
    List<String> again = replace(c, replaced, spares(c).get(0), moveDeadline);
    if (!again.isEmpty()) {
      out.add("replacement of " + replaced + " run again for " + again);
      out.addAll(awaitMoves(c));
      out.addAll(classify(c));
    }
    out.add("moves: " + tally);
    return String.join("; ", out);
  }

  @Override
  public void close() {
    pool.shutdownNow();
  }

  /**
   * Waits for the running moves (each as long as this process waits for it, plus a margin); a move
   * that ended here is finished, one that did not is left for {@link #classify}.
   */
  private List<String> awaitMoves(ChaosCluster c) throws InterruptedException {
    List<String> out = new ArrayList<>();
    for (Move m : running) {
      String seen;
      try {
        seen = m.outcome().get(moveDeadline.toSeconds() + 30, TimeUnit.SECONDS);
      } catch (ExecutionException | TimeoutException e) {
        seen = "no answer: " + e;
      }
      if (seen.equals("done")) {
        count("finished");
        out.add(m.group() + " " + m.from() + "->" + m.to() + " finished");
        try {
          ShardGroups.recordInMap(c, ShardGroups.view(c, m.range(), VIEW));
        } catch (IOException e) {
          out.add("map of " + m.group() + " not updated: " + e.getMessage());
        }
      } else {
        out.add(m.group() + " " + m.from() + "->" + m.to() + " " + seen);
        unresolved.add(new Unresolved(m, seen));
      }
    }
    running.clear();
    return out;
  }

  /**
   * For each move that did not end here: waits for its group to end the change (finish or undo it),
   * then says which by the group's voters (a later move of the same group may blur this: "other").
   */
  private List<String> classify(ChaosCluster c) throws IOException {
    List<String> out = new ArrayList<>();
    for (Unresolved u : unresolved) {
      Move m = u.move();
      GroupView v;
      try {
        v = ShardGroups.settled(c, m.range(), SETTLE);
      } catch (IOException e) {
        count("unsettled");
        out.add(m.group() + " " + m.from() + "->" + m.to() + " unsettled: " + e.getMessage());
        continue;
      }
      ShardGroups.recordInMap(c, v);
      Set<String> voters = new HashSet<>(v.voters());
      String how;
      if (voters.contains(m.to()) && !voters.contains(m.from())) {
        how = "finished by the group";
      } else if (voters.contains(m.from()) && !voters.contains(m.to())) {
        how = u.seen().startsWith("refused") ? "refused" : "undone";
      } else {
        how = "other";
      }
      count(how);
      out.add(m.group() + " " + m.from() + "->" + m.to() + " " + how + ", voters " + v.voters());
    }
    unresolved.clear();
    return out;
  }

  private void count(String what) {
    tally.merge(what, 1, Integer::sum);
  }

  /** The moves so far by how they ended ({@code started}, {@code finished}, {@code undone}, …). */
  public Map<String, Integer> tally() {
    return Map.copyOf(tally);
  }

  /** The node replaced, if the replacement started. */
  public Optional<String> replaced() {
    return Optional.ofNullable(replaced);
  }
}
