package dev.ferry.statemachine.internal;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class RetryBackoffTest {
  private static final long S = 1_000_000_000L;

  @Test
  void theDelayDoublesUpToTheMaximumAndASuccessResetsIt() {
    RetryBackoff b = new RetryBackoff(S, 60 * S);
    assertEquals(0, b.waitNanos(0), "no wait before a failure");
    List<Long> delays = new ArrayList<>();
    for (int i = 0; i < 9; i++) {
      delays.add(b.failed(0) / S);
    }
    assertEquals(List.of(1L, 2L, 4L, 8L, 16L, 32L, 60L, 60L, 60L), delays);
    assertEquals(60 * S - 10, b.waitNanos(10));
    assertEquals(0, b.waitNanos(61 * S));
    assertEquals(9, b.succeeded());
    assertEquals(0, b.waitNanos(0));
    assertEquals(S, b.failed(0), "a new series starts again at the first delay");
  }

  @Test
  void onlyAFewFailuresOfALongSeriesAreLogged() {
    RetryBackoff b = new RetryBackoff(S, 60 * S);
    int logged = 0;
    for (int i = 0; i < 1000; i++) {
      b.failed(0);
      if (b.worthLogging()) {
        logged++;
      }
    }
    assertEquals(8, logged, "1st, 8th, 16th, 32nd, 64th, 128th, 256th, 512th");
    b.succeeded();
    b.failed(0);
    assertTrue(b.worthLogging());
    b.failed(0);
    assertFalse(b.worthLogging());
  }
}
