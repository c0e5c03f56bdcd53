package dev.ferry.bench;

import java.util.Arrays;
import java.util.List;

/**
 * The operations of a client load that completed in one window of time: their count, rate and 99th
 * percentile latency. The load keeps, per client thread, a record of {@code (end, latency)} pairs
 * ({@link System#nanoTime()} at completion, latency in nanoseconds), so that any window can be
 * measured after the load stopped; the percentile is taken from the window's sorted latencies (no
 * histogram buckets).
 *
 * @param ops operations that completed in the window
 * @param seconds the window's length
 * @param opsPerSecond {@code ops / seconds}
 * @param p99Millis the 99th percentile latency (nearest rank), NaN for an empty window
 */
public record LoadWindow(long ops, double seconds, double opsPerSecond, double p99Millis) {
  /**
   * The operations of {@code records} (each a sequence of end, latency pairs) that completed in
   * [{@code from}, {@code to}) (nanoTime). Pure; any thread.
   *
   * @throws IllegalArgumentException if the window is empty ({@code to <= from})
   */
  public static LoadWindow of(List<long[]> records, long from, long to) {
    if (to <= from) {
      throw new IllegalArgumentException("empty window: " + from + " .. " + to);
    }
    int count = 0;
    for (long[] r : records) {
      for (int i = 0; i < r.length; i += 2) {
        count += r[i] >= from && r[i] < to ? 1 : 0;
      }
    }
    long[] latencies = new long[count];
    int n = 0;
    for (long[] r : records) {
      for (int i = 0; i < r.length; i += 2) {
        if (r[i] >= from && r[i] < to) {
          latencies[n++] = r[i + 1];
        }
      }
    }
    double seconds = (to - from) / 1e9;
    return new LoadWindow(count, seconds, count / seconds, percentileMillis(latencies, 0.99));
  }

  /**
   * The {@code q} quantile (nearest rank: the smallest value with at least {@code q} of the values
   * at or below it) of {@code nanos}, in milliseconds; NaN if there are none. Sorts {@code nanos}
   * in place.
   *
   * @throws IllegalArgumentException unless 0 < q <= 1
   */
  public static double percentileMillis(long[] nanos, double q) {
    if (!(q > 0 && q <= 1)) {
      throw new IllegalArgumentException("quantile must be in (0, 1]: " + q);
    }
    if (nanos.length == 0) {
      return Double.NaN;
    }
    Arrays.sort(nanos);
    return nanos[(int) Math.ceil(q * nanos.length) - 1] / 1e6;
  }

  /**
   * One client thread's record of {@code (end, latency)} pairs, as {@link #of} reads them: grows as
   * needed. Not thread-safe: one per thread, read after the thread is done.
   */
  public static final class Recorder {
    private long[] pairs = new long[1 << 10];
    private int n;

    /** Records an operation that ended at {@code end} (nanoTime) after {@code latency} ns. */
    public void add(long end, long latency) {
      if (n + 2 > pairs.length) {
        pairs = Arrays.copyOf(pairs, pairs.length * 2);
      }
      pairs[n++] = end;
      pairs[n++] = latency;
    }

    /** The pairs recorded, end then latency, in order. */
    public long[] toArray() {
      return Arrays.copyOf(pairs, n);
    }
  }
}
