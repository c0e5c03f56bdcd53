package dev.ferry.raft;

import dev.ferry.client.internal.RaftTransport;
import dev.ferry.raft.admin.AddProgress;
import dev.ferry.raft.admin.AddRequest;
import dev.ferry.raft.admin.AddResult;
import dev.ferry.raft.admin.AdminClient;
import dev.ferry.raft.admin.AdminServer;
import dev.ferry.raft.admin.CancelRequest;
import dev.ferry.raft.admin.CancelResult;
import dev.ferry.raft.admin.MembershipAdmin;
import dev.ferry.raft.admin.NodeStatus;
import dev.ferry.raft.admin.PeerIdentity;
import dev.ferry.raft.admin.RemoveRequest;
import dev.ferry.raft.admin.RemoveResult;
import dev.ferry.shipping.PeerAddress;
import dev.ferry.shipping.chunks.ChunkServer;
import dev.ferry.shipping.install.InstallProgress;
import dev.ferry.shipping.install.InstallReport;
import dev.ferry.shipping.install.MultiSourceInstaller;
import dev.ferry.statemachine.DigestAt;
import dev.ferry.statemachine.MembershipChange;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.stream.Stream;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.proto.RaftProtos.RaftPeerRole;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.server.DivisionInfo;
import org.apache.ratis.server.RaftConfiguration;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.RaftServerConfigKeys;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A node's side of membership: its admin service, the {@link MembershipAdmin} that serves it, the
 * leader's duty to finish or undo a change left pending by a driver that disappeared, and stopping
 * when told it was removed.
 *
 * <p>Concurrency: admin requests arrive on the admin service's threads; the recovery check runs
 * every {@link #RECOVERY_EVERY}, never overlapping itself, on a thread of its own or on its node's
 * scheduler shared by the node's groups; retirement runs on a thread of its own.
 */
final class MemberService implements AdminServer.Node {
  private static final Logger LOG = LoggerFactory.getLogger(MemberService.class);
  static final Duration RECOVERY_EVERY = Duration.ofSeconds(1);

  /** The status role of a listener re-added after its disk was wiped. */
  static final String REJOINING = "REJOINING";

  /** The status role of a voter on fresh storage waiting for its peers before Raft starts. */
  static final String WAITING = "WAITING";

  private static final Duration RECOVERY_DEADLINE = Duration.ofMinutes(2);

  /**
   * How long a verified move (an add that replaces a node, {@code VERIFIED} or {@code PROMOTED})
   * recorded in the leader's own term may stay unchanged with no driver on the leader before the
   * leader finishes it: its driver failed (its deadline, a lost connection) or runs on a node that
   * is now a follower and died.
   */
  static final Duration STALLED_MOVE = Duration.ofSeconds(30);

  /**
   * How long a verified move recorded in an earlier term must stay unchanged before a new leader
   * finishes it: its driver may live on (a source that led hands its leadership away, then finishes
   * its own removal), and a live driver ends the record within a second or two.
   */
  static final Duration MOVE_DRIVER_GRACE = Duration.ofSeconds(5);

  private final Host server;
  private final RaftClient raft;

  /** How long a RETIRE waits for a leader to confirm the node is out. */
  private static final Duration RETIRE_CONFIRM = Duration.ofSeconds(10);

  /** How long the membership self-check waits for a leader to answer. */
  private static final Duration OUT_CONFIRM = Duration.ofSeconds(5);

  /** Checks a voter knows no leader before it asks whether it is still in. */
  private static final int LEADERLESS_CHECKS = 5;

  /**
   * Rounds of {@link #LEADERLESS_CHECKS} checks in which a voter heard from no leader while a
   * leader answered that it is in, before it asks that leader to hand leadership on.
   */
  static final int STRANDED_ROUNDS = 2;

  /**
   * How many staging timeouts a follower that no configuration names may go unanswered before its
   * leader steps down ({@link #checkLeftoverFollowers}).
   */
  static final int LEFTOVER_TIMEOUTS = 2;

  /** The least time between two step-downs of one group's leader over leftover followers. */
  static final Duration LEFTOVER_STEP_DOWN_EVERY = Duration.ofSeconds(60);

  /** Leader changes a stranded voter asks for before it stops asking until it hears a leader. */
  static final int MAX_HANDOFFS = 3;

  /**
   * How long the leader must have had no answer from a stranded voter for the voter's request to
   * hand leadership on to be carried out (twice Ratis's default maximum election timeout).
   */
  static final Duration STRANDED_SILENCE = Duration.ofSeconds(6);

  /** Checks between two rounds of learning peers' storage identities (new peers only). */
  private static final long LEARN_EVERY = 5;

  /** Checks between two rounds of asking every peer its storage identity again. */
  private static final long RELEARN_EVERY = 60;

  /**
   * Checks after a configuration change during which every learning round asks every peer again (a
   * node re-added after a wipe reports its new identity once it is a voter again).
   */
  private static final long RELEARN_AFTER_CHANGE = 30;

  /** Rejoin checks with nothing received before a rejoining node asks for an empty entry. */
  static final int REJOIN_IDLE_CHECKS = 10;

  /** Every this many requests of a rejoining node that is sent nothing, one is a new leader. */
  static final int NUDGES_BEFORE_TRANSFER = 3;

  /** The deadline of the add a rejoining node asks for. */
  private static final Duration REJOIN_ADD_DEADLINE = Duration.ofMinutes(10);

  private final MembershipAdmin admin;
  private final AdminServer adminServer;
  private final ScheduledExecutorService recovery;
  private final boolean ownsRecovery;
  private final ScheduledFuture<?> ticking;
  private final CompletableFuture<String> retired = new CompletableFuture<>();
  private final AtomicBoolean retiring = new AtomicBoolean();
  private volatile CompletableFuture<Void> resolving = CompletableFuture.completedFuture(null);

  /** Whether this node has been a voter in its own configuration since it started. */
  private volatile boolean seenVoter;

  /**
   * Whether this node has been part of the cluster: since it started it heard from a leader, or the
   * leader's configuration or recorded change named it, or its own configuration from the log does.
   * A listener waiting to be added is not.
   */
  private volatile boolean joined;

  private final ClusterSecret secret;
  private final TlsFiles tls;

  /** Recovery ticks so far (recovery thread). */
  private long ticks;

  /** The configuration the last learning round saw (its log index), and until which tick. */
  private long learnedConf = Long.MIN_VALUE;

  private long relearnUntil;

  /** Consecutive checks a voter in its own configuration knew no leader. */
  private int leaderless;

  /** When this node, leading, last stepped down over a leftover follower (nanoTime; 0: never). */
  private long leftoverStepDown;

  /** Consecutive rounds a voter knew no leader while a leader said it is in (recovery thread). */
  private int stranded;

  /** Leader changes this voter asked for since it last heard a leader (recovery thread). */
  private int handOffs;

  /** The pending change the recovery check saw last (recovery thread). */
  private MembershipChange seenChange;

  /** When the recovery check first saw {@link #seenChange} (recovery thread; nanoTime). */
  private long seenSince;

  /** The add this node asked for while it rejoins, while it runs. */
  private volatile CompletableFuture<Void> rejoinAdd = CompletableFuture.completedFuture(null);

  private long rejoinLogged;

  /**
   * Consecutive rejoin checks that found this node's applied index unchanged, nothing installing.
   */
  private int rejoinIdle;

  /** Times this node, rejoining, asked for an empty entry or a new leader. */
  private int rejoinNudges;

  /** The applied index the rejoin watch saw last. */
  private long rejoinApplied = Long.MIN_VALUE;

  /**
   * What the member service needs of its node, in place of the whole {@link FerryServer}: its
   * address and group, its Raft division, what its state machine reports, its installer, its
   * counters, and how to stop it. The server implements it. Called from the admin service's
   * threads, the recovery thread and the retirement thread, concurrently: implementations are
   * thread-safe.
   */
  interface Host {
    /** This node's address. */
    PeerAddress self();

    /** The Raft group the node serves. */
    RaftGroup group();

    /** The node's service port, which serves the admin requests of {@link #group()} too. */
    ChunkServer chunkServer();

    /**
     * The node's Raft division of {@link #group()}.
     *
     * @throws IOException if the server is not running
     */
    RaftServer.Division division() throws IOException;

    /** The membership change the state machine records as under way, if any. */
    Optional<MembershipChange> pendingMembershipChange();

    /** The digest of the state as of the last applied index (completes off the caller). */
    CompletableFuture<DigestAt> digest();

    /** The digest of the last checkpoint, if any. */
    Optional<DigestAt> lastCheckpoint();

    /** The snapshot installer, if the node has one. */
    Optional<MultiSourceInstaller> installer();

    /** The refusal counters of the node's services, for its status. */
    NodeStatus.Counters counters();

    /** Whether the node was started as a listener (a joining node, unverified until promoted). */
    boolean startedAsListener();

    /** The node's retention holds, rebases and install alerts, for its status. */
    NodeStatus.Recovery recovery();

    /** The node's storage identity, its peers' and whether it rejoins after a wipe. */
    StorageIdentity storage();

    /** Whether its Raft server was started (false while a fresh voter waits for its peers). */
    boolean raftStarted();

    /**
     * Stops the node's replica of the group after it was removed from it, deleting the replica's
     * state if {@code wipe}. Called on the retirement thread; may block while its services shut
     * down.
     *
     * @throws IOException if stopping or deleting fails
     */
    void retire(boolean wipe) throws IOException;
  }

  private MemberService(Host server, ClusterSecret secret, TlsFiles tls, Shared shared)
      throws IOException {
    this.server = server;
    this.secret = secret;
    this.tls = tls;
    this.raft =
        RaftTransport.newRaftClient(server.group(), tls == null ? null : tls.ratisParameters());
    this.admin =
        MembershipAdmin.builder(raft, server.group())
            .secret(secret)
            .tls(tls)
            .selfId(server.self().id())
            .build();
    try {
      this.adminServer =
          AdminServer.serve(
              server.chunkServer(),
              server.group().getGroupId().getUuid().toString(),
              this,
              shared == null ? null : shared.adminPool());
    } catch (RuntimeException e) {
      raft.close();
      throw e;
    }
    this.ownsRecovery = shared == null;
    this.recovery =
        shared != null
            ? shared.scheduler()
            : Executors.newSingleThreadScheduledExecutor(
                r -> {
                  Thread t = new Thread(r, "ferry-membership-recovery-" + server.self().id());
                  t.setDaemon(true);
                  return t;
                });
    long every = RECOVERY_EVERY.toMillis();
    // One task per group: a fixed-delay task never overlaps itself, on a shared pool too.
    this.ticking =
        recovery.scheduleWithFixedDelay(
            () -> {
              recover();
              checkMembership();
              learnIdentities();
              watchRejoin();
              rejoin();
              checkLeftoverFollowers();
            },
            every,
            every,
            TimeUnit.MILLISECONDS);
  }

  /**
   * Starts serving {@code server}'s admin requests and its recovery checks.
   *
   * @param shared the executors of the node this service's group shares with its other groups (not
   *     shut down here), or null for executors of this service's own
   */
  static MemberService start(Host server, ClusterSecret secret, TlsFiles tls, Shared shared)
      throws IOException {
    return new MemberService(server, secret, tls, shared);
  }

  /**
   * A node's executors its groups' member services share.
   *
   * @param scheduler runs the recovery checks (one task per group, each never overlapping itself)
   * @param adminPool runs the admin services' blocking requests ({@link
   *     AdminServer#newBlockingPool})
   */
  record Shared(ScheduledExecutorService scheduler, ExecutorService adminPool) {}

  MembershipAdmin admin() {
    return admin;
  }

  AdminServer adminServer() {
    return adminServer;
  }

  CompletableFuture<String> retired() {
    return retired;
  }

  /**
   * On the leader: a change recorded in an earlier term that no admin of this node drives was left
   * by a driver that is gone (the old leader, or an admin process); finish or undo it. A verified
   * move (an add that replaces a node, {@code VERIFIED} or {@code PROMOTED}) is finished once it
   * has not moved for {@link #MOVE_DRIVER_GRACE} if recorded in an earlier term (its driver may
   * live on, on the source that led), or for {@link #STALLED_MOVE} if recorded in this one: a
   * verified move only goes forward, and its driver gave up or died.
   */
  private void recover() {
    try {
      Optional<MembershipChange> pending = server.pendingMembershipChange();
      if (pending.isEmpty()) {
        seenChange = null;
        return;
      }
      MembershipChange c = pending.get();
      if (!c.equals(seenChange)) {
        seenChange = c;
        seenSince = System.nanoTime();
      }
      if (!resolving.isDone()) {
        return;
      }
      DivisionInfo info = server.division().getInfo();
      boolean earlier = c.term() < info.getCurrentTerm();
      boolean verifiedMove =
          c.isReplacement()
              && (c.phase() == MembershipChange.Phase.VERIFIED
                  || c.phase() == MembershipChange.Phase.PROMOTED);
      long unchanged = System.nanoTime() - seenSince;
      boolean due =
          verifiedMove
              ? unchanged >= (earlier ? MOVE_DRIVER_GRACE : STALLED_MOVE).toNanos()
              : earlier;
      if (!info.isLeader() || !info.isLeaderReady() || !due || admin.isDriving(c.id())) {
        return;
      }
      LOG.warn(
          "{}: leader in term {} found {} from term {} with no driver{}: finishing or undoing it",
          server.self().id(),
          info.getCurrentTerm(),
          c,
          c.term(),
          earlier ? "" : ", unchanged for " + STALLED_MOVE.toSeconds() + " s");
      resolving =
          admin
              .resolve(c, RECOVERY_DEADLINE)
              .whenComplete(
                  (v, t) -> {
                    if (t != null) {
                      LOG.warn("{}: resolving {} failed: {}", server.self().id(), c, t.toString());
                    } else {
                      LOG.info("{}: resolved {}", server.self().id(), c);
                    }
                  });
    } catch (IOException | RuntimeException e) {
      LOG.debug("membership recovery check: {}", e.toString());
    }
  }

  /**
   * On a node that is not a voter in its own configuration (a joining listener, or a node that was
   * dropped while it could not be told): once it has been part of the cluster, asks the leader
   * whether it still is, and stops if the leader's configuration no longer names it and no change
   * about it is recorded. Without this, a joining node paused past its add's deadline (so the undo
   * could not reach it) ran on forever outside the cluster. A node whose add was cancelled is out
   * too, even while the leader still stages it (see {@link MembershipAdmin#outOfCluster}): it
   * stops, and Ratis then drops the staging. It wipes its state if it never was a voter since it
   * started as a listener. Runs on the recovery thread; may block for up to {@link #OUT_CONFIRM}.
   */
  private void checkMembership() {
    if (retiring.get()) {
      return;
    }
    String id = server.self().id();
    try {
      RaftServer.Division d = server.division();
      RaftPeerId me = d.getId();
      RaftConfiguration own = d.getRaftConf();
      if (own.getCurrentPeers(RaftPeerRole.FOLLOWER).stream().anyMatch(p -> p.getId().equals(me))) {
        seenVoter = true;
        checkStaleVoter(d);
        return;
      }
      leaderless = 0;
      // A leader talked to it, or a configuration from the log (not its startup group) names it.
      if (d.getInfo().getLeaderId() != null
          || (own.getLogEntryIndex() >= 0 && named(own, me.toString()))) {
        joined = true;
      }
      Optional<String> leader = admin.outOfCluster(id, OUT_CONFIRM);
      if (leader.isEmpty()) {
        joined = true;
        return;
      }
      if (!joined) {
        return; // not added yet: waiting for an admin to add it
      }
      boolean wipe = server.startedAsListener() && !seenVoter;
      MembershipChange p = admin.pending();
      String reason;
      if (p != null && p.nodeId().equals(id) && p.phase() == MembershipChange.Phase.CANCELLED) {
        reason =
            "its addition was cancelled by "
                + p.cancelledBy()
                + ", as the leader "
                + leader.get()
                + " confirms";
      } else if (p != null && p.replaces().equals(id)) {
        reason =
            "it was replaced by "
                + p.nodeId()
                + " (a replica move), as the leader "
                + leader.get()
                + " confirms";
      } else {
        reason =
            "it is not in the cluster's configuration and no change about it is recorded, as"
                + " the leader "
                + leader.get()
                + " confirms (dropped while it could not be told?)";
      }
      if (wipe) {
        reason += "; its state was never verified";
      }
      retire(reason, wipe);
    } catch (IOException | RuntimeException e) {
      LOG.debug("{}: membership self-check: {}", id, e.toString());
    }
  }

  /**
   * On a voter in its own configuration that has known no leader for {@link #LEADERLESS_CHECKS}
   * checks (a candidate again and again): asks the leader whether it is still in, and stops
   * (keeping its data) if the leader's configuration no longer names it. A voter removed while it
   * could not be told never learns it from its log, since the leader no longer sends it one. A
   * voter still in, that has heard from no leader for {@link #STRANDED_ROUNDS} such rounds, asks
   * the leader to hand leadership on if the leader too has had no answer from it for {@link
   * #STRANDED_SILENCE} ({@link MembershipAdmin#handOffIfSilent}); at most {@link #MAX_HANDOFFS}
   * times until it hears a leader again.
   */
  private void checkStaleVoter(RaftServer.Division d) throws IOException {
    DivisionInfo info = d.getInfo();
    if (info.isLeader() || (!info.isCandidate() && info.getLeaderId() != null)) {
      leaderless = 0;
      stranded = 0;
      handOffs = 0;
      return;
    }
    if (++leaderless < LEADERLESS_CHECKS) {
      return;
    }
    leaderless = 0;
    String id = server.self().id();
    Optional<String> leader = admin.outOfCluster(id, OUT_CONFIRM);
    if (leader.isPresent()) {
      retire(
          "it is a voter in its own configuration but not in the cluster's, as the leader "
              + leader.get()
              + " confirms (removed while it could not be told?)",
          false);
      return;
    }
    // Still a voter, and a leader answered: the group has a leader that sends this voter nothing
    // (its pre-votes are refused, since the others hear from that leader). Seen in the multi-raft
    // chaos runs after a move's configuration changes; a new leader replicates to it afresh.
    if (!info.isAlive() || ++stranded < STRANDED_ROUNDS) {
      return;
    }
    stranded = 0;
    if (handOffs >= MAX_HANDOFFS) {
      return;
    }
    if (admin.handOffIfSilent(id, STRANDED_SILENCE, OUT_CONFIRM).isPresent()
        && ++handOffs == MAX_HANDOFFS) {
      LOG.warn(
          "{}: still hears from no leader after {} leader changes it asked for; not asking again"
              + " until it hears one",
          id,
          MAX_HANDOFFS);
    }
  }

  /**
   * On the leader: gets rid of a log appender Ratis keeps to a node no configuration names. A
   * leader elected on a joint configuration (a change's first step committed, its second not yet)
   * builds appenders for every peer of it, the old part's too, and Ratis 3.3.0 keeps the appender
   * of an old listener the new configuration dropped after the new one applies
   * (docs/ratis-workarounds.md). Such a follower looks staged for ever, and a later add of that
   * node never finishes. A leader that replicates to followers no configuration names, none of them
   * the subject of the recorded membership change, all silent for {@link #LEFTOVER_TIMEOUTS}
   * staging timeouts (longer than Ratis lets a real staging of a silent node last), steps down, at
   * most once every {@link #LEFTOVER_STEP_DOWN_EVERY}: the next leader builds its appenders from
   * the configuration as it is. Reads only this node's state unless it steps down. Recovery thread.
   */
  private void checkLeftoverFollowers() {
    if (retiring.get()) {
      return;
    }
    try {
      RaftServer.Division d = server.division();
      DivisionInfo info = d.getInfo();
      if (!info.isLeader()) {
        return;
      }
      RaftConfiguration conf = d.getRaftConf();
      Set<String> named = new HashSet<>();
      for (RaftPeerRole role : List.of(RaftPeerRole.FOLLOWER, RaftPeerRole.LISTENER)) {
        conf.getAllPeers(role).forEach(p -> named.add(p.getId().toString()));
      }
      Map<String, Long> answered = RaftPeers.lastAnswered(info.getRoleInfoProto());
      if (named.containsAll(answered.keySet())) {
        return;
      }
      long limitMs =
          LEFTOVER_TIMEOUTS
              * RaftServerConfigKeys.stagingTimeout(d.getRaftServer().getProperties())
                  .toLong(TimeUnit.MILLISECONDS);
      Optional<MembershipChange> change = server.pendingMembershipChange();
      List<String> leftover = new ArrayList<>();
      for (Map.Entry<String, Long> e : answered.entrySet()) {
        String id = e.getKey();
        if (named.contains(id)) {
          continue;
        }
        if (e.getValue() < limitMs
            || change.filter(c -> c.nodeId().equals(id) || c.replaces().equals(id)).isPresent()) {
          return; // a staging that may still finish, or one a recorded change is about
        }
        leftover.add(id + " (last answered " + e.getValue() + " ms ago)");
      }
      long now = System.nanoTime();
      if (leftoverStepDown != 0 && now - leftoverStepDown < LEFTOVER_STEP_DOWN_EVERY.toNanos()) {
        return;
      }
      leftoverStepDown = now;
      LOG.warn(
          "{}: leads and replicates to {}, which no configuration names and no recorded change is"
              + " about (a Ratis leftover: docs/ratis-workarounds.md); stepping down so that the"
              + " next leader starts from the configuration as it is",
          server.self().id(),
          leftover);
      raft.admin().transferLeadership(null, d.getId(), 10_000);
    } catch (IOException | RuntimeException e) {
      LOG.debug("{}: leftover follower check: {}", server.self().id(), e.toString());
    }
  }

  /**
   * Learns the storage identities of the members of this node's configuration (those it has none
   * for at every {@link #LEARN_EVERY} checks, all of them every {@link #RELEARN_EVERY}), so that it
   * can tell a peer starting on a fresh disk that it was wiped ({@link VoterGuard}). A node that
   * rejoins after a wipe reports none until it is a voter again: for {@link #RELEARN_AFTER_CHANGE}
   * checks after a configuration change every round asks all of them, so that the others learn a
   * re-added node's new identity within seconds. Runs on the recovery thread; each peer is asked
   * over its admin service and may take a few seconds.
   */
  private void learnIdentities() {
    long t = ++ticks;
    RaftConfiguration conf;
    try {
      conf = server.division().getRaftConf();
    } catch (IOException e) {
      return;
    }
    if (conf.getLogEntryIndex() != learnedConf) {
      learnedConf = conf.getLogEntryIndex();
      relearnUntil = t + RELEARN_AFTER_CHANGE;
    }
    if (t % LEARN_EVERY != 1) {
      return;
    }
    boolean all = t % RELEARN_EVERY == 1 || t <= relearnUntil;
    String self = server.self().id();
    StorageIdentity storage = server.storage();
    for (RaftPeer p : conf.getAllPeers(RaftPeerRole.FOLLOWER)) {
      String id = p.getId().toString();
      if (id.equals(self) || (!all && storage.recorded(id).isPresent())) {
        continue;
      }
      try (AdminClient c =
          AdminClient.connect(
              RaftPeers.fromRaftPeer(p),
              server.group().getGroupId().getUuid().toString(),
              secret,
              tls,
              self)) {
        Optional<String> reported = c.identity(self).storageId();
        if (reported.isPresent()) {
          storage
              .record(id, reported.get())
              .ifPresent(
                  was ->
                      LOG.info(
                          "{}: {} now reports storage id {} (was {}): re-added after a wipe",
                          self,
                          id,
                          reported.get(),
                          was));
        }
      } catch (IOException | RuntimeException e) {
        LOG.debug("{}: storage identity of {}: {}", self, id, e.toString());
      }
    }
  }

  /**
   * What this node, found wiped and demoted ({@link VoterGuard}), does until it is a voter again:
   * once it has caught up as a listener (installed, applied what it knows committed), asks the
   * leader's admin service to add it through the digest gate whenever the leader's configuration
   * has it as a listener and no add it asked for runs, and clears its rejoin mark once the leader
   * counts it as a voter. A node the configuration no longer names waits for an admin to add it.
   * Runs on the recovery thread; may block up to {@link #OUT_CONFIRM}.
   */
  private void rejoin() {
    StorageIdentity storage = server.storage();
    if (!storage.rejoining() || retiring.get() || !rejoinAdd.isDone()) {
      return;
    }
    String id = server.self().id();
    try {
      RaftServer.Division d = server.division();
      PeerIdentity.MemberRole role = admin.roleOf(id, OUT_CONFIRM);
      if (role == PeerIdentity.MemberRole.VOTER) {
        storage.rejoined();
        LOG.info("{}: re-added through the digest gate: a voter again", id);
        return;
      }
      boolean quiet = System.nanoTime() - rejoinLogged < VoterGuard.LOG_EVERY.toNanos();
      if (role == PeerIdentity.MemberRole.ABSENT) {
        if (!quiet) {
          rejoinLogged = System.nanoTime();
          LOG.warn(
              "{}: rejoining after its storage was wiped, but the cluster's configuration no"
                  + " longer names it: it runs as a listener until an admin adds it (ferry admin"
                  + " add)",
              id);
        }
        return;
      }
      // Catch up as a plain listener first (install, log): the add then only verifies and
      // promotes, and a leader change during the long part undoes no recorded change.
      long applied = d.getInfo().getLastAppliedIndex();
      boolean installing =
          server.installer().flatMap(MultiSourceInstaller::currentInstall).isPresent();
      if (applied < 0 || installing || applied < d.getRaftLog().getLastCommittedIndex()) {
        return;
      }
      Optional<PeerAddress> leader =
          Optional.ofNullable(d.getInfo().getLeaderId())
              .map(l -> d.getRaftConf().getPeer(l))
              .map(RaftPeers::fromRaftPeer);
      if (leader.isEmpty()) {
        return;
      }
      LOG.info("{}: asking the leader {} to add it through the digest gate", id, leader.get().id());
      CompletableFuture<Void> asked = new CompletableFuture<>();
      rejoinAdd = asked;
      Thread t =
          new Thread(
              () -> {
                try (AdminClient c =
                    AdminClient.connect(
                        leader.get(),
                        server.group().getGroupId().getUuid().toString(),
                        secret,
                        tls,
                        id)) {
                  c.add(new AddRequest(server.self(), REJOIN_ADD_DEADLINE), p -> {});
                } catch (IOException | RuntimeException e) {
                  LOG.warn("{}: the add it asked for failed (asking again): {}", id, e.toString());
                } finally {
                  asked.complete(null);
                }
              },
              "ferry-rejoin-" + id);
      t.setDaemon(true);
      t.start();
    } catch (IOException | RuntimeException e) {
      LOG.debug("{}: rejoin check: {}", id, e.toString());
    }
  }

  /**
   * Watches a rejoining node's replication, before and during the add it asks for: when its applied
   * index has not moved for {@link #REJOIN_IDLE_CHECKS} checks (no install running) and the leader
   * has committed past it, it asks the leader for an empty entry ({@link
   * MembershipAdmin#writeEmptyEntry}): in a quiet cluster the leader may still hold the match index
   * of its wiped disk and send it heartbeats only. Every {@link #NUDGES_BEFORE_TRANSFER}th time it
   * asks the leader to hand leadership to another voter instead ({@link
   * MembershipAdmin#moveLeadershipAway}): entries written and never sent mean the leader's appender
   * to it is stuck. Recovery thread.
   */
  private void watchRejoin() {
    if (!server.storage().rejoining() || retiring.get()) {
      return;
    }
    String id = server.self().id();
    try {
      long applied = server.division().getInfo().getLastAppliedIndex();
      boolean installing =
          server.installer().flatMap(MultiSourceInstaller::currentInstall).isPresent();
      if (installing || applied != rejoinApplied) {
        rejoinApplied = applied;
        rejoinIdle = 0;
        return;
      }
      if (++rejoinIdle < REJOIN_IDLE_CHECKS) {
        return;
      }
      rejoinIdle = 0;
      long leaderCommit = admin.leaderCommitIndex(OUT_CONFIRM);
      if (leaderCommit <= applied) {
        rejoinNudges = 0;
        return;
      }
      if (++rejoinNudges % NUDGES_BEFORE_TRANSFER == 0) {
        LOG.info(
            "{}: rejoining, and still nothing received after {} empty entries (applied {}, the"
                + " leader committed {}): asking the leader to hand leadership to another voter",
            id,
            NUDGES_BEFORE_TRANSFER - 1,
            applied,
            leaderCommit);
        admin.moveLeadershipAway(id, OUT_CONFIRM);
        return;
      }
      LOG.info(
          "{}: rejoining, and nothing received for {} s (applied {}, the leader committed {}):"
              + " asking the leader for an empty entry so that it resends the log",
          id,
          REJOIN_IDLE_CHECKS * RECOVERY_EVERY.toSeconds(),
          applied,
          leaderCommit);
      admin.writeEmptyEntry(id, OUT_CONFIRM);
    } catch (IOException | RuntimeException e) {
      LOG.debug("{}: rejoin watch: {}", id, e.toString());
    }
  }

  @Override
  public PeerIdentity identity(String about) {
    StorageIdentity storage = server.storage();
    boolean knowsGroup = false;
    Optional<PeerIdentity.MemberRole> role = Optional.empty();
    try {
      RaftConfiguration conf = server.division().getRaftConf();
      knowsGroup = true;
      role = Optional.of(roleIn(conf, about));
    } catch (IOException | RuntimeException e) {
      // The Raft server does not run yet: this node is fresh too.
    }
    return new PeerIdentity(
        server.self().id(),
        storage.rejoining() ? Optional.empty() : Optional.of(storage.id()),
        knowsGroup,
        storage.recorded(about),
        role);
  }

  private static PeerIdentity.MemberRole roleIn(RaftConfiguration conf, String id) {
    RaftPeerId peer = RaftPeerId.valueOf(id);
    if (conf.getCurrentPeers(RaftPeerRole.FOLLOWER).stream()
        .anyMatch(p -> p.getId().equals(peer))) {
      return PeerIdentity.MemberRole.VOTER;
    }
    return conf.getCurrentPeers(RaftPeerRole.LISTENER).stream()
            .anyMatch(p -> p.getId().equals(peer))
        ? PeerIdentity.MemberRole.LISTENER
        : PeerIdentity.MemberRole.ABSENT;
  }

  /**
   * The node's status. Its role is Ratis's, except {@code REJOINING} for a listener re-added after
   * its disk was wiped, and {@code WAITING} while a voter on fresh storage waits for its peers
   * before its Raft server may start ({@link VoterGuard}; then only its id and digest say more).
   */
  @Override
  public NodeStatus status() throws IOException {
    RaftServer.Division d;
    try {
      d = server.division();
    } catch (IOException e) {
      if (server.raftStarted()) {
        throw e;
      }
      return new NodeStatus(
          server.self().id(),
          WAITING,
          Optional.empty(),
          0,
          -1,
          -1,
          -1,
          digest().digest(),
          Optional.empty(),
          List.of(),
          Optional.empty(),
          List.of(),
          Optional.empty(),
          Optional.empty(),
          Optional.of(server.counters()),
          Optional.empty(),
          server.installer().map(i -> NodeStatus.Transfers.of(i.scheduler().stats())));
    }
    DivisionInfo info = d.getInfo();
    RaftConfiguration conf = d.getRaftConf();
    List<NodeStatus.Member> members = new ArrayList<>();
    for (RaftPeer p : sorted(conf.getCurrentPeers(RaftPeerRole.FOLLOWER))) {
      members.add(member(p, true));
    }
    for (RaftPeer p : sorted(conf.getCurrentPeers(RaftPeerRole.LISTENER))) {
      members.add(member(p, false));
    }
    DigestAt digest = digest();
    Optional<MultiSourceInstaller> installer = server.installer();
    Optional<InstallProgress> current = installer.flatMap(MultiSourceInstaller::currentInstall);
    Optional<InstallProgress> last =
        installer.map(MultiSourceInstaller::lastReport).map(MemberService::summary);
    return new NodeStatus(
        server.self().id(),
        server.storage().rejoining() ? REJOINING : info.getCurrentRole().name(),
        Optional.ofNullable(info.getLeaderId()).map(RaftPeerId::toString),
        info.getCurrentTerm(),
        info.getLastAppliedIndex(),
        d.getRaftLog().getLastCommittedIndex(),
        d.getRaftLog().getStartIndex(),
        digest.digest(),
        server.lastCheckpoint(),
        members,
        server.pendingMembershipChange(),
        info.isLeader()
            ? RaftPeers.staged(info.getRoleInfoProto(), id -> named(conf, id))
            : List.of(),
        current,
        last,
        Optional.of(server.counters()),
        Optional.of(server.recovery()),
        installer.map(i -> NodeStatus.Transfers.of(i.scheduler().stats())));
  }

  private DigestAt digest() throws IOException {
    try {
      return server.digest().get(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted reading the digest", e);
    } catch (java.util.concurrent.ExecutionException | TimeoutException e) {
      throw new IOException("cannot read the digest: " + e, e);
    }
  }

  /** Whether {@code conf} names {@code id}, as voter or listener, in its current or old part. */
  private static boolean named(RaftConfiguration conf, String id) {
    RaftPeerId peer = RaftPeerId.valueOf(id);
    return conf.getAllPeers(RaftPeerRole.FOLLOWER).stream().anyMatch(p -> p.getId().equals(peer))
        || conf.getAllPeers(RaftPeerRole.LISTENER).stream().anyMatch(p -> p.getId().equals(peer));
  }

  private static List<RaftPeer> sorted(java.util.Collection<RaftPeer> peers) {
    return peers.stream().sorted(Comparator.comparing(p -> p.getId().toString())).toList();
  }

  private static NodeStatus.Member member(RaftPeer p, boolean voter) {
    String address;
    try {
      address = RaftPeers.fromRaftPeer(p).toString();
    } catch (IllegalArgumentException e) {
      address = p.getId() + "=" + p.getAddress();
    }
    return new NodeStatus.Member(p.getId().toString(), address, voter);
  }

  private static InstallProgress summary(InstallReport r) {
    return new InstallProgress(
        r.index(),
        r.bytesWanted(),
        r.success() ? r.bytesWanted() : r.bytesHeld() + r.bytesFetched(),
        r.bytesPerSource(),
        r.duration());
  }

  @Override
  public CompletableFuture<AddResult> add(AddRequest request, Consumer<AddProgress> progress) {
    return admin.addMember(request, progress);
  }

  @Override
  public CompletableFuture<RemoveResult> remove(RemoveRequest request) {
    return admin.removeMember(request);
  }

  @Override
  public CompletableFuture<CancelResult> cancel(CancelRequest request, String by) {
    return admin.cancel(request, by);
  }

  /**
   * Asks the leader whether this node is still in the configuration before it stops (and maybe
   * wipes its state) on a RETIRE: the request proves only that its sender knows the cluster secret.
   * A node the leader's configuration still names, or that no leader answers for, stays.
   */
  @Override
  public void confirmRemoved(String reason) {
    String id = server.self().id();
    Optional<String> removedBy;
    try {
      removedBy = admin.removedBy(id, RETIRE_CONFIRM);
    } catch (IOException | RuntimeException e) {
      LOG.warn(
          "{}: told it was removed ({}), but no leader confirmed it ({}): not stopping",
          id,
          reason,
          e.getMessage());
      throw new IllegalStateException(
          id + " could not confirm with a leader that it was removed: " + e.getMessage(), e);
    }
    if (removedBy.isEmpty()) {
      LOG.warn(
          "{}: told it was removed ({}), but the leader's configuration still names it: not"
              + " stopping",
          id,
          reason);
      throw new IllegalStateException(id + " is still in the leader's configuration: not stopping");
    }
  }

  @Override
  public void retire(String reason, boolean wipe) {
    if (!retiring.compareAndSet(false, true)) {
      LOG.info("{}: already stopping; ignoring another removal ({})", server.self().id(), reason);
      return;
    }
    Thread t =
        new Thread(
            () -> {
              // A removal an admin asked for is an expected event; a failed addition is not.
              String msg = "{}: removed from the cluster ({}); stopping{}";
              String id = server.self().id();
              if (wipe) {
                LOG.warn(msg, id, reason, " and wiping its unverified state");
              } else {
                LOG.info(msg, id, reason, "");
              }
              try {
                server.retire(wipe);
              } catch (IOException | RuntimeException e) {
                LOG.error("{}: stopping after removal failed", server.self().id(), e);
              }
              retired.complete(reason);
            },
            "ferry-retire-" + server.self().id());
    t.setDaemon(false);
    t.start();
  }

  /** Deletes everything under {@code dir} (the directory itself stays). */
  static void wipe(Path dir) throws IOException {
    if (!Files.isDirectory(dir)) {
      return;
    }
    try (Stream<Path> walk = Files.walk(dir)) {
      for (Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
        if (!p.equals(dir)) {
          Files.delete(p);
        }
      }
    }
  }

  /** Stops the admin service, the recovery check and the client. */
  void close() {
    ticking.cancel(false);
    if (ownsRecovery) {
      recovery.shutdownNow();
    }
    adminServer.close();
    admin.close();
    try {
      raft.close();
    } catch (IOException e) {
      LOG.debug("closing the admin Raft client: {}", e.toString());
    }
  }
}
