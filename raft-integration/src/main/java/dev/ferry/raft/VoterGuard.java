package dev.ferry.raft;

import dev.ferry.raft.admin.AdminClient;
import dev.ferry.raft.admin.MembershipAdmin;
import dev.ferry.raft.admin.PeerIdentity;
import dev.ferry.raft.admin.PeerIdentity.MemberRole;
import dev.ferry.shipping.PeerAddress;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps a node configured as a voter whose Raft storage is fresh from voting until its peers have
 * said it may: a voter whose disk was wiped and that restarts under its old id could otherwise,
 * with its empty log, vote into leadership a node that lacks entries the old disk acknowledged, and
 * committed writes would be lost (Raft's classic hazard).
 *
 * <p>Before the node's Raft server starts, it asks every peer ({@link AdminClient#identity}) what
 * it knows of it. Then ({@link #decide}):
 *
 * <ul>
 *   <li>a peer recorded another storage identity for it: its disk was wiped. It asks the leader to
 *       demote it to listener ({@link MembershipAdmin#demoteToListener}, committed without it),
 *       marks itself rejoining, and starts as a listener; {@code MemberService} then has it
 *       re-added through the digest gate;
 *   <li>a peer that holds the group's Raft state does not count it as a voter: it starts as a
 *       listener the same way (a removed node is not re-added on its own);
 *   <li>otherwise, once a majority of the group (itself included) has answered: a bootstrap, or a
 *       node late to one, that no peer ever saw: it starts as a voter;
 *   <li>otherwise it waits and asks again, logging at most one line per {@link #LOG_EVERY}.
 * </ul>
 *
 * <p>Peers learn each other's identities once both run (within seconds); a node wiped before any
 * peer learned its identity is not caught (docs/membership.md, "The window").
 *
 * <p>Concurrency: {@link #await} runs on one thread of the caller's; {@link #close} may be called
 * from any thread and ends the wait.
 */
final class VoterGuard {
  private static final Logger LOG = LoggerFactory.getLogger(VoterGuard.class);
  static final Duration LOG_EVERY = Duration.ofSeconds(10);
  private static final Duration RETRY = Duration.ofSeconds(1);
  private static final Duration DEMOTE_DEADLINE = Duration.ofSeconds(30);

  /** How the node's Raft server may start. */
  enum Start {
    VOTER,
    LISTENER
  }

  /** A decision and why. */
  record Verdict(Start start, String reason) {}

  /** Asks one peer what it knows of this node. */
  @FunctionalInterface
  interface Asker {
    PeerIdentity ask(PeerAddress peer) throws IOException;
  }

  private final PeerAddress self;
  private final List<PeerAddress> peers;
  private final StorageIdentity storage;
  private final Asker asker;
  private final MembershipAdmin admin;
  private volatile boolean closed;

  VoterGuard(
      PeerAddress self,
      List<PeerAddress> peers,
      StorageIdentity storage,
      Asker asker,
      MembershipAdmin admin) {
    this.self = self;
    this.peers = List.copyOf(peers);
    this.storage = storage;
    this.asker = asker;
    this.admin = admin;
  }

  /**
   * Decides from the peers' answers; empty to wait for more. Pure.
   *
   * @param selfId the node deciding
   * @param mine its (new) storage identity
   * @param groupSize how many nodes its group has, itself included
   * @param answers the answers of the peers that answered
   */
  static Optional<Verdict> decide(
      String selfId, String mine, int groupSize, List<PeerIdentity> answers) {
    for (PeerIdentity a : answers) {
      if (a.recorded().isPresent() && !a.recorded().get().equals(mine)) {
        return Optional.of(
            new Verdict(
                Start.LISTENER,
                selfId
                    + "'s storage was wiped but the cluster still counts "
                    + selfId
                    + " as a voter (storage id "
                    + a.recorded().get()
                    + ", as "
                    + a.nodeId()
                    + " recorded it; this disk's is "
                    + mine
                    + ")"));
      }
    }
    for (PeerIdentity a : answers) {
      Optional<MemberRole> role = a.role();
      if (a.knowsGroup() && role.isPresent() && role.get() != MemberRole.VOTER) {
        return Optional.of(
            new Verdict(
                Start.LISTENER,
                selfId
                    + " starts on a fresh disk but "
                    + a.nodeId()
                    + "'s configuration has it as "
                    + role.get().name().toLowerCase(java.util.Locale.ROOT)
                    + ", not as a voter"));
      }
    }
    if (answers.size() + 1 > groupSize / 2) {
      return Optional.of(
          new Verdict(
              Start.VOTER,
              selfId
                  + " starts on a fresh disk and no peer remembers another for it ("
                  + answers.stream().map(PeerIdentity::nodeId).toList()
                  + " answered)"));
    }
    return Optional.empty();
  }

  /**
   * Asks the peers until it can decide; for a wiped node, marks it rejoining and has the leader
   * demote it before returning. Blocks, possibly for long (peers down, no leader).
   *
   * @return how the Raft server may start, or empty if {@link #close}d first
   */
  Optional<Start> await() throws InterruptedException {
    long lastLog = 0;
    Verdict v = null;
    while (!closed) {
      List<PeerIdentity> answers = new ArrayList<>();
      List<String> silent = new ArrayList<>();
      for (PeerAddress p : peers) {
        if (p.id().equals(self.id())) {
          continue;
        }
        try {
          answers.add(asker.ask(p));
        } catch (IOException | RuntimeException e) {
          silent.add(p.id() + " (" + e.getMessage() + ")");
        }
      }
      Optional<Verdict> d = decide(self.id(), storage.id(), peers.size(), answers);
      if (d.isPresent()) {
        v = d.get();
        break;
      }
      if (System.nanoTime() - lastLog > LOG_EVERY.toNanos() || lastLog == 0) {
        lastLog = System.nanoTime();
        LOG.info(
            "{}: fresh storage: waiting for a majority of its group to answer before it may vote"
                + " (not answering: {})",
            self.id(),
            silent);
      }
      Thread.sleep(RETRY.toMillis());
    }
    if (v == null) {
      return Optional.empty();
    }
    if (v.start() == Start.VOTER) {
      LOG.info("{}: {}: starting as a voter", self.id(), v.reason());
      return Optional.of(Start.VOTER);
    }
    LOG.warn(
        "{}: {}; asking the leader to demote it and re-add it through the digest gate",
        self.id(),
        v.reason());
    try {
      storage.markRejoining(v.reason());
    } catch (IOException e) {
      // Without the mark a restart would ask the peers again and decide the same: not unsafe.
      LOG.warn("{}: cannot record that it rejoins: {}", self.id(), e.toString());
    }
    return demote() ? Optional.of(Start.LISTENER) : Optional.empty();
  }

  /** Has the leader demote this node until it is done; false if closed first. */
  boolean demote() throws InterruptedException {
    long lastLog = 0;
    while (!closed) {
      try {
        admin.demoteToListener(self, DEMOTE_DEADLINE);
        LOG.info("{}: the leader's configuration no longer counts it as a voter", self.id());
        return true;
      } catch (IOException | RuntimeException e) {
        if (System.nanoTime() - lastLog > LOG_EVERY.toNanos() || lastLog == 0) {
          lastLog = System.nanoTime();
          LOG.warn(
              "{}: cannot have the leader demote it yet ({}); not starting until it has",
              self.id(),
              e.getMessage());
        }
      }
      Thread.sleep(RETRY.toMillis());
    }
    return false;
  }

  /** Ends {@link #await} at its next step. */
  void close() {
    closed = true;
  }
}
