package dev.ferry.raft.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class HealthTest {

  @Test
  void readyOnlyAsAVoterThatKnowsALeaderAndIsNotInstalling() {
    assertTrue(Health.of("FOLLOWER", true, "n1", false).ready());
    assertEquals("not a voting member", Health.of("LISTENER", false, "n1", false).reason());
    assertEquals("no leader known", Health.of("CANDIDATE", true, null, false).reason());
    Health installing = Health.of("FOLLOWER", true, "n1", true);
    assertFalse(installing.ready());
    assertEquals("installing a snapshot", installing.reason());
  }

  @Test
  void jsonEscapesAndWritesNullForNoLeader() {
    assertEquals(
        "{\"live\":true,\"ready\":false,\"role\":\"UNKNOWN\",\"member\":false,\"leader\":null,"
            + "\"installing\":false,\"reason\":\"a \\\"quoted\\\" reason\"}",
        new Health(false, "UNKNOWN", false, null, false, "a \"quoted\" reason").toJson());
  }
}
