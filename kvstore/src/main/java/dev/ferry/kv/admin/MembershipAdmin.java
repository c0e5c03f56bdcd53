package dev.ferry.kv.admin;

import dev.ferry.kv.KvClient;
import dev.ferry.raft.FerryServer;
import dev.ferry.raft.PeerAddress;
import dev.ferry.statemachine.DigestAt;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.security.SecureRandom;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Function;
import java.util.function.Predicate;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.proto.RaftProtos.RaftConfigurationProto;
import org.apache.ratis.proto.RaftProtos.RaftPeerRole;
import org.apache.ratis.proto.RaftProtos.RoleInfoProto;
import org.apache.ratis.protocol.GroupInfoReply;
import org.apache.ratis.protocol.RaftClientReply;
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
 * <p>Concurrency: one change at a time per instance. A request made while another is in progress
 * fails at once with {@link MembershipConflictException}. The pending change is held in this object
 * only, not in replicated state: another admin instance, or this one after a restart, does not see
 * it. Each change runs on the {@link Executor} given at creation (blocking Ratis calls and
 * polling); the returned futures complete on that executor, never on a Ratis thread.
 */
public final class MembershipAdmin {
  private static final Logger LOG = LoggerFactory.getLogger(MembershipAdmin.class);
  private static final Duration POLL = Duration.ofMillis(50);
  private static final Duration ROLLBACK_BUDGET = Duration.ofSeconds(30);

  private final KvClient kv;
  private final RaftClient raft;
  private final RaftGroupId groupId;
  private final Executor executor;
  private final Clock clock;
  private final SecureRandom random = new SecureRandom();
  private final AtomicReference<String> inProgress = new AtomicReference<>();

  private MembershipAdmin(KvClient kv, Executor executor, Clock clock) {
    this.kv = kv;
    this.raft = kv.raftClient();
    this.groupId = kv.group().getGroupId();
    this.executor = executor;
    this.clock = clock;
  }

  /**
   * An admin working through {@code client} (which it does not close), running each change on a new
   * daemon thread and timing with the system clock.
   */
  public static MembershipAdmin create(KvClient client) {
    return create(
        client,
        r -> {
          Thread t = new Thread(r, "ferry-membership");
          t.setDaemon(true);
          t.start();
        },
        Clock.systemUTC());
  }

  /**
   * An admin working through {@code client} (which it does not close).
   *
   * @param executor runs each change; a change blocks its thread for up to its deadline
   * @param clock measures deadlines and phase durations
   */
  public static MembershipAdmin create(KvClient client, Executor executor, Clock clock) {
    return new MembershipAdmin(
        Objects.requireNonNull(client, "client"),
        Objects.requireNonNull(executor, "executor"),
        Objects.requireNonNull(clock, "clock"));
  }

  /**
   * Adds {@code request.node()} as a voter, after checking its state. Steps:
   *
   * <ol>
   *   <li>add it as a listener ({@code COMPARE_AND_SET}); Ratis stages it, so it installs a
   *       snapshot from its peers and replays the log before the change commits;
   *   <li>wait until it has applied the leader's commit index read at the start;
   *   <li>write a digest checkpoint through the log and read the digest the node and every voter
   *       recorded there;
   *   <li>if all are equal, promote it to voter ({@code COMPARE_AND_SET}).
   * </ol>
   *
   * The node must already run as a listener (see {@link AddRequest#node()}). Does not block.
   *
   * @return a future of what was done; it fails with {@link MembershipConflictException} if another
   *     change is in progress on this admin (nothing done), {@link MemberDigestMismatchException}
   *     if the digests differ, {@link MembershipTimeoutException} at the deadline, {@link
   *     IllegalStateException} if the node is already a voter, or another exception if the cluster
   *     could not be reached. On every failure but the first and the last, the node has been
   *     removed from the configuration again (a failure of that removal is a suppressed exception).
   */
  public CompletableFuture<AddResult> addMember(AddRequest request) {
    Objects.requireNonNull(request, "request");
    return run("add " + request.node().id(), () -> add(request));
  }

  /**
   * Removes a member. A voter that leads transfers its leadership to another voter first; then the
   * configuration without the node is set ({@code COMPARE_AND_SET}). The node itself keeps running:
   * stop it afterwards. Does not block.
   *
   * @return a future of what was done; it fails with {@link MembershipConflictException} if another
   *     change is in progress on this admin, {@link IllegalArgumentException} if the node is the
   *     only voter, {@link MembershipTimeoutException} at the deadline
   */
  public CompletableFuture<RemoveResult> removeMember(RemoveRequest request) {
    Objects.requireNonNull(request, "request");
    return run("remove " + request.nodeId(), () -> remove(request));
  }

  @FunctionalInterface
  private interface Work<T> {
    T call() throws Exception;
  }

  private <T> CompletableFuture<T> run(String what, Work<T> work) {
    if (!inProgress.compareAndSet(null, what)) {
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
            if (failure == null) {
              f.complete(result);
            } else {
              f.completeExceptionally(failure);
            }
          });
    } catch (RuntimeException e) {
      inProgress.set(null);
      f.completeExceptionally(e);
    }
    return f;
  }

  // ---------------------------------------------------------------------------------------------
  // add
  // ---------------------------------------------------------------------------------------------

  private AddResult add(AddRequest request) throws Exception {
    PeerAddress node = request.node();
    String id = node.id();
    Instant deadline = clock.instant().plus(request.deadline());
    raft.getClientRpc().addRaftPeers(List.of(FerryServer.toRaftPeer(node, RaftPeerRole.LISTENER)));
    Conf start = readConf(deadline, "the configuration");
    if (start.isVoter(id)) {
      throw new IllegalStateException(id + " is already a voter");
    }
    try {
      Instant t0 = clock.instant();
      LOG.info("{}: adding as listener (leader commit index {})", id, start.commitIndex());
      changeTo(
          deadline,
          "add " + id + " as listener",
          c -> c.isListener(id),
          c ->
              c.cas(
                  c.voters(),
                  plus(c.listeners(), FerryServer.toRaftPeer(node, RaftPeerRole.LISTENER))));
      Instant t1 = clock.instant();
      awaitApplied(id, start.commitIndex(), deadline);
      Instant t2 = clock.instant();
      long checkpointId = random.nextLong() & Long.MAX_VALUE;
      DigestAt reference = kv.checkpoint(checkpointId);
      Conf now = readConf(deadline, "the configuration");
      for (RaftPeer v : now.voters()) {
        DigestAt d = kv.checkpointOn(v.getId().toString(), checkpointId, reference.index());
        if (!d.equals(reference)) {
          throw new IllegalStateException(
              "voter " + v.getId() + " recorded " + d + " at checkpoint, the leader " + reference);
        }
      }
      DigestAt mine = kv.checkpointOn(id, checkpointId, reference.index());
      if (!mine.digest().equals(reference.digest())) {
        throw new MemberDigestMismatchException(
            id, reference.index(), reference.digest(), mine.digest());
      }
      checkDeadline(deadline, "verify " + id);
      Instant t3 = clock.instant();
      LOG.info("{}: digest {} verified at index {}", id, mine.digest().toHex(), mine.index());
      changeTo(
          deadline,
          "promote " + id,
          c -> c.isVoter(id),
          c ->
              c.cas(
                  plus(c.voters(), FerryServer.toRaftPeer(node, RaftPeerRole.FOLLOWER)),
                  c.without(c.listeners(), id)));
      Instant t4 = clock.instant();
      return new AddResult(
          id,
          checkpointId,
          reference,
          Duration.between(t0, t1),
          Duration.between(t1, t2),
          Duration.between(t2, t3),
          Duration.between(t3, t4));
    } catch (Exception e) {
      LOG.warn("{}: add failed, removing it: {}", id, e.toString());
      try {
        removeFromConf(id, clock.instant().plus(ROLLBACK_BUDGET));
      } catch (Exception rollback) {
        e.addSuppressed(rollback);
      }
      throw e;
    }
  }

  /** Waits until {@code id} reports an applied index of at least {@code index}. */
  private void awaitApplied(String id, long index, Instant deadline) throws IOException {
    RaftPeerId peer = RaftPeerId.valueOf(id);
    long applied = -1;
    while (true) {
      try {
        GroupInfoReply r = raft.getGroupManagementApi(peer).info(groupId);
        applied = r.getLogInfoProto().getApplied().getIndex();
        if (applied >= index) {
          return;
        }
      } catch (IOException | RuntimeException e) {
        // gRPC reports an unreachable peer with an unchecked StatusRuntimeException.
        LOG.debug("{}: no group info yet: {}", id, e.toString());
      }
      pause(deadline, id + " to apply index " + index + " (applied " + applied + ")");
    }
  }

  // ---------------------------------------------------------------------------------------------
  // remove
  // ---------------------------------------------------------------------------------------------

  private RemoveResult remove(RemoveRequest request) throws Exception {
    String id = request.nodeId();
    Instant start = clock.instant();
    Instant deadline = start.plus(request.deadline());
    Conf c = readConf(deadline, "the configuration");
    RemoveResult.Outcome outcome;
    if (c.isVoter(id)) {
      if (c.voters().size() == 1) {
        throw new IllegalArgumentException("cannot remove " + id + ": it is the only voter");
      }
      outcome = RemoveResult.Outcome.REMOVED_VOTER;
    } else if (c.isListener(id)) {
      outcome = RemoveResult.Outcome.REMOVED_LISTENER;
    } else {
      return new RemoveResult(
          id, RemoveResult.Outcome.NOT_A_MEMBER, false, c.leader(), Duration.ZERO);
    }
    boolean transferred = false;
    while (c.leader().equals(id)) {
      transferred = true;
      String target =
          c.voters().stream()
              .map(p -> p.getId().toString())
              .filter(v -> !v.equals(id))
              .findFirst()
              .orElseThrow();
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
    return new RemoveResult(
        id, outcome, transferred, after.leader(), Duration.between(start, clock.instant()));
  }

  private Conf removeFromConf(String id, Instant deadline) throws IOException {
    return changeTo(
        deadline,
        "remove " + id,
        c -> !c.isVoter(id) && !c.isListener(id),
        c -> c.cas(c.without(c.voters(), id), c.without(c.listeners(), id)));
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
      Predicate<Conf> done,
      Function<Conf, SetConfigurationRequest.Arguments> change)
      throws IOException {
    while (true) {
      Conf c = readConf(deadline, what);
      if (c.stable() && done.test(c)) {
        return c;
      }
      if (c.stable()) {
        try {
          RaftClientReply reply = raft.admin().setConfiguration(change.apply(c));
          if (reply.isSuccess()) {
            continue;
          }
          LOG.info("{}: {}", what, reply.getException());
        } catch (IOException | RuntimeException e) {
          LOG.info("{}: {}", what, e.toString());
        }
      }
      pause(deadline, what);
    }
  }

  /** The leader's view: configuration, commit index, its id. */
  private Conf readConf(Instant deadline, String what) throws IOException {
    Set<RaftPeerId> candidates = new LinkedHashSet<>();
    for (RaftPeer p : kv.group().getPeers()) {
      candidates.add(p.getId());
    }
    Exception last = null;
    while (true) {
      for (RaftPeerId p : new ArrayList<>(candidates)) {
        try {
          GroupInfoReply r = raft.getGroupManagementApi(p).info(groupId);
          RoleInfoProto role = r.getRoleInfoProto();
          if (role.getRole() == RaftPeerRole.LEADER && r.getConf().isPresent()) {
            return new Conf(
                p.toString(), r.getConf().get(), r.getLogInfoProto().getCommitted().getIndex());
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

  /** A configuration as the leader reported it. */
  private record Conf(String leader, RaftConfigurationProto proto, long commitIndex) {
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

    private static Optional<RaftPeer> find(List<RaftPeer> peers, String id) {
      return peers.stream().filter(p -> p.getId().toString().equals(id)).findFirst();
    }
  }
}
