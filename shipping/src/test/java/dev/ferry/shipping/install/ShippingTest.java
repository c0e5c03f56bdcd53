package dev.ferry.shipping.install;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ShippingTest {
  private static final long MB = 1 << 20;
  private static final long SECOND = 1_000_000_000L;

  @Test
  void autoShipsRawOnlyWhenTheLinkOutrunsVerification() {
    // A 100 Mbit/s link (12.5 MB/s) and 1.2 GB/s of decompress + hash: stay compressed.
    assertFalse(Shipping.AUTO.raw(125 * MB / 10, SECOND, 1200 * MB, SECOND));
    // Loopback at 2.7 GB/s against the same verifier: raw pays.
    assertTrue(Shipping.AUTO.raw(2700 * MB, SECOND, 1200 * MB, SECOND));
  }

  @Test
  void autoWaitsForEnoughSamples() {
    assertFalse(Shipping.AUTO.raw(MB, 1000, 1200 * MB, SECOND), "too few wire bytes");
    assertFalse(Shipping.AUTO.raw(2700 * MB, SECOND, MB, 1), "too few verified bytes");
    assertFalse(Shipping.AUTO.raw(2700 * MB, 0, 1200 * MB, SECOND), "no elapsed time");
  }

  @Test
  void fixedPoliciesIgnoreMeasurements() {
    assertTrue(Shipping.RAW.raw(0, 0, 0, 0));
    assertFalse(Shipping.AS_STORED.raw(2700 * MB, SECOND, MB, SECOND));
  }
}
