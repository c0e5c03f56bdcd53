package dev.ferry.client;

import dev.ferry.statemachine.ReplyStatus;

/**
 * The client's session is gone from the replicated state (it was idle past the servers' session
 * expiry, measured in log entries) while earlier commands of it were unacknowledged: whether those
 * were applied cannot be known any more, and this command was not applied. Every later command of
 * this client fails the same way: close it and build a new client (a new session). Status {@link
 * ReplyStatus#SESSION_EXPIRED}.
 */
public final class SessionExpiredException extends CommandRejectedException {
  private static final long serialVersionUID = 1L;

  SessionExpiredException(String reason) {
    super(ReplyStatus.SESSION_EXPIRED, reason, null);
  }
}
