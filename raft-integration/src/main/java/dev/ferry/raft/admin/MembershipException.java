package dev.ferry.raft.admin;

/** A membership change did not happen; the subclass says why. */
public class MembershipException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public MembershipException(String message) {
    super(message);
  }

  public MembershipException(String message, Throwable cause) {
    super(message, cause);
  }
}
