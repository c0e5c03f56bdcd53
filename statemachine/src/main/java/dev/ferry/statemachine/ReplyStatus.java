package dev.ferry.statemachine;

/** The outcome of a command as recorded in the replicated state; part of every reply. */
public enum ReplyStatus {
  /** The command was applied (now or earlier: a duplicate gets the stored reply). */
  OK((byte) 0),
  /**
   * The state machine's {@code apply} threw. The failure is deterministic and recorded like any
   * reply, so a retry gets the same answer; the message says what was thrown.
   */
  APPLY_FAILED((byte) 1),
  /**
   * The client's session expired (or never existed) and the command's sequence shows earlier
   * commands were sent: whether those were applied cannot be known any more. Open a new session.
   */
  SESSION_EXPIRED((byte) 2),
  /** The client has too many unacknowledged commands in flight; nothing was applied. */
  TOO_MANY_OUTSTANDING((byte) 3),
  /** The sequence number was already acknowledged by the client; nothing was applied. */
  STALE_SEQUENCE((byte) 4),
  /**
   * A membership command conflicts with the replicated record: another change is pending, or the
   * change it names is no longer pending. Nothing was applied; the message says what is pending.
   */
  CONFLICT((byte) 5);

  private final byte code;

  ReplyStatus(byte code) {
    this.code = code;
  }

  /** The one-byte code on the wire. */
  public byte code() {
    return code;
  }

  /**
   * The status with this code.
   *
   * @throws IllegalArgumentException for an unknown code
   */
  public static ReplyStatus ofCode(byte code) {
    for (ReplyStatus s : values()) {
      if (s.code == code) {
        return s;
      }
    }
    throw new IllegalArgumentException("unknown reply status " + code);
  }
}
