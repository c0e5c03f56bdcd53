package dev.ferry.shipping.net;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.time.Duration;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class LogLimiterTest {

  @Test
  void aFloodIsCutToTheLimitPerWindowAndTheNextLineSaysHowManyWereLeftOut() {
    AtomicLong now = new AtomicLong();
    LogLimiter limit = new LogLimiter(3, Duration.ofSeconds(10), now::get);
    assertEquals(0, limit.admit());
    assertEquals(0, limit.admit());
    assertEquals(0, limit.admit());
    for (int i = 0; i < 1000; i++) {
      assertEquals(-1, limit.admit());
    }
    now.addAndGet(Duration.ofSeconds(10).toNanos());
    assertEquals(1000, limit.admit());
    assertEquals(0, limit.admit());
    assertEquals(" (1000 similar lines left out before this one)", LogLimiter.note(1000));
    assertEquals("", LogLimiter.note(0));
  }

  @Test
  void handshakeSlotsAreLimitedPerAddressAndInAll() throws Exception {
    HandshakeSlots slots = new HandshakeSlots(3, 2);
    InetAddress a = InetAddress.getByName("127.0.0.2");
    InetAddress b = InetAddress.getByName("127.0.0.3");
    assertNull(slots.tryAcquire(a));
    assertNull(slots.tryAcquire(a));
    assertTrue(slots.tryAcquire(a).contains("per address"));
    assertNull(slots.tryAcquire(b));
    assertTrue(slots.tryAcquire(b).contains("limit 3"));
    slots.release(a);
    assertNull(slots.tryAcquire(b));
    assertEquals(3, slots.inUse());
    slots.release(a);
    slots.release(b);
    slots.release(b);
    assertEquals(0, slots.inUse());
    assertThrows(IllegalStateException.class, () -> slots.release(b));
    assertThrows(IllegalArgumentException.class, () -> new HandshakeSlots(1, 2));
  }
}
