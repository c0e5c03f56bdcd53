package dev.ferry.kv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;

/**
 * {@code ferry server --max-installs / --install-bytes-in-flight / --install-decoded-bytes}: the
 * node's transfer scheduler, so they go with {@code --map} only; a bad value is a usage error.
 */
class ServerSchedulerOptionsTest {
  @Test
  void theSchedulersLimitsAreRefusedWithoutAMap() {
    assertEquals(2, ServerArgs.exitWith("--install-decoded-bytes", "1048576"));
    assertEquals(2, ServerArgs.exitWith("--install-bytes-in-flight", "1048576"));
    assertEquals(2, ServerArgs.exitWith("--max-installs", "2"));
  }

  @Test
  void aValueThatIsNotANumberIsAUsageError() {
    assertEquals(2, ServerArgs.exitWith("--install-decoded-bytes", "lots"));
  }
}
