package dev.ferry.raft.install;

import java.time.Duration;
import java.util.Map;
import java.util.Objects;

/**
 * A snapshot install in progress, as its receiver sees it.
 *
 * @param index the baseline's log index
 * @param bytesWanted stored bytes of the baseline's distinct chunks
 * @param bytesDone stored bytes held so far: already held at the start plus received
 * @param bytesPerSource stored bytes received from each source so far
 * @param elapsed time since the install started
 */
public record InstallProgress(
    long index,
    long bytesWanted,
    long bytesDone,
    Map<String, Long> bytesPerSource,
    Duration elapsed) {
  public InstallProgress {
    bytesPerSource = Map.copyOf(bytesPerSource);
    Objects.requireNonNull(elapsed, "elapsed");
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
}
