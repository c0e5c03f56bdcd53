package dev.ferry.statemachine;

import java.time.Duration;
import java.util.Objects;

/**
 * Tuning of a {@link ReplicatedStateMachine}. Every value that affects what is written to the
 * replicated state or to snapshots must be the same on every replica.
 *
 * @param captureEveryEntries the leader proposes a snapshot capture once this many entries were
 *     applied since the last capture ({@code >= 1})
 * @param captureEveryBytes the leader also proposes one once this many command bytes were applied
 *     since the last capture ({@code >= 1})
 * @param sessionIdleEntries a client session that has been idle for more than this many log entries
 *     is expired (the same on every replica: it depends only on log indices)
 * @param maxOutstandingPerSession replies kept per session before new commands are refused
 * @param maxRunsPerShard a shard with this many runs is compacted at its next change: its delta
 *     runs are merged into one while they hold at most a quarter of the first (base) run's bytes,
 *     the whole shard is rewritten otherwise
 * @param retainSnapshots how many durable snapshots to keep (pinned ones are kept regardless)
 * @param zstdLevel zstd level chunks are stored with
 * @param captureBytesPerSecond throttle of the capture writer, so foreground apply keeps priority
 * @param installDeadline how long an install may take before it is abandoned (and retried)
 */
public record StateMachineConfig(
    long captureEveryEntries,
    long captureEveryBytes,
    long sessionIdleEntries,
    int maxOutstandingPerSession,
    int maxRunsPerShard,
    int retainSnapshots,
    int zstdLevel,
    long captureBytesPerSecond,
    Duration installDeadline) {

  public StateMachineConfig {
    positive("captureEveryEntries", captureEveryEntries);
    positive("captureEveryBytes", captureEveryBytes);
    positive("sessionIdleEntries", sessionIdleEntries);
    positive("maxOutstandingPerSession", maxOutstandingPerSession);
    positive("maxRunsPerShard", maxRunsPerShard);
    positive("retainSnapshots", retainSnapshots);
    positive("captureBytesPerSecond", captureBytesPerSecond);
    Objects.requireNonNull(installDeadline, "installDeadline");
    if (installDeadline.isNegative() || installDeadline.isZero()) {
      throw new IllegalArgumentException("installDeadline must be positive: " + installDeadline);
    }
    if (zstdLevel < -7 || zstdLevel > 22) {
      throw new IllegalArgumentException("zstdLevel out of range (-7..22): " + zstdLevel);
    }
  }

  /** Defaults: capture every 100k entries or 256 MiB, 4 runs per shard, keep 3 snapshots. */
  public static StateMachineConfig defaults() {
    return new StateMachineConfig(
        100_000, 256L << 20, 10_000_000, 1024, 4, 3, 3, 512L << 20, Duration.ofMinutes(10));
  }

  /** A copy with another capture policy. */
  public StateMachineConfig withCaptureEvery(long entries, long bytes) {
    return new StateMachineConfig(
        entries,
        bytes,
        sessionIdleEntries,
        maxOutstandingPerSession,
        maxRunsPerShard,
        retainSnapshots,
        zstdLevel,
        captureBytesPerSecond,
        installDeadline);
  }

  private static void positive(String name, long value) {
    if (value <= 0) {
      throw new IllegalArgumentException(name + " must be positive: " + value);
    }
  }
}
