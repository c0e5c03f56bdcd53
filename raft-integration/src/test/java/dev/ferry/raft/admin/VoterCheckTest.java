package dev.ferry.raft.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.shipping.metrics.LabelledCounts;
import dev.ferry.snapshot.StateDigest;
import dev.ferry.statemachine.DigestAt;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The voters' digest rule and how long it waits for whom, with a fake clock and fake voters. */
class VoterCheckTest {
  private static final Duration VOTER_WAIT = Duration.ofSeconds(15);
  private static final Duration BRIEF = Duration.ofSeconds(1);
  private static final DigestAt REFERENCE = new DigestAt(3, 100, digest(1));

  @Test
  void theNodeAMoveReplacesIsAskedLastAndBrieflyOnceTheMajorityAgrees() throws Exception {
    Voters voters = new Voters(Set.of("n2"), Map.of());
    List<VoterCheck.Voter> plan = VoterCheck.plan(List.of("n1", "n2", "n3"), "n2", Map.of());
    assertEquals(List.of("n1", "n3", "n2"), plan.stream().map(VoterCheck.Voter::id).toList());

    voters.verify(plan);

    assertEquals(List.of("n1", "n3", "n2"), voters.asked);
    assertEquals(BRIEF, voters.waited.get("n2"), "the dead replaced voter is not waited 15 s for");
    assertTrue(voters.clock.elapsed().compareTo(Duration.ofSeconds(2)) < 0, "took " + voters.clock);
    assertEquals(0, voters.counts.get("no_quorum"));
  }

  @Test
  void aVoterTheLeaderHasNotHeardFromIsNotAskedOnceTheMajorityAgrees() throws Exception {
    Map<String, Long> lastAnswered = Map.of("n2", 12_000L, "n3", 200L);
    Voters voters = new Voters(Set.of("n2"), Map.of());
    List<VoterCheck.Voter> plan = VoterCheck.plan(List.of("n1", "n2", "n3"), "", lastAnswered);

    voters.verify(plan);

    assertEquals(List.of("n1", "n3"), voters.asked);
    assertEquals(Duration.ZERO, voters.clock.elapsed());
  }

  @Test
  void aVoterSilentForLessThanTheThresholdIsWaitedForAsBefore() throws Exception {
    Map<String, Long> lastAnswered = Map.of("n2", VoterCheck.SILENT_AFTER.toMillis() - 1);
    Voters voters = new Voters(Set.of("n2"), Map.of());
    voters.verify(VoterCheck.plan(List.of("n1", "n2", "n3"), "", lastAnswered));

    assertEquals(VOTER_WAIT, voters.waited.get("n2"));
  }

  @Test
  void aLiveReplacedVoterStillHasItsDigestCompared() {
    Voters voters = new Voters(Set.of(), Map.of("n2", new DigestAt(3, 100, digest(2))));
    List<VoterCheck.Voter> plan = VoterCheck.plan(List.of("n1", "n2", "n3"), "n2", Map.of());

    IllegalStateException e = assertThrows(IllegalStateException.class, () -> voters.verify(plan));

    assertTrue(e.getMessage().contains("voter n2"), e.getMessage());
    assertEquals(1, voters.counts.get("voters_disagree"));
  }

  @Test
  void presumedAbsentVotersAreWaitedForWhenTheMajorityNeedsThem() throws Exception {
    // 5 voters: n4 is replaced and n5 silent at the leader, n3 down. n1 and n2 agree: 2 of 5 is no
    // majority, so n4 (alive after all) is waited for as long as any voter; n5 is then not asked.
    Map<String, Long> lastAnswered = Map.of("n5", 60_000L);
    Voters voters = new Voters(Set.of("n3"), Map.of());
    List<VoterCheck.Voter> plan =
        VoterCheck.plan(List.of("n1", "n2", "n3", "n4", "n5"), "n4", lastAnswered);
    assertEquals(
        List.of("n1", "n2", "n3", "n4", "n5"), plan.stream().map(VoterCheck.Voter::id).toList());

    voters.verify(plan);

    assertEquals(VOTER_WAIT, voters.waited.get("n4"), "the majority needed n4's answer");
    assertEquals(List.of("n1", "n2", "n3", "n4"), voters.asked);
  }

  @Test
  void withoutAMajorityOfAnswersTheCheckFailsAsBefore() {
    Voters voters = new Voters(Set.of("n2", "n3"), Map.of());
    List<VoterCheck.Voter> plan = VoterCheck.plan(List.of("n1", "n2", "n3"), "n2", Map.of());

    MembershipTimeoutException e =
        assertThrows(MembershipTimeoutException.class, () -> voters.verify(plan));

    assertTrue(e.getMessage().contains("only 1 of 3"), e.getMessage());
    assertEquals(VOTER_WAIT, voters.waited.get("n2"), "the majority needed n2's answer");
    assertEquals(1, voters.counts.get("no_quorum"));
  }

  private static StateDigest digest(int b) {
    byte[] bytes = new byte[StateDigest.LENGTH];
    bytes[0] = (byte) b;
    return StateDigest.fromBytes(bytes);
  }

  /** Fake voters: the dead ones never answer (time runs to the wait's end), the others at once. */
  private static final class Voters {
    final FakeClock clock = new FakeClock();
    final Set<String> dead;
    final Map<String, DigestAt> answers;
    final List<String> asked = new ArrayList<>();
    final Map<String, Duration> waited = new LinkedHashMap<>();
    final LabelledCounts counts = new LabelledCounts("result");

    Voters(Set<String> dead, Map<String, DigestAt> answers) {
      this.dead = dead;
      this.answers = answers;
    }

    void verify(List<VoterCheck.Voter> plan) throws Exception {
      VoterCheck.verify(
          plan,
          REFERENCE,
          clock.instant().plus(Duration.ofMinutes(5)),
          clock,
          VOTER_WAIT,
          BRIEF,
          (voter, until) -> {
            asked.add(voter);
            waited.put(voter, Duration.between(clock.instant(), until));
            if (dead.contains(voter)) {
              clock.now = until;
              throw new MembershipTimeoutException("no answer from " + voter, null);
            }
            return answers.getOrDefault(voter, REFERENCE);
          },
          counts);
    }
  }

  private static final class FakeClock extends Clock {
    private final Instant start = Instant.parse("2026-01-01T00:00:00Z");
    Instant now = start;

    Duration elapsed() {
      return Duration.between(start, now);
    }

    @Override
    public Instant instant() {
      return now;
    }

    @Override
    public java.time.ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(java.time.ZoneId zone) {
      return this;
    }

    @Override
    public String toString() {
      return "FakeClock(+" + elapsed() + ")";
    }
  }
}
