package dev.ferry.statemachine;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Objects;

/**
 * A membership change in progress, recorded in the replicated state so that whichever node leads
 * next can finish or undo it when the one driving it disappears. At most one is pending at a time.
 *
 * @param id the change's id, chosen by whoever began it (random); commands that advance or end a
 *     change name it by id, so a stale driver cannot touch a newer change
 * @param kind add or remove
 * @param nodeId the node being added or removed
 * @param address the node's address as {@code id=host:raftPort:chunkPort} (for an add; may be empty
 *     for a remove); records written by older nodes hold {@code
 *     id=host:raftPort:chunkPort:adminPort}, whose admin port is ignored when parsed
 * @param phase how far the change got
 * @param term the term of the log entry that last began or advanced it
 * @param index the log index of that entry
 * @param cancelledBy who cancelled the change (phase {@link Phase#CANCELLED}); empty otherwise
 * @param replaces for an add that is a replica move: the id of the voter the added node replaces,
 *     removed once the added node is a voter ({@link Phase#PROMOTED}); empty for a plain add and
 *     for a remove. The record holds the move's intent, so a next leader finishes the move.
 */
public record MembershipChange(
    long id,
    Kind kind,
    String nodeId,
    String address,
    Phase phase,
    long term,
    long index,
    String cancelledBy,
    String replaces) {

  /** What the change does. */
  public enum Kind {
    ADD,
    REMOVE
  }

  /** How far a change got. */
  public enum Phase {
    /**
     * Begun: for an add, the node is (being) added as a listener and is catching up; its state is
     * not verified. Undone by a new leader: the node is removed.
     */
    STARTED,
    /**
     * For an add: the node's digest was verified equal to every voter's; promotion may follow. A
     * new leader finishes it: it promotes the node.
     */
    VERIFIED,
    /**
     * For an add: cancelled by an admin before it was verified ({@code ferry admin cancel}). Its
     * driver stops; the canceller (or, if it is gone too, a new leader) undoes it: the node is
     * removed. A cancelled change never advances again; only its end follows.
     */
    CANCELLED,
    /**
     * For an add that replaces a node ({@link #replaces} set): the added node is a voter; the node
     * it replaces is being removed. A new leader finishes it: it removes {@link #replaces} (if the
     * configuration still has it) and tells that node it was removed. Only follows {@link
     * #VERIFIED} (and the promotion), so the group has one voter more, never fewer, meanwhile.
     */
    PROMOTED
  }

  private static final int MAX_TEXT = 1024;

  public MembershipChange {
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(nodeId, "nodeId");
    Objects.requireNonNull(address, "address");
    Objects.requireNonNull(phase, "phase");
    Objects.requireNonNull(cancelledBy, "cancelledBy");
    Objects.requireNonNull(replaces, "replaces");
    if (nodeId.isBlank()) {
      throw new IllegalArgumentException("nodeId must not be blank");
    }
    if (utf8(nodeId).length > MAX_TEXT
        || utf8(address).length > MAX_TEXT
        || utf8(cancelledBy).length > MAX_TEXT
        || utf8(replaces).length > MAX_TEXT) {
      throw new IllegalArgumentException(
          "nodeId, address, cancelledBy or replaces longer than " + MAX_TEXT + " bytes");
    }
    if (!cancelledBy.isEmpty() && phase != Phase.CANCELLED) {
      throw new IllegalArgumentException("cancelledBy set on a change in phase " + phase);
    }
    if (!replaces.isEmpty()) {
      if (kind != Kind.ADD) {
        throw new IllegalArgumentException("only an add replaces a node, not a " + kind);
      }
      if (replaces.isBlank() || replaces.equals(nodeId)) {
        throw new IllegalArgumentException(
            "an add of " + nodeId + " cannot replace '" + replaces + "'");
      }
    }
    if (phase == Phase.PROMOTED && replaces.isEmpty()) {
      throw new IllegalArgumentException("phase PROMOTED on a change that replaces no node");
    }
  }

  /** A change that was not cancelled and replaces no node. */
  public MembershipChange(
      long id, Kind kind, String nodeId, String address, Phase phase, long term, long index) {
    this(id, kind, nodeId, address, phase, term, index, "", "");
  }

  /** A change that replaces no node. */
  public MembershipChange(
      long id,
      Kind kind,
      String nodeId,
      String address,
      Phase phase,
      long term,
      long index,
      String cancelledBy) {
    this(id, kind, nodeId, address, phase, term, index, cancelledBy, "");
  }

  /** The same change in another phase (not {@link Phase#CANCELLED}), at another log position. */
  public MembershipChange at(Phase newPhase, long newTerm, long newIndex) {
    return new MembershipChange(
        id, kind, nodeId, address, newPhase, newTerm, newIndex, "", replaces);
  }

  /** The same change, cancelled by {@code by}, at another log position. */
  public MembershipChange cancelled(String by, long newTerm, long newIndex) {
    return new MembershipChange(
        id, kind, nodeId, address, Phase.CANCELLED, newTerm, newIndex, by, replaces);
  }

  /** Whether this is an add that replaces a node (a replica move): {@link #replaces} is set. */
  public boolean isReplacement() {
    return !replaces.isEmpty();
  }

  /**
   * The canonical encoding. Deterministic. Optional trailing texts: {@link #cancelledBy} follows
   * the address when it or {@link #replaces} is not empty, {@link #replaces} follows it when not
   * empty. So a change that was not cancelled and replaces no node encodes as it did before either
   * existed, and older records decode.
   */
  public byte[] encode() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      out.writeLong(id);
      out.writeByte(kind.ordinal());
      out.writeByte(phase.ordinal());
      out.writeLong(term);
      out.writeLong(index);
      writeText(out, nodeId);
      writeText(out, address);
      if (!cancelledBy.isEmpty() || !replaces.isEmpty()) {
        writeText(out, cancelledBy);
      }
      if (!replaces.isEmpty()) {
        writeText(out, replaces);
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return bytes.toByteArray();
  }

  /**
   * Decodes {@link #encode}'s output.
   *
   * @throws IllegalArgumentException if the bytes are malformed
   */
  public static MembershipChange decode(byte[] bytes) {
    try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(bytes))) {
      long id = in.readLong();
      Kind kind = enumAt(Kind.values(), in.readUnsignedByte(), "kind");
      Phase phase = enumAt(Phase.values(), in.readUnsignedByte(), "phase");
      long term = in.readLong();
      long index = in.readLong();
      String node = readText(in);
      String address = readText(in);
      String by = in.available() > 0 ? readText(in) : "";
      String replaces = in.available() > 0 ? readText(in) : "";
      if (in.read() != -1) {
        throw new IllegalArgumentException("trailing bytes after a membership change");
      }
      return new MembershipChange(id, kind, node, address, phase, term, index, by, replaces);
    } catch (IOException e) {
      throw new IllegalArgumentException("truncated membership change", e);
    }
  }

  @Override
  public String toString() {
    return kind.name().toLowerCase(java.util.Locale.ROOT)
        + " "
        + nodeId
        + " ("
        + phase
        + " at index "
        + index
        + ", term "
        + term
        + ", change "
        + Long.toHexString(id)
        + (replaces.isEmpty() ? "" : ", replacing " + replaces)
        + (cancelledBy.isEmpty() ? "" : ", cancelled by " + cancelledBy)
        + ")";
  }

  private static <E> E enumAt(E[] values, int ordinal, String what) {
    if (ordinal >= values.length) {
      throw new IllegalArgumentException("unknown " + what + " " + ordinal);
    }
    return values[ordinal];
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  private static void writeText(DataOutputStream out, String s) throws IOException {
    byte[] b = utf8(s);
    out.writeShort(b.length);
    out.write(b);
  }

  private static String readText(DataInputStream in) throws IOException {
    int n = in.readUnsignedShort();
    if (n > MAX_TEXT) {
      throw new IllegalArgumentException("text of " + n + " bytes in a membership change");
    }
    byte[] b = in.readNBytes(n);
    if (b.length != n) {
      throw new IllegalArgumentException("truncated membership change");
    }
    return new String(b, StandardCharsets.UTF_8);
  }
}
