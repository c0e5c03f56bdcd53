package dev.ferry.statemachine.replica;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.statemachine.StateMachineConfig;
import org.junit.jupiter.api.Test;

class CapturePolicyTest {
  private final CapturePolicy policy =
      new CapturePolicy(
          StateMachineConfig.builder().captureEveryEntries(100).captureEveryBytes(1000).build());

  @Test
  void proposesOnceEitherThresholdIsReached() {
    assertFalse(policy.due(99, 999));
    assertTrue(policy.due(100, 0));
    assertTrue(policy.due(0, 1000));
    assertFalse(policy.claim(99, 999, 0, () -> true));
    assertTrue(policy.claim(100, 0, 0, () -> true));
  }

  @Test
  void oneProposalAtATimeUntilACaptureIsAppliedOrTheProposalFails() {
    assertTrue(policy.claim(100, 0, 0, () -> true));
    assertFalse(policy.claim(200, 0, 0, () -> true), "one in flight");
    policy.captureApplied();
    assertTrue(policy.claim(100, 0, 0, () -> true));
    policy.proposalFailed();
    assertTrue(policy.claim(100, 0, 0, () -> true));
  }

  @Test
  void onlyTheLeaderProposesAndNotWhileACaptureIsPending() {
    assertFalse(policy.claim(100, 0, 0, () -> false), "a follower");
    assertFalse(policy.claim(100, 0, 1, () -> true), "a capture is queued or running");
    assertFalse(
        policy.claim(
            1,
            0,
            0,
            () -> {
              throw new AssertionError("leadership is not asked for when nothing is due");
            }));
    assertTrue(policy.claim(100, 0, 0, () -> true));
  }
}
