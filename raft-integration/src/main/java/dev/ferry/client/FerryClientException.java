package dev.ferry.client;

/**
 * A {@link FerryClient} call did not get the answer it asked for. Unchecked; the subclass says what
 * is known about the request's effect:
 *
 * <ul>
 *   <li>{@link OutcomeUnknownException}: a command may or may not have been applied;
 *   <li>{@link CommandRejectedException} (and {@link SessionExpiredException}): the cluster
 *       answered with a refusal, recorded like any reply;
 *   <li>{@link ClusterUnavailableException}: a read got no answer; it changed nothing;
 *   <li>{@link NotHereException}: no peer the client knows hosts the group (its peers are out of
 *       date); whether a command reached a replica is {@link NotHereException#reachedNoReplica()}.
 * </ul>
 *
 * Misuse (a null argument, a closed client) is not one of these: it throws {@link
 * NullPointerException}, {@link IllegalArgumentException} or {@link IllegalStateException}.
 */
public abstract class FerryClientException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  FerryClientException(String message, Throwable cause) {
    super(message, cause);
  }
}
