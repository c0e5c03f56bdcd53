package dev.ferry.raft.ratis;

import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

/**
 * The guard finds the Ratis fields it replaces and re-triggers through (Ratis 3.3.0); its behaviour
 * on a real cluster is in kvstore's {@code IsolatedLeaderReadIT}.
 */
class ReadIndexGuardTest {
  @Test
  void findsRatissReadIndexFields() {
    assertTrue(ReadIndexGuard.available(), "ReadIndexGuard works on this Ratis version");
  }
}
