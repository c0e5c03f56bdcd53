package dev.ferry.client;

/**
 * A read (a query, a stale query, a digest query) got no answer before its deadline: no leader, the
 * node asked is down or unreachable, or the client closed while it waited. A read changes nothing,
 * so it is safe to ask again. The cause is the last attempt's failure.
 */
public final class ClusterUnavailableException extends FerryClientException {
  private static final long serialVersionUID = 1L;

  ClusterUnavailableException(String message, Throwable cause) {
    super(message, cause);
  }
}
