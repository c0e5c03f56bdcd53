package dev.ferry.raft.admin;

import dev.ferry.raft.ClusterSecret;
import dev.ferry.raft.TlsFiles;
import dev.ferry.shipping.PeerAddress;
import dev.ferry.shipping.install.TransferPriority;
import dev.ferry.statemachine.MembershipChange;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Moves one replica of a Raft group from one node to another, never dropping the group below its
 * number of voters: the target node hosts the group as a listener ({@link NodeAdminServer}: its
 * peer entry's startup role LISTENER), then the group's leader runs the move as <em>one</em>
 * membership change ({@link MembershipAdmin#addMember} with {@link AddRequest#replacing}): the
 * target is added through the digest gate (a {@code COMPARE_AND_SET} listener, a verified install
 * with every current replica as a source, a digest checkpoint, the promotion), then the source is
 * removed (leadership moved away first if it leads) and told it was retired (its node drops the
 * group). The group's replicated membership record names both nodes from the start: it allows one
 * change at a time, so one move per group runs at a time, and if the move's driver disappears, the
 * group's next leader finishes a move that was verified (promotes the target, then removes the
 * source) or undoes one that was not (removes the target).
 *
 * <p>The move runs at the group's leader, not in this process: once the leader runs it, this
 * process stopping (or its wait ending, {@link MoveRequest#waitingAtMost}) stops only the waiting.
 *
 * <p>Idempotent: a move can be run again with the same request after it failed or its process died.
 * It reads the group's state first: this move's change pending (the same target and source) → it
 * waits for that change to end; another pending change of the source or the target (an add still
 * running, or being undone) → it waits for it to end, then decides again; target already a voter →
 * it only removes the source, if the group then keeps at least as many voters as the request's
 * known replicas (else it fails: the target became a voter some other way, and a move never lowers
 * the replica count); source already gone and target a voter → nothing to do. A pending change of
 * another node fails the move with {@link MembershipConflictException}.
 *
 * <pre>{@code
 * ReplicaMover mover = ReplicaMover.builder(secret).build();
 * MoveResult r = mover.move(
 *     new MoveRequest("kv.r3", layoutPeersOfR3, "n2", n5, Duration.ofMinutes(10)),
 *     ReplicaMover.Listener.NONE);
 * }</pre>
 *
 * <p>The group's leader is asked again whenever it cannot be reached: right after a node is killed
 * the followers still name it as leader until they elect another, so a move looks for a leader that
 * answers (asking every member it learns of, every 0.5 s) for up to {@link #LEADER_WAIT} (within
 * the move's deadline) before it goes on with a follower's view or fails. Each retry is logged at
 * DEBUG, a change of leader once at INFO.
 *
 * <p>Concurrency: thread-safe; {@link #move} blocks its caller until the move is done or its wait
 * ends.
 */
public final class ReplicaMover {
  private static final Duration POLL = Duration.ofMillis(500);
  private static final String CLIENT_ID = "ferry-mover";
  private static final Duration RETIRING = Duration.ofSeconds(10);
  private static final Duration SLACK = Duration.ofSeconds(30);
  private static final Logger LOG = LoggerFactory.getLogger(ReplicaMover.class);

  /**
   * How long a move waits for its group to have a leader that answers (right after a kill, the
   * followers still name the dead leader until they elect another: an election timeout or a few).
   */
  static final Duration LEADER_WAIT = Duration.ofSeconds(60);

  /**
   * One move.
   *
   * @param group the group's name (its cluster name, e.g. {@code kv.r3})
   * @param known members of the group to ask about it first (e.g. the range's replicas in a cluster
   *     map, which may be stale: any one that still hosts the group will do)
   * @param from the id of the voter whose replica moves away
   * @param to the node the replica moves to (its id and addresses)
   * @param deadline how long the whole move may take: the deadline of its change at the group's
   *     leader (once the target is verified, its last step, the source's removal, gets at least 2
   *     minutes more)
   * @param waitAtMost how long {@link ReplicaMover#move} waits for it (at most {@code deadline});
   *     past it, the change goes on at the leader and {@link ReplicaMover#move} throws {@link
   *     MembershipTimeoutException}
   * @param priority the priority of the target's install in its node's transfer scheduler: {@link
   *     TransferPriority#REBALANCE} for a move (the default), {@link TransferPriority#REPAIR} when
   *     the move replaces a failed node
   */
  public record MoveRequest(
      String group,
      List<PeerAddress> known,
      String from,
      PeerAddress to,
      Duration deadline,
      Duration waitAtMost,
      TransferPriority priority) {
    public MoveRequest {
      Objects.requireNonNull(group, "group");
      Objects.requireNonNull(priority, "priority");
      Objects.requireNonNull(from, "from");
      Objects.requireNonNull(to, "to");
      Objects.requireNonNull(deadline, "deadline");
      Objects.requireNonNull(waitAtMost, "waitAtMost");
      known = List.copyOf(known);
      if (known.isEmpty()) {
        throw new IllegalArgumentException("no known member of group " + group);
      }
      if (from.equals(to.id())) {
        throw new IllegalArgumentException("the replica moves from " + from + " to itself");
      }
      if (deadline.isNegative() || deadline.isZero()) {
        throw new IllegalArgumentException("deadline must be positive: " + deadline);
      }
      if (waitAtMost.isNegative() || waitAtMost.isZero() || waitAtMost.compareTo(deadline) > 0) {
        throw new IllegalArgumentException(
            "waitAtMost must be positive and at most the deadline " + deadline + ": " + waitAtMost);
      }
    }

    /** A move that {@link ReplicaMover#move} waits for until its deadline. */
    public MoveRequest(
        String group, List<PeerAddress> known, String from, PeerAddress to, Duration deadline) {
      this(group, known, from, to, deadline, deadline, TransferPriority.REBALANCE);
    }

    /**
     * A move that {@link ReplicaMover#move} waits for at most {@code waitAtMost}, at priority
     * {@link TransferPriority#REBALANCE}.
     */
    public MoveRequest(
        String group,
        List<PeerAddress> known,
        String from,
        PeerAddress to,
        Duration deadline,
        Duration waitAtMost) {
      this(group, known, from, to, deadline, waitAtMost, TransferPriority.REBALANCE);
    }

    /** This move, its target's install admitted at {@code p} (see {@link #priority}). */
    public MoveRequest withPriority(TransferPriority p) {
      return new MoveRequest(group, known, from, to, deadline, waitAtMost, p);
    }

    /**
     * This move, with {@link ReplicaMover#move} waiting at most {@code wait} for it (see {@link
     * #waitAtMost}).
     */
    public MoveRequest waitingAtMost(Duration wait) {
      return new MoveRequest(group, known, from, to, deadline, wait, priority);
    }

    /** Whether {@code c} is this move's change: an add of the target in place of the source. */
    boolean isChange(MembershipChange c) {
      return c.kind() == MembershipChange.Kind.ADD
          && c.nodeId().equals(to.id())
          && c.replaces().equals(from);
    }
  }

  /**
   * A finished move.
   *
   * @param group the group
   * @param added the add of the target, if this run made it and saw it end (empty if the target
   *     already was a voter, or the move ended while this run only waited for it)
   * @param removed the removal of the source, if this run made it or saw it end (empty if it
   *     already was out)
   * @param voters the group's voters afterwards, sorted
   * @param took how long this run took
   */
  public record MoveResult(
      String group,
      Optional<AddResult> added,
      Optional<RemoveResult> removed,
      List<String> voters,
      Duration took) {
    public MoveResult {
      Objects.requireNonNull(group, "group");
      Objects.requireNonNull(added, "added");
      Objects.requireNonNull(removed, "removed");
      voters = List.copyOf(voters);
      Objects.requireNonNull(took, "took");
    }
  }

  /** What a move reports as it goes. Called on the mover's thread; must not block long. */
  public interface Listener {
    /** Reports nothing. */
    Listener NONE = new Listener() {};

    /** A step begins (a line for an operator). */
    default void step(String line) {}

    /**
     * The move's change is being handed to the group's leader {@code leader}: from now on it goes
     * on there, whatever this process does (its membership record holds the move).
     */
    default void handedOver(String leader) {}

    /** Progress of the target's add (the install's bytes, the phases, the source's removal). */
    default void progress(AddProgress progress) {}
  }

  /** Asks one node for its view of a group ({@link AdminClient#status}); a seam for tests. */
  interface StatusSource {
    NodeStatus status(PeerAddress node, String groupId) throws IOException;
  }

  private final ClusterSecret secret;
  private final TlsFiles tls;
  private final StatusSource statusSource;
  private final Duration leaderWait;

  private ReplicaMover(Builder b) {
    this.secret = b.secret;
    this.tls = b.tls;
    this.statusSource = b.statusSource != null ? b.statusSource : this::askStatus;
    this.leaderWait = b.leaderWait;
  }

  private NodeStatus askStatus(PeerAddress node, String gid) throws IOException {
    try (AdminClient c = AdminClient.connect(node, gid, secret, tls, CLIENT_ID)) {
      return c.status();
    }
  }

  /** A builder; {@code secret} is the cluster secret the nodes' admin services require. */
  public static Builder builder(ClusterSecret secret) {
    return new Builder(secret);
  }

  /** Builds a {@link ReplicaMover}. Not thread-safe. */
  public static final class Builder {
    private final ClusterSecret secret;
    private TlsFiles tls;
    private StatusSource statusSource;
    private Duration leaderWait = LEADER_WAIT;

    private Builder(ClusterSecret secret) {
      this.secret = Objects.requireNonNull(secret, "secret");
    }

    /** This client's TLS files, for a cluster run with TLS. */
    public Builder tls(TlsFiles tls) {
      this.tls = Objects.requireNonNull(tls, "tls");
      return this;
    }

    /** Where the mover asks for a group's status (tests); by default each node's admin service. */
    Builder statusSource(StatusSource source) {
      this.statusSource = Objects.requireNonNull(source, "source");
      return this;
    }

    /** How long a move waits for a leader that answers (tests); default {@link #LEADER_WAIT}. */
    Builder leaderWait(Duration wait) {
      if (wait.isNegative()) {
        throw new IllegalArgumentException("leaderWait must not be negative: " + wait);
      }
      this.leaderWait = wait;
      return this;
    }

    /** The mover. */
    public ReplicaMover build() {
      return new ReplicaMover(this);
    }
  }

  /**
   * Runs the move; blocks until it is done or failed, or its wait ended.
   *
   * @throws IllegalStateException if the source is not a voter of the group (nor the move already
   *     done), or no member of the group answers
   * @throws MembershipConflictException if another node's change is pending in the group
   * @throws MembershipTimeoutException if the wait ended: once the leader runs the move, it goes on
   *     there (the message says so; follow it with the group's status, see {@link
   *     AdminClient#status}); if nothing was started yet, nothing changed
   * @throws MembershipException (or a subclass) as the move's change fails (it was then undone, or,
   *     once verified, is finished by the group's leader)
   * @throws IOException if a node cannot be reached
   */
  public MoveResult move(MoveRequest r, Listener listener) throws IOException {
    Objects.requireNonNull(r, "request");
    Objects.requireNonNull(listener, "listener");
    Budget clock = new Budget(r);
    String gid = AdminClient.groupId(r.group());
    NodeStatus st = settledStatus(r, gid, clock, listener);
    Optional<NodeStatus.Member> target = member(st, r.to().id());
    Optional<NodeStatus.Member> source = member(st, r.from());
    if (source.isEmpty() && target.isPresent() && target.get().voter()) {
      listener.step(r.to().id() + " is a voter of " + r.group() + " and " + r.from() + " is out");
      return new MoveResult(
          r.group(), Optional.empty(), Optional.empty(), voters(st), clock.took());
    }
    if (source.isEmpty() || !source.get().voter()) {
      throw new IllegalStateException(
          r.from() + " is not a voter of " + r.group() + "; its members: " + st.members());
    }
    if (target.isPresent() && target.get().voter()) {
      // Both vote and nothing is pending: an add of the target alone, or a move whose record did
      // not name the source (run by an older version). Only the removal is left — unless the
      // target became a voter some other way (another move) and the removal would shrink the
      // group below the replicas the caller knows of: a move never lowers the replica count.
      int after = voters(st).size() - 1;
      if (after < r.known().size()) {
        throw new IllegalStateException(
            r.to().id()
                + " already is a voter of "
                + r.group()
                + " beside "
                + r.from()
                + " (voters "
                + voters(st)
                + "): removing "
                + r.from()
                + " would leave "
                + after
                + " voters, fewer than the "
                + r.known().size()
                + " replicas it has; not moved (pick another target)");
      }
      RemoveResult removed;
      try (Driver d = driver(r, gid, st, r.from(), clock, listener)) {
        listener.step(
            r.to().id()
                + " already is a voter of "
                + r.group()
                + "; removing "
                + r.from()
                + " via "
                + d.via().id());
        removed = d.client().remove(new RemoveRequest(r.from(), clock.left()));
      }
      st = settledStatus(r, gid, clock, listener);
      return new MoveResult(
          r.group(), Optional.empty(), Optional.of(removed), voters(st), clock.took());
    }
    host(r, st, target.isPresent(), clock, listener);
    Driver d = driver(r, gid, st, null, clock, listener);
    PeerAddress via = d.via();
    listener.step(
        "moving: the leader "
            + via.id()
            + " adds "
            + r.to().id()
            + " to "
            + r.group()
            + " in place of "
            + r.from()
            + ", then removes "
            + r.from()
            + " (one membership change, recorded in the group: its leader finishes it if this"
            + " stops)");
    AddResult added;
    try (d) {
      AdminClient c = d.client();
      AddRequest add = new AddRequest(r.to(), clock.left()).replacing(r.from());
      listener.handedOver(via.id());
      added = c.add(add, clock.waitLeft(), listener::progress);
    } catch (MembershipTimeoutException e) {
      if (e.getCause() instanceof IOException io
          && io.getCause() instanceof java.util.concurrent.TimeoutException) {
        // This process stopped waiting (AdminClient.add): the leader goes on.
        throw goesOn(r, via.id(), e);
      }
      throw e;
    } catch (IOException e) {
      // The driver's connection broke (a leader that was the source retires at the end): the
      // record says how the move went.
      listener.step("lost the connection to " + via.id() + " (" + e.getMessage() + ")");
      st = settledStatus(r, gid, clock, listener);
      if (member(st, r.from()).isEmpty() && isVoter(st, r.to().id())) {
        return new MoveResult(
            r.group(), Optional.empty(), Optional.empty(), voters(st), clock.took());
      }
      throw e;
    }
    st = settledStatus(r, gid, clock, listener);
    return new MoveResult(
        r.group(), Optional.of(added), added.replaced(), voters(st), clock.took());
  }

  /** A connection to the voter that drives a change. */
  private record Driver(PeerAddress via, AdminClient client) implements AutoCloseable {
    @Override
    public void close() throws IOException {
      client.close();
    }
  }

  /**
   * Connects to the voter to drive a change ({@link #coordinator}: the leader of {@code st}, unless
   * it is {@code avoid}). One that cannot be reached (killed, while the followers still name it) is
   * not the end of the move: the leader is asked again, until one answers or {@link #leaderWait}
   * passed (within the move's deadline).
   */
  private Driver driver(
      MoveRequest r, String gid, NodeStatus st, String avoid, Budget clock, Listener listener)
      throws IOException {
    long until = System.nanoTime() + min(leaderWait, clock.left()).toNanos();
    NodeStatus view = st;
    while (true) {
      PeerAddress via = coordinator(view, avoid);
      try {
        return new Driver(via, AdminClient.connect(via, gid, secret, tls, CLIENT_ID));
      } catch (IOException e) {
        if (System.nanoTime() - until >= 0) {
          throw e;
        }
        LOG.debug(
            "{}: cannot reach {}; asking for its leader again: {}",
            r.group(),
            via.id(),
            e.toString());
        clock.unreachable(via.id());
        sleep();
        view = settledStatus(r, gid, clock, listener);
      }
    }
  }

  private static Duration min(Duration a, Duration b) {
    return a.compareTo(b) <= 0 ? a : b;
  }

  /** Has the target host the group as a listener, with the group's members and itself as peers. */
  private void host(
      MoveRequest r, NodeStatus st, boolean inConfiguration, Budget clock, Listener listener)
      throws IOException {
    List<PeerAddress> peers = new ArrayList<>();
    for (NodeStatus.Member m : st.members()) {
      if (!m.id().equals(r.to().id())) {
        peers.add(PeerAddress.parse(m.address()));
      }
    }
    peers.add(r.to());
    try (AdminClient n = AdminClient.connectNode(r.to(), secret, tls, CLIENT_ID)) {
      if (!inConfiguration) {
        awaitDropped(n, r, clock, listener);
      }
      boolean started = n.hostGroup(r.group(), peers, r.priority());
      listener.step(
          r.to().id() + (started ? " hosts " : " already hosts ") + r.group() + " as a listener");
    }
  }

  /** The exception of a move whose wait ended while its change goes on at {@code leader}. */
  private static MembershipTimeoutException goesOn(MoveRequest r, String leader, Throwable cause) {
    return new MembershipTimeoutException(
        "stopped waiting after "
            + r.waitAtMost().toSeconds()
            + " s: the move of "
            + r.group()
            + " from "
            + r.from()
            + " to "
            + r.to().id()
            + " goes on at the group's leader ("
            + leader
            + "; its membership record holds the move, so a next leader finishes it too); follow"
            + " it with `ferry admin status`",
        cause);
  }

  /**
   * The group's status from its leader, once no change of the move's nodes is pending.
   *
   * @throws MembershipConflictException if another node's change is pending
   */
  private NodeStatus settledStatus(MoveRequest r, String gid, Budget clock, Listener listener)
      throws IOException {
    boolean told = false;
    while (true) {
      NodeStatus st = leaderStatus(r, gid, clock);
      Optional<MembershipChange> pending = st.pending();
      if (pending.isEmpty()) {
        return st;
      }
      MembershipChange c = pending.get();
      if (!c.nodeId().equals(r.from()) && !c.nodeId().equals(r.to().id())) {
        throw new MembershipConflictException(
            r.group()
                + " has a pending change of another node ("
                + c
                + "); a group runs one change at a time: wait for it, or cancel it with `ferry"
                + " admin cancel`");
      }
      boolean ours = r.isChange(c);
      if (!told) {
        listener.step(
            (ours
                    ? "this move runs at the group's leader; waiting for it to end: "
                    : "waiting for the pending change of " + r.group() + " to end: ")
                + c);
        told = true;
      }
      if (ours && clock.waitEnded()) {
        throw goesOn(r, st.role().equals("LEADER") ? st.id() : st.leader().orElse("?"), null);
      }
      clock.left();
      sleep();
    }
  }

  /**
   * The status of the group's leader, asked of the known members and those they know. While no
   * member answers as leader (the one the followers name was killed and they have not elected
   * another yet), they are asked again every {@link #POLL}, for up to {@link #leaderWait} within
   * the move's deadline; then a follower's status is the answer.
   *
   * @throws IllegalStateException if no member answered at all
   */
  NodeStatus leaderStatus(MoveRequest r, String gid, Budget clock) throws IOException {
    Map<String, PeerAddress> ask = new LinkedHashMap<>();
    r.known().forEach(p -> ask.put(p.id(), p));
    // Last: the target, which may be the group's only replica left once the move is done.
    ask.putIfAbsent(r.to().id(), r.to());
    List<String> failures = new ArrayList<>();
    NodeStatus any = null;
    String named = null;
    long until = System.nanoTime() + min(leaderWait, clock.left()).toNanos();
    for (int round = 0; ; round++) {
      boolean redirected = false;
      failures.clear();
      for (PeerAddress p : List.copyOf(ask.values())) {
        NodeStatus s;
        try {
          s = statusSource.status(p, gid);
        } catch (IOException | RuntimeException e) {
          failures.add(p.id() + ": " + e.getMessage());
          LOG.debug(
              "{}: {} does not answer (round {}): {}", r.group(), p.id(), round, e.toString());
          if (p.id().equals(named)) {
            clock.unreachable(p.id());
          }
          continue;
        }
        if (s.role().equals("LEADER")) {
          clock.leader(r.group(), s.id());
          return s;
        }
        any = s;
        for (NodeStatus.Member m : s.members()) {
          ask.putIfAbsent(m.id(), PeerAddress.parse(m.address()));
        }
        Optional<String> leader = s.leader();
        named = leader.orElse(named);
        if (leader.isPresent()
            && ask.containsKey(leader.get())
            && !ask.keySet().iterator().next().equals(leader.get())) {
          // Ask the leader next.
          PeerAddress l = ask.remove(leader.get());
          Map<String, PeerAddress> reordered = new LinkedHashMap<>();
          reordered.put(l.id(), l);
          reordered.putAll(ask);
          ask.clear();
          ask.putAll(reordered);
          redirected = true;
          break;
        }
      }
      // Three rounds at least, as before this waited for a leader; then until the leader wait.
      if (round >= 2 && System.nanoTime() - until >= 0) {
        break;
      }
      if (!redirected) {
        sleep();
      }
    }
    if (any != null) {
      LOG.debug("{}: no leader answered; going on with {}'s view", r.group(), any.id());
      return any;
    }
    throw new IllegalStateException(
        "no member of " + r.group() + " answered about it: " + failures);
  }

  /**
   * Waits a while for a target that hosts the group without being in its configuration to drop it:
   * an add that was undone tells the node to retire, and a copy about to be removed must not be
   * added again. A copy that stays (the mover stopped between hosting and adding) is used.
   */
  private static void awaitDropped(AdminClient n, MoveRequest r, Budget clock, Listener listener)
      throws IOException {
    long until = System.nanoTime() + RETIRING.toNanos();
    boolean told = false;
    while (n.hostedGroups().contains(r.group()) && System.nanoTime() < until) {
      if (!told) {
        listener.step(
            r.to().id()
                + " hosts "
                + r.group()
                + " but is not in its configuration: waiting up to "
                + RETIRING.toSeconds()
                + " s for it to drop a copy being retired");
        told = true;
      }
      clock.left();
      sleep();
    }
  }

  /** A voter to drive a change: the leader unless it is {@code avoid}, else another voter. */
  private static PeerAddress coordinator(NodeStatus st, String avoid) {
    List<NodeStatus.Member> voters =
        st.members().stream().filter(NodeStatus.Member::voter).toList();
    Optional<String> leader = st.role().equals("LEADER") ? Optional.of(st.id()) : st.leader();
    for (NodeStatus.Member m : voters) {
      if (leader.isPresent() && m.id().equals(leader.get()) && !m.id().equals(avoid)) {
        return PeerAddress.parse(m.address());
      }
    }
    return voters.stream()
        .filter(m -> !m.id().equals(avoid))
        .findFirst()
        .map(m -> PeerAddress.parse(m.address()))
        .orElseThrow(() -> new IllegalStateException("no voter to drive the change: " + st));
  }

  private static Optional<NodeStatus.Member> member(NodeStatus st, String id) {
    return st.members().stream().filter(m -> m.id().equals(id)).findFirst();
  }

  private static List<String> voters(NodeStatus st) {
    return st.members().stream()
        .filter(NodeStatus.Member::voter)
        .map(NodeStatus.Member::id)
        .sorted()
        .toList();
  }

  private static boolean isVoter(NodeStatus st, String id) {
    return member(st, id).map(NodeStatus.Member::voter).orElse(false);
  }

  /** A move's deadline and wait, from its start. */
  static final class Budget {
    private final MoveRequest r;
    private final long start = System.nanoTime();
    private String leader;
    private String unreachable;

    Budget(MoveRequest r) {
      this.r = r;
    }

    /** What is left of the move's deadline; throws once it passed. */
    Duration left() {
      long nanos = start + r.deadline().toNanos() - System.nanoTime();
      if (nanos <= 0) {
        throw new MembershipTimeoutException(
            "the move of "
                + r.group()
                + " from "
                + r.from()
                + " to "
                + r.to().id()
                + " ran out of its "
                + r.deadline()
                + "; run it again to finish it",
            null);
      }
      return Duration.ofNanos(nanos);
    }

    /**
     * What is left of the wait (at least a millisecond); when the move waits for its whole
     * deadline, 30 s more, so that the leader's own outcome at the deadline (a timeout, undone)
     * arrives before this process gives up.
     */
    Duration waitLeft() {
      long slack = r.waitAtMost().equals(r.deadline()) ? SLACK.toNanos() : 0;
      return Duration.ofNanos(
          Math.max(1_000_000, start + r.waitAtMost().toNanos() + slack - System.nanoTime()));
    }

    /** Notes the leader found; a change of leader is logged once, at INFO. */
    void leader(String group, String id) {
      if (leader != null && !leader.equals(id)) {
        LOG.info(
            "{}: its leader is now {} (was {}{})",
            group,
            id,
            leader,
            leader.equals(unreachable) ? ", which cannot be reached" : "");
      }
      leader = id;
    }

    /** Notes a voter that could not be reached to drive the change. */
    void unreachable(String id) {
      unreachable = id;
      if (leader == null) {
        leader = id;
      }
    }

    boolean waitEnded() {
      return System.nanoTime() - start >= r.waitAtMost().toNanos();
    }

    Duration took() {
      return Duration.ofNanos(System.nanoTime() - start);
    }
  }

  private static void sleep() throws IOException {
    try {
      Thread.sleep(POLL.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
  }
}
