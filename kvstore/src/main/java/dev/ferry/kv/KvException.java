package dev.ferry.kv;

import dev.ferry.statemachine.ReplyStatus;
import java.io.IOException;

/** The store refused or failed an operation; {@link #status()} says how. */
public class KvException extends IOException {
  private static final long serialVersionUID = 1L;

  private final ReplyStatus status;

  public KvException(ReplyStatus status, String message) {
    super(status + ": " + message);
    this.status = status;
  }

  KvException(String message, Throwable cause) {
    super(message, cause);
    this.status = null;
  }

  /** The replicated outcome, or {@code null} when no replica answered. */
  public ReplyStatus status() {
    return status;
  }
}
