package dev.ferry.kv.cli;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ProgressBarTest {
  @Test
  void bytesDoneBeforeTheFirstFigureAreNotCountedAsRate() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
    ProgressBar bar = new ProgressBar(out, "installing", 100L << 20);
    // 10 MiB already held when the bar first hears of the install: shown, but not as a rate.
    bar.update(10L << 20);
    String first = bytes.toString(StandardCharsets.UTF_8);
    assertTrue(first.contains("10.0/100.0 MiB"), first);
    assertTrue(first.contains("   0.0 MiB/s"), "no rate before any time has passed: " + first);
  }
}
