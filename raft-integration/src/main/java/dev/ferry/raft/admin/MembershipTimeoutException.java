package dev.ferry.raft.admin;

/**
 * A membership change did not complete before its deadline. For an add, the node was then removed
 * from the configuration again (if that failed too, the failure is a suppressed exception).
 */
public final class MembershipTimeoutException extends MembershipException {
  private static final long serialVersionUID = 1L;

  public MembershipTimeoutException(String message, Throwable cause) {
    super(message, cause);
  }
}
