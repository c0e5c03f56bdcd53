package dev.ferry.raft.admin;

import dev.ferry.shipping.install.InstallProgress;
import dev.ferry.shipping.install.TransferScheduler;
import dev.ferry.snapshot.StateDigest;
import dev.ferry.statemachine.DigestAt;
import dev.ferry.statemachine.MembershipChange;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * One node's view of itself and the cluster, as its admin service reports it.
 *
 * @param id the node's id
 * @param role its Raft role: {@code LEADER}, {@code FOLLOWER}, {@code CANDIDATE} or {@code
 *     LISTENER}; or {@code REJOINING}, a listener being re-added after its disk was wiped, or
 *     {@code WAITING}, a voter on fresh storage whose Raft server waits for its peers
 *     (docs/membership.md)
 * @param leader the leader it knows of
 * @param term its current term
 * @param appliedIndex the last log index its state machine applied
 * @param commitIndex the last log index it knows committed
 * @param logStartIndex the first index still in its log (earlier entries were purged after a
 *     snapshot)
 * @param digest its state digest at {@code appliedIndex}
 * @param lastCheckpoint its digest at the latest digest checkpoint it applied: taken at the same
 *     log index on every replica, so replicas whose checkpoints have the same index must agree
 * @param members the configuration it knows, voters and listeners
 * @param pending the membership change recorded as pending in its replicated state
 * @param staged on a leader: the nodes Ratis stages for a configuration change that has not
 *     committed yet (each as {@code id (last answered N ms ago)}); Ratis refuses every other change
 *     meanwhile. Empty elsewhere, and from a node that does not report it
 * @param install the snapshot install it is running
 * @param lastInstall the last snapshot install it finished (bytes are per source; {@code bytesDone}
 *     is what it held at the end)
 * @param counters its counters of bad input since it started (empty from a node that does not
 *     report them)
 * @param recovery its log-retention holds and install rebases and alerts since it started (empty
 *     from a node that does not report them)
 * @param transfers its node's transfer scheduler, shared by all groups the node hosts: the installs
 *     running and queued (empty from a node that does not report it)
 */
public record NodeStatus(
    String id,
    String role,
    Optional<String> leader,
    long term,
    long appliedIndex,
    long commitIndex,
    long logStartIndex,
    StateDigest digest,
    Optional<DigestAt> lastCheckpoint,
    List<Member> members,
    Optional<MembershipChange> pending,
    List<String> staged,
    Optional<InstallProgress> install,
    Optional<InstallProgress> lastInstall,
    Optional<Counters> counters,
    Optional<Recovery> recovery,
    Optional<Transfers> transfers) {
  public NodeStatus {
    Objects.requireNonNull(recovery, "recovery");
    Objects.requireNonNull(transfers, "transfers");
    Objects.requireNonNull(id, "id");
    Objects.requireNonNull(role, "role");
    Objects.requireNonNull(leader, "leader");
    Objects.requireNonNull(digest, "digest");
    Objects.requireNonNull(lastCheckpoint, "lastCheckpoint");
    members = List.copyOf(members);
    Objects.requireNonNull(pending, "pending");
    staged = List.copyOf(staged);
    Objects.requireNonNull(install, "install");
    Objects.requireNonNull(lastInstall, "lastInstall");
    Objects.requireNonNull(counters, "counters");
  }

  /**
   * A node's transfer scheduler at one moment ({@link TransferScheduler.Stats}): the installs of
   * all the groups it hosts, those running and those waiting for a slot.
   *
   * @param maxActiveInstalls installs that may run at once ({@link Integer#MAX_VALUE}: unlimited)
   * @param bytesBudget chunk bytes that may be in flight ({@link Long#MAX_VALUE}: unlimited)
   * @param bytesInFlight chunk bytes requested and not yet written, over all installs
   * @param decodedBudget decoded chunk bytes all installs may keep ({@link Long#MAX_VALUE}:
   *     unlimited)
   * @param decodedBytes decoded chunk bytes they keep
   * @param activeCount installs running
   * @param active the first (at most {@link #LISTED}) of them, in the order admitted ({@code
   *     since}: running for)
   * @param queuedCount installs queued
   * @param queued the first (at most {@link #LISTED}) of them, in the order they will be admitted
   *     (the first is next; {@code since}: waiting for)
   */
  public record Transfers(
      int maxActiveInstalls,
      long bytesBudget,
      long bytesInFlight,
      long decodedBudget,
      long decodedBytes,
      int activeCount,
      List<TransferScheduler.Install> active,
      int queuedCount,
      List<TransferScheduler.Install> queued) {
    /** The most installs listed of each kind (the counts count all). */
    public static final int LISTED = 32;

    public Transfers {
      active = List.copyOf(active);
      queued = List.copyOf(queued);
      if (maxActiveInstalls < 1
          || bytesBudget < 0
          || bytesInFlight < 0
          || decodedBudget < 0
          || decodedBytes < 0) {
        throw new IllegalArgumentException("bad limits or figures: " + this);
      }
      if (active.size() > Math.min(activeCount, LISTED)
          || queued.size() > Math.min(queuedCount, LISTED)) {
        throw new IllegalArgumentException("more installs listed than counted: " + this);
      }
    }

    /**
     * The figures of {@code stats}, listing at most {@link #LISTED} installs of each kind, their
     * times to the millisecond.
     */
    public static Transfers of(TransferScheduler.Stats stats) {
      return new Transfers(
          stats.maxActiveInstalls(),
          stats.bytesBudget(),
          stats.bytesInFlight(),
          stats.decodedBudget(),
          stats.decodedBytes(),
          stats.activeInstalls().size(),
          first(stats.activeInstalls()),
          stats.queuedInstalls().size(),
          first(stats.queuedInstalls()));
    }

    /** The first {@link #LISTED}, their times to the millisecond (as the status carries them). */
    private static List<TransferScheduler.Install> first(List<TransferScheduler.Install> all) {
      return all.subList(0, Math.min(all.size(), LISTED)).stream()
          .map(
              i ->
                  new TransferScheduler.Install(
                      i.who(),
                      i.priority(),
                      Duration.ofMillis(i.since().toMillis()),
                      i.bytesHeld(),
                      i.decodedBytes()))
          .toList();
    }
  }

  /**
   * A node's log-retention holds and install rebases and alerts since it started (the same numbers
   * its metrics export).
   *
   * @param holdFloor the lowest floor of the retention holds its replica applies now, or {@code -1}
   *     if none stands
   * @param holdsPlaced holds its replica recorded as placed
   * @param holdExpiries holds that expired on its replica
   * @param rebases installs of this node that moved to a newer baseline
   * @param alerts install alerts this node raised
   */
  public record Recovery(
      long holdFloor, long holdsPlaced, long holdExpiries, long rebases, long alerts) {
    public Recovery {
      if (holdFloor < -1 || holdsPlaced < 0 || holdExpiries < 0 || rebases < 0 || alerts < 0) {
        throw new IllegalArgumentException("negative counter: " + this);
      }
    }
  }

  /**
   * A node's counters of bad input since it started (the same numbers its metrics export).
   *
   * @param refused connections to the node's service port (chunk and admin requests) refused:
   *     failed TLS or authentication, no authentication in time, over a connection limit
   * @param malformed connections to it closed for a malformed, truncated or out-of-place frame or a
   *     malformed admin request
   * @param quarantined chunks its store found corrupt and quarantined
   */
  public record Counters(long refused, long malformed, long quarantined) {
    public Counters {
      if (refused < 0 || malformed < 0 || quarantined < 0) {
        throw new IllegalArgumentException("negative counter: " + this);
      }
    }
  }

  /**
   * A member of the configuration.
   *
   * @param id its id
   * @param address {@code id=host:raftPort:chunkPort}
   * @param voter a voter, or else a listener
   */
  public record Member(String id, String address, boolean voter) {
    public Member {
      Objects.requireNonNull(id, "id");
      Objects.requireNonNull(address, "address");
    }
  }
}
