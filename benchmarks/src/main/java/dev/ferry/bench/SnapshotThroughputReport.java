package dev.ferry.bench;

import dev.ferry.snapshot.chunk.ChunkerConfig;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.openjdk.jmh.results.Result;
import org.openjdk.jmh.results.RunResult;
import org.openjdk.jmh.runner.Runner;
import org.openjdk.jmh.runner.RunnerException;
import org.openjdk.jmh.runner.options.Options;
import org.openjdk.jmh.runner.options.OptionsBuilder;
import org.openjdk.jmh.runner.options.TimeValue;

/**
 * Runs {@link ChunkingBenchmark} and {@link ZstdBenchmark} with JMH (each in its own forked JVM,
 * over the same seeded buffer) and prints one table: MB/s of each stage, chunk + hash against raw
 * SHA-256 (targets: single thread ≥ 60 %, pipelined ≥ 90 %), and zstd compression ratios.
 *
 * <p>Usage: {@code java -cp benchmarks/target/benchmarks.jar
 * dev.ferry.bench.SnapshotThroughputReport [--size-mib 256] [--write-size 65536] [--forks 1]
 * [--warmup 3] [--iterations 5] [--seconds 2]}. MB is 10<sup>6</sup> bytes.
 */
public final class SnapshotThroughputReport {
  private static final String CHUNKING = ChunkingBenchmark.class.getName();
  private static final String ZSTD = ZstdBenchmark.class.getName();
  private static final int[] LEVELS = {-5, 1, 3};

  private SnapshotThroughputReport() {}

  /** Runs the benchmarks and prints the table; exits non-zero on a bad argument. */
  public static void main(String[] args) throws RunnerException {
    Map<String, Integer> opts = new LinkedHashMap<>();
    opts.put("--size-mib", 256);
    opts.put("--write-size", 65536);
    opts.put("--forks", 1);
    opts.put("--warmup", 3);
    opts.put("--iterations", 5);
    opts.put("--seconds", 2);
    for (int i = 0; i < args.length; i += 2) {
      if (!opts.containsKey(args[i]) || i + 1 >= args.length) {
        System.err.println("usage: SnapshotThroughputReport " + String.join(" ", usage(opts)));
        System.exit(2);
      }
      opts.put(args[i], Integer.parseInt(args[i + 1]));
    }
    int sizeMiB = opts.get("--size-mib");
    int writeSize = opts.get("--write-size");
    if (sizeMiB < 1 || sizeMiB > 1024 || writeSize < 1) {
      System.err.println("--size-mib must be 1..1024 and --write-size at least 1");
      System.exit(2);
    }
    Options options =
        new OptionsBuilder()
            .include(java.util.regex.Pattern.quote(CHUNKING) + "\\..*")
            .include(java.util.regex.Pattern.quote(ZSTD) + "\\..*")
            .param("sizeMiB", String.valueOf(sizeMiB))
            .param("writeSize", String.valueOf(writeSize))
            .forks(opts.get("--forks"))
            .warmupIterations(opts.get("--warmup"))
            .measurementIterations(opts.get("--iterations"))
            .warmupTime(TimeValue.seconds(opts.get("--seconds")))
            .measurementTime(TimeValue.seconds(opts.get("--seconds")))
            .shouldFailOnError(true)
            .build();
    Collection<RunResult> results = new Runner(options).run();

    Map<String, Result<?>> byName = new LinkedHashMap<>();
    for (RunResult r : results) {
      String name = r.getParams().getBenchmark();
      String level = r.getParams().getParam("level");
      byName.put(level == null ? name : name + ":" + level, r.getPrimaryResult());
    }
    double megabytes = (sizeMiB << 20) / 1e6;
    ChunkerConfig config = ChunkerConfig.DEFAULT;

    List<String> lines = new ArrayList<>();
    lines.add("");
    lines.add(
        String.format(
            Locale.ROOT,
            "Snapshot capture throughput: %d MiB of seeded text-like data, %d-byte writes,"
                + " chunker %d/%d/%d KiB, JDK %s, %d CPUs",
            sizeMiB,
            writeSize,
            config.min() >> 10,
            config.avg() >> 10,
            config.max() >> 10,
            System.getProperty("java.version"),
            Runtime.getRuntime().availableProcessors()));
    lines.add(
        String.format(
            Locale.ROOT,
            "%-34s %10s %9s %10s  %s",
            "stage",
            "MB/s",
            "±MB/s",
            "best MB/s",
            "notes"));
    double[] sha = row(lines, byName, CHUNKING + ".sha256", "raw SHA-256, 1 thread", megabytes, "");
    double[] cached =
        row(
            lines,
            byName,
            CHUNKING + ".sha256CachedCopies",
            "SHA-256 of cached 256 KiB copies",
            megabytes,
            "");
    row(lines, byName, CHUNKING + ".chunk", "chunking alone", megabytes, "");
    double[] single =
        row(lines, byName, CHUNKING + ".chunkAndHash", "chunk + SHA-256, 1 thread", megabytes, "");
    double[] piped =
        row(
            lines,
            byName,
            CHUNKING + ".chunkAndHashPipelined",
            "chunk + SHA-256, pipelined",
            megabytes,
            "");

    byte[] data = BenchData.textLike(sizeMiB << 20, BenchData.SEED);
    int[] bounds = BenchData.chunkBounds(data, config);
    for (int level : LEVELS) {
      double ratio = (double) data.length / ZstdBenchmark.storedBytes(data, bounds, level);
      String notes = String.format(Locale.ROOT, "ratio %.2f (raw / stored)", ratio);
      row(
          lines,
          byName,
          ZSTD + ".encodeChunks:" + level,
          "zstd " + level + ", ChunkCodecs.encode",
          megabytes,
          notes);
      row(
          lines,
          byName,
          ZSTD + ".compressReusedContext:" + level,
          "zstd " + level + ", reused context",
          megabytes,
          "");
    }
    lines.add(
        String.format(
            Locale.ROOT,
            "chunks: %d, mean %.0f KiB",
            bounds.length / 2,
            data.length / 1024.0 / (bounds.length / 2)));
    lines.add(
        String.format(
            Locale.ROOT,
            "chunk + hash / raw SHA-256, by mean: 1 thread %.0f %% (target >= 60 %%),"
                + " pipelined %.0f %% (target >= 90 %%)",
            100 * single[0] / sha[0],
            100 * piped[0] / sha[0]));
    lines.add(
        String.format(
            Locale.ROOT,
            "chunk + hash / raw SHA-256, by best iteration: 1 thread %.0f %%, pipelined %.0f %%",
            100 * single[1] / sha[1],
            100 * piped[1] / sha[1]));
    lines.add(
        String.format(
            Locale.ROOT,
            "chunk + hash / SHA-256 of cached copies, by mean: 1 thread %.0f %%, pipelined %.0f %%",
            100 * single[0] / cached[0],
            100 * piped[0] / cached[0]));
    lines.add(
        "MB = 10^6 bytes; ± is JMH's 99.9 % confidence half-width; best = fastest measured"
            + " iteration (on a shared machine, load only adds time).");
    lines.forEach(System.out::println);
  }

  /**
   * Adds a row; returns its mean and best-iteration MB/s, or NaNs when the benchmark did not run.
   */
  private static double[] row(
      List<String> lines,
      Map<String, Result<?>> byName,
      String key,
      String label,
      double megabytes,
      String notes) {
    Result<?> result = byName.get(key);
    if (result == null) {
      lines.add(String.format(Locale.ROOT, "%-34s %10s %9s %10s  %s", label, "-", "-", "-", notes));
      return new double[] {Double.NaN, Double.NaN};
    }
    double msPerOp = result.getScore();
    double mbPerSecond = megabytes / (msPerOp / 1000);
    // JMH's error is the half-width of the 99.9 % confidence interval; NaN with too few samples.
    double error = result.getScoreError();
    String errorText =
        Double.isNaN(error)
            ? "n/a"
            : String.format(Locale.ROOT, "%.0f", mbPerSecond * error / msPerOp);
    double bestMbPerSecond = megabytes / (result.getStatistics().getMin() / 1000);
    lines.add(
        String.format(
            Locale.ROOT,
            "%-34s %10.0f %9s %10.0f  %s",
            label,
            mbPerSecond,
            errorText,
            bestMbPerSecond,
            notes));
    return new double[] {mbPerSecond, bestMbPerSecond};
  }

  private static List<String> usage(Map<String, Integer> opts) {
    List<String> usage = new ArrayList<>();
    opts.forEach((k, v) -> usage.add("[" + k + " " + v + "]"));
    return usage;
  }
}
