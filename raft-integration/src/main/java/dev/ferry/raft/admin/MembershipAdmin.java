package dev.ferry.raft.admin;

import dev.ferry.client.internal.RaftTransport;
import dev.ferry.client.internal.RetryLoop;
import dev.ferry.client.internal.Transport;
import dev.ferry.raft.ClusterSecret;
import dev.ferry.raft.RaftPeers;
import dev.ferry.raft.TlsFiles;
import dev.ferry.shipping.PeerAddress;
import dev.ferry.shipping.install.InstallProgress;
import dev.ferry.shipping.metrics.LabelledCounts;
import dev.ferry.statemachine.CommandCodec;
import dev.ferry.statemachine.DigestAt;
import dev.ferry.statemachine.MembershipChange;
import dev.ferry.statemachine.Reply;
import dev.ferry.statemachine.ReplyStatus;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.Function;
import java.util.function.Predicate;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.proto.RaftProtos.RaftConfigurationProto;
import org.apache.ratis.proto.RaftProtos.RaftPeerRole;
import org.apache.ratis.proto.RaftProtos.RoleInfoProto;
import org.apache.ratis.protocol.GroupInfoReply;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.protocol.SetConfigurationRequest;
import org.apache.ratis.util.ProtoUtils;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Adds and removes cluster members, gating every promotion to voter on the node's state: a new node
 * joins as a Raft listener, catches up (snapshot install and log replay, staged by Ratis), and is
 * promoted only if its state digest at a checkpoint written through the log equals every voter's.
 *
 * <p>Every configuration change is a Ratis {@code COMPARE_AND_SET} against the configuration just
 * read from the leader, so a change made meanwhile by someone else makes ours fail and be re-read
 * rather than overwrite it. (Ratis's {@code ADD} mode drops existing listeners; it is never used.)
 *
 * <p>One change at a time, cluster-wide: each change is first recorded in the replicated state
 * ({@link MembershipChange}, phase {@code STARTED}); a request made while another change is
 * recorded fails with {@link MembershipConflictException}. An add moves the record to {@code
 * VERIFIED} only after the digests matched, and only then promotes. If the driver of a change
 * disappears (a leader crash, a killed admin process), the next leader finishes or undoes it with
 * {@link #resolve}: a {@code STARTED} add is undone (the node removed), a {@code VERIFIED} add is
 * finished (the node promoted), a remove is finished. So no node ever votes unverified. An add not
 * yet verified can be cancelled ({@link #cancel}); the record orders the cancel against the
 * verification.
 *
 * <p>With a cluster secret ({@link Builder#secret}), the admin also talks to the nodes' admin
 * services: it reports a joining node's install progress, and tells a node it removed to stop (and
 * to wipe its state, if it never became a verified voter). Without one, removed nodes keep running
 * until stopped.
 *
 * <p>Concurrency: thread-safe. Each change runs on the {@link Executor} given at creation (blocking
 * Ratis calls and polling); the returned futures complete on that executor, never on a Ratis
 * thread.
 */
public final class MembershipAdmin implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(MembershipAdmin.class);
  private static final Duration POLL = Duration.ofMillis(50);
  private static final Duration ROLLBACK_BUDGET = Duration.ofSeconds(30);

  /** How long an add waits for the node's admin service to listen (it may be starting). */
  private static final Duration PROBE_GRACE = Duration.ofSeconds(15);

  private static final Duration PROGRESS_EVERY = Duration.ofMillis(250);
  private static final Duration VOTER_WAIT = Duration.ofSeconds(15);

  /** How long the add's verification waits for the node it replaces once a majority agreed. */
  private static final Duration BRIEF_WAIT = Duration.ofSeconds(1);

  /** How long a canceller lets a driver elsewhere end the cancelled record itself. */
  private static final Duration DRIVER_GRACE = Duration.ofSeconds(5);

  /**
   * The least time left for the removal of the node a promoted add replaces: past the promotion the
   * change no longer goes back, so it is finished rather than cut short by the add's deadline.
   */
  private static final Duration FINISH_BUDGET = Duration.ofMinutes(2);

  /** How often a driver waiting on something else checks that its change is still recorded. */
  private static final Duration GUARD_EVERY = Duration.ofSeconds(1);

  private final RaftClient raft;
  private final RaftTransport transport;
  private final RetryLoop loop;
  private final RaftGroup group;
  private final RaftGroupId groupId;
  private final Executor executor;
  private final Clock clock;
  private final ClusterSecret secret;
  private final TlsFiles tls;
  private final String selfId;
  private final SecureRandom random = new SecureRandom();
  private final AtomicReference<String> inProgress = new AtomicReference<>();

  /** The changes this admin drives, with when each began. */
  private final Map<Long, Instant> driving = new ConcurrentHashMap<>();

  private final LabelledCounts changes = new LabelledCounts("kind", "outcome");
  private final LabelledCounts checkpoints = new LabelledCounts("result");

  private MembershipAdmin(Builder b) {
    this.raft = b.raft;
    this.transport =
        RaftTransport.over(b.raft, b.group, b.tls == null ? null : b.tls.ratisParameters());
    this.group = b.group;
    this.groupId = b.group.getGroupId();
    this.executor = b.executor;
    this.clock = b.clock;
    this.loop = new RetryLoop(() -> nanos(b.clock.instant()), TimeUnit.NANOSECONDS::sleep);
    this.secret = b.secret;
    this.tls = b.tls;
    this.selfId = b.selfId;
    for (String kind : List.of("add", "remove", "resolve", "cancel")) {
      changes.init(kind, "ok");
    }
    for (String result : List.of("match", "mismatch", "voters_disagree", "no_quorum")) {
      checkpoints.init(result);
    }
  }

  /**
   * An admin working through {@code raft} (which it does not close) on {@code group}, running each
   * change on a new daemon thread, timing with the system clock, without node notifications.
   */
  public static MembershipAdmin create(RaftClient raft, RaftGroup group) {
    return builder(raft, group).build();
  }

  /**
   * A builder of an admin working through {@code raft} (which it does not close) on {@code group}.
   */
  public static Builder builder(RaftClient raft, RaftGroup group) {
    return new Builder(raft, group);
  }

  /** Configures a {@link MembershipAdmin}. Not thread-safe. */
  public static final class Builder {
    private final RaftClient raft;
    private final RaftGroup group;
    private Executor executor =
        r -> {
          Thread t = new Thread(r, "ferry-membership");
          t.setDaemon(true);
          t.start();
        };
    private Clock clock = Clock.systemUTC();
    private ClusterSecret secret;
    private TlsFiles tls;
    private String selfId = "admin";

    private Builder(RaftClient raft, RaftGroup group) {
      this.raft = Objects.requireNonNull(raft, "raft");
      this.group = Objects.requireNonNull(group, "group");
    }

    /** Runs each change; a change blocks its thread for up to its deadline. */
    public Builder executor(Executor executor) {
      this.executor = Objects.requireNonNull(executor, "executor");
      return this;
    }

    /** Measures deadlines and phase durations. */
    public Builder clock(Clock clock) {
      this.clock = Objects.requireNonNull(clock, "clock");
      return this;
    }

    /**
     * Lets the admin reach the nodes' admin services (install progress, stopping removed nodes).
     */
    public Builder secret(ClusterSecret secret) {
      this.secret = secret;
      return this;
    }

    /** The TLS files for the nodes' admin services, if they run with TLS. */
    public Builder tls(TlsFiles tls) {
      this.tls = tls;
      return this;
    }

    /** The id this admin presents to admin services (default {@code admin}). */
    public Builder selfId(String id) {
      this.selfId = Objects.requireNonNull(id, "id");
      return this;
    }

    /** The admin. */
    public MembershipAdmin build() {
      return new MembershipAdmin(this);
    }
  }

  /**
   * Adds {@code request.node()} as a voter, after checking its state. Steps:
   *
   * <ol>
   *   <li>record the change in the replicated state (refused if another is recorded), and write a
   *       capture command so every voter captures a fresh snapshot baseline;
   *   <li>add it as a listener ({@code COMPARE_AND_SET}); Ratis stages it, so it installs a
   *       snapshot from its peers and replays the log before the change commits;
   *   <li>wait until it has applied the leader's commit index read at the start;
   *   <li>write a digest checkpoint through the log and read the digest the node and every voter
   *       recorded there;
   *   <li>if all are equal, record the change as verified and promote it to voter ({@code
   *       COMPARE_AND_SET}); end the record.
   * </ol>
   *
   * <p>An add that replaces a node ({@link AddRequest#replacing}, a replica move) is one change
   * from start to end: the record names the replaced node from its first step; after the promotion
   * it moves to {@code PROMOTED}, the replaced node is removed (leadership moved away first if it
   * leads; it needs at least 2 minutes more whatever the add's deadline), told it was removed
   * ({@code RETIRE}), and then the record ends. The group has one voter more meanwhile, never one
   * fewer. If the driver dies or fails once the change is verified, the group's leader finishes it
   * from the record (a next leader; or this one, once the record has not moved for 30 s); before
   * that, a failed move is undone like any add.
   *
   * <p>The node must already run as a listener (see {@link AddRequest#node()}). Does not block.
   *
   * @return a future of what was done; it fails with {@link MembershipConflictException} if another
   *     change is in progress (nothing done), {@link MemberDigestMismatchException} if the digests
   *     differ, {@link MembershipTimeoutException} at the deadline, {@link
   *     MembershipCancelledException} if an admin cancelled it ({@link #cancel}), {@link
   *     IllegalStateException} if the node is already a voter (or the node it replaces is not one),
   *     or another exception if the cluster could not be reached. On every failure but the first
   *     and the last, the node has been removed from the configuration again and told to wipe its
   *     state and stop (a failure of that is a suppressed exception), except for a replacement that
   *     failed after its verification: the group's leader finishes that one. The result of a
   *     replacement names the replaced node's removal ({@link AddResult#replaced}).
   */
  public CompletableFuture<AddResult> addMember(AddRequest request) {
    return addMember(request, p -> {});
  }

  /**
   * Like {@link #addMember(AddRequest)}, reporting progress to {@code progress} (called from the
   * admin's threads, at most every quarter second and at each phase change; it must not block).
   */
  public CompletableFuture<AddResult> addMember(
      AddRequest request, Consumer<AddProgress> progress) {
    Objects.requireNonNull(request, "request");
    Objects.requireNonNull(progress, "progress");
    return run("add", "add " + request.node().id(), () -> add(request, progress));
  }

  /**
   * Removes a member. A voter that leads transfers its leadership to another voter first; then the
   * configuration without the node is set ({@code COMPARE_AND_SET}); then the node is told to stop
   * (with a cluster secret). Does not block.
   *
   * @return a future of what was done; it fails with {@link MembershipConflictException} if another
   *     change is in progress, {@link IllegalArgumentException} if the node is the only voter,
   *     {@link MembershipTimeoutException} at the deadline
   */
  public CompletableFuture<RemoveResult> removeMember(RemoveRequest request) {
    Objects.requireNonNull(request, "request");
    return run("remove", "remove " + request.nodeId(), () -> remove(request));
  }

  /**
   * Finishes or undoes {@code pending}, a change whose driver is gone: a {@code STARTED} or {@code
   * CANCELLED} add is undone (the node removed and told to wipe its state and stop), a {@code
   * VERIFIED} add is finished (the node promoted; for an add that replaces a node, the record then
   * moves to {@code PROMOTED}), a {@code PROMOTED} add is finished (the node it replaces removed,
   * leadership moved away first if that node leads, and told it was removed), a remove is finished.
   * Then the record is ended. The group never has fewer voters than before the change: the node it
   * replaces goes only once the added node is a voter. The leader calls this for a change recorded
   * in an earlier term that no admin of its own is driving, and for a verified replacement that
   * stalled in its own term. Does not block.
   *
   * @return a future that completes when the record has been ended
   */
  public CompletableFuture<Void> resolve(MembershipChange pending, Duration deadline) {
    Objects.requireNonNull(pending, "pending");
    return run(
        "resolve",
        "resolve " + pending,
        () -> {
          resolveNow(pending, clock.instant().plus(deadline));
          return null;
        });
  }

  /** Whether this admin is driving the recorded change {@code id} right now. */
  public boolean isDriving(long id) {
    return driving.containsKey(id);
  }

  /**
   * Cancels the pending add, on behalf of this admin's id ({@link Builder#selfId}). See {@link
   * #cancel(CancelRequest, String)}.
   */
  public CompletableFuture<CancelResult> cancel(CancelRequest request) {
    return cancel(request, selfId);
  }

  /**
   * Cancels the pending add on behalf of {@code by} (named in the record, the driver's error and
   * the log), whoever drives it: this admin, another node's or process's, or nobody (its driver
   * died). Steps: the record moves to {@code CANCELLED} through the log, which orders the cancel
   * against the driver's verification (whichever commits first wins; a cancelled add never advances
   * again); the driver, at its next check of the record (within about a second, or once a blocked
   * configuration change returns), stops and fails with {@link MembershipCancelledException}. Then
   * this admin undoes the add: tells the node to stop and wipe its unverified state (the node also
   * finds it is out by its own check), waits until the leader no longer stages it (Ratis cannot
   * cancel a staging: it ends when the node has not answered for the staging timeout, or catches
   * up), and removes it from the configuration if it is there. The driver runs the same undo
   * (idempotent) and ends the record, so that it reports the cancel rather than a vanished change;
   * this admin waits for a driver of its own, gives one elsewhere up to 5 s (it may be dead), then
   * ends the record itself if it is still there. Runs concurrently with the add (not in the
   * one-change slot). Does not block.
   *
   * <p>Idempotent: a cancel while nothing is pending completes with {@link
   * CancelResult.Outcome#NOTHING_PENDING}; a second cancel of a cancelled add finishes its undo.
   *
   * @return a future of what was done; it fails with {@link IllegalStateException} if it is too
   *     late (the add was verified: the node is, or is being promoted to, a voter; remove it with
   *     {@link #removeMember}), if the pending change is a remove (a remove cannot be cancelled: it
   *     ends by itself, at its deadline at the latest; a removed node can be added again), or if it
   *     is about another node than {@code request.nodeId()}; with {@link
   *     MembershipTimeoutException} at the deadline (the record stays {@code CANCELLED}: cancel
   *     again, or a next leader undoes it)
   */
  public CompletableFuture<CancelResult> cancel(CancelRequest request, String by) {
    Objects.requireNonNull(request, "request");
    Objects.requireNonNull(by, "by");
    CompletableFuture<CancelResult> f = new CompletableFuture<>();
    executor.execute(
        () -> {
          try {
            CancelResult r = cancelNow(request, by);
            changes.inc("cancel", "ok");
            f.complete(r);
          } catch (Throwable t) {
            changes.inc("cancel", outcomeOf(t));
            f.completeExceptionally(t);
          }
        });
    return f;
  }

  @FunctionalInterface
  private interface Work<T> {
    T call() throws Exception;
  }

  private <T> CompletableFuture<T> run(String kind, String what, Work<T> work) {
    if (!inProgress.compareAndSet(null, what)) {
      changes.inc(kind, "conflict");
      return CompletableFuture.failedFuture(
          new MembershipConflictException(
              "cannot " + what + ": '" + inProgress.get() + "' is in progress"));
    }
    CompletableFuture<T> f = new CompletableFuture<>();
    try {
      executor.execute(
          () -> {
            T result = null;
            Throwable failure = null;
            try {
              result = work.call();
            } catch (Throwable t) {
              failure = t;
            }
            // Free the slot before completing: a caller reacting to the completion may start the
            // next change at once.
            inProgress.set(null);
            changes.inc(kind, outcomeOf(failure));
            if (failure == null) {
              f.complete(result);
            } else {
              f.completeExceptionally(failure);
            }
          });
    } catch (RuntimeException e) {
      inProgress.set(null);
      changes.inc(kind, outcomeOf(e));
      f.completeExceptionally(e);
    }
    return f;
  }

  /** The label {@code outcome} of a change that ended with {@code failure} (null: it succeeded). */
  static String outcomeOf(Throwable failure) {
    if (failure == null) {
      return "ok";
    }
    if (failure instanceof MembershipConflictException) {
      return "conflict";
    }
    if (failure instanceof MemberDigestMismatchException) {
      return "digest_mismatch";
    }
    if (failure instanceof MembershipTimeoutException) {
      return "timeout";
    }
    if (failure instanceof MemberUnreachableException) {
      return "unreachable";
    }
    if (failure instanceof MembershipCancelledException) {
      return "cancelled";
    }
    if (failure instanceof IllegalArgumentException || failure instanceof IllegalStateException) {
      return "refused";
    }
    return "failed";
  }

  /**
   * Membership changes this admin ran, by {@code kind} ({@code add}, {@code remove}, {@code
   * resolve}, {@code cancel}) and {@code outcome} ({@code ok}, {@code conflict}, {@code
   * digest_mismatch}, {@code timeout}, {@code unreachable}, {@code cancelled}, {@code refused},
   * {@code failed}).
   */
  public LabelledCounts changes() {
    return changes;
  }

  /**
   * Digest checkpoints this admin checked while adding a member, by {@code result}: {@code match}
   * (the new member's digest equals the voters'), {@code mismatch} (it differs), {@code
   * voters_disagree} (the voters themselves differ) and {@code no_quorum} (too few voters
   * answered).
   */
  public LabelledCounts checkpoints() {
    return checkpoints;
  }

  // ---------------------------------------------------------------------------------------------
  // add
  // ---------------------------------------------------------------------------------------------

  private AddResult add(AddRequest request, Consumer<AddProgress> progress) throws Exception {
    PeerAddress node = request.node();
    String id = node.id();
    Instant deadline = clock.instant().plus(request.deadline());
    raft.getClientRpc().addRaftPeers(List.of(RaftPeers.toRaftPeer(node, RaftPeerRole.LISTENER)));
    progress.accept(new AddProgress(id, AddProgress.Phase.STARTING, Optional.empty()));
    Conf start = readConf(deadline, "the configuration");
    if (start.isVoter(id)) {
      throw new IllegalStateException(id + " is already a voter");
    }
    if (request.isReplacement() && !start.isVoter(request.replaces())) {
      throw new IllegalStateException(
          "cannot add "
              + id
              + " in place of "
              + request.replaces()
              + ": it is not a voter (voters: "
              + start.voterIds()
              + ")");
    }
    probe(node, deadline);
    long changeId = random.nextLong() & Long.MAX_VALUE;
    driving.put(changeId, clock.instant());
    Guard recorded = () -> requireRecorded(changeId, id);
    AtomicReference<AddProgress.Phase> phase = new AtomicReference<>(AddProgress.Phase.INSTALLING);
    ProgressPoller poller = new ProgressPoller(node, phase, progress);
    boolean begun = false;
    boolean verified = false;
    try {
      // Fenced to the term of the leader that was asked: re-sent to a later leader it records
      // nothing, so no change of a leader's own term lacks a driver that leader knows of.
      record(
          deadline,
          CommandCodec.membershipBeginInTerm(
              start.term(),
              changeId,
              MembershipChange.Kind.ADD,
              id,
              node.toString(),
              request.replaces()));
      begun = true;
      // A fresh baseline near the head of the log: the node installs it rather than replaying
      // everything (and a cluster that never captured has no snapshot to offer otherwise).
      captureBaseline(deadline);
      Instant t0 = clock.instant();
      LOG.info("{}: adding as listener (leader commit index {})", id, start.commitIndex());
      poller.start();
      changeTo(
          deadline,
          "add " + id + " as listener",
          id,
          recorded,
          c -> c.isListener(id),
          c ->
              c.cas(
                  c.voters(),
                  plus(c.listeners(), RaftPeers.toRaftPeer(node, RaftPeerRole.LISTENER))));
      Instant t1 = clock.instant();
      poller.phase(AddProgress.Phase.CATCHING_UP);
      awaitApplied(id, start.commitIndex(), deadline, recorded);
      Instant t2 = clock.instant();
      poller.phase(AddProgress.Phase.VERIFYING);
      long checkpointId = random.nextLong() & Long.MAX_VALUE;
      DigestAt reference = checkpoint(checkpointId, deadline);
      Conf now = readConf(deadline, "the configuration");
      verifyVoters(now, request.replaces(), checkpointId, reference, deadline);
      requireRecorded(changeId, id);
      DigestAt mine = checkpointOn(id, checkpointId, reference.index(), deadline);
      if (!mine.digest().equals(reference.digest())) {
        checkpoints.inc("mismatch");
        throw new MemberDigestMismatchException(
            id, reference.index(), reference.digest(), mine.digest());
      }
      checkpoints.inc("match");
      checkDeadline(deadline, "verify " + id);
      Instant t3 = clock.instant();
      LOG.info("{}: digest {} verified at index {}", id, mine.digest().toHex(), mine.index());
      try {
        record(deadline, CommandCodec.membershipAdvance(changeId, MembershipChange.Phase.VERIFIED));
      } catch (MembershipConflictException e) {
        recorded.check(); // cancelled just before: say so
        throw e;
      }
      verified = true;
      poller.phase(AddProgress.Phase.PROMOTING);
      promote(node, deadline, recorded);
      Instant t4 = clock.instant();
      Optional<RemoveResult> replaced = Optional.empty();
      if (request.isReplacement()) {
        Instant finish = max(deadline, clock.instant().plus(FINISH_BUDGET));
        record(finish, CommandCodec.membershipAdvance(changeId, MembershipChange.Phase.PROMOTED));
        poller.phase(AddProgress.Phase.REMOVING);
        replaced = Optional.of(finishReplacement(changeId, id, request.replaces(), finish));
      } else {
        endRecord(changeId, deadline);
      }
      poller.stop();
      Map<String, Long> shipped = poller.lastShipped();
      progress.accept(new AddProgress(id, AddProgress.Phase.DONE, Optional.empty()));
      return new AddResult(
          id,
          checkpointId,
          reference,
          Duration.between(t0, t1),
          Duration.between(t1, t2),
          Duration.between(t2, t3),
          Duration.between(t3, t4),
          shipped,
          replaced);
    } catch (Exception e) {
      poller.stop();
      if (!begun) {
        // Refused at the start: nothing was done.
        throw e;
      }
      if (verified && request.isReplacement()) {
        // A verified move goes forward only: the record holds it, and the group's leader (a next
        // one, or this one once it finds the record stalled) promotes the node and removes the
        // one it replaces. Undoing it here could race that leader and leave the group a voter
        // short.
        LOG.warn(
            "{}: the move in place of {} stopped after its verification ({}); the group's leader"
                + " finishes it from the record",
            id,
            request.replaces(),
            e.toString());
        throw e;
      }
      if (e instanceof MembershipCancelledException) {
        // The canceller undoes it too; whoever ends the record first, the other's end is a no-op.
        LOG.info("{}: add stopped: {}", id, e.getMessage());
        try {
          Instant rollback = clock.instant().plus(ROLLBACK_BUDGET);
          MembershipChange c = pending();
          if (c != null && c.id() == changeId) {
            undoCancelled(c, rollback);
            endRecord(changeId, rollback);
          }
        } catch (Exception undo) {
          e.addSuppressed(undo);
        }
        throw e;
      }
      // Also when a new leader undid the change: a configuration change of ours may have
      // committed after its removal, so remove the node again (idempotent).
      LOG.warn("{}: add failed, removing it: {}", id, e.toString());
      try {
        Instant rollback = clock.instant().plus(ROLLBACK_BUDGET);
        removeFromConf(id, rollback);
        retire(node, "its addition failed: " + e.getMessage(), true);
        endRecord(changeId, rollback);
      } catch (Exception rollback) {
        e.addSuppressed(rollback);
      }
      throw e;
    } finally {
      driving.remove(changeId);
    }
  }

  /**
   * Checks, before anything changes, that {@code node} runs and is the node it is said to be: its
   * admin service answers, authenticates with the cluster secret and reports the node's id. A node
   * that does not listen yet (it may be starting) is asked again for up to {@link #PROBE_GRACE}; a
   * wrong secret or another node's answer fails at once. Without a cluster secret (no admin service
   * to ask) there is nothing to check.
   *
   * <p>Without this check, an add to a node that is not running was staged by Ratis until the
   * staging timeout (as long as the install deadline), and every later change was refused
   * meanwhile.
   *
   * @throws MemberUnreachableException naming the cause and what to check
   */
  private void probe(PeerAddress node, Instant deadline) throws IOException {
    if (secret == null) {
      return;
    }
    Instant giveUp = min(deadline, clock.instant().plus(PROBE_GRACE));
    String where = node.host() + ":" + node.chunkPort();
    while (true) {
      try (AdminClient c = AdminClient.connect(node, adminGroup(), secret, tls, selfId)) {
        String answered = c.status().id();
        if (!answered.equals(node.id())) {
          throw new MemberUnreachableException(
              node.id() + ": the admin service at " + where + " answers as " + answered, null);
        }
        return;
      } catch (AdminAuthException e) {
        throw new MemberUnreachableException(
            node.id()
                + " failed authentication at "
                + where
                + ": wrong cluster secret? ("
                + e.getMessage()
                + ")",
            e);
      } catch (IOException e) {
        if (clock.instant().isAfter(giveUp)) {
          throw new MemberUnreachableException(
              node.id()
                  + " is not reachable at "
                  + where
                  + " (is `ferry server --listener` running there, and its chunk port open?): "
                  + e.getMessage(),
              e);
        }
        LOG.debug("{}: admin service not reachable yet: {}", node.id(), e.toString());
      }
      pause(deadline, node.id() + "'s admin service");
    }
  }

  private static Instant min(Instant a, Instant b) {
    return a.isBefore(b) ? a : b;
  }

  private static Instant max(Instant a, Instant b) {
    return a.isAfter(b) ? a : b;
  }

  /**
   * Checks that the voters recorded {@code reference} at the checkpoint ({@link VoterCheck}): every
   * voter that answers must agree (a difference means the voters themselves diverged), and a
   * majority must answer. A voter is waited for up to {@link #VOTER_WAIT}, except, once the
   * majority agreed, the node the add {@code replaces} (asked for {@link #BRIEF_WAIT} only: it is
   * gone or about to leave) and a voter the leader has not heard from for {@link
   * VoterCheck#SILENT_AFTER} (not asked), so that a move does not wait for a dead voter.
   */
  private void verifyVoters(
      Conf conf, String replaces, long checkpointId, DigestAt reference, Instant deadline)
      throws IOException {
    VoterCheck.verify(
        VoterCheck.plan(conf.voterIds(), replaces, conf.lastAnsweredMsAgo()),
        reference,
        deadline,
        clock,
        VOTER_WAIT,
        BRIEF_WAIT,
        (voter, until) -> checkpointOn(voter, checkpointId, reference.index(), until),
        checkpoints);
  }

  private void promote(PeerAddress node, Instant deadline, Guard guard) throws IOException {
    String id = node.id();
    changeTo(
        deadline,
        "promote " + id,
        id,
        guard,
        c -> c.isVoter(id),
        c ->
            c.cas(
                plus(c.voters(), RaftPeers.toRaftPeer(node, RaftPeerRole.FOLLOWER)),
                c.without(c.listeners(), id)));
  }

  /**
   * Polls the joining node's admin service for its install progress while the add runs, and reports
   * it with the current phase.
   */
  private final class ProgressPoller {
    private final PeerAddress node;
    private final AtomicReference<AddProgress.Phase> phase;
    private final Consumer<AddProgress> progress;
    private final AtomicReference<Map<String, Long>> lastShipped = new AtomicReference<>(Map.of());
    private volatile boolean stopped;
    private volatile boolean sawInstall;
    private Thread thread;

    ProgressPoller(
        PeerAddress node,
        AtomicReference<AddProgress.Phase> phase,
        Consumer<AddProgress> progress) {
      this.node = node;
      this.phase = phase;
      this.progress = progress;
    }

    void start() {
      report(Optional.empty());
      thread = new Thread(this::loop, "ferry-membership-progress-" + node.id());
      thread.setDaemon(true);
      thread.start();
    }

    void phase(AddProgress.Phase p) {
      AddProgress.Phase was = phase.getAndSet(p);
      if (was == AddProgress.Phase.INSTALLING && p != was && sawInstall) {
        // The install ended since the last poll: report its end, so that a progress bar ends at
        // the bytes really installed rather than at the last poll's (0 % for a short install).
        finalInstall().ifPresent(i -> report(was, Optional.of(i)));
      }
      report(Optional.empty());
    }

    /** The node's last install, as its status reports it. */
    private Optional<InstallProgress> finalInstall() {
      try (AdminClient c = AdminClient.connect(node, adminGroup(), secret, tls, selfId)) {
        Optional<InstallProgress> last = c.status().lastInstall();
        last.ifPresent(i -> lastShipped.set(i.bytesPerSource()));
        return last;
      } catch (IOException | RuntimeException e) {
        LOG.debug("{}: no install report: {}", node.id(), e.toString());
        return Optional.empty();
      }
    }

    Map<String, Long> lastShipped() {
      if (secret != null) {
        try (AdminClient c = AdminClient.connect(node, adminGroup(), secret, tls, selfId)) {
          NodeStatus s = c.status();
          s.lastInstall().ifPresent(r -> lastShipped.set(r.bytesPerSource()));
        } catch (IOException | RuntimeException e) {
          LOG.info("{}: cannot read its install report: {}", node.id(), e.toString());
        }
      }
      return lastShipped.get();
    }

    void stop() {
      stopped = true;
      if (thread != null) {
        thread.interrupt();
      }
    }

    private void loop() {
      AdminClient client = null;
      try {
        while (!stopped) {
          Optional<InstallProgress> install = Optional.empty();
          if (secret != null && phase.get() == AddProgress.Phase.INSTALLING) {
            try {
              if (client == null) {
                client = AdminClient.connect(node, adminGroup(), secret, tls, selfId);
              }
              install = client.status().install();
              install.ifPresent(i -> lastShipped.set(i.bytesPerSource()));
              if (install.isPresent()) {
                sawInstall = true;
              }
            } catch (IOException | RuntimeException e) {
              LOG.debug("{}: no install progress: {}", node.id(), e.toString());
              closeQuietly(client);
              client = null;
            }
          }
          if (!stopped) {
            report(install);
          }
          try {
            TimeUnit.MILLISECONDS.sleep(PROGRESS_EVERY.toMillis());
          } catch (InterruptedException e) {
            return;
          }
        }
      } finally {
        closeQuietly(client);
      }
    }

    private void report(Optional<InstallProgress> install) {
      report(phase.get(), install);
    }

    private void report(AddProgress.Phase p, Optional<InstallProgress> install) {
      try {
        progress.accept(new AddProgress(node.id(), p, install));
      } catch (RuntimeException e) {
        LOG.warn("progress listener threw", e);
      }
    }
  }

  /** The group id this admin's requests to other nodes' admin services carry. */
  private String adminGroup() {
    return groupId.getUuid().toString();
  }

  private static void closeQuietly(AdminClient c) {
    if (c != null) {
      c.close();
    }
  }

  /** Tells a node it was removed, so it stops (best effort: logged if it cannot be reached). */
  private void retire(PeerAddress node, String reason, boolean wipe) {
    if (secret == null || node == null) {
      return;
    }
    try (AdminClient c = AdminClient.connect(node, adminGroup(), secret, tls, selfId)) {
      c.retire(reason, wipe);
    } catch (IOException | RuntimeException e) {
      LOG.info("{}: could not tell it to stop: {}", node.id(), e.toString());
    }
  }

  // ---------------------------------------------------------------------------------------------
  // the replicated record
  // ---------------------------------------------------------------------------------------------

  /**
   * Appends a membership command; retried until the deadline (the commands are idempotent).
   *
   * @throws MembershipConflictException if the state machine refused it
   */
  private MembershipChange record(Instant deadline, byte[] command) throws IOException {
    Reply reply = send(command, "the membership record", deadline);
    if (reply.status() == ReplyStatus.CONFLICT) {
      throw new MembershipConflictException(reply.message());
    }
    if (reply.status() != ReplyStatus.OK) {
      throw new MembershipException("membership record refused: " + reply.message());
    }
    return CommandCodec.decodeMembershipReply(reply.payload());
  }

  /**
   * Appends a framework command through the log and returns its reply, re-sending until the
   * deadline while the cluster does not answer (the commands sent here are idempotent).
   */
  private Reply send(byte[] command, String what, Instant deadline) throws IOException {
    return CommandCodec.decodeReply(
        retry(what + " to commit", deadline, () -> transport.write(command).reply()));
  }

  /**
   * Runs {@code attempt} through the shared retry loop until {@code deadline}; a deadline passed is
   * a {@link MembershipTimeoutException}.
   */
  private <T> T retry(String what, Instant deadline, RetryLoop.Attempt<T> attempt)
      throws IOException {
    try {
      return loop.call(nanos(deadline), attempt);
    } catch (RetryLoop.DeadlineExceeded e) {
      throw new MembershipTimeoutException("deadline passed waiting for " + what, e.getCause());
    } catch (Transport.Closed e) {
      throw new IOException("the Raft client was closed; stopped waiting for " + what, e);
    }
  }

  /** An instant of {@link #clock} on the retry loop's time line (nanoseconds since the epoch). */
  private static long nanos(Instant t) {
    return t.getEpochSecond() * 1_000_000_000L + t.getNano();
  }

  /** Writes a capture command through the log: every replica captures a snapshot at its index. */
  private void captureBaseline(Instant deadline) throws IOException {
    send(CommandCodec.captureCommand(), "a capture command", deadline);
  }

  private void endRecord(long changeId, Instant deadline) throws IOException {
    record(deadline, CommandCodec.membershipEnd(changeId));
  }

  /**
   * Fails if change {@code changeId} is no longer recorded (a new leader undid it, or it was
   * cancelled and undone) or was cancelled: a driver must then stop changing the configuration. A
   * failure to read the record lets it go on.
   *
   * @throws MembershipCancelledException if an admin cancelled it
   * @throws MembershipConflictException if it is no longer recorded
   */
  private void requireRecorded(long changeId, String id) {
    MembershipChange c;
    try {
      c = pending();
    } catch (IOException | RuntimeException e) {
      return;
    }
    if (c != null && c.id() == changeId && c.phase() == MembershipChange.Phase.CANCELLED) {
      Instant began = driving.get(changeId);
      throw new MembershipCancelledException(
          "add of "
              + id
              + " cancelled by "
              + c.cancelledBy()
              + (began == null ? "" : " after it ran " + seconds(between(began)))
              + " (recorded at index "
              + c.index()
              + "); the canceller removes "
              + id
              + " from the cluster");
    }
    if (c == null || c.id() != changeId) {
      throw new MembershipConflictException(
          id
              + ": the change was undone (cancelled, or a new leader took over); "
              + (c == null ? "no change is recorded" : "recorded now: " + c));
    }
  }

  private Duration between(Instant since) {
    return Duration.between(since, clock.instant());
  }

  /** {@code d} in seconds with one decimal, for messages. */
  static String seconds(Duration d) {
    return String.format(java.util.Locale.ROOT, "%.1f s", d.toMillis() / 1000.0);
  }

  /**
   * The leader that answered, if its configuration no longer names node {@code id} (as voter or
   * listener, old or new); empty if it still does. Asks the leader, waiting up to {@code timeout}
   * for one to answer.
   *
   * @throws MembershipTimeoutException if no leader answered in time
   */
  public Optional<String> removedBy(String id, Duration timeout) throws IOException {
    Conf c = readConf(clock.instant().plus(timeout), "the configuration");
    return c.names(id) ? Optional.empty() : Optional.of(c.leader());
  }

  /**
   * The leader that answered, if node {@code id} is out of the cluster: the leader's configuration
   * does not name it, the leader does not stage it for a change, and the recorded change is not
   * about it (an add of it that has just begun or is being undone still counts it in); a cancelled
   * add of it counts it out unless the configuration names it, even while the leader stages it (so
   * it stops, and the staging ends); empty if it is in. Asks the leader, waiting up to {@code
   * timeout} for one to answer. Blocks; any thread.
   *
   * @throws MembershipTimeoutException if no leader answered in time
   * @throws IOException if the record cannot be read
   */
  public Optional<String> outOfCluster(String id, Duration timeout) throws IOException {
    Conf c = readConf(clock.instant().plus(timeout), "the configuration");
    if (c.names(id)) {
      return Optional.empty();
    }
    MembershipChange p = pending();
    boolean about = p != null && p.nodeId().equals(id);
    if (about && p.phase() == MembershipChange.Phase.CANCELLED) {
      // Its add was cancelled: a staging of it only ends once it stops answering.
      return Optional.of(c.leader());
    }
    return about || c.stagedEntry(id).isPresent() ? Optional.empty() : Optional.of(c.leader());
  }

  /**
   * The role the leader's configuration gives node {@code id} (a node in a joint configuration's
   * old part only is {@code ABSENT}). Blocks up to {@code timeout}; any thread.
   *
   * @throws MembershipTimeoutException if no leader answered in time
   */
  public PeerIdentity.MemberRole roleOf(String id, Duration timeout) throws IOException {
    Conf c = readConf(clock.instant().plus(timeout), "the configuration");
    return c.isVoter(id)
        ? PeerIdentity.MemberRole.VOTER
        : c.isListener(id) ? PeerIdentity.MemberRole.LISTENER : PeerIdentity.MemberRole.ABSENT;
  }

  /**
   * Moves voter {@code node} to the listeners ({@code COMPARE_AND_SET}): it no longer votes nor
   * counts for commits, and keeps receiving the log. Asked by a node whose disk was wiped, before
   * its Raft server starts: Ratis does not stage a node the configuration already names, so this
   * commits without it. A node that is not a voter is left as it is. Not a recorded change (it only
   * ever takes a vote away); an add through the digest gate makes it a voter again. Blocks until
   * the leader's configuration shows it done; any thread.
   *
   * @throws IllegalArgumentException if the node is the only voter
   * @throws MembershipTimeoutException at the deadline
   */
  public void demoteToListener(PeerAddress node, Duration deadline) throws IOException {
    String id = node.id();
    changeTo(
        clock.instant().plus(deadline),
        "demote " + id + " to listener",
        id,
        c -> !c.isVoter(id),
        c -> {
          if (c.voters().size() == 1) {
            throw new IllegalArgumentException("cannot demote " + id + ": it is the only voter");
          }
          return c.cas(
              c.without(c.voters(), id),
              c.isListener(id)
                  ? c.listeners()
                  : plus(c.listeners(), RaftPeers.toRaftPeer(node, RaftPeerRole.LISTENER)));
        });
  }

  /**
   * Has the leader write one entry that changes nothing (the release of a retention hold nobody
   * holds, named {@code "resend:" + id}), asked by node {@code id} after its disk was wiped while
   * the configuration had it as a listener that had acknowledged the whole log. Ratis then still
   * holds that node's old match index and, in a quiet cluster, sends it only heartbeats, which it
   * refuses without the leader ever going back; a new entry is sent at the old match index + 1,
   * which the empty node refuses, and Ratis then resends from the node's real next index (log or
   * install). Harmless for any other node: one empty entry. Blocks until committed; any thread.
   *
   * @throws MembershipTimeoutException at the deadline
   */
  public void writeEmptyEntry(String id, Duration deadline) throws IOException {
    Reply reply =
        send(
            CommandCodec.holdRelease("resend:" + id),
            "an empty entry for " + id,
            clock.instant().plus(deadline));
    if (reply.status() != ReplyStatus.OK) {
      throw new MembershipException("the empty entry for " + id + " failed: " + reply.message());
    }
  }

  /**
   * Asks the leader to hand leadership to another voter, for node {@code id} that is sent nothing:
   * a new leader starts its replication to every follower afresh. Ratis 3.3's gRPC appender to a
   * follower that restarted while requests to it were pending can go on sending it heartbeats only
   * (its pending requests never answered), whatever the leader writes; only a new appender ends it
   * (docs/ratis-workarounds.md). Returns the leader asked, or empty if there is no other voter to
   * lead. Blocks up to {@code deadline}; any thread.
   *
   * @throws MembershipTimeoutException if no leader answered in time
   */
  public Optional<String> moveLeadershipAway(String id, Duration deadline) throws IOException {
    Instant end = clock.instant().plus(deadline);
    return moveLeadershipAway(id, readConf(end, "the configuration"), end);
  }

  /** {@link #moveLeadershipAway(String, Duration)} with the configuration already read. */
  private Optional<String> moveLeadershipAway(String id, Conf c, Instant end) throws IOException {
    String leader = c.leader();
    Optional<String> target =
        c.voters().stream()
            .map(p -> p.getId().toString())
            .filter(v -> !v.equals(leader) && !v.equals(id))
            .findFirst();
    if (target.isEmpty()) {
      return Optional.empty();
    }
    LOG.info(
        "{}: sent nothing by {}; asking it to hand leadership to {} (a fresh replication to {})",
        id,
        leader,
        target.get(),
        id);
    long ms = Math.max(1, Duration.between(clock.instant(), end).toMillis());
    raft.admin().transferLeadership(RaftPeerId.valueOf(target.get()), Math.min(ms, 10_000));
    return Optional.of(leader);
  }

  /**
   * For voter {@code id} that hears from no leader although one answers its requests: if the
   * leader's configuration names it as a voter and the leader itself has had no answer from it for
   * {@code silentAfter} or longer (Ratis's {@code lastRpcElapsedTimeMs}), asks the leader to hand
   * leadership to another voter ({@link #moveLeadershipAway}); a new leader starts its replication
   * to every follower afresh. Both sides must agree the link is silent, so a voter that merely
   * missed a heartbeat, or one the leader still hears, changes nothing. Returns the leader asked,
   * or empty if nothing was asked. Blocks up to {@code timeout}; any thread.
   *
   * @throws MembershipTimeoutException if no leader answered in time
   */
  public Optional<String> handOffIfSilent(String id, Duration silentAfter, Duration timeout)
      throws IOException {
    Instant end = clock.instant().plus(timeout);
    Conf c = readConf(end, "the configuration");
    Long silent = c.lastAnsweredMsAgo().get(id);
    if (!c.isVoter(id) || silent == null || silent < silentAfter.toMillis()) {
      LOG.debug(
          "{}: hears from no leader, but {} {}; not asking for a new leader",
          id,
          c.leader(),
          c.isVoter(id) ? "heard from it " + silent + " ms ago" : "does not count it a voter");
      return Optional.empty();
    }
    LOG.info(
        "{}: hears from no leader, and the leader {} has had no answer from it for {} ms",
        id,
        c.leader(),
        silent);
    return moveLeadershipAway(id, c, end);
  }

  /**
   * The leader's commit index. Blocks up to {@code timeout}; any thread.
   *
   * @throws MembershipTimeoutException if no leader answered in time
   */
  public long leaderCommitIndex(Duration timeout) throws IOException {
    return readConf(clock.instant().plus(timeout), "the leader's commit index").commitIndex();
  }

  /**
   * Closes the Raft clients this admin made itself (aimed past a node that answered "not here");
   * the Raft client it was built with stays open (its owner closes it). Changes in progress fail.
   */
  @Override
  public void close() {
    try {
      transport.close();
    } catch (IOException e) {
      LOG.debug("closing a membership admin's own Raft clients: {}", e.toString());
    }
  }

  /** The pending change as the leader's state machine has it, or null. */
  public MembershipChange pending() throws IOException {
    return CommandCodec.decodeMembershipReply(transport.read(CommandCodec.membershipQuery()));
  }

  private void resolveNow(MembershipChange c, Instant deadline) throws IOException {
    LOG.info("resolving {} left by its driver", c);
    Conf conf = readConf(deadline, "the configuration");
    PeerAddress node = address(c, conf);
    switch (c.kind()) {
      case ADD -> {
        boolean verified =
            c.phase() == MembershipChange.Phase.VERIFIED
                || c.phase() == MembershipChange.Phase.PROMOTED;
        if (verified && node != null) {
          if (conf.isListener(c.nodeId())) {
            promote(node, deadline, () -> {});
          }
          LOG.info("{}: verified addition finished", c.nodeId());
          if (c.isReplacement()) {
            if (readConf(deadline, "the configuration").isVoter(c.nodeId())) {
              record(
                  deadline,
                  CommandCodec.membershipAdvance(c.id(), MembershipChange.Phase.PROMOTED));
              finishReplacement(c.id(), c.nodeId(), c.replaces(), deadline);
              return;
            }
            // Never happens: verified means it was a listener or a voter. Keep the voters.
            LOG.error(
                "{}: not a voter after its promotion; {} is not removed", c.nodeId(), c.replaces());
          }
        } else {
          if (conf.isVoter(c.nodeId())) {
            // Never happens through this class: promotion follows VERIFIED. Keep it: removing a
            // voter is a decision for an operator, not for recovery.
            LOG.error("{}: recorded unverified, but it is a voter; leaving it", c.nodeId());
          } else {
            removeFromConf(c.nodeId(), deadline);
            retire(node, "its addition was interrupted and undone by the new leader", true);
            LOG.info("{}: unverified addition undone", c.nodeId());
          }
        }
      }
      case REMOVE -> {
        if (conf.isVoter(c.nodeId()) || conf.isListener(c.nodeId())) {
          remove(new RemoveRequest(c.nodeId(), Duration.between(clock.instant(), deadline)), c);
        } else {
          retire(node, "it was removed from the cluster", false);
        }
      }
    }
    endRecord(c.id(), deadline);
  }

  /**
   * The last part of a move, change {@code changeId} recorded {@code PROMOTED}: {@code target} is a
   * voter; removes {@code replaced} (leadership moved away first if it leads; nothing to do if it
   * is already out), tells it it was removed, and ends the record. A node told to retire that is
   * this admin's own node stops this admin's Raft client, so the record is ended before it is told.
   */
  private RemoveResult finishReplacement(
      long changeId, String target, String replaced, Instant deadline) throws IOException {
    if (!readConf(deadline, "the configuration").isVoter(target)) {
      // The group would lose a voter: never remove the replaced node before its replacement votes.
      throw new IllegalStateException(
          target + " is not a voter: " + replaced + " is not removed in its place");
    }
    LOG.info("{}: a voter in place of {}; removing {}", target, replaced, replaced);
    // Leadership, if the replaced node leads, goes to the target first: it runs and is caught up.
    Removal r = dropMember(replaced, "", target, deadline);
    String reason = "it was replaced by " + target + " (a replica move)";
    boolean self = r.node() != null && r.node().id().equals(selfId);
    if (!self) {
      tell(r, reason, false);
    }
    endRecord(changeId, deadline);
    if (self) {
      tell(r, reason, false);
    }
    LOG.info("{}: move finished: {} {}", target, replaced, r.result().outcome());
    return r.result();
  }

  private static PeerAddress address(MembershipChange c, Conf conf) {
    return addressOf(c.nodeId(), c.address(), conf);
  }

  /**
   * Node {@code id}'s address: {@code recorded} if set and valid, else its entry in {@code conf}.
   */
  private static PeerAddress addressOf(String id, String recorded, Conf conf) {
    if (!recorded.isEmpty()) {
      try {
        return PeerAddress.parse(recorded);
      } catch (IllegalArgumentException e) {
        LOG.warn("bad address of {} in the record: {}", id, e.getMessage());
      }
    }
    return conf.peer(id).map(RaftPeers::fromRaftPeer).orElse(null);
  }

  /** Writes a digest checkpoint through the log; the digest the leader recorded. */
  private DigestAt checkpoint(long id, Instant deadline) throws IOException {
    Reply reply = send(CommandCodec.digestCheckpoint(id), "a digest checkpoint", deadline);
    if (reply.status() != ReplyStatus.OK) {
      throw new MembershipException("digest checkpoint failed: " + reply.message());
    }
    return CommandCodec.decodeDigestReply(reply.payload());
  }

  /**
   * The digest {@code replica} recorded at checkpoint {@code id}, once it applied {@code index}.
   */
  private DigestAt checkpointOn(String replica, long id, long index, Instant deadline)
      throws IOException {
    byte[] query = CommandCodec.checkpointQuery(id);
    return CommandCodec.decodeDigestReply(
        retry(
            replica + "'s digest at checkpoint index " + index,
            deadline,
            () -> {
              try {
                return transport.readStale(query, index, replica);
              } catch (Transport.Refused e) {
                // No checkpoint recorded there (yet): asked again until the deadline.
                throw new IOException(e.getMessage(), e);
              }
            }));
  }

  /**
   * Waits until {@code id} reports an applied index of at least {@code index}, checking {@code
   * guard} about every second.
   */
  private void awaitApplied(String id, long index, Instant deadline, Guard guard)
      throws IOException {
    RaftPeerId peer = RaftPeerId.valueOf(id);
    long applied = -1;
    Instant nextCheck = clock.instant();
    while (true) {
      if (!clock.instant().isBefore(nextCheck)) {
        guard.check();
        nextCheck = clock.instant().plus(GUARD_EVERY);
      }
      try {
        GroupInfoReply r = raft.getGroupManagementApi(peer).info(groupId);
        applied = r.getLogInfoProto().getApplied().getIndex();
        if (applied >= index) {
          return;
        }
      } catch (IOException | RuntimeException e) {
        // gRPC reports an unreachable peer with an unchecked StatusRuntimeException.
        stopIfClosed(e, id + "'s applied index");
        LOG.debug("{}: no group info yet: {}", id, e.toString());
      }
      pause(deadline, id + " to apply index " + index + " (applied " + applied + ")");
    }
  }

  // ---------------------------------------------------------------------------------------------
  // remove
  // ---------------------------------------------------------------------------------------------

  private RemoveResult remove(RemoveRequest request) throws Exception {
    long changeId = random.nextLong() & Long.MAX_VALUE;
    Instant deadline = clock.instant().plus(request.deadline());
    Conf c = readConf(deadline, "the configuration");
    String address =
        c.peer(request.nodeId()).map(p -> RaftPeers.fromRaftPeer(p).toString()).orElse("");
    record(
        deadline,
        CommandCodec.membershipBeginInTerm(
            c.term(), changeId, MembershipChange.Kind.REMOVE, request.nodeId(), address, ""));
    driving.put(changeId, clock.instant());
    try {
      MembershipChange change =
          new MembershipChange(
              changeId,
              MembershipChange.Kind.REMOVE,
              request.nodeId(),
              address,
              MembershipChange.Phase.STARTED,
              0,
              0);
      RemoveResult result = remove(request, change);
      endRecord(changeId, clock.instant().plus(ROLLBACK_BUDGET));
      return result;
    } catch (Exception e) {
      try {
        endRecord(changeId, clock.instant().plus(ROLLBACK_BUDGET));
      } catch (Exception end) {
        e.addSuppressed(end);
      }
      throw e;
    } finally {
      driving.remove(changeId);
    }
  }

  private RemoveResult remove(RemoveRequest request, MembershipChange change) throws IOException {
    Removal r =
        dropMember(
            request.nodeId(), change.address(), "", clock.instant().plus(request.deadline()));
    tell(
        r,
        "it was removed from the cluster by an admin",
        r.result().outcome() == RemoveResult.Outcome.REMOVED_LISTENER
            && change.kind() == MembershipChange.Kind.ADD);
    return r.result();
  }

  /** What {@link #dropMember} did, and the removed node's address (null if unknown). */
  private record Removal(RemoveResult result, PeerAddress node) {}

  /** Tells the node {@code r} removed that it was removed; nothing if it was not a member. */
  private void tell(Removal r, String reason, boolean wipe) {
    if (r.result().outcome() != RemoveResult.Outcome.NOT_A_MEMBER) {
      retire(r.node(), reason, wipe);
    }
  }

  /**
   * Removes node {@code id} from the configuration, without telling it: a voter that leads hands
   * its leadership to another voter first ({@code prefer} first if it is a voter, then each voter
   * in turn, while a transfer fails). Nothing changes for a node that is not in the configuration.
   *
   * @param recorded the node's address as a record holds it, or empty (then the configuration's)
   * @param prefer the voter to hand leadership to first, or empty
   * @throws IllegalArgumentException if the node is the only voter
   */
  private Removal dropMember(String id, String recorded, String prefer, Instant deadline)
      throws IOException {
    Instant start = clock.instant();
    Conf c = readConf(deadline, "the configuration");
    PeerAddress node = addressOf(id, recorded, c);
    RemoveResult.Outcome outcome;
    if (c.isVoter(id)) {
      if (c.voters().size() == 1) {
        throw new IllegalArgumentException("cannot remove " + id + ": it is the only voter");
      }
      outcome = RemoveResult.Outcome.REMOVED_VOTER;
    } else if (c.isListener(id)) {
      outcome = RemoveResult.Outcome.REMOVED_LISTENER;
    } else {
      return new Removal(
          new RemoveResult(id, RemoveResult.Outcome.NOT_A_MEMBER, false, c.leader(), Duration.ZERO),
          node);
    }
    boolean transferred = false;
    for (int attempt = 0; c.leader().equals(id); attempt++) {
      transferred = true;
      List<String> others = new ArrayList<>();
      if (c.isVoter(prefer) && !prefer.equals(id)) {
        others.add(prefer);
      }
      c.voterIds().stream().filter(v -> !v.equals(id) && !others.contains(v)).forEach(others::add);
      // Another voter each time: one may be down.
      String target = others.get(attempt % others.size());
      LOG.info("{}: leads; transferring leadership to {}", id, target);
      try {
        long ms = Math.max(1, Duration.between(clock.instant(), deadline).toMillis());
        raft.admin().transferLeadership(RaftPeerId.valueOf(target), Math.min(ms, 10_000));
      } catch (IOException | RuntimeException e) {
        LOG.info("{}: leadership transfer: {}", id, e.toString());
      }
      c = readConf(deadline, "a new leader");
      if (c.leader().equals(id)) {
        pause(deadline, "leadership to move away from " + id);
      }
    }
    Conf after = removeFromConf(id, deadline);
    return new Removal(
        new RemoveResult(
            id, outcome, transferred, after.leader(), Duration.between(start, clock.instant())),
        node);
  }

  private Conf removeFromConf(String id, Instant deadline) throws IOException {
    return changeTo(
        deadline,
        "remove " + id,
        id,
        c -> !c.isVoter(id) && !c.isListener(id),
        c -> c.cas(c.without(c.voters(), id), c.without(c.listeners(), id)));
  }

  // ---------------------------------------------------------------------------------------------
  // cancel
  // ---------------------------------------------------------------------------------------------

  private CancelResult cancelNow(CancelRequest request, String by) throws IOException {
    Instant start = clock.instant();
    Instant deadline = start.plus(request.deadline());
    String asked = request.nodeId().map(n -> " of " + n).orElse("");
    MembershipChange p = retry("the pending membership change", deadline, this::pending);
    if (p == null) {
      LOG.info("cancel{} asked by {}: no membership change is pending", asked, by);
      return new CancelResult(
          CancelResult.Outcome.NOTHING_PENDING, Optional.empty(), Optional.empty(), between(start));
    }
    String id = p.nodeId();
    if (request.nodeId().isPresent() && !request.nodeId().get().equals(id)) {
      throw new IllegalStateException(
          "no change about "
              + request.nodeId().get()
              + " is pending; the pending change is "
              + p
              + ": nothing cancelled");
    }
    if (p.kind() == MembershipChange.Kind.REMOVE) {
      throw new IllegalStateException(
          "the pending change is "
              + p
              + ": a remove cannot be cancelled (undoing it would bring a node back without the"
              + " digest gate); it ends by itself, at its deadline at the latest; then add "
              + id
              + " again with `ferry admin add` if wanted");
    }
    if (p.phase() != MembershipChange.Phase.CANCELLED) {
      Reply reply = send(CommandCodec.membershipCancel(p.id(), by), "the cancel", deadline);
      if (reply.status() == ReplyStatus.CONFLICT) {
        // The add moved on (verified, or ended) between the read and the cancel.
        MembershipChange now = pending();
        if (now != null
            && now.id() == p.id()
            && (now.phase() == MembershipChange.Phase.VERIFIED
                || now.phase() == MembershipChange.Phase.PROMOTED)) {
          throw new IllegalStateException(tooLate(id, readConf(deadline, "the configuration")));
        }
        if (now != null && now.id() == p.id()) {
          throw new MembershipException("cancel of " + p + " refused: " + reply.message());
        }
        Conf c = readConf(deadline, "the configuration");
        if (c.isVoter(id)) {
          throw new IllegalStateException(tooLate(id, c));
        }
        LOG.info("cancel{} asked by {}: {} ended before it could be cancelled", asked, by, p);
        return new CancelResult(
            CancelResult.Outcome.NOTHING_PENDING,
            Optional.empty(),
            Optional.empty(),
            between(start));
      } else if (reply.status() != ReplyStatus.OK) {
        throw new MembershipException("cancel of " + p + " refused: " + reply.message());
      }
      p = CommandCodec.decodeMembershipReply(reply.payload());
    }
    Optional<Duration> ran = Optional.ofNullable(driving.get(p.id())).map(this::between);
    boolean wasListener = undoCancelled(p, deadline);
    awaitDriver(p, deadline);
    endRecord(p.id(), deadline);
    Duration took = between(start);
    LOG.info(
        "{}: add cancelled by {} (change {}, recorded at index {}), {}; undone in {}: {}",
        id,
        by,
        Long.toHexString(p.id()),
        p.index(),
        ran.map(d -> "after it ran " + seconds(d) + " here").orElse("driven elsewhere"),
        seconds(took),
        wasListener ? "removed as listener" : "it was not in the configuration (staged at most)");
    return new CancelResult(CancelResult.Outcome.CANCELLED, Optional.of(p), ran, took);
  }

  /** The answer to a cancel that comes after {@code id}'s add was verified. */
  static String tooLate(String id, boolean voter) {
    return voter
        ? "too late: " + id + " is a voter; remove it with `ferry admin remove`"
        : "too late: "
            + id
            + "'s digest was verified and it is being promoted to voter; once the add ends, remove"
            + " it with `ferry admin remove`";
  }

  private static String tooLate(String id, Conf c) {
    return tooLate(id, c.isVoter(id));
  }

  /**
   * Lets the driver of cancelled add {@code c} end the record itself, so that it finds the change
   * cancelled rather than gone: a driver in this admin is waited for; one elsewhere is given up to
   * {@link #DRIVER_GRACE} (it checks the record about every second, and at once when Ratis drops a
   * staging it waits on), after which it may be dead.
   */
  private void awaitDriver(MembershipChange c, Instant deadline) throws IOException {
    String what = "the add of " + c.nodeId() + " to stop";
    if (driving.containsKey(c.id())) {
      while (driving.containsKey(c.id())) {
        pause(deadline, what);
      }
      return;
    }
    Instant grace = min(deadline, clock.instant().plus(DRIVER_GRACE));
    while (clock.instant().isBefore(grace)) {
      MembershipChange now = pending();
      if (now == null || now.id() != c.id()) {
        return;
      }
      pause(deadline, what);
    }
  }

  /**
   * Undoes cancelled add {@code c}: tells the node to stop and wipe its unverified state, waits
   * until the leader no longer stages it, removes it from the configuration if there, tells it
   * again (a listener refuses to stop while the configuration names it). Idempotent: the canceller
   * and the driver both run it. The caller ends the record.
   *
   * @return whether the node was a listener in the configuration
   */
  private boolean undoCancelled(MembershipChange c, Instant deadline) throws IOException {
    String id = c.nodeId();
    Conf conf = readConf(deadline, "the configuration");
    PeerAddress node = address(c, conf);
    String reason = "its addition was cancelled by " + c.cancelledBy();
    retire(node, reason, true);
    boolean told = false;
    while (conf.stagedEntry(id).isPresent() || !conf.stable()) {
      if (!told) {
        LOG.debug(
            "{}: add cancelled; waiting for the leader {} to stop staging it (Ratis cannot cancel"
                + " a staging: it ends once {} has stopped answering for the staging timeout)",
            id,
            conf.leader(),
            id);
        told = true;
      }
      pause(deadline, "the leader to stop staging " + id);
      conf = readConf(deadline, "the configuration");
    }
    if (conf.isVoter(id)) {
      // Never happens: promotion follows VERIFIED, and a cancelled add is never verified.
      throw new IllegalStateException(tooLate(id, true));
    }
    boolean wasListener = conf.isListener(id);
    if (wasListener) {
      removeFromConf(id, deadline);
      retire(node, reason, true);
    }
    return wasListener;
  }

  // ---------------------------------------------------------------------------------------------
  // configuration
  // ---------------------------------------------------------------------------------------------

  /**
   * Reads the configuration from the leader until it is stable and {@code done}; while it is not,
   * sends {@code change} of it. Idempotent: a request that timed out but committed is seen done on
   * the next read; a concurrent change makes the compare-and-set fail and the loop re-read.
   */
  private Conf changeTo(
      Instant deadline,
      String what,
      String node,
      Predicate<Conf> done,
      Function<Conf, SetConfigurationRequest.Arguments> change)
      throws IOException {
    return changeTo(deadline, what, node, () -> {}, done, change);
  }

  /** Checked before each configuration change is sent; throws to stop sending. */
  @FunctionalInterface
  private interface Guard {
    void check();
  }

  private Conf changeTo(
      Instant deadline,
      String what,
      String node,
      Guard guard,
      Predicate<Conf> done,
      Function<Conf, SetConfigurationRequest.Arguments> change)
      throws IOException {
    String refused = null;
    List<String> stagedBefore = List.of();
    Instant nextCheck = clock.instant().plus(GUARD_EVERY);
    while (true) {
      Conf c = readConf(deadline, what);
      if (c.stable() && done.test(c)) {
        return c;
      }
      if (c.stable() || clock.instant().isAfter(nextCheck)) {
        // Before each change sent, and about every second while one is pending (a staging).
        guard.check();
        nextCheck = clock.instant().plus(GUARD_EVERY);
      }
      if (c.stable()) {
        try {
          RaftClientReply reply = raft.admin().setConfiguration(change.apply(c));
          if (reply.isSuccess()) {
            continue;
          }
          // Expected while Ratis finishes an earlier change or a leader is elected: retried.
          refused = String.valueOf(reply.getException());
          LOG.debug("{}: {}", what, reply.getException());
        } catch (IOException | RuntimeException e) {
          stopIfClosed(e, what);
          refused = e.toString();
          LOG.debug("{}: {}", what, e.toString());
        }
      }
      List<String> staged = stagedBesides(c, node);
      if (!staged.isEmpty() && stagedBefore.isEmpty()) {
        LOG.info(
            "{}: waiting: the leader {} still stages {} for an earlier configuration change (Ratis"
                + " ends it once they have not answered for its staging timeout)",
            what,
            c.leader(),
            staged);
      }
      stagedBefore = staged;
      try {
        pause(deadline, what);
      } catch (MembershipTimeoutException e) {
        String silent =
            c.stagedEntry(node)
                .map(own -> "; the leader stages " + own + " (if that is long: stopped, paused?)")
                .orElse("");
        throw new MembershipTimeoutException(
            e.getMessage() + silent + blocker(c.leader(), staged, refused), null);
      }
    }
  }

  /** The staged peers of {@code c}, but {@code node} (whose own staging is the change itself). */
  private static List<String> stagedBesides(Conf c, String node) {
    return c.staged().stream().filter(s -> !Conf.isEntryOf(s, node)).toList();
  }

  /** What kept a configuration change from being made, for the message of its timeout. */
  private static String blocker(String leader, List<String> staged, String refused) {
    if (!staged.isEmpty()) {
      return "; the leader "
          + leader
          + " still stages "
          + staged
          + " for an earlier configuration change (an add that failed?): Ratis refuses every"
          + " change until those nodes catch up or stop answering for its staging timeout; retry"
          + " then, or start the staged node so that its add completes";
    }
    return refused == null ? "" : "; Ratis refused the change: " + refused;
  }

  /** The leader's view: configuration, commit index, its id. */
  private Conf readConf(Instant deadline, String what) throws IOException {
    Set<RaftPeerId> candidates = new LinkedHashSet<>();
    for (RaftPeer p : group.getPeers()) {
      candidates.add(p.getId());
    }
    Exception last = null;
    while (true) {
      for (RaftPeerId p : new ArrayList<>(candidates)) {
        try {
          GroupInfoReply r = raft.getGroupManagementApi(p).info(groupId);
          RoleInfoProto role = r.getRoleInfoProto();
          if (role.getRole() == RaftPeerRole.LEADER && r.getConf().isPresent()) {
            Conf c =
                new Conf(
                    p.toString(),
                    role.getLeaderInfo().getTerm(),
                    r.getConf().get(),
                    r.getLogInfoProto().getCommitted().getIndex(),
                    List.of(),
                    RaftPeers.lastAnswered(role));
            return c.withStaged(RaftPeers.staged(role, c::names));
          }
          if (role.hasFollowerInfo() && role.getFollowerInfo().hasLeaderInfo()) {
            RaftPeerId leader =
                RaftPeerId.valueOf(role.getFollowerInfo().getLeaderInfo().getId().getId());
            if (candidates.add(leader)) {
              // Not a peer the client was made with: it needs its address first.
              r.getConf()
                  .ifPresent(
                      conf ->
                          raft.getClientRpc()
                              .addRaftPeers(ProtoUtils.toRaftPeers(conf.getPeersList())));
            }
          }
        } catch (IOException | RuntimeException e) {
          // gRPC reports an unreachable peer with an unchecked StatusRuntimeException.
          stopIfClosed(e, what);
          last = e;
        }
      }
      try {
        pause(deadline, what + " from a leader");
      } catch (MembershipTimeoutException e) {
        if (last != null) {
          e.addSuppressed(last);
        }
        throw e;
      }
    }
  }

  /**
   * Ends a retry loop when the Raft client this admin sends through was closed (its owner shut
   * down): retrying could only fail again until the deadline, and Ratis logs each failed attempt
   * with a stack trace.
   */
  private void stopIfClosed(Exception e, String what) throws IOException {
    if (RaftTransport.closedBy(raft, e)) {
      throw new IOException("the Raft client was closed; stopped waiting for " + what, e);
    }
  }

  private void pause(Instant deadline, String what) throws InterruptedIOException {
    checkDeadline(deadline, what);
    try {
      TimeUnit.MILLISECONDS.sleep(POLL.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted waiting for " + what);
    }
    checkDeadline(deadline, what);
  }

  private void checkDeadline(Instant deadline, String what) {
    if (clock.instant().isAfter(deadline)) {
      throw new MembershipTimeoutException("deadline passed waiting for " + what, null);
    }
  }

  private static List<RaftPeer> plus(List<RaftPeer> peers, RaftPeer p) {
    List<RaftPeer> out = new ArrayList<>(peers);
    out.add(p);
    return out;
  }

  /**
   * A configuration as the leader reported it, with the peers it stages for a change not yet
   * committed.
   */
  private record Conf(
      String leader,
      long term,
      RaftConfigurationProto proto,
      long commitIndex,
      List<String> staged,
      Map<String, Long> lastAnsweredMsAgo) {
    Conf withStaged(List<String> peers) {
      return new Conf(leader, term, proto, commitIndex, peers, lastAnsweredMsAgo);
    }

    /** The entry of {@link #staged()} for {@code id}, if the leader stages it. */
    Optional<String> stagedEntry(String id) {
      return staged.stream().filter(s -> isEntryOf(s, id)).findFirst();
    }

    /** Whether {@code entry} of {@link #staged()} is about node {@code id}. */
    static boolean isEntryOf(String entry, String id) {
      return entry.startsWith(id + " ");
    }

    boolean stable() {
      return proto.getOldPeersCount() == 0 && proto.getOldListenersCount() == 0;
    }

    List<RaftPeer> voters() {
      return ProtoUtils.toRaftPeers(proto.getPeersList());
    }

    List<RaftPeer> listeners() {
      return ProtoUtils.toRaftPeers(proto.getListenersList());
    }

    boolean isVoter(String id) {
      return find(voters(), id).isPresent();
    }

    List<String> voterIds() {
      return voters().stream().map(p -> p.getId().toString()).toList();
    }

    boolean isListener(String id) {
      return find(listeners(), id).isPresent();
    }

    List<RaftPeer> without(List<RaftPeer> peers, String id) {
      return peers.stream().filter(p -> !p.getId().toString().equals(id)).toList();
    }

    SetConfigurationRequest.Arguments cas(List<RaftPeer> newVoters, List<RaftPeer> newListeners) {
      return SetConfigurationRequest.Arguments.newBuilder()
          .setMode(SetConfigurationRequest.Mode.COMPARE_AND_SET)
          .setServersInCurrentConf(voters())
          .setListenersInCurrentConf(listeners())
          .setServersInNewConf(newVoters)
          .setListenersInNewConf(newListeners)
          .build();
    }

    /** Whether {@code id} is in it, as voter or listener, in its new or (while joint) old part. */
    boolean names(String id) {
      return isVoter(id)
          || isListener(id)
          || find(ProtoUtils.toRaftPeers(proto.getOldPeersList()), id).isPresent()
          || find(ProtoUtils.toRaftPeers(proto.getOldListenersList()), id).isPresent();
    }

    Optional<RaftPeer> peer(String id) {
      Optional<RaftPeer> p = find(voters(), id);
      return p.isPresent() ? p : find(listeners(), id);
    }

    private static Optional<RaftPeer> find(List<RaftPeer> peers, String id) {
      return peers.stream().filter(p -> p.getId().toString().equals(id)).findFirst();
    }
  }
}
