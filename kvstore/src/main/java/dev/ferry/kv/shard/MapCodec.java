package dev.ferry.kv.shard;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * The byte forms of the metadata group's commands, queries and replies ({@link MapStateMachine},
 * {@link ReplicatedClusterMap}). A layout travels as its descriptor text (UTF-8).
 *
 * <ul>
 *   <li>command {@code SET_IF_VERSION}: {@code 0x01}, expected version (8 bytes), descriptor;
 *       reply: outcome (1 byte: {@link Outcome}), the stored version after the command (8 bytes),
 *       and for {@link Outcome#INVALID} the problem (UTF-8).
 *   <li>query {@code READ}: {@code 0x01}; reply: the stored version (8 bytes, 0 when nothing is
 *       stored yet) and its descriptor (empty for version 0).
 * </ul>
 */
final class MapCodec {
  static final byte SET_IF_VERSION = 1;
  static final byte READ = 1;

  /** What a {@code SET_IF_VERSION} did. */
  enum Outcome {
    /** The layout is stored: the version is the new one. */
    APPLIED,
    /** The stored version is not the expected one (or the layout's is not one more): unchanged. */
    CONFLICT,
    /** The layout was refused (a bad descriptor, another cluster, no meta line): unchanged. */
    INVALID
  }

  /**
   * A decoded {@code SET_IF_VERSION} reply.
   *
   * @param outcome what the command did
   * @param version the stored version after the command
   * @param problem why it was refused ({@link Outcome#INVALID}), else empty
   */
  record SetReply(Outcome outcome, long version, String problem) {}

  /**
   * A decoded {@code READ} reply.
   *
   * @param version the stored version, 0 when nothing is stored
   * @param descriptor the stored layout's descriptor text, empty for version 0
   */
  record ReadReply(long version, String descriptor) {}

  private MapCodec() {}

  static byte[] setIfVersion(long expected, String descriptor) {
    byte[] text = descriptor.getBytes(StandardCharsets.UTF_8);
    return ByteBuffer.allocate(9 + text.length)
        .put(SET_IF_VERSION)
        .putLong(expected)
        .put(text)
        .array();
  }

  static byte[] read() {
    return new byte[] {READ};
  }

  static byte[] setReply(Outcome outcome, long version, String problem) {
    byte[] text = problem.getBytes(StandardCharsets.UTF_8);
    return ByteBuffer.allocate(9 + text.length)
        .put((byte) outcome.ordinal())
        .putLong(version)
        .put(text)
        .array();
  }

  static SetReply decodeSetReply(byte[] reply) {
    check(reply.length >= 9, "a SET_IF_VERSION reply of " + reply.length + " bytes");
    int o = reply[0];
    check(o >= 0 && o < Outcome.values().length, "unknown outcome " + o);
    return new SetReply(
        Outcome.values()[o],
        ByteBuffer.wrap(reply, 1, 8).getLong(),
        new String(reply, 9, reply.length - 9, StandardCharsets.UTF_8));
  }

  static byte[] readReply(long version, String descriptor) {
    byte[] text = descriptor.getBytes(StandardCharsets.UTF_8);
    return ByteBuffer.allocate(8 + text.length).putLong(version).put(text).array();
  }

  static ReadReply decodeReadReply(byte[] reply) {
    check(reply.length >= 8, "a READ reply of " + reply.length + " bytes");
    return new ReadReply(
        ByteBuffer.wrap(reply, 0, 8).getLong(),
        new String(reply, 8, reply.length - 8, StandardCharsets.UTF_8));
  }

  /** The expected version of a {@code SET_IF_VERSION} command. */
  static long expected(byte[] command) {
    check(
        command.length >= 9 && command[0] == SET_IF_VERSION,
        "not a SET_IF_VERSION command: " + Arrays.toString(Arrays.copyOf(command, 1)));
    return ByteBuffer.wrap(command, 1, 8).getLong();
  }

  /** The descriptor text of a {@code SET_IF_VERSION} command. */
  static String descriptor(byte[] command) {
    return new String(command, 9, command.length - 9, StandardCharsets.UTF_8);
  }

  private static void check(boolean ok, String problem) {
    if (!ok) {
      throw new IllegalArgumentException("metadata group: " + problem);
    }
  }
}
