package dev.ferry.raft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.raft.admin.PeerIdentity;
import dev.ferry.raft.admin.PeerIdentity.MemberRole;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class VoterGuardTest {
  private static PeerIdentity answer(
      String id, boolean knowsGroup, String recorded, MemberRole role) {
    return new PeerIdentity(
        id,
        Optional.of("sid-" + id),
        knowsGroup,
        Optional.ofNullable(recorded),
        Optional.ofNullable(role));
  }

  @Test
  void aPeerRememberingAnotherStorageMeansTheNodeWasWiped() {
    Optional<VoterGuard.Verdict> v =
        VoterGuard.decide("n3", "new", 3, List.of(answer("n2", true, "old", MemberRole.VOTER)));
    assertEquals(VoterGuard.Start.LISTENER, v.orElseThrow().start());
    assertTrue(
        v.get().reason().startsWith("n3's storage was wiped but the cluster still counts n3"),
        v.get().reason());
  }

  @Test
  void aBootstrapOrALateJoinerNoPeerSawStartsAsAVoterOnceAMajorityAnswered() {
    assertEquals(Optional.empty(), VoterGuard.decide("n1", "a", 3, List.of()));
    assertEquals(
        VoterGuard.Start.VOTER,
        VoterGuard.decide("n1", "a", 3, List.of(answer("n2", false, null, null)))
            .orElseThrow()
            .start());
    assertEquals(
        VoterGuard.Start.VOTER,
        VoterGuard.decide("n3", "a", 3, List.of(answer("n1", true, null, MemberRole.VOTER)))
            .orElseThrow()
            .start());
    // Five nodes: two answers and itself make a majority, one answer does not.
    assertEquals(
        Optional.empty(),
        VoterGuard.decide("n5", "a", 5, List.of(answer("n1", true, null, MemberRole.VOTER))));
  }

  @Test
  void aNodeTheConfigurationNoLongerCountsAsAVoterStartsAsAListener() {
    assertEquals(
        VoterGuard.Start.LISTENER,
        VoterGuard.decide(
                "n3",
                "a",
                3,
                List.of(
                    answer("n1", true, null, MemberRole.VOTER),
                    answer("n2", true, null, MemberRole.ABSENT)))
            .orElseThrow()
            .start());
  }

  @Test
  void theStorageIdentityIsKeptUnlessTheRaftStorageIsFresh(@TempDir Path dir) throws Exception {
    StorageIdentity first = StorageIdentity.open(dir, true);
    assertEquals(first.id(), StorageIdentity.open(dir, false).id());
    assertNotEquals(first.id(), StorageIdentity.open(dir, true).id());

    StorageIdentity s = StorageIdentity.open(dir, false);
    assertEquals(Optional.empty(), s.record("n2", "x"));
    assertEquals(Optional.of("x"), s.record("n2", "y"));
    s.markRejoining("wiped");
    StorageIdentity reopened = StorageIdentity.open(dir, false);
    assertEquals(Optional.of("y"), reopened.recorded("n2"));
    assertTrue(reopened.rejoining());
    reopened.rejoined();
    assertEquals(false, StorageIdentity.open(dir, false).rejoining());
  }
}
