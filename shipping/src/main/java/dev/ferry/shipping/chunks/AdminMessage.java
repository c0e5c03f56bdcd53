package dev.ferry.shipping.chunks;

import java.util.Objects;

/**
 * One admin message carried by the chunk service for a higher layer: a kind byte and an opaque body
 * that only that layer interprets (see {@link AdminHandler}). The service frames, bounds and routes
 * it by group; it never looks inside the body.
 *
 * @param kind what the message is, 0..255 (the admin layer's numbering)
 * @param body its encoding, at most {@value #MAX_BODY} bytes (owned by the message, not copied)
 */
public record AdminMessage(int kind, byte[] body) {
  /** Largest body, so that a request with its header stays within a request frame. */
  public static final int MAX_BODY = 60 << 10;

  /**
   * Validates.
   *
   * @throws IllegalArgumentException if {@code kind} is not 0..255 or the body is too long
   */
  public AdminMessage {
    Objects.requireNonNull(body, "body");
    if (kind < 0 || kind > 0xff) {
      throw new IllegalArgumentException("admin message kind out of range 0..255: " + kind);
    }
    if (body.length > MAX_BODY) {
      throw new IllegalArgumentException(
          "admin message body of " + body.length + " bytes, at most " + MAX_BODY);
    }
  }
}
