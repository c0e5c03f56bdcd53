package dev.ferry.statemachine.replica;

import dev.ferry.statemachine.StateMachineConfig;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;

/**
 * When the leader proposes a snapshot capture: once {@link StateMachineConfig#captureEveryEntries}
 * commands or {@link StateMachineConfig#captureEveryBytes} command bytes were applied since the
 * last capture, on the leader only, with no capture of this replica queued or running, and with at
 * most one proposal in flight (until a capture entry is applied or the proposal fails).
 *
 * <p>Concurrency: {@link #claim} is called on the apply thread; {@link #captureApplied} on the
 * apply thread; {@link #proposalFailed} on any thread.
 */
final class CapturePolicy {
  private final long everyEntries;
  private final long everyBytes;
  private final AtomicBoolean proposed = new AtomicBoolean();

  CapturePolicy(StateMachineConfig config) {
    this.everyEntries = config.captureEveryEntries();
    this.everyBytes = config.captureEveryBytes();
  }

  /** Whether this much applied since the last capture calls for a new one. */
  boolean due(long commandsSinceCapture, long bytesSinceCapture) {
    return commandsSinceCapture >= everyEntries || bytesSinceCapture >= everyBytes;
  }

  /**
   * Whether to propose a capture now; if so, the proposal is in flight until {@link
   * #captureApplied} or {@link #proposalFailed}.
   *
   * @param pendingCaptures captures of this replica queued or running
   */
  boolean claim(
      long commandsSinceCapture,
      long bytesSinceCapture,
      long pendingCaptures,
      BooleanSupplier leader) {
    return due(commandsSinceCapture, bytesSinceCapture)
        && pendingCaptures == 0
        && leader.getAsBoolean()
        && proposed.compareAndSet(false, true);
  }

  /** A capture entry was applied: a new proposal may follow. */
  void captureApplied() {
    proposed.set(false);
  }

  /** The proposal was not accepted: a new one may follow. */
  void proposalFailed() {
    proposed.set(false);
  }
}
