package dev.ferry.statemachine.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.ferry.snapshot.StateDigest;
import dev.ferry.statemachine.ClientId;
import dev.ferry.statemachine.MembershipChange;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class SessionTableTest {

  @Test
  void encodingRoundTripsAndIsIndependentOfInsertionOrder() throws IOException {
    SessionTable a = new SessionTable();
    SessionTable b = new SessionTable();
    ClientId x = new ClientId(1, 2);
    ClientId y = new ClientId(-5, 9);
    SessionTable.Session ax = a.open(x, 10);
    a.record(ax, 1, new byte[] {1});
    SessionTable.Session ay = a.open(y, 11);
    a.record(ay, 1, new byte[] {2});

    SessionTable.Session by = b.open(y, 11);
    b.record(by, 1, new byte[] {2});
    SessionTable.Session bx = b.open(x, 10);
    b.record(bx, 1, new byte[] {1});

    assertArrayEquals(a.encode(), b.encode());
    assertEquals(a.digest(), b.digest());
    SessionTable decoded = SessionTable.decode(new ByteArrayInputStream(a.encode()), 1 << 20);
    assertArrayEquals(a.encode(), decoded.encode());
    assertEquals(a.digest(), decoded.digest());
  }

  @Test
  void acknowledgingDropsRepliesAndExpiryIsByIndex() {
    SessionTable t = new SessionTable();
    ClientId c = new ClientId(3, 4);
    SessionTable.Session s = t.open(c, 1);
    t.record(s, 1, new byte[] {1});
    t.record(s, 2, new byte[] {2});
    t.acknowledge(s, 2, 5);
    assertNull(s.reply(1));
    assertArrayEquals(new byte[] {2}, s.reply(2));

    StateDigest d = t.digest();
    StateDigest afterNoExpiry = t.expire(100, 1000, d);
    assertEquals(d, afterNoExpiry);
    assertEquals(1, t.size());
    StateDigest afterExpiry = t.expire(2000, 1000, d);
    assertEquals(0, t.size());
    assertEquals(StateDigest.EMPTY, afterExpiry);
  }

  @Test
  void decodeRejectsGarbage() {
    byte[] bad = new byte[] {0, 0, 0, 1, 1, 2, 3};
    assertThrows(IOException.class, () -> SessionTable.decode(new ByteArrayInputStream(bad), 16));
    byte[] negative = new byte[] {(byte) 0xff, 0, 0, 0};
    assertThrows(
        IOException.class, () -> SessionTable.decode(new ByteArrayInputStream(negative), 16));
    byte[] trailing = Arrays.copyOf(new SessionTable().encode(), 5);
    assertThrows(
        IOException.class, () -> SessionTable.decode(new ByteArrayInputStream(trailing), 16));
  }

  @Test
  void aPendingMembershipChangeTravelsWithTheTableAndCountsInTheDigest() throws IOException {
    SessionTable t = new SessionTable();
    t.open(new ClientId(1, 1), 5);
    StateDigest before = t.digest();
    MembershipChange c =
        new MembershipChange(
            7,
            MembershipChange.Kind.ADD,
            "n4",
            "n4=127.0.0.1:1:2:3",
            MembershipChange.Phase.STARTED,
            2,
            40);
    StateDigest with = t.membership(c.encode(), before);
    assertEquals(t.digest(), with, "incremental digest equals the recomputed one");
    assertNotEquals(before, with);
    SessionTable decoded = SessionTable.decode(new ByteArrayInputStream(t.encode()), 1 << 20);
    assertEquals(c, MembershipChange.decode(decoded.membership()));
    assertEquals(with, decoded.digest());
    assertEquals(before, t.membership(null, with), "ending it restores the digest");
    assertNull(SessionTable.decode(new ByteArrayInputStream(t.encode()), 1 << 20).membership());

    byte[] bad = new SessionTable().encode();
    byte[] tagged = Arrays.copyOf(bad, bad.length + 5);
    tagged[bad.length] = 1;
    tagged[bad.length + 4] = (byte) 200; // claims 200 bytes, has none
    assertThrows(
        IOException.class, () -> SessionTable.decode(new ByteArrayInputStream(tagged), 1 << 20));
    byte[] unknownTag = Arrays.copyOf(bad, bad.length + 1);
    unknownTag[bad.length] = 9;
    assertThrows(
        IOException.class,
        () -> SessionTable.decode(new ByteArrayInputStream(unknownTag), 1 << 20));
  }

  @Test
  void membershipChangesRoundTripAndRejectMalformedBytes() {
    MembershipChange c =
        new MembershipChange(
            Long.MAX_VALUE,
            MembershipChange.Kind.REMOVE,
            "nødé",
            "",
            MembershipChange.Phase.VERIFIED,
            9,
            1234);
    assertEquals(c, MembershipChange.decode(c.encode()));
    byte[] b = c.encode();
    for (int cut = 0; cut < b.length; cut++) {
      byte[] truncated = Arrays.copyOf(b, cut);
      assertThrows(IllegalArgumentException.class, () -> MembershipChange.decode(truncated));
    }
    byte[] trailing = Arrays.copyOf(b, b.length + 1);
    assertThrows(IllegalArgumentException.class, () -> MembershipChange.decode(trailing));
    byte[] badKind = b.clone();
    badKind[8] = 7;
    assertThrows(IllegalArgumentException.class, () -> MembershipChange.decode(badKind));
    assertThrows(
        IllegalArgumentException.class,
        () ->
            new MembershipChange(
                1, MembershipChange.Kind.ADD, " ", "", MembershipChange.Phase.STARTED, 0, 0));
  }
}
