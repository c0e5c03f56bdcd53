package dev.ferry.client;

/**
 * A command got no reply before its deadline (or the calling thread was interrupted, or the client
 * closed, while it waited): it may or may not have been applied, and may still be. The client does
 * not retry it past the deadline; its sequence number stays unacknowledged in the session, so the
 * replicas keep its reply. The cause is the last attempt's failure.
 */
public final class OutcomeUnknownException extends FerryClientException {
  private static final long serialVersionUID = 1L;

  OutcomeUnknownException(String message, Throwable cause) {
    super(message, cause);
  }
}
