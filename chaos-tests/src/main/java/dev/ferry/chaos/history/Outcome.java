package dev.ferry.chaos.history;

/** What the client learned about an operation it invoked. */
public enum Outcome {
  /** The operation took effect, once, somewhere between its invocation and its completion. */
  OK,
  /** The operation definitely did not take effect (for example, rejected before replication). */
  FAIL,
  /**
   * Indeterminate (timed out, connection lost): the operation may or may not have taken effect, at
   * any time after its invocation, even after the client gave up on it.
   */
  UNKNOWN
}
