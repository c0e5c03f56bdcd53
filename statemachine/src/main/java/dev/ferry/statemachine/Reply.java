package dev.ferry.statemachine;

import java.util.Objects;

/**
 * A command's reply as the replicated state recorded it.
 *
 * @param status the outcome
 * @param payload the state machine's reply bytes for {@link ReplyStatus#OK}, a UTF-8 message
 *     otherwise
 */
public record Reply(ReplyStatus status, byte[] payload) {
  public Reply {
    Objects.requireNonNull(status, "status");
    Objects.requireNonNull(payload, "payload");
  }

  /** A successful reply. */
  public static Reply ok(byte[] payload) {
    return new Reply(ReplyStatus.OK, payload);
  }

  /** A failed reply with a message. */
  public static Reply failed(ReplyStatus status, String message) {
    return new Reply(status, message.getBytes(java.nio.charset.StandardCharsets.UTF_8));
  }

  /** The payload as a UTF-8 message (for failed replies). */
  public String message() {
    return new String(payload, java.nio.charset.StandardCharsets.UTF_8);
  }
}
