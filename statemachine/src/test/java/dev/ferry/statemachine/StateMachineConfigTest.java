package dev.ferry.statemachine;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;

class StateMachineConfigTest {
  @Test
  void theBuilderSetsNamedValuesAndKeepsTheRest() {
    StateMachineConfig c =
        StateMachineConfig.builder()
            .captureEveryEntries(200)
            .installDeadline(Duration.ofSeconds(4))
            .build();
    StateMachineConfig d = StateMachineConfig.defaults();
    assertEquals(200, c.captureEveryEntries());
    assertEquals(Duration.ofSeconds(4), c.installDeadline());
    assertEquals(d.captureEveryBytes(), c.captureEveryBytes());
    assertEquals(d.retainSnapshots(), c.retainSnapshots());
    assertEquals(c, c.toBuilder().build());
  }

  @Test
  void badValuesFailAtBuildNamingTheSetting() {
    StateMachineConfig.Builder b = StateMachineConfig.builder().retainSnapshots(0);
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, b::build);
    assertTrue(e.getMessage().contains("retainSnapshots"), e.getMessage());
    IllegalArgumentException z =
        assertThrows(
            IllegalArgumentException.class,
            () -> StateMachineConfig.builder().zstdLevel(30).build());
    assertTrue(z.getMessage().contains("zstdLevel"), z.getMessage());
    assertThrows(
        IllegalArgumentException.class,
        () -> StateMachineConfig.builder().installDeadline(Duration.ZERO).build());
  }
}
