package dev.ferry.statemachine.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.ferry.snapshot.StateDigest;
import dev.ferry.statemachine.ClientId;
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
}
