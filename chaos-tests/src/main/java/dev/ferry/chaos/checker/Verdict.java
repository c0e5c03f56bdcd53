package dev.ferry.chaos.checker;

/** The outcome of a linearizability check, for one key or a whole history. */
public enum Verdict {
  /** Some total order of the operations respects real time and the sequential model. */
  LINEARIZABLE,
  /** No such order exists: the system violated linearizability. */
  NOT_LINEARIZABLE,
  /** The search ran out of its {@link Budget} before deciding. */
  UNKNOWN;

  /**
   * Combines verdicts of independent keys: NOT_LINEARIZABLE if either is, else UNKNOWN if either
   * is, else LINEARIZABLE.
   */
  Verdict and(Verdict other) {
    if (this == NOT_LINEARIZABLE || other == NOT_LINEARIZABLE) {
      return NOT_LINEARIZABLE;
    }
    if (this == UNKNOWN || other == UNKNOWN) {
      return UNKNOWN;
    }
    return LINEARIZABLE;
  }
}
