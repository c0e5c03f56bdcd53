package dev.ferry.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class LoadWindowTest {
  private static final long S = 1_000_000_000L;

  @Test
  void aWindowCountsThePutsThatCompletedInItAndTakesTheirP99() {
    long[] a = new long[200];
    for (int i = 0; i < 100; i++) {
      a[2 * i] = 10 * S + i * (S / 100); // 100 puts in [10 s, 11 s)
      a[2 * i + 1] = (i + 1) * 1_000_000L; // 1 .. 100 ms
    }
    long[] b = {9 * S, 500_000_000L, 11 * S, 700_000_000L}; // outside [10 s, 11 s)
    LoadWindow w = LoadWindow.of(List.of(a, b), 10 * S, 11 * S);
    assertEquals(100, w.ops());
    assertEquals(1.0, w.seconds(), 1e-9);
    assertEquals(100.0, w.opsPerSecond(), 1e-9);
    assertEquals(99.0, w.p99Millis(), 1e-9);
  }

  @Test
  void anEmptyWindowHasNoRateAndNoLatency() {
    LoadWindow w = LoadWindow.of(List.of(new long[] {5 * S, S}), 0, S);
    assertEquals(0, w.ops());
    assertEquals(0.0, w.opsPerSecond());
    assertTrue(Double.isNaN(w.p99Millis()));
  }

  @Test
  void aWindowMustNotBeEmpty() {
    assertThrows(IllegalArgumentException.class, () -> LoadWindow.of(List.of(), S, S));
  }

  @Test
  void thePercentileIsTheNearestRank() {
    assertEquals(3.0, LoadWindow.percentileMillis(new long[] {3_000_000, 1_000_000}, 0.99), 1e-9);
    assertEquals(1.0, LoadWindow.percentileMillis(new long[] {3_000_000, 1_000_000}, 0.5), 1e-9);
    long[] hundred = new long[100];
    for (int i = 0; i < 100; i++) {
      hundred[i] = (100 - i) * 1_000_000L;
    }
    assertEquals(99.0, LoadWindow.percentileMillis(hundred, 0.99), 1e-9);
    assertEquals(100.0, LoadWindow.percentileMillis(hundred, 1.0), 1e-9);
    assertTrue(Double.isNaN(LoadWindow.percentileMillis(new long[0], 0.99)));
    assertThrows(IllegalArgumentException.class, () -> LoadWindow.percentileMillis(hundred, 0));
  }

  @Test
  void aRecorderKeepsEveryPairInOrderAndGrows() {
    LoadWindow.Recorder r = new LoadWindow.Recorder();
    for (int i = 0; i < 5000; i++) {
      r.add(i * 10L, i);
    }
    long[] a = r.toArray();
    assertEquals(10_000, a.length);
    assertEquals(49_990, a[9998]);
    assertEquals(4999, a[9999]);
    assertEquals(5000, LoadWindow.of(List.of(a), 0, 50_000).ops());
  }
}
