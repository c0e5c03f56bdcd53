package dev.ferry.raft.admin;

import dev.ferry.shipping.metrics.LabelledCounts;
import dev.ferry.statemachine.DigestAt;
import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The voters' half of an add's digest gate: before a new member may vote, the voters must have
 * recorded the leader's digest at the checkpoint. The rule: <b>every voter that answers must agree
 * with the leader</b> (a difference means the voters themselves diverged: the add fails), and <b>a
 * majority of the voters must answer</b> (else the add fails with {@link
 * MembershipTimeoutException}). A voter that does not answer is skipped; it never counts towards
 * the majority. The rule never needs a particular voter, so it never needs a dead one.
 *
 * <p>What this class decides is only how long to wait for each voter's answer:
 *
 * <ul>
 *   <li>a voter presumed present is asked first and waited for up to {@code voterWait} (15 s in
 *       {@link MembershipAdmin}), as before;
 *   <li>a voter presumed absent is asked after all the others, and only briefly once the majority
 *       is already reached: the node the add {@code replaces} (a replica move or a node
 *       replacement: that node is gone or about to leave) is asked once with {@code briefWait}, so
 *       that a live one (a drain) still has its digest compared; a voter the leader itself has not
 *       heard from for {@link #SILENT_AFTER} or more is not asked at all. While the majority is not
 *       reached yet, a presumed-absent voter is waited for {@code voterWait} like any other: its
 *       answer would be needed, and a wrong presumption must not fail an add that succeeds today.
 * </ul>
 *
 * <p>Which voters the leader cannot reach comes from the leader's own follower records: Ratis's
 * {@code RoleInfoProto.leaderInfo.followerInfo[].lastRpcElapsedTimeMs}, the time since the follower
 * last <em>answered</em> an append or heartbeat (Ratis's {@code
 * FollowerInfo.getLastRpcResponseTime}, reported by the group-info call the admin already makes to
 * read the configuration). A live follower answers a heartbeat every half of the minimum election
 * timeout (0.75 s by default); Ratis itself treats a staged follower silent for 3 maximum election
 * timeouts (9 s by default) as gone. {@link #SILENT_AFTER} is 10 s. A new leader's records start at
 * its election, so right after an election a dead follower looks live for up to 10 s and is then
 * waited for, as before; never the other way round.
 *
 * <p>Concurrency: stateless; {@link #verify} blocks its caller (the admin's change thread) for the
 * answers.
 */
final class VoterCheck {
  private static final Logger LOG = LoggerFactory.getLogger(VoterCheck.class);

  /** How long without an answer to the leader makes a voter presumed absent. */
  static final Duration SILENT_AFTER = Duration.ofSeconds(10);

  private VoterCheck() {}

  /**
   * One voter to ask, in the order asked.
   *
   * @param id the voter's id
   * @param absent why the voter is presumed absent, or empty if it is presumed present
   * @param ask whether to ask it at all once the majority is reached
   */
  record Voter(String id, String absent, boolean ask) {
    Voter {
      Objects.requireNonNull(id, "id");
      Objects.requireNonNull(absent, "absent");
    }

    boolean presumedAbsent() {
      return !absent.isEmpty();
    }
  }

  /** Asks one voter for its digest at the checkpoint. */
  interface Ask {
    /**
     * The digest {@code voter} recorded at the checkpoint.
     *
     * @throws MembershipTimeoutException if it has not answered by {@code until}
     */
    DigestAt digestOf(String voter, Instant until) throws IOException;
  }

  /**
   * The voters in the order to ask them: those presumed present in configuration order, then those
   * presumed absent — the node the add replaces ({@code replaces}, empty for a plain add), and any
   * voter whose last answer to the leader is {@link #SILENT_AFTER} or older ({@code
   * lastAnsweredMsAgo}, by follower id; the leader and unknown voters are presumed present).
   */
  static List<Voter> plan(
      List<String> voters, String replaces, Map<String, Long> lastAnsweredMsAgo) {
    List<Voter> present = new ArrayList<>();
    List<Voter> absent = new ArrayList<>();
    for (String v : voters) {
      Long silent = lastAnsweredMsAgo.get(v);
      if (silent != null && silent >= SILENT_AFTER.toMillis()) {
        absent.add(new Voter(v, "the leader last heard from it " + silent + " ms ago", false));
      } else if (v.equals(replaces)) {
        absent.add(new Voter(v, "the add replaces it", true));
      } else {
        present.add(new Voter(v, "", true));
      }
    }
    present.addAll(absent);
    return List.copyOf(present);
  }

  /**
   * Checks the rule above against {@code reference}, the digest the leader recorded at the
   * checkpoint, asking the voters of {@code plan} in order.
   *
   * @throws IllegalStateException if an answering voter recorded another digest
   * @throws MembershipTimeoutException if fewer than a majority answered, or at {@code deadline}
   */
  static void verify(
      List<Voter> plan,
      DigestAt reference,
      Instant deadline,
      Clock clock,
      Duration voterWait,
      Duration briefWait,
      Ask ask,
      LabelledCounts checkpoints)
      throws IOException {
    int agreeing = 0;
    List<String> silent = new ArrayList<>();
    List<String> skipped = new ArrayList<>();
    for (Voter v : plan) {
      boolean majority = agreeing > plan.size() / 2;
      if (majority && v.presumedAbsent() && !v.ask()) {
        skipped.add(v.id() + " (" + v.absent() + ")");
        continue;
      }
      Duration wait = majority && v.presumedAbsent() ? briefWait : voterWait;
      Instant until = clock.instant().plus(wait);
      try {
        DigestAt d = ask.digestOf(v.id(), min(until, deadline));
        if (!reference.equals(d)) {
          checkpoints.inc("voters_disagree");
          throw new IllegalStateException(
              "voter " + v.id() + " recorded " + d + " at checkpoint, the leader " + reference);
        }
        agreeing++;
      } catch (MembershipTimeoutException e) {
        if (clock.instant().isAfter(deadline)) {
          throw new MembershipTimeoutException(
              "deadline passed waiting for the voters' digests", null);
        }
        if (v.presumedAbsent()) {
          skipped.add(v.id() + " (" + v.absent() + "; no answer within " + wait + ")");
        } else {
          silent.add(v.id());
        }
      }
    }
    if (agreeing <= plan.size() / 2) {
      checkpoints.inc("no_quorum");
      throw new MembershipTimeoutException(
          "only "
              + agreeing
              + " of "
              + plan.size()
              + " voters answered the checkpoint (silent: "
              + silent
              + ", presumed absent: "
              + skipped
              + ")",
          null);
    }
    if (!silent.isEmpty()) {
      LOG.warn(
          "voters {} did not answer the checkpoint; {} of {} agree", silent, agreeing, plan.size());
    }
    if (!skipped.isEmpty()) {
      LOG.info(
          "{} of {} voters agree at the checkpoint; presumed absent and without an answer: {}",
          agreeing,
          plan.size(),
          skipped);
    }
  }

  private static Instant min(Instant a, Instant b) {
    return a.isBefore(b) ? a : b;
  }
}
