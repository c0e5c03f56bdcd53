package dev.ferry.snapshot.transfer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.OptionalDouble;
import org.junit.jupiter.api.Test;

class TransferConfigTest {
  private final TransferConfig d = TransferConfig.defaults();

  @Test
  void defaultsAreValidAndWithersChangeOneField() {
    assertEquals(16L << 20, d.maxInFlightBytesPerSource());
    assertEquals(1, d.corruptionsToDemote());
    TransferConfig c = d.withMaxAttemptsPerChunk(9);
    assertEquals(9, c.maxAttemptsPerChunk());
    assertEquals(d.withMaxAttemptsPerChunk(d.maxAttemptsPerChunk()), d);
  }

  @Test
  void badValuesAreRejectedNamingTheValue() {
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> d.withMaxInFlightBytesPerSource(0));
    assertTrue(e.getMessage().contains("0"), e.getMessage());
    assertThrows(IllegalArgumentException.class, () -> d.withMaxBatchChunks(0));
    assertThrows(IllegalArgumentException.class, () -> d.withChunkTimeout(Duration.ZERO));
    assertThrows(IllegalArgumentException.class, () -> d.withMaxAttemptsPerChunk(0));
    assertThrows(IllegalArgumentException.class, () -> d.withCorruptionsToDemote(0));
    assertThrows(IllegalArgumentException.class, () -> d.withDeadline(Duration.ofSeconds(-1)));
    assertThrows(
        IllegalArgumentException.class, () -> d.withDeadline(Duration.ofSeconds(Long.MAX_VALUE)));
    assertThrows(
        IllegalArgumentException.class,
        () -> d.withFailureBackoff(Duration.ofSeconds(2), Duration.ofSeconds(1)));
    assertThrows(NullPointerException.class, () -> d.withChunkTimeout(null));
  }

  @Test
  void sourcesAreValidated() {
    assertThrows(IllegalArgumentException.class, () -> TransferSource.of(""));
    assertThrows(IllegalArgumentException.class, () -> TransferSource.of("a", -1));
    assertThrows(
        IllegalArgumentException.class,
        () -> new TransferSource("a", 0, OptionalDouble.of(Double.POSITIVE_INFINITY)));
    assertThrows(IllegalArgumentException.class, () -> TransferSource.withThroughput("a", -5));
  }
}
