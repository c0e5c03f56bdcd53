package dev.ferry.bench.move;

import dev.ferry.bench.Procfs;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Samples, every 500 ms on a thread of its own, the CPU time used so far by each of a set of
 * processes ({@code /proc/<pid>/stat}) and by the whole machine ({@code /proc/stat}: user, nice,
 * system, irq and softirq time), so that the CPU used in any window can be read afterwards, in
 * cores (1.0 = one core busy for the whole window), interpolated linearly between samples. A
 * process that is gone keeps its last figure. Thread-safe.
 */
public final class CpuSampler implements AutoCloseable {
  /** The machine's series ({@code /proc/stat}). */
  public static final String MACHINE = "machine";

  private static final double TICKS = 100.0;

  private final List<String> names;
  private final Supplier<double[]> reader;
  private final List<long[]> times = new ArrayList<>();
  private final List<double[]> values = new ArrayList<>();
  private final ScheduledExecutorService timer;

  /** Starts sampling the processes {@code pids} (name → pid) and the machine. */
  public CpuSampler(Map<String, Long> pids) {
    this(names(pids), procfs(List.copyOf(pids.values())), 500);
  }

  /**
   * Samples {@code reader} (one cumulative CPU-seconds figure per name, in order) every {@code
   * periodMillis}, a first time at once; {@code periodMillis} 0: only when {@link #record} is
   * called.
   */
  CpuSampler(List<String> names, Supplier<double[]> reader, long periodMillis) {
    this.names = List.copyOf(names);
    this.reader = reader;
    if (periodMillis > 0) {
      timer =
          Executors.newSingleThreadScheduledExecutor(
              r -> {
                Thread t = new Thread(r, "cpu-sampler");
                t.setDaemon(true);
                return t;
              });
      sample();
      timer.scheduleAtFixedRate(this::sample, periodMillis, periodMillis, TimeUnit.MILLISECONDS);
    } else {
      timer = null;
    }
  }

  private static List<String> names(Map<String, Long> pids) {
    List<String> n = new ArrayList<>(pids.keySet());
    n.add(MACHINE);
    return n;
  }

  /** Reads each process's CPU seconds (NaN if gone) and the machine's busy seconds. */
  static Supplier<double[]> procfs(List<Long> pids) {
    return () -> {
      double[] v = new double[pids.size() + 1];
      for (int i = 0; i < pids.size(); i++) {
        try {
          v[i] = Procfs.cpuSeconds(pids.get(i));
        } catch (IOException | RuntimeException e) {
          v[i] = Double.NaN;
        }
      }
      v[pids.size()] = machineBusySeconds();
      return v;
    };
  }

  private void sample() {
    record(System.nanoTime(), reader.get());
  }

  /** Records one sample; a NaN figure (a process gone) keeps the series' last one. */
  synchronized void record(long nanos, double[] sample) {
    double[] v = sample.clone();
    double[] last = values.isEmpty() ? null : values.get(values.size() - 1);
    for (int i = 0; i < v.length; i++) {
      if (Double.isNaN(v[i])) {
        v[i] = last == null ? 0 : last[i];
      }
    }
    times.add(new long[] {nanos});
    values.add(v);
  }

  /** Busy CPU seconds of the whole machine since boot ({@code /proc/stat}), NaN if unreadable. */
  static double machineBusySeconds() {
    try {
      String first =
          Files.readAllLines(Path.of("/proc/stat"), StandardCharsets.US_ASCII).get(0).strip();
      String[] f = first.split("\\s+");
      long busy = 0;
      // user, nice, system, (idle, iowait,) irq, softirq; not steal (another VM's time).
      for (int k = 1; k < f.length && k <= 7; k++) {
        if (k != 4 && k != 5) {
          busy += Long.parseLong(f[k]);
        }
      }
      return busy / TICKS;
    } catch (IOException | RuntimeException e) {
      return Double.NaN;
    }
  }

  /**
   * The cores each process and the machine ({@link #MACHINE}) used on average in [{@code from},
   * {@code to}) (nanoTime); NaN where there are no samples around the window.
   */
  public synchronized Map<String, Double> cores(long from, long to) {
    long[] t = new long[times.size()];
    for (int k = 0; k < t.length; k++) {
      t[k] = times.get(k)[0];
    }
    Map<String, Double> out = new LinkedHashMap<>();
    for (int i = 0; i < names.size(); i++) {
      double[] v = new double[t.length];
      for (int k = 0; k < t.length; k++) {
        v[k] = values.get(k)[i];
      }
      out.put(names.get(i), (at(t, v, to) - at(t, v, from)) / ((to - from) / 1e9));
    }
    return out;
  }

  /**
   * The value of a series sampled at increasing times {@code t} at time {@code x}, interpolated
   * linearly; NaN outside the samples. Pure.
   */
  static double at(long[] t, double[] v, long x) {
    for (int k = 1; k < t.length; k++) {
      if (x >= t[k - 1] && x <= t[k]) {
        double f = t[k] == t[k - 1] ? 0 : (double) (x - t[k - 1]) / (t[k] - t[k - 1]);
        return v[k - 1] + f * (v[k] - v[k - 1]);
      }
    }
    return t.length == 1 && x == t[0] ? v[0] : Double.NaN;
  }

  /** Stops sampling, with one last sample if it sampled by itself. */
  @Override
  public void close() {
    if (timer != null) {
      timer.shutdownNow();
      sample();
    }
  }
}
