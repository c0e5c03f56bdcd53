package dev.ferry.bench.recovery;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class ForegroundLoadTest {
  private static final long S = 1_000_000_000L;

  @Test
  void aWindowCountsThePutsThatCompletedInItAndTakesTheirP99() {
    long[] a = new long[200];
    for (int i = 0; i < 100; i++) {
      a[2 * i] = 10 * S + i * (S / 100); // 100 puts in [10 s, 11 s)
      a[2 * i + 1] = (i + 1) * 1_000_000L; // 1 .. 100 ms
    }
    long[] b = {9 * S, 500_000_000L, 11 * S, 700_000_000L}; // outside [10 s, 11 s)
    ForegroundLoad.Window w = ForegroundLoad.window(List.of(a, b), 10 * S, 11 * S);
    assertEquals(100, w.ops());
    assertEquals(1.0, w.seconds(), 1e-9);
    assertEquals(100.0, w.opsPerSecond(), 1e-9);
    assertEquals(99.0, w.p99Millis(), 1e-9);
  }

  @Test
  void anEmptyWindowHasNoRateAndNoLatency() {
    ForegroundLoad.Window w = ForegroundLoad.window(List.of(new long[] {5 * S, S}), 0, S);
    assertEquals(0, w.ops());
    assertEquals(0.0, w.opsPerSecond());
    assertTrue(Double.isNaN(w.p99Millis()));
  }

  @Test
  void aWindowMustNotBeEmpty() {
    assertThrows(IllegalArgumentException.class, () -> ForegroundLoad.window(List.of(), S, S));
  }
}
