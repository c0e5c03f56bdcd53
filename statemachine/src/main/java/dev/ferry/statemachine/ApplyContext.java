package dev.ferry.statemachine;

/**
 * What the framework tells a state machine about the command being applied, and how the state
 * machine reports its changes. Valid only during the {@code apply} call it was passed to.
 */
public interface ApplyContext {
  /** The command's Raft log index. */
  long index();

  /** The command's Raft term. */
  long term();

  /**
   * Reports that {@code key} changed from {@code oldValue} to {@code newValue} ({@code null} for
   * absent). A state machine that implements {@link ReportsChanges} must report every change, and
   * only real ones; others may ignore this method.
   */
  void changed(byte[] key, byte[] oldValue, byte[] newValue);
}
