package dev.ferry.raft.admin;

/**
 * An admin request failed on the node that served it, for a reason other than the membership
 * exceptions (which the client rethrows as themselves): a malformed request, or a failure inside
 * the node. The message is the node's.
 */
public final class AdminException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  public AdminException(String message) {
    super(message);
  }
}
