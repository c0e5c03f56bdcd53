package dev.ferry.statemachine;

import java.nio.ByteBuffer;
import java.util.Arrays;

/**
 * The envelope of every Raft log entry and query a replica ({@link
 * dev.ferry.statemachine.replica.Replica}) handles. Clients use it to wrap their commands in a
 * session ({@code ClientId}, sequence number, lowest sequence still unacknowledged) and to read
 * replies.
 *
 * <p>Log entry layouts (big-endian):
 *
 * <ul>
 *   <li>user command: {@code 0x01, clientHigh:i64, clientLow:i64, seq:i64, firstUnacked:i64,
 *       payload}
 *   <li>capture: {@code 0x02} — every replica captures a snapshot at this entry's index
 *   <li>digest checkpoint: {@code 0x03, id:i64} — every replica records its digest at this index
 *   <li>membership record: {@code 0x04, 0x01, kind:u8, id:i64, node:text, address:text
 *       [replaces:text]} begins a change (the optional trailing {@code replaces}, for an add that
 *       replaces a node, is absent from older entries and from a plain add's), {@code 0x04, 0x02,
 *       id:i64, phase:u8} advances it, {@code 0x04, 0x03, id:i64} ends it, {@code 0x04, 0x04,
 *       id:i64, by:text} cancels it (text is {@code u16 length, UTF-8}); see {@link
 *       MembershipChange}
 *   <li>retention hold: {@code 0x05, 0x01, owner:text, floor:i64} places or renews {@code owner}'s
 *       hold at {@code floor}, {@code 0x05, 0x02, owner:text} releases it; see {@link
 *       RetentionHold}
 * </ul>
 *
 * Query layouts: {@code 0x10, payload} (a user query), {@code 0x11} (applied index and digest),
 * {@code 0x12, id:i64} (a recorded digest checkpoint), {@code 0x13} (the pending membership
 * change).
 *
 * <p>Stateless and thread-safe.
 */
public final class CommandCodec {
  /** Kind byte of a user command (the layouts above); the replica engine dispatches on these. */
  public static final byte USER = 0x01;

  /** Kind byte of a capture command. */
  public static final byte CAPTURE = 0x02;

  /** Kind byte of a digest checkpoint. */
  public static final byte CHECKPOINT = 0x03;

  /** Kind byte of a user query. */
  public static final byte QUERY_USER = 0x10;

  /** Kind byte of a digest query. */
  public static final byte QUERY_DIGEST = 0x11;

  /** Kind byte of a checkpoint query. */
  public static final byte QUERY_CHECKPOINT = 0x12;

  /** Kind byte of a membership query. */
  public static final byte QUERY_MEMBERSHIP = 0x13;

  /** Kind byte of a membership record. */
  public static final byte MEMBERSHIP = 0x04;

  /** Membership record operation: begin. */
  public static final byte MEMBERSHIP_BEGIN = 0x01;

  /** Membership record operation: advance a phase. */
  public static final byte MEMBERSHIP_ADVANCE = 0x02;

  /** Membership record operation: end. */
  public static final byte MEMBERSHIP_END = 0x03;

  /** Membership record operation: cancel. */
  public static final byte MEMBERSHIP_CANCEL = 0x04;

  /** Membership record operation: begin, only if the entry is of a given term. */
  public static final byte MEMBERSHIP_BEGIN_IN_TERM = 0x05;

  /** Kind byte of a retention hold record. */
  public static final byte HOLD = 0x05;

  /** Retention hold operation: place or renew. */
  public static final byte HOLD_RENEW = 0x01;

  /** Retention hold operation: release. */
  public static final byte HOLD_RELEASE = 0x02;

  /** Length of a user command's header (kind, client id, sequence, first unacknowledged). */
  public static final int USER_HEADER = 1 + 4 * Long.BYTES;

  private CommandCodec() {}

  /**
   * Wraps a state machine command in a session envelope.
   *
   * @param seq this command's sequence number in the session, {@code >= 1}, one higher than the
   *     previous command's
   * @param firstUnacked the lowest sequence number whose reply the client has not yet received,
   *     {@code 1 <= firstUnacked <= seq}; replies below it are forgotten by the replicas
   */
  public static byte[] userCommand(ClientId client, long seq, long firstUnacked, byte[] payload) {
    if (seq < 1) {
      throw new IllegalArgumentException("seq must be >= 1: " + seq);
    }
    if (firstUnacked < 1 || firstUnacked > seq) {
      throw new IllegalArgumentException(
          "firstUnacked must be in [1, seq=" + seq + "]: " + firstUnacked);
    }
    ByteBuffer b = ByteBuffer.allocate(USER_HEADER + payload.length);
    b.put(USER).putLong(client.high()).putLong(client.low()).putLong(seq).putLong(firstUnacked);
    b.put(payload);
    return b.array();
  }

  /** The command that makes every replica capture a snapshot at its log index. */
  public static byte[] captureCommand() {
    return new byte[] {CAPTURE};
  }

  /** The command that makes every replica record its state digest at its log index. */
  public static byte[] digestCheckpoint(long id) {
    return ByteBuffer.allocate(1 + Long.BYTES).put(CHECKPOINT).putLong(id).array();
  }

  /**
   * The command that records the beginning of a membership change, in phase {@link
   * MembershipChange.Phase#STARTED}. Its reply is {@link ReplyStatus#CONFLICT} if another change is
   * pending; beginning the same change again is a no-op. The reply payload is the pending change
   * ({@link #decodeMembershipReply}).
   */
  public static byte[] membershipBegin(
      long id, MembershipChange.Kind kind, String nodeId, String address) {
    return membershipBegin(id, kind, nodeId, address, "");
  }

  /**
   * Like {@link #membershipBegin(long, MembershipChange.Kind, String, String)}, for an add that
   * replaces node {@code replaces} (a replica move; empty for a plain add): the record then holds
   * the move's intent ({@link MembershipChange#replaces}). A command with an empty {@code replaces}
   * is encoded exactly as before the field existed.
   *
   * @throws IllegalArgumentException if a field is invalid (see {@link MembershipChange})
   */
  public static byte[] membershipBegin(
      long id, MembershipChange.Kind kind, String nodeId, String address, String replaces) {
    // Validates the fields the same way the record does.
    MembershipChange c =
        new MembershipChange(
            id, kind, nodeId, address, MembershipChange.Phase.STARTED, 0, 0, "", replaces);
    byte[] node = c.nodeId().getBytes(java.nio.charset.StandardCharsets.UTF_8);
    byte[] addr = c.address().getBytes(java.nio.charset.StandardCharsets.UTF_8);
    byte[] repl = c.replaces().getBytes(java.nio.charset.StandardCharsets.UTF_8);
    ByteBuffer b =
        ByteBuffer.allocate(
                2
                    + 1
                    + Long.BYTES
                    + 2
                    + node.length
                    + 2
                    + addr.length
                    + (repl.length == 0 ? 0 : 2 + repl.length))
            .put(MEMBERSHIP)
            .put(MEMBERSHIP_BEGIN)
            .put((byte) kind.ordinal())
            .putLong(id)
            .putShort((short) node.length)
            .put(node)
            .putShort((short) addr.length)
            .put(addr);
    if (repl.length > 0) {
      b.putShort((short) repl.length).put(repl);
    }
    return b.array();
  }

  /**
   * Like {@link #membershipBegin(long, MembershipChange.Kind, String, String, String)}, but the
   * change begins only if the command's log entry is of term {@code term}: the term of the leader
   * the driver saw when it decided to begin. An entry of another term — a client that re-sent the
   * command to the next leader after the one it asked lost its leadership — is refused with {@link
   * ReplyStatus#CONFLICT} and records nothing, so a change is never begun in a term whose leader
   * does not know its driver (a change of the leader's own term is not taken over by it). If the
   * same change is already pending the command is a no-op, as the unfenced begin.
   *
   * @throws IllegalArgumentException if a field is invalid (see {@link MembershipChange}) or {@code
   *     term} is not positive
   */
  public static byte[] membershipBeginInTerm(
      long term,
      long id,
      MembershipChange.Kind kind,
      String nodeId,
      String address,
      String replaces) {
    if (term <= 0) {
      throw new IllegalArgumentException("term must be positive: " + term);
    }
    byte[] begin = membershipBegin(id, kind, nodeId, address, replaces);
    return ByteBuffer.allocate(begin.length + Long.BYTES)
        .put(MEMBERSHIP)
        .put(MEMBERSHIP_BEGIN_IN_TERM)
        .putLong(term)
        .put(begin, 2, begin.length - 2)
        .array();
  }

  /**
   * The command that moves pending change {@code id} to {@code phase}. Its reply is {@link
   * ReplyStatus#CONFLICT} if that change is not pending (ended, or undone by a new leader).
   */
  public static byte[] membershipAdvance(long id, MembershipChange.Phase phase) {
    return ByteBuffer.allocate(2 + Long.BYTES + 1)
        .put(MEMBERSHIP)
        .put(MEMBERSHIP_ADVANCE)
        .putLong(id)
        .put((byte) phase.ordinal())
        .array();
  }

  /**
   * The command that cancels pending add {@code id} on behalf of {@code by}: it moves to {@link
   * MembershipChange.Phase#CANCELLED}, after which it never advances again. Its reply is {@link
   * ReplyStatus#CONFLICT} if that change is not pending, is a remove, or was already verified
   * (promotion follows a verification; too late to cancel); cancelling a cancelled change again is
   * a no-op. The reply payload is the pending change ({@link #decodeMembershipReply}).
   */
  public static byte[] membershipCancel(long id, String by) {
    byte[] who = by.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    if (by.isBlank() || who.length > 1024) {
      throw new IllegalArgumentException("by must be 1-1024 bytes, not blank: '" + by + "'");
    }
    return ByteBuffer.allocate(2 + Long.BYTES + 2 + who.length)
        .put(MEMBERSHIP)
        .put(MEMBERSHIP_CANCEL)
        .putLong(id)
        .putShort((short) who.length)
        .put(who)
        .array();
  }

  /** The command that ends pending change {@code id}; a no-op if it is not pending. */
  public static byte[] membershipEnd(long id) {
    return ByteBuffer.allocate(2 + Long.BYTES)
        .put(MEMBERSHIP)
        .put(MEMBERSHIP_END)
        .putLong(id)
        .array();
  }

  /**
   * The command that places {@code owner}'s retention hold at {@code floor}, or renews it if it
   * stands at that floor (a different floor replaces it: a new hold). Its reply payload is the hold
   * as recorded ({@link #decodeHoldReply}).
   *
   * @throws IllegalArgumentException if {@code floor < 0} or the owner is empty or too long
   */
  public static byte[] holdRenew(String owner, long floor) {
    if (floor < 0) {
      throw new IllegalArgumentException("floor < 0: " + floor);
    }
    byte[] o = ownerBytes(owner);
    return ByteBuffer.allocate(2 + 2 + o.length + Long.BYTES)
        .put(HOLD)
        .put(HOLD_RENEW)
        .putShort((short) o.length)
        .put(o)
        .putLong(floor)
        .array();
  }

  /** The command that releases {@code owner}'s retention hold; a no-op if it has none. */
  public static byte[] holdRelease(String owner) {
    byte[] o = ownerBytes(owner);
    return ByteBuffer.allocate(2 + 2 + o.length)
        .put(HOLD)
        .put(HOLD_RELEASE)
        .putShort((short) o.length)
        .put(o)
        .array();
  }

  private static byte[] ownerBytes(String owner) {
    byte[] o = owner.getBytes(java.nio.charset.StandardCharsets.UTF_8);
    if (o.length == 0 || o.length > 0xffff) {
      throw new IllegalArgumentException("hold owner must be 1..65535 bytes: '" + owner + "'");
    }
    return o;
  }

  /** Encodes a hold as a reply payload ({@link #decodeHoldReply}). */
  public static byte[] encodeHoldReply(RetentionHold h) {
    byte[] o = ownerBytes(h.owner());
    return ByteBuffer.allocate(2 + o.length + 4 * Long.BYTES)
        .putShort((short) o.length)
        .put(o)
        .putLong(h.floor())
        .putLong(h.placedAt())
        .putLong(h.renewedAt())
        .putLong(h.logBytes())
        .array();
  }

  /**
   * Decodes the payload of a {@link #holdRenew} reply: the hold as the replicas recorded it.
   *
   * @throws IllegalArgumentException if the bytes are not such a payload
   */
  public static RetentionHold decodeHoldReply(byte[] payload) {
    try {
      ByteBuffer b = ByteBuffer.wrap(payload);
      byte[] o = new byte[b.getShort() & 0xffff];
      b.get(o);
      RetentionHold h =
          new RetentionHold(
              new String(o, java.nio.charset.StandardCharsets.UTF_8),
              b.getLong(),
              b.getLong(),
              b.getLong(),
              b.getLong());
      if (b.hasRemaining()) {
        throw new IllegalArgumentException(b.remaining() + " trailing bytes");
      }
      return h;
    } catch (java.nio.BufferUnderflowException e) {
      throw new IllegalArgumentException("truncated hold reply", e);
    }
  }

  /** A query for the pending membership change; see {@link #decodeMembershipReply}. */
  public static byte[] membershipQuery() {
    return new byte[] {QUERY_MEMBERSHIP};
  }

  /**
   * Decodes the payload of a membership command's or query's reply: the change pending after it, or
   * null if none is.
   *
   * @throws IllegalArgumentException if the bytes are not such a payload
   */
  public static MembershipChange decodeMembershipReply(byte[] payload) {
    return payload.length == 0 ? null : MembershipChange.decode(payload);
  }

  /** A read-only query to the state machine's {@code query}. */
  public static byte[] userQuery(byte[] payload) {
    byte[] out = new byte[1 + payload.length];
    out[0] = QUERY_USER;
    System.arraycopy(payload, 0, out, 1, payload.length);
    return out;
  }

  /** A query for the replica's applied index and digest; see {@link #decodeDigestReply}. */
  public static byte[] digestQuery() {
    return new byte[] {QUERY_DIGEST};
  }

  /** A query for the digest the replica recorded at checkpoint {@code id}. */
  public static byte[] checkpointQuery(long id) {
    return ByteBuffer.allocate(1 + Long.BYTES).put(QUERY_CHECKPOINT).putLong(id).array();
  }

  /**
   * Decodes a reply.
   *
   * @throws IllegalArgumentException if the bytes are not a reply
   */
  public static Reply decodeReply(byte[] bytes) {
    if (bytes.length < 1) {
      throw new IllegalArgumentException("empty reply");
    }
    return new Reply(ReplyStatus.ofCode(bytes[0]), Arrays.copyOfRange(bytes, 1, bytes.length));
  }

  /** Encodes a reply. */
  public static byte[] encodeReply(Reply reply) {
    byte[] out = new byte[1 + reply.payload().length];
    out[0] = reply.status().code();
    System.arraycopy(reply.payload(), 0, out, 1, reply.payload().length);
    return out;
  }

  /**
   * Decodes the reply of a {@link #digestQuery} or {@link #checkpointQuery}.
   *
   * @throws IllegalArgumentException if the bytes are not such a reply
   */
  public static DigestAt decodeDigestReply(byte[] bytes) {
    if (bytes.length != 2 * Long.BYTES + dev.ferry.snapshot.StateDigest.LENGTH) {
      throw new IllegalArgumentException("not a digest reply: " + bytes.length + " bytes");
    }
    ByteBuffer b = ByteBuffer.wrap(bytes);
    long term = b.getLong();
    long index = b.getLong();
    byte[] d = new byte[dev.ferry.snapshot.StateDigest.LENGTH];
    b.get(d);
    return new DigestAt(term, index, dev.ferry.snapshot.StateDigest.fromBytes(d));
  }

  /** Encodes a digest reply: {@code term:i64, index:i64, digest} ({@link #decodeDigestReply}). */
  public static byte[] encodeDigestReply(DigestAt d) {
    return ByteBuffer.allocate(2 * Long.BYTES + dev.ferry.snapshot.StateDigest.LENGTH)
        .putLong(d.term())
        .putLong(d.index())
        .put(d.digest().toBytes())
        .array();
  }
}
