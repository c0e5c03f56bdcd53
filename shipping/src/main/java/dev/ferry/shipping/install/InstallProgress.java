package dev.ferry.shipping.install;

import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * A snapshot install in progress, as its receiver sees it.
 *
 * @param index the baseline's log index
 * @param bytesWanted stored bytes of the baseline's distinct chunks
 * @param bytesDone stored bytes held so far: already held at the start plus received
 * @param bytesPerSource stored bytes received from each source so far
 * @param elapsed time since the install started
 * @param smoothedBytesPerSecond the receive rate over the last few seconds (0 until measured)
 * @param loadLeft the estimated time still needed to load shards into the state machine (mean load
 *     time of the shards loaded so far × the shards left ÷ the loader threads; zero until a shard
 *     has loaded)
 */
public record InstallProgress(
    long index,
    long bytesWanted,
    long bytesDone,
    Map<String, Long> bytesPerSource,
    Duration elapsed,
    double smoothedBytesPerSecond,
    Duration loadLeft) {
  public InstallProgress {
    bytesPerSource = Map.copyOf(bytesPerSource);
    Objects.requireNonNull(elapsed, "elapsed");
    Objects.requireNonNull(loadLeft, "loadLeft");
  }

  /** Progress without a rate or load estimate (a finished install, or a peer that sends none). */
  public InstallProgress(
      long index,
      long bytesWanted,
      long bytesDone,
      Map<String, Long> bytesPerSource,
      Duration elapsed) {
    this(index, bytesWanted, bytesDone, bytesPerSource, elapsed, 0, Duration.ZERO);
  }

  /** Bytes received from all sources. */
  public long bytesFetched() {
    return bytesPerSource.values().stream().mapToLong(Long::longValue).sum();
  }

  /** Average receive rate since the start, bytes per second (0 at the start). */
  public double bytesPerSecond() {
    long nanos = elapsed.toNanos();
    return nanos <= 0 ? 0 : bytesFetched() * 1e9 / nanos;
  }

  /** Stored bytes still to receive. */
  public long bytesLeft() {
    return Math.max(0, bytesWanted - bytesDone);
  }

  /**
   * The estimated time to the end of the install: bytes left ÷ the smoothed rate + the load time
   * left; empty while bytes are left and no rate has been measured yet.
   */
  public Optional<Duration> eta() {
    if (bytesLeft() == 0) {
      return Optional.of(loadLeft);
    }
    if (smoothedBytesPerSecond <= 0) {
      return Optional.empty();
    }
    long transferNanos =
        (long) Math.min(Long.MAX_VALUE / 2, bytesLeft() * 1e9 / smoothedBytesPerSecond);
    return Optional.of(Duration.ofNanos(transferNanos).plus(loadLeft));
  }
}
