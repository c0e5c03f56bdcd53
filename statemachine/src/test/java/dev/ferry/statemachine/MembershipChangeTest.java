package dev.ferry.statemachine;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

/** The record of a pending change, with and without the node an add replaces (a replica move). */
class MembershipChangeTest {
  private static final MembershipChange.Kind ADD = MembershipChange.Kind.ADD;

  /** The encoding from before {@code replaces} (and {@code cancelledBy}) existed. */
  private static byte[] olderEncoding(
      long id, int kind, int phase, long term, long index, String node, String address, String by)
      throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (DataOutputStream out = new DataOutputStream(bytes)) {
      out.writeLong(id);
      out.writeByte(kind);
      out.writeByte(phase);
      out.writeLong(term);
      out.writeLong(index);
      for (String s :
          by == null ? new String[] {node, address} : new String[] {node, address, by}) {
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        out.writeShort(b.length);
        out.write(b);
      }
    }
    return bytes.toByteArray();
  }

  @Test
  void recordsWrittenWithoutReplacesStillDecodeAndEncodeAsBefore() throws IOException {
    byte[] plain = olderEncoding(7, 0, 1, 3, 40, "n4", "n4=h:1:2", null);
    MembershipChange c = MembershipChange.decode(plain);
    assertEquals(
        new MembershipChange(7, ADD, "n4", "n4=h:1:2", MembershipChange.Phase.VERIFIED, 3, 40), c);
    assertEquals("", c.replaces());
    assertArrayEquals(plain, c.encode(), "a plain add encodes exactly as before");

    byte[] cancelled = olderEncoding(8, 0, 2, 3, 41, "n4", "", "ops");
    MembershipChange k = MembershipChange.decode(cancelled);
    assertEquals("ops", k.cancelledBy());
    assertEquals("", k.replaces());
    assertArrayEquals(cancelled, k.encode());
  }

  @Test
  void aReplacementRoundTripsInEveryPhase() {
    for (MembershipChange.Phase p : MembershipChange.Phase.values()) {
      MembershipChange c =
          new MembershipChange(
              Long.MAX_VALUE,
              ADD,
              "n5",
              "n5=h:1:2",
              p,
              9,
              1234,
              p == MembershipChange.Phase.CANCELLED ? "ops" : "",
              "nødé2");
      assertEquals(c, MembershipChange.decode(c.encode()), p.name());
      assertTrue(c.isReplacement());
      assertTrue(c.toString().contains("replacing nødé2"), c.toString());
      assertEquals("nødé2", c.at(MembershipChange.Phase.PROMOTED, 10, 1300).replaces());
      assertEquals("nødé2", c.cancelled("ops", 10, 1300).replaces());
    }
    MembershipChange c =
        new MembershipChange(1, ADD, "n5", "", MembershipChange.Phase.STARTED, 1, 2, "", "n2");
    byte[] b = c.encode();
    byte[] trailing = Arrays.copyOf(b, b.length + 1);
    assertThrows(IllegalArgumentException.class, () -> MembershipChange.decode(trailing));
    byte[] tooLong = Arrays.copyOf(b, b.length);
    tooLong[b.length - 4] = 0x7f; // the length of replaces: far beyond the bound
    assertThrows(IllegalArgumentException.class, () -> MembershipChange.decode(tooLong));
  }

  @Test
  void replacesIsBoundedAndOnlyOnAnAdd() {
    MembershipChange.Phase started = MembershipChange.Phase.STARTED;
    String huge = "n".repeat(1025);
    assertThrows(
        IllegalArgumentException.class,
        () -> new MembershipChange(1, ADD, "n5", "", started, 0, 0, "", huge));
    assertThrows(
        IllegalArgumentException.class,
        () -> new MembershipChange(1, ADD, "n5", "", started, 0, 0, "", "n5"));
    assertThrows(
        IllegalArgumentException.class,
        () -> new MembershipChange(1, ADD, "n5", "", started, 0, 0, "", " "));
    assertThrows(
        IllegalArgumentException.class,
        () ->
            new MembershipChange(
                1, MembershipChange.Kind.REMOVE, "n5", "", started, 0, 0, "", "n2"));
    assertThrows(
        IllegalArgumentException.class,
        () -> new MembershipChange(1, ADD, "n5", "", MembershipChange.Phase.PROMOTED, 0, 0));
    assertThrows(
        NullPointerException.class,
        () -> new MembershipChange(1, ADD, "n5", "", started, 0, 0, "", null));
    assertThrows(
        IllegalArgumentException.class, () -> CommandCodec.membershipBegin(1, ADD, "n5", "", huge));
  }

  @Test
  void aBeginWithoutReplacesIsEncodedAsBefore() {
    byte[] plain = CommandCodec.membershipBegin(7, ADD, "n4", "n4=h:1:2");
    assertArrayEquals(plain, CommandCodec.membershipBegin(7, ADD, "n4", "n4=h:1:2", ""));
    byte[] move = CommandCodec.membershipBegin(7, ADD, "n4", "n4=h:1:2", "n2");
    assertEquals(plain.length + 2 + 2, move.length);
    assertArrayEquals(plain, Arrays.copyOf(move, plain.length), "replaces is a trailing field");
  }
}
