package dev.ferry.bench.replace;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class SourceActivityTest {
  private static final long S = 1_000_000_000L;

  @Test
  void countsTheSourcesWhoseBytesGrewInEachInterval() {
    SourceActivity a = new SourceActivity();
    a.add(0, Map.of());
    a.add(S, Map.of("n1", 10L, "n3", 5L));
    a.add(2 * S, Map.of("n1", 20L, "n3", 5L, "n4", 1L, "n5", 7L));
    a.add(3 * S, Map.of("n1", 20L, "n3", 9L, "n4", 1L, "n5", 7L));

    assertEquals(List.of("n1", "n3", "n4", "n5"), a.distinct());
    assertEquals(3, a.maxAtOnce());
    assertEquals(3.0, a.activeSeconds(), 1e-9);
    assertEquals(Map.of("n1", 20L, "n3", 9L, "n4", 1L, "n5", 7L), a.received());
    assertEquals(
        List.of(
            List.of(1.0, 2, Map.of("n1", 10L, "n3", 5L)),
            List.of(2.0, 3, Map.of("n1", 10L, "n4", 1L, "n5", 7L)),
            List.of(3.0, 1, Map.of("n3", 4L))),
        a.timeline(0));
  }

  @Test
  void bytesBeforeTheFirstSampleAreNotCounted() {
    SourceActivity a = new SourceActivity();
    a.add(0, Map.of("n2", 100L));
    a.add(S, Map.of("n2", 100L, "n4", 3L));

    assertEquals(List.of("n4"), a.distinct());
    assertEquals(1, a.maxAtOnce());
    assertEquals(Map.of("n4", 3L), a.received());
    assertEquals(1.0, a.activeSeconds(), 1e-9);
  }

  @Test
  void noIntervalNoSources() {
    SourceActivity a = new SourceActivity();
    assertEquals(0, a.maxAtOnce());
    assertEquals(0.0, a.activeSeconds());
    a.add(5, Map.of("n1", 1L));
    assertEquals(List.of(), a.distinct());
    assertEquals(0, a.maxAtOnce());
  }

  @Test
  void samplesOutOfOrderAreRefused() {
    SourceActivity a = new SourceActivity();
    a.add(10, Map.of());
    assertThrows(IllegalArgumentException.class, () -> a.add(9, Map.of()));
  }
}
