package dev.ferry.shipping.install;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.Map;
import org.junit.jupiter.api.Test;

class RateEstimatorTest {
  private static final long S = 1_000_000_000L;

  @Test
  void aSteadyRateIsMeasuredExactly() {
    RateEstimator r = new RateEstimator(5 * S, S / 4);
    assertEquals(0, r.bytesPerSecond(), "no rate before two samples");
    for (int i = 0; i <= 20; i++) {
      r.sample(i * S / 2, i * 500_000L);
    }
    assertEquals(1_000_000, r.bytesPerSecond(), 1e-6);
  }

  @Test
  void aStallPullsTheRateDownWithinAFewTimeConstants() {
    RateEstimator r = new RateEstimator(5 * S, S / 4);
    for (int i = 0; i <= 20; i++) {
      r.sample(i * S, i * 1_000_000L);
    }
    // Nothing more arrives for 15 s (three time constants): at most e^-3 of the rate is left.
    for (int i = 21; i <= 35; i++) {
      r.sample(i * S, 20_000_000L);
    }
    assertTrue(r.bytesPerSecond() < 1_000_000 * Math.exp(-3) + 1, "rate " + r.bytesPerSecond());
    assertTrue(r.bytesPerSecond() > 0);
  }

  @Test
  void samplesCloserThanTheIntervalAreFoldedIntoTheNext() {
    RateEstimator r = new RateEstimator(5 * S, S / 4);
    r.sample(0, 0);
    r.sample(S / 100, 10_000_000); // a burst 10 ms in: not a rate of 1 GB/s on its own
    assertEquals(0, r.bytesPerSecond());
    r.sample(S, 10_000_000);
    assertEquals(10_000_000, r.bytesPerSecond(), 1e-6);
  }

  @Test
  void theEtaIsBytesLeftOverTheSmoothedRatePlusTheLoadLeft() {
    InstallProgress p =
        new InstallProgress(
            7, 1000, 400, Map.of("n1", 400L), Duration.ofSeconds(4), 100, Duration.ofSeconds(2));
    assertEquals(Duration.ofSeconds(8), p.eta().orElseThrow());
    InstallProgress unmeasured =
        new InstallProgress(7, 1000, 400, Map.of("n1", 400L), Duration.ofSeconds(4));
    assertTrue(unmeasured.eta().isEmpty(), "no ETA without a rate");
    InstallProgress transferred =
        new InstallProgress(
            7, 1000, 1000, Map.of("n1", 1000L), Duration.ofSeconds(9), 0, Duration.ofSeconds(3));
    assertEquals(Duration.ofSeconds(3), transferred.eta().orElseThrow(), "only loading left");
  }
}
