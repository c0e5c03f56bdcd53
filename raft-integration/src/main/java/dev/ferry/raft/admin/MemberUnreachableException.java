package dev.ferry.raft.admin;

/**
 * An add was refused before it changed anything: the node to add did not answer on its admin
 * service, answered as another node, or failed authentication (a wrong cluster secret). The message
 * names the cause and what to check.
 */
public final class MemberUnreachableException extends MembershipException {
  private static final long serialVersionUID = 1L;

  public MemberUnreachableException(String message, Throwable cause) {
    super(message, cause);
  }
}
