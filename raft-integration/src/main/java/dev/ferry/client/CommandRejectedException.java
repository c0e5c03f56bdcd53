package dev.ferry.client;

import dev.ferry.statemachine.ReplyStatus;
import java.util.Objects;

/**
 * The cluster answered a request with a refusal: {@link #status()} says which, {@link #reason()}
 * what the replicas said. The answer is part of the replicated state, so sending the same command
 * again gets the same answer. What each status means for the command's effect:
 *
 * <ul>
 *   <li>{@link ReplyStatus#APPLY_FAILED}: the state machine threw on it (on every replica alike);
 *       for a query, the state machine's {@code query} threw;
 *   <li>{@link ReplyStatus#TOO_MANY_OUTSTANDING}, {@link ReplyStatus#STALE_SEQUENCE}, {@link
 *       ReplyStatus#CONFLICT}: nothing was applied;
 *   <li>{@link ReplyStatus#SESSION_EXPIRED}: thrown as {@link SessionExpiredException}.
 * </ul>
 */
public class CommandRejectedException extends FerryClientException {
  private static final long serialVersionUID = 1L;

  private final ReplyStatus status;
  private final String reason;

  CommandRejectedException(ReplyStatus status, String reason, Throwable cause) {
    super(status + ": " + reason, cause);
    this.status = Objects.requireNonNull(status, "status");
    this.reason = Objects.requireNonNull(reason, "reason");
  }

  /** The replicated outcome; never {@link ReplyStatus#OK}. */
  public ReplyStatus status() {
    return status;
  }

  /** What the replicas said, e.g. what the state machine threw. */
  public String reason() {
    return reason;
  }
}
