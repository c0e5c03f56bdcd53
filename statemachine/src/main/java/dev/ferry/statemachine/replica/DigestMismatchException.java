package dev.ferry.statemachine.replica;

import dev.ferry.snapshot.StateDigest;

/** A state's digest differs from the digest it must have. */
public final class DigestMismatchException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  private final transient StateDigest expected;
  private final transient StateDigest actual;

  public DigestMismatchException(String what, StateDigest expected, StateDigest actual) {
    super(what + ": digest " + actual.toHex() + " differs from expected " + expected.toHex());
    this.expected = expected;
    this.actual = actual;
  }

  /** The digest that was required. */
  public StateDigest expected() {
    return expected;
  }

  /** The digest found. */
  public StateDigest actual() {
    return actual;
  }
}
