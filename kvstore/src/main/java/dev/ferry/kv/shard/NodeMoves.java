package dev.ferry.kv.shard;

import dev.ferry.raft.ClusterSecret;
import dev.ferry.raft.TlsFiles;
import dev.ferry.raft.admin.AddProgress;
import dev.ferry.raft.admin.ReplicaMover;
import dev.ferry.raft.admin.ReplicaMover.MoveRequest;
import dev.ferry.raft.admin.ReplicaMover.MoveResult;
import dev.ferry.shipping.PeerAddress;
import dev.ferry.shipping.install.InstallProgress;
import dev.ferry.shipping.install.TransferPriority;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Replacing and draining a node of a sharded cluster: every range with a replica on the node gets
 * one elsewhere, by one {@link ReplicaMover} move per range (docs/scale-out.md, "Replacing and
 * draining a node").
 *
 * <ul>
 *   <li>{@link #replace}: every replica of {@code node} moves to one new node, with install
 *       priority {@link TransferPriority#REPAIR} (the group lost, or is about to lose, a replica).
 *       {@code node} may be dead: each move's add goes on without it, a majority of the group
 *       verifying the new replica.
 *   <li>{@link #drain}: each replica of {@code node} moves to the least loaded node not holding the
 *       range (in distinct zones when the map's zone labels allow), with priority {@link
 *       TransferPriority#REBALANCE}; {@code node} keeps serving until each move removes it.
 * </ul>
 *
 * <p>When {@code node} is on the map's {@code meta} line (it hosts a replica of the metadata group
 * {@code <cluster>.meta}), that replica moves too, by the same kind of move, after every range's
 * move ended: to the new node for a replacement, to a node not on the {@code meta} line for a
 * drain. It is recorded in the replicated map by {@link ClusterMaps#recordMetaMove} (the {@code
 * meta} line then names the new node).
 *
 * <p>The moves run at most {@link Options#parallelism} at a time on a pool of that many threads
 * (each move only waits: its change runs at the group's leader, its install is fetched by the
 * target from the group's own replicas). Each move is recorded in the map as soon as it is done:
 * for a {@link ReplicatedClusterMap} by {@link ClusterMaps#recordMove}; for a static map the caller
 * writes {@link Result#layout} (all done moves, version + 1) once at the end. A move that could not
 * reach a node ({@code IOException}: e.g. the dead node still named leader by its group until an
 * election ends) is tried again, 2 s later, up to {@value #MOVE_ATTEMPTS} times within its
 * deadline; any other failure ends it. A failed move does not stop the others; the result lists it.
 * Running the same call again finishes what is left: the plan is made from the map, which no longer
 * shows the moves that were recorded, and a move already done in its group changes nothing ({@link
 * ReplicaMover} is idempotent).
 *
 * <p>Concurrency: {@link #replace} and {@link #drain} block their caller until every move ended.
 * The {@link Listener} is called on the pool's threads (and the caller's), one call at a time.
 */
public final class NodeMoves {
  /** Attempts of one move that failed to reach a node (each a {@link ReplicaMover#move}). */
  static final int MOVE_ATTEMPTS = 5;

  private static final Duration RETRY_PAUSE = Duration.ofSeconds(2);

  private NodeMoves() {}

  /**
   * How a replacement or drain runs.
   *
   * @param secret the cluster secret the nodes' admin services require
   * @param tls the client's TLS files, or empty for a cluster without TLS
   * @param parallelism moves running at once, {@code >= 1}
   * @param deadline how long each move may take from its start ({@link MoveRequest#deadline})
   * @param excluded nodes a drain never picks as a target (e.g. nodes that are down)
   * @param sharedZonesAllowed whether a replacement may leave a range (or the metadata group) in
   *     fewer zones than before (refused by default, when the map has zone labels)
   */
  public record Options(
      ClusterSecret secret,
      Optional<TlsFiles> tls,
      int parallelism,
      Duration deadline,
      Set<String> excluded,
      boolean sharedZonesAllowed) {
    /** Moves at once by default. */
    public static final int DEFAULT_PARALLELISM = 4;

    /** Each move's deadline by default. */
    public static final Duration DEFAULT_DEADLINE = Duration.ofMinutes(10);

    public Options {
      Objects.requireNonNull(secret, "secret");
      Objects.requireNonNull(tls, "tls");
      Objects.requireNonNull(deadline, "deadline");
      excluded = Set.copyOf(excluded);
      if (parallelism < 1) {
        throw new IllegalArgumentException("parallelism must be >= 1: " + parallelism);
      }
      if (deadline.isNegative() || deadline.isZero()) {
        throw new IllegalArgumentException("deadline must be positive: " + deadline);
      }
    }

    /** The defaults: no TLS, {@link #DEFAULT_PARALLELISM}, {@link #DEFAULT_DEADLINE}. */
    public static Options of(ClusterSecret secret) {
      return new Options(
          secret, Optional.empty(), DEFAULT_PARALLELISM, DEFAULT_DEADLINE, Set.of(), false);
    }

    /** These options with {@code n} moves at once. */
    public Options withParallelism(int n) {
      return new Options(secret, tls, n, deadline, excluded, sharedZonesAllowed);
    }

    /** These options with each move's deadline {@code d}. */
    public Options withDeadline(Duration d) {
      return new Options(secret, tls, parallelism, d, excluded, sharedZonesAllowed);
    }

    /** These options with TLS files. */
    public Options withTls(TlsFiles files) {
      return new Options(
          secret, Optional.of(files), parallelism, deadline, excluded, sharedZonesAllowed);
    }

    /** These options with {@code nodes} never picked as drain targets. */
    public Options excluding(Set<String> nodes) {
      return new Options(secret, tls, parallelism, deadline, nodes, sharedZonesAllowed);
    }

    /**
     * These options letting a replacement put the new node in a zone where another replica of a
     * range it takes already is ({@code ferry admin replace --ignore-zones}).
     */
    public Options allowingSharedZones() {
      return new Options(secret, tls, parallelism, deadline, excluded, true);
    }
  }

  /**
   * One planned move: range {@code range}'s replica on {@code from} goes to {@code to}; or, with
   * {@code range} {@link #META_RANGE}, the metadata group's own replica on {@code from} (a node of
   * the map's {@code meta} line) goes to {@code to}.
   *
   * @param range the range's index, or {@link #META_RANGE} for the metadata group
   * @param group the range's group, or the metadata group {@code <cluster>.meta}
   * @param from the node giving the replica up
   * @param to the node taking it
   */
  public record Move(int range, String group, String from, String to) {
    /** The {@link #range} of the metadata group's move: it is no range. */
    public static final int META_RANGE = -1;

    public Move {
      Objects.requireNonNull(group, "group");
      Objects.requireNonNull(from, "from");
      Objects.requireNonNull(to, "to");
      if (range < META_RANGE) {
        throw new IllegalArgumentException("range must be >= 0, or META_RANGE: " + range);
      }
    }

    /** Whether this moves the metadata group's replica (not a range's). */
    public boolean meta() {
      return range == META_RANGE;
    }
  }

  /** Where one group's move is. */
  public enum State {
    /** Waiting for a place in the pool. */
    QUEUED,
    /** Running: the target hosts the group, installs, catches up, is verified and promoted. */
    INSTALLING,
    /** The target votes; the old replica is being removed. */
    REMOVING,
    /** Done: the target votes, the old replica is out (and recorded in the map, if it could be). */
    DONE,
    /** Failed ({@link GroupProgress#failure} says why). */
    FAILED;

    /** Whether the move ended. */
    public boolean ended() {
      return this == DONE || this == FAILED;
    }
  }

  /**
   * One group's move as it goes.
   *
   * @param move the move
   * @param state where it is
   * @param bytesDone stored bytes of the target's install held so far (0 before it starts)
   * @param bytesTotal stored bytes the install needs (0 until it starts, or if it needs none)
   * @param failure why it failed, for {@link State#FAILED}
   */
  public record GroupProgress(
      Move move, State state, long bytesDone, long bytesTotal, Optional<String> failure) {
    public GroupProgress {
      Objects.requireNonNull(move, "move");
      Objects.requireNonNull(state, "state");
      Objects.requireNonNull(failure, "failure");
      if (failure.isPresent() != (state == State.FAILED)) {
        throw new IllegalArgumentException("a failure goes with FAILED only: " + state + failure);
      }
    }

    /** A move waiting for its turn (no bytes yet). */
    public static GroupProgress queued(Move m) {
      return new GroupProgress(m, State.QUEUED, 0, 0, Optional.empty());
    }

    /** How much of this move is done, 0..1: its install's share of bytes, 1 once it ended. */
    public double fraction() {
      return switch (state) {
        case QUEUED -> 0;
        case INSTALLING -> bytesTotal <= 0 ? 0 : Math.min(1.0, (double) bytesDone / bytesTotal);
        case REMOVING, DONE, FAILED -> 1;
      };
    }
  }

  /**
   * The whole node's progress.
   *
   * @param node the node replaced or drained
   * @param groups every group's move, in range order (the metadata group's last)
   * @param elapsed time since the start
   */
  public record NodeProgress(String node, List<GroupProgress> groups, Duration elapsed) {
    public NodeProgress {
      Objects.requireNonNull(node, "node");
      groups = List.copyOf(groups);
      Objects.requireNonNull(elapsed, "elapsed");
    }

    /** Moves that ended (done or failed). */
    public int ended() {
      return (int) groups.stream().filter(g -> g.state().ended()).count();
    }

    /** Moves done. */
    public int done() {
      return (int) groups.stream().filter(g -> g.state() == State.DONE).count();
    }

    /** Moves failed. */
    public int failed() {
      return (int) groups.stream().filter(g -> g.state() == State.FAILED).count();
    }

    /** Install bytes held so far over all groups. */
    public long bytesDone() {
      return groups.stream().mapToLong(GroupProgress::bytesDone).sum();
    }

    /** Install bytes needed over the groups whose install started. */
    public long bytesTotal() {
      return groups.stream().mapToLong(GroupProgress::bytesTotal).sum();
    }

    /** How much of the whole is done, 0..1: the mean of the groups' {@link #fraction}s. */
    public double fraction() {
      if (groups.isEmpty()) {
        return 1;
      }
      return groups.stream().mapToDouble(GroupProgress::fraction).sum() / groups.size();
    }

    /**
     * The estimated time left, from the rate so far: {@code elapsed × (1 − f) / f} for the fraction
     * {@code f} done; empty while nothing is done.
     */
    public Optional<Duration> eta() {
      double f = fraction();
      if (f <= 0) {
        return Optional.empty();
      }
      return Optional.of(Duration.ofNanos((long) (elapsed.toNanos() * (1 - f) / f)));
    }
  }

  /**
   * What a replacement or drain ended with.
   *
   * @param node the node replaced or drained
   * @param groups every group's move as it ended (DONE or FAILED), in range order (the metadata
   *     group's last)
   * @param layout the map's layout afterwards: for a replicated map, the last one recorded (or
   *     read); for a static map, the layout given with every done move applied at version + 1 (the
   *     same layout if nothing changed) — write it to the descriptor file
   * @param took how long it took
   */
  public record Result(
      String node, List<GroupProgress> groups, ClusterLayout layout, Duration took) {
    public Result {
      Objects.requireNonNull(node, "node");
      groups = List.copyOf(groups);
      Objects.requireNonNull(layout, "layout");
      Objects.requireNonNull(took, "took");
    }

    /** The moves that failed. */
    public List<GroupProgress> failed() {
      return groups.stream().filter(g -> g.state() == State.FAILED).toList();
    }
  }

  /** What a replacement or drain reports. Called one call at a time; must not block long. */
  public interface Listener {
    /** Reports nothing. */
    Listener NONE = new Listener() {};

    /** The plan, before any move starts. */
    default void planned(List<Move> moves) {}

    /** A line about one move's step (from {@link ReplicaMover.Listener#step}). */
    default void step(Move move, String line) {}

    /** One group's progress changed; {@code node} is the whole node's progress with it. */
    default void progress(GroupProgress group, NodeProgress node) {}
  }

  /**
   * Replaces {@code node}: each range with a replica on it (in the map's current layout; for a
   * {@link ReplicatedClusterMap}, the metadata group's, or the cached one if the group does not
   * answer) moves that replica to {@code with}, install priority {@link TransferPriority#REPAIR}.
   * If {@code with} is not a node of the map, it is added to it first (a replicated map: by
   * compare-and-set; a static map: in {@link Result#layout}). If {@code node} is a metadata node
   * (on the map's {@code meta} line), its replica of the metadata group moves to {@code with} too,
   * last. {@code node} may be down. Blocks until every move ended.
   *
   * @throws IllegalArgumentException before any move, if {@code node} is no node of the map, {@code
   *     with} is {@code node} or has another address than the map gives its id, {@code with}
   *     already holds a replica of a range {@code node} holds, both are metadata nodes, or (a map
   *     with zone labels, unless {@link Options#sharedZonesAllowed}) {@code with}'s zone would
   *     leave a range or the metadata group in fewer zones than before
   * @throws IOException if the map could not be changed to add {@code with} (the metadata group did
   *     not answer)
   */
  public static Result replace(
      ClusterMap map, String node, PeerAddress with, Options options, Listener listener)
      throws IOException {
    Objects.requireNonNull(with, "with");
    ClusterLayout layout = layoutOf(map);
    ClusterLayout withNode = withNode(layout, with);
    List<Move> plan = planReplace(withNode, node, with.id(), options.sharedZonesAllowed());
    if (withNode != layout && map instanceof ReplicatedClusterMap r) {
      withNode = addNode(r, with);
    }
    return run(map, withNode, node, plan, TransferPriority.REPAIR, options, listener);
  }

  /**
   * Drains {@code node}: each range with a replica on it moves that replica to a node chosen by
   * {@link #planDrain} (the least loaded, in distinct zones when the labels allow; never one of
   * {@link Options#excluded}), install priority {@link TransferPriority#REBALANCE}. If {@code node}
   * is a metadata node, its replica of the metadata group moves last, to a node {@link #planDrain}
   * picks among those not on the {@code meta} line. Blocks until every move ended.
   *
   * @throws IllegalArgumentException before any move, if {@code node} is no node of the map, or a
   *     range (or the metadata group) has no node left to take its replica
   */
  public static Result drain(ClusterMap map, String node, Options options, Listener listener)
      throws IOException {
    ClusterLayout layout = layoutOf(map);
    List<Move> plan = planDrain(layout, node, options.excluded());
    return run(map, layout, node, plan, TransferPriority.REBALANCE, options, listener);
  }

  /**
   * The moves of a replacement: one per range holding {@code node}, to {@code with}, in range
   * order; then, if {@code node} is on the {@code meta} line, the metadata group's move to {@code
   * with}.
   *
   * @throws IllegalArgumentException as {@link #replace} says
   */
  static List<Move> planReplace(ClusterLayout layout, String node, String with) {
    return planReplace(layout, node, with, false);
  }

  /**
   * As {@link #planReplace(ClusterLayout, String, String)}; unless {@code sharedZonesAllowed}, a
   * map with zone labels refuses a replacement that would leave a range (or the metadata group) in
   * fewer distinct zones than before, naming each such range.
   */
  static List<Move> planReplace(
      ClusterLayout layout, String node, String with, boolean sharedZonesAllowed) {
    List<Move> plan = planReplaceUnchecked(layout, node, with);
    if (sharedZonesAllowed || layout.zones().isEmpty()) {
      return plan;
    }
    List<String> narrowed = new ArrayList<>();
    for (Move m : plan) {
      List<String> members = m.meta() ? layout.meta() : layout.range(m.range()).replicas();
      int before = zonesOf(layout, members);
      List<String> after = new ArrayList<>(members);
      after.set(after.indexOf(node), with);
      if (zonesOf(layout, after) < before) {
        narrowed.add(
            (m.meta() ? "the metadata group" : "range " + m.range() + " (" + m.group() + ")")
                + ": "
                + before
                + " zones -> "
                + zonesOf(layout, after));
      }
    }
    if (!narrowed.isEmpty()) {
      throw new IllegalArgumentException(
          with
              + " is in zone "
              + layout.zones().getOrDefault(with, "(none)")
              + ", where other replicas already are: replacing "
              + node
              + " with it would narrow "
              + String.join("; ", narrowed)
              + ". Pick a node in another zone, drain "
              + node
              + " (it picks zones apart), or allow it (--ignore-zones)");
    }
    return plan;
  }

  private static int zonesOf(ClusterLayout layout, List<String> nodes) {
    Set<String> zones = new HashSet<>();
    nodes.forEach(n -> zones.add(zoneOf(layout, n)));
    return zones.size();
  }

  private static List<Move> planReplaceUnchecked(ClusterLayout layout, String node, String with) {
    layout.node(node);
    layout.node(with);
    if (node.equals(with)) {
      throw new IllegalArgumentException("a node cannot replace itself: " + node);
    }
    List<Move> out = new ArrayList<>();
    for (Range r : layout.ranges()) {
      if (r.replicas().contains(node)) {
        if (r.replicas().contains(with)) {
          throw new IllegalArgumentException(
              with
                  + " already holds a replica of range "
                  + r.index()
                  + " ("
                  + r.group()
                  + ", replicas "
                  + r.replicas()
                  + "): it cannot take "
                  + node
                  + "'s too; drain "
                  + node
                  + " instead");
        }
        out.add(new Move(r.index(), r.group(), node, with));
      }
    }
    if (layout.meta().contains(node)) {
      if (layout.meta().contains(with)) {
        throw new IllegalArgumentException(
            with
                + " is a metadata node already (meta "
                + layout.meta()
                + "): it cannot take "
                + node
                + "'s metadata replica too; drain "
                + node
                + " instead");
      }
      out.add(metaMove(layout, node, with));
    }
    return List.copyOf(out);
  }

  private static Move metaMove(ClusterLayout layout, String from, String to) {
    return new Move(Move.META_RANGE, ClusterLayout.metaGroupName(layout.cluster()), from, to);
  }

  /**
   * The moves of a drain, in range order: each range holding {@code node} moves that replica to a
   * node not holding the range and not in {@code excluded}, preferring (1) a node whose zone none
   * of the range's other replicas is in, when the map has zone labels (a node without a label is a
   * zone of its own), then (2) the fewest replicas, counting those this plan moved to it, then (3)
   * the map's node order. Then, if {@code node} is on the {@code meta} line, the metadata group's
   * move, picked the same way among the nodes not on the {@code meta} line (a zone none of the
   * other metadata nodes is in, then the fewest range replicas counting this plan's moves, then
   * node order). Pure and deterministic.
   *
   * @throws IllegalArgumentException if {@code node} is no node of the map, or a range has no
   *     candidate left
   */
  static List<Move> planDrain(ClusterLayout layout, String node, Set<String> excluded) {
    layout.node(node);
    Map<String, Integer> load = new HashMap<>();
    layout.loadPerNode().forEach((id, l) -> load.put(id, l.replicas()));
    List<Move> out = new ArrayList<>();
    for (Range r : layout.ranges()) {
      if (!r.replicas().contains(node)) {
        continue;
      }
      String best = pick(layout, node, r.replicas(), excluded, load);
      if (best == null) {
        throw new IllegalArgumentException(
            "range "
                + r.index()
                + " ("
                + r.group()
                + ", replicas "
                + r.replicas()
                + ") has no node left to take "
                + node
                + "'s replica"
                + (excluded.isEmpty() ? "" : " (excluded: " + excluded + ")"));
      }
      load.merge(best, 1, Integer::sum);
      out.add(new Move(r.index(), r.group(), node, best));
    }
    if (layout.meta().contains(node)) {
      String best = pick(layout, node, layout.meta(), excluded, load);
      if (best == null) {
        throw new IllegalArgumentException(
            "the metadata group (meta "
                + layout.meta()
                + ") has no node left to take "
                + node
                + "'s replica"
                + (excluded.isEmpty() ? "" : " (excluded: " + excluded + ")"));
      }
      out.add(metaMove(layout, node, best));
    }
    return List.copyOf(out);
  }

  /**
   * The drain target for a group whose members are {@code members} (including {@code node}): not a
   * member, not excluded; first a node in a zone no other member is in (when the map has zones),
   * then the least {@code load}, then node order. Null if there is none.
   */
  private static String pick(
      ClusterLayout layout,
      String node,
      List<String> members,
      Set<String> excluded,
      Map<String, Integer> load) {
    boolean zoned = !layout.zones().isEmpty();
    Set<String> zonesTaken = new HashSet<>();
    for (String id : members) {
      if (!id.equals(node)) {
        zonesTaken.add(zoneOf(layout, id));
      }
    }
    String best = null;
    boolean bestFreshZone = false;
    for (PeerAddress p : layout.nodes()) {
      String id = p.id();
      if (members.contains(id) || id.equals(node) || excluded.contains(id)) {
        continue;
      }
      boolean freshZone = zoned && !zonesTaken.contains(zoneOf(layout, id));
      int l = load.getOrDefault(id, 0);
      if (best == null
          || (freshZone && !bestFreshZone)
          || (freshZone == bestFreshZone && l < load.getOrDefault(best, 0))) {
        best = id;
        bestFreshZone = freshZone;
      }
    }
    return best;
  }

  private static String zoneOf(ClusterLayout layout, String id) {
    // A node without a label is a zone of its own (the prefix keeps it apart from any label).
    return layout.zones().getOrDefault(id, "\0" + id);
  }

  /**
   * The map's current layout: the metadata group's for a replicated map, else {@code current()}.
   */
  private static ClusterLayout layoutOf(ClusterMap map) {
    Objects.requireNonNull(map, "map");
    if (map instanceof ReplicatedClusterMap r) {
      try {
        ReplicatedClusterMap.Stored s = r.read();
        if (s.layout() != null) {
          return s.layout();
        }
      } catch (IOException e) {
        // The cached layout: the moves are checked by the groups themselves.
      }
    }
    return map.current();
  }

  /** {@code layout} with node {@code with} (the same layout if it has it at that address). */
  static ClusterLayout withNode(ClusterLayout layout, PeerAddress with) {
    for (PeerAddress p : layout.nodes()) {
      if (p.id().equals(with.id())) {
        if (!p.equals(with)) {
          throw new IllegalArgumentException(
              "the map has node " + p + ", not " + with + ": give " + p.id() + " alone");
        }
        return layout;
      }
    }
    List<PeerAddress> nodes = new ArrayList<>(layout.nodes());
    nodes.add(with);
    return new ClusterLayout(
        layout.cluster(),
        layout.version() + 1,
        layout.replication(),
        nodes,
        layout.ranges(),
        layout.meta(),
        layout.zones());
  }

  /** Adds node {@code with} to the replicated map (compare-and-set, tried a few times). */
  private static ClusterLayout addNode(ReplicatedClusterMap map, PeerAddress with)
      throws IOException {
    for (int i = 0; i < ClusterMaps.CAS_ATTEMPTS; i++) {
      ReplicatedClusterMap.Stored s = map.read();
      if (s.layout() == null) {
        throw new IllegalStateException("the metadata group holds no map yet");
      }
      ClusterLayout next = withNode(s.layout(), with);
      if (next == s.layout()) {
        return next;
      }
      ReplicatedClusterMap.CasResult c = map.compareAndSet(s.version(), next);
      if (c.applied()) {
        return c.current();
      }
    }
    throw new IllegalStateException(
        "node " + with.id() + " was not added to the map: it changed under each attempt");
  }

  private static Result run(
      ClusterMap map,
      ClusterLayout layout,
      String node,
      List<Move> plan,
      TransferPriority priority,
      Options options,
      Listener listener)
      throws IOException {
    Objects.requireNonNull(options, "options");
    Objects.requireNonNull(listener, "listener");
    Tracker tracker = new Tracker(node, plan, listener);
    tracker.planned();
    ReplicaMover.Builder b = ReplicaMover.builder(options.secret());
    options.tls().ifPresent(b::tls);
    ReplicaMover mover = b.build();
    ReplicatedClusterMap replicated = map instanceof ReplicatedClusterMap r ? r : null;
    AtomicInteger threads = new AtomicInteger();
    ExecutorService pool =
        Executors.newFixedThreadPool(
            Math.min(options.parallelism(), Math.max(1, plan.size())),
            task -> {
              Thread t = new Thread(task, "ferry-node-move-" + threads.incrementAndGet());
              t.setDaemon(true);
              return t;
            });
    List<Future<Optional<ClusterLayout>>> futures = new ArrayList<>();
    try {
      for (Move m : plan) {
        if (!m.meta()) {
          MoveRequest request = request(layout, m, priority, options);
          futures.add(pool.submit(() -> moveOne(mover, request, m, replicated, tracker)));
        }
      }
      ClusterLayout last = layout;
      for (Future<Optional<ClusterLayout>> f : futures) {
        last = newer(last, f.get());
      }
      // The metadata group's own replica moves last, once every range's move ended (and was
      // recorded by the metadata group while it still had all of its replicas).
      for (Move m : plan) {
        if (m.meta()) {
          MoveRequest request = request(layout, m, priority, options);
          last =
              newer(last, pool.submit(() -> moveOne(mover, request, m, replicated, tracker)).get());
        }
      }
      ClusterLayout after = replicated == null ? applied(layout, tracker.done()) : last;
      return new Result(node, tracker.ended(), after, tracker.elapsed());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted while moves ran (they go on at their groups' leaders)", e);
    } catch (ExecutionException e) {
      throw new IllegalStateException("a move's task failed unexpectedly", e.getCause());
    } finally {
      pool.shutdownNow();
    }
  }

  /** The mover's request for {@code m}: the group's known members are the layout's. */
  private static MoveRequest request(
      ClusterLayout layout, Move m, TransferPriority priority, Options options) {
    List<PeerAddress> known = m.meta() ? layout.metaPeers() : layout.peers(layout.range(m.range()));
    return new MoveRequest(m.group(), known, m.from(), layout.node(m.to()), options.deadline())
        .withPriority(priority);
  }

  private static ClusterLayout newer(ClusterLayout last, Optional<ClusterLayout> recorded) {
    return recorded.isPresent() && recorded.get().version() > last.version()
        ? recorded.get()
        : last;
  }

  /**
   * Runs one move on a pool thread and records it in a replicated map; returns the map's layout if
   * it recorded the move. A failure is reported to the tracker, not thrown.
   */
  private static Optional<ClusterLayout> moveOne(
      ReplicaMover mover,
      MoveRequest request,
      Move m,
      ReplicatedClusterMap replicated,
      Tracker tracker) {
    tracker.update(m, State.INSTALLING, 0, 0, null);
    ReplicaMover.Listener steps =
        new ReplicaMover.Listener() {
          @Override
          public void step(String line) {
            tracker.step(m, line);
          }

          @Override
          public void progress(AddProgress p) {
            tracker.progress(m, p);
          }
        };
    MoveResult result;
    long start = System.nanoTime();
    for (int attempt = 1; ; attempt++) {
      try {
        result = mover.move(request, steps);
        break;
      } catch (IOException e) {
        // A node that did not answer: often the group's old leader, dead (the node replaced) and
        // still named by its followers until they elect another. The move is idempotent: again.
        boolean timeLeft =
            System.nanoTime() - start + RETRY_PAUSE.toNanos() < request.deadline().toNanos();
        if (attempt >= MOVE_ATTEMPTS || !timeLeft || !pause()) {
          tracker.update(m, State.FAILED, -1, -1, String.valueOf(e.getMessage()));
          return Optional.empty();
        }
        tracker.step(m, "attempt " + attempt + " failed (" + e.getMessage() + "); trying again");
      } catch (RuntimeException e) {
        tracker.update(m, State.FAILED, -1, -1, String.valueOf(e.getMessage()));
        return Optional.empty();
      }
    }
    Optional<ClusterLayout> recorded = Optional.empty();
    if (replicated != null) {
      try {
        recorded =
            Optional.of(
                m.meta()
                    ? ClusterMaps.recordMetaMove(replicated, m.from(), m.to())
                    : ClusterMaps.recordMove(replicated, m.range(), m.from(), m.to()));
      } catch (IOException | RuntimeException e) {
        tracker.step(
            m,
            "moved, but the map did not record it ("
                + e.getMessage()
                + "); the metadata group's reconciler will, from the group's configuration");
      }
    }
    tracker.step(m, m.group() + ": voters " + result.voters());
    tracker.update(m, State.DONE, -1, -1, null);
    return recorded;
  }

  /** Waits between two attempts of a move; false if interrupted. */
  private static boolean pause() {
    try {
      Thread.sleep(RETRY_PAUSE.toMillis());
      return true;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /** {@code layout} with {@code done} applied, at version + 1 (the same layout if none). */
  static ClusterLayout applied(ClusterLayout layout, List<Move> done) {
    ClusterLayout out = layout;
    for (Move m : done) {
      if (m.meta()) {
        if (out.meta().contains(m.from()) && !out.meta().contains(m.to())) {
          out = out.withMetaMoved(m.from(), m.to());
        }
        continue;
      }
      Range r = out.range(m.range());
      if (r.replicas().contains(m.from()) && !r.replicas().contains(m.to())) {
        out = out.withReplicaMoved(m.range(), m.from(), m.to());
      }
    }
    return out.version() > layout.version() + 1 ? out.withVersion(layout.version() + 1) : out;
  }

  /** Every group's progress; reports each change to the listener, one call at a time. */
  private static final class Tracker {
    private final String node;
    private final Listener listener;
    private final Map<Move, GroupProgress> groups = new LinkedHashMap<>();
    private final long start = System.nanoTime();

    Tracker(String node, List<Move> plan, Listener listener) {
      this.node = node;
      this.listener = listener;
      plan.forEach(m -> groups.put(m, GroupProgress.queued(m)));
    }

    synchronized void planned() {
      listener.planned(List.copyOf(groups.keySet()));
    }

    synchronized void step(Move m, String line) {
      listener.step(m, line);
    }

    synchronized void progress(Move m, AddProgress p) {
      if (p.phase() == AddProgress.Phase.REMOVING || p.phase() == AddProgress.Phase.DONE) {
        update(m, State.REMOVING, -1, -1, null);
      } else if (p.install().isPresent()) {
        InstallProgress i = p.install().get();
        update(m, State.INSTALLING, i.bytesDone(), i.bytesWanted(), null);
      }
    }

    /** A new state; bytes of -1 keep the ones known (a poll answered late never goes back). */
    synchronized void update(Move m, State s, long done, long total, String failure) {
      GroupProgress old = groups.get(m);
      long t = Math.max(old.bytesTotal(), total);
      long d = Math.min(Math.max(old.bytesDone(), done), Math.max(t, old.bytesDone()));
      if (s == State.DONE) {
        d = t;
      }
      GroupProgress now = new GroupProgress(m, s, d, t, Optional.ofNullable(failure));
      groups.put(m, now);
      listener.progress(now, new NodeProgress(node, List.copyOf(groups.values()), elapsed()));
    }

    synchronized List<Move> done() {
      return groups.values().stream()
          .filter(g -> g.state() == State.DONE)
          .map(GroupProgress::move)
          .toList();
    }

    synchronized List<GroupProgress> ended() {
      return List.copyOf(groups.values());
    }

    Duration elapsed() {
      return Duration.ofNanos(System.nanoTime() - start);
    }
  }
}
