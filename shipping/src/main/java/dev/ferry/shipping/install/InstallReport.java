package dev.ferry.shipping.install;

import dev.ferry.snapshot.StateDigest;
import java.time.Duration;
import java.util.Map;

/**
 * What an install did.
 *
 * @param term the baseline's term
 * @param index the baseline's index ({@code -1} if none was chosen)
 * @param success whether the install completed
 * @param outcome "installed", or why it failed
 * @param bytesWanted stored bytes of the baseline's distinct chunks
 * @param bytesHeld stored bytes already held locally at the start (not fetched)
 * @param bytesPerSource stored bytes received from each source
 * @param duration from start to end
 * @param firstShard from start to the first shard loaded
 * @param finalizing time spent verifying and staging at the end
 * @param digest the verified digest of the installed state (the manifest's), or {@code null}
 */
public record InstallReport(
    long term,
    long index,
    boolean success,
    String outcome,
    long bytesWanted,
    long bytesHeld,
    Map<String, Long> bytesPerSource,
    Duration duration,
    Duration firstShard,
    Duration finalizing,
    StateDigest digest) {

  /** Total stored bytes received from all sources. */
  public long bytesFetched() {
    return bytesPerSource.values().stream().mapToLong(Long::longValue).sum();
  }
}
