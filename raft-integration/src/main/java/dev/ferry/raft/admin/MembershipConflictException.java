package dev.ferry.raft.admin;

/**
 * Another membership change is in progress on the same {@link MembershipAdmin}: one change at a
 * time. Nothing was done; retry once the other change completed.
 */
public final class MembershipConflictException extends MembershipException {
  private static final long serialVersionUID = 1L;

  public MembershipConflictException(String message) {
    super(message);
  }
}
