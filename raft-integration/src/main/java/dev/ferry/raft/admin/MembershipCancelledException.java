package dev.ferry.raft.admin;

/**
 * The add was cancelled by an admin ({@link MembershipAdmin#cancel}, {@code ferry admin cancel})
 * before its node was verified. The canceller undoes it: the node is removed from the configuration
 * and stops.
 */
public final class MembershipCancelledException extends MembershipException {
  private static final long serialVersionUID = 1L;

  public MembershipCancelledException(String message) {
    super(message);
  }
}
