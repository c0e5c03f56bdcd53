package dev.ferry.kv;

/**
 * No reply arrived before the operation's deadline. For a write the outcome is unknown: it may or
 * may not have been applied (a later retry with the same session would be deduplicated, but this
 * client does not retry past its deadline). {@link KvNotHereException}, a subclass, says that the
 * last node asked does not host the group at all.
 */
public class KvTimeoutException extends KvException {
  private static final long serialVersionUID = 1L;

  public KvTimeoutException(String message, Throwable cause) {
    super(message, cause);
  }
}
