package dev.ferry.shipping.chunks;

import java.util.Objects;

/**
 * A chunk server answered a well-formed request with an error; the connection stays usable. (An
 * expired lease is reported as {@link dev.ferry.snapshot.store.LeaseExpiredException} instead.)
 */
public final class ChunkRequestException extends RuntimeException {
  private static final long serialVersionUID = 1L;

  /** Why the request failed. */
  public enum Code {
    /** No manifest at the requested index, or nothing retained for it. */
    NOT_FOUND,
    /** A value out of range, such as a lease duration. */
    BAD_REQUEST,
    /** The node is not ready to serve (for example still starting). */
    UNAVAILABLE,
    /** The server failed (for example a storage error); see its log. */
    INTERNAL,
    /** An admin request named a group the node does not serve (a wrong cluster name?). */
    UNKNOWN_GROUP
  }

  private final Code code;

  public ChunkRequestException(Code code, String message) {
    super(Objects.requireNonNull(code, "code") + ": " + message);
    this.code = code;
  }

  /** Why the request failed. */
  public Code code() {
    return code;
  }
}
