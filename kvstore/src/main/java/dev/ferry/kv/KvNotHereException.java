package dev.ferry.kv;

import org.apache.ratis.protocol.exceptions.GroupMismatchException;

/**
 * The group is not where the client looked for it ("not here": Ratis's group mismatch): the peers
 * the client was given are out of date, e.g. a replica moved away. A routing client takes it as a
 * sign that its cluster map is stale. Thrown at once when every peer answered "not here" within one
 * pass over them ({@link dev.ferry.client.NotHereException}), or at the operation's deadline when
 * the last node asked answered so (some peers did not answer).
 *
 * <p>For a write, {@link #notApplied()} says whether it is known not to have been applied (it
 * reached no replica of the group: every send was answered "not here", which a node decides before
 * anything is appended); otherwise its outcome is unknown, as for any {@link KvTimeoutException}:
 * an earlier attempt may have reached a node that did host the group.
 */
public final class KvNotHereException extends KvTimeoutException {
  private static final long serialVersionUID = 1L;

  private final boolean notApplied;

  /** An exception with {@code message}, caused by {@code cause}; the outcome of a write unknown. */
  public KvNotHereException(String message, Throwable cause) {
    this(message, cause, false);
  }

  /**
   * An exception with {@code message}, caused by {@code cause}; {@code notApplied} if the operation
   * reached no replica of the group.
   */
  public KvNotHereException(String message, Throwable cause, boolean notApplied) {
    super(message, cause);
    this.notApplied = notApplied;
  }

  /**
   * Whether the operation reached no replica of the group (every send was answered "not here"): a
   * write was not applied and never will be, so it may be sent again to the group's new replicas
   * (with a new client: a new session). False: a write's outcome is unknown.
   */
  public boolean notApplied() {
    return notApplied;
  }

  /** Whether {@code failure}'s causes hold a node's "not here" (group mismatch) answer. */
  static boolean notHere(Throwable failure) {
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (t instanceof GroupMismatchException) {
        return true;
      }
      if (t.getCause() == t) {
        break;
      }
    }
    return false;
  }
}
