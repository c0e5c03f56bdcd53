package dev.ferry.kv.cli;

import java.io.PrintStream;
import java.util.Locale;

/**
 * A one-line terminal progress bar: {@code label [#####.....] 45% 28.8/64.0 MiB 12.3 MiB/s}.
 * Redraws in place on a terminal, prints a line every 10 % otherwise. Not thread-safe: update from
 * one thread.
 */
final class ProgressBar {
  private static final int WIDTH = 30;

  private final PrintStream out;
  private String label;
  private long total;
  private String suffix = "";
  private long start;
  private long startDone = -1;
  private final boolean terminal = System.console() != null;
  private int lastDecile = -1;
  private long lastDraw;

  ProgressBar(PrintStream out, String label, long total) {
    this.out = out;
    this.label = label;
    this.total = Math.max(1, total);
  }

  /**
   * Shows {@code done} of {@code newTotal} bytes under {@code newLabel}, followed by {@code
   * newSuffix}; a new label always prints.
   */
  void update(String newLabel, long done, long newTotal, String newSuffix) {
    if (!newLabel.equals(label)) {
      if (terminal) {
        out.println();
      }
      lastDecile = -1;
      lastDraw = 0;
    }
    label = newLabel;
    total = Math.max(1, newTotal);
    suffix = newSuffix;
    update(done);
  }

  /** Shows {@code done} of the total (bytes). */
  void update(long done) {
    long now = System.nanoTime();
    if (startDone < 0) {
      // The rate counts from the first figure shown: bytes done before it (found locally, or
      // fetched before the bar existed) are not bytes per second of this bar.
      start = now;
      startDone = done;
    }
    int decile = (int) (10 * done / total);
    if (terminal) {
      if (now - lastDraw < 100_000_000L && done < total) {
        return;
      }
      lastDraw = now;
      out.print("\r" + line(done, now));
      out.flush();
    } else if (decile != lastDecile) {
      lastDecile = decile;
      out.println(line(done, now));
    }
  }

  /** Draws the final state and ends the line. */
  void finish(long done) {
    if (terminal) {
      out.println("\r" + line(done, System.nanoTime()));
    } else {
      out.println(line(done, System.nanoTime()));
    }
  }

  private String line(long done, long now) {
    double seconds = (now - start) / 1e9;
    double rate = seconds < 0.05 ? 0 : Math.max(0, done - startDone) / 1048576.0 / seconds;
    return line(label, done, total, rate, suffix);
  }

  /**
   * One bar's text: {@code label [#####.....] 45% 28.8/64.0 MiB 12.3 MiB/s suffix} ({@code total}
   * at least 1; {@code rate} in MiB/s).
   */
  static String line(String label, long done, long total, double rate, String suffix) {
    long whole = Math.max(1, total);
    double fraction = Math.min(1.0, (double) done / whole);
    int filled = (int) Math.round(fraction * WIDTH);
    return String.format(
        Locale.ROOT,
        "%-22s [%s%s] %3d%%  %7.1f/%.1f MiB  %6.1f MiB/s%s",
        label,
        "#".repeat(filled),
        ".".repeat(WIDTH - filled),
        (int) Math.round(fraction * 100),
        done / 1048576.0,
        whole / 1048576.0,
        rate,
        suffix);
  }
}
