package dev.ferry.statemachine;

import java.time.Duration;
import java.util.Objects;

/**
 * How the server runs a {@link StateMachine}: capture policy, sessions, snapshot retention and
 * compression, installs, checks. A server setting ({@code FerryServer.Builder.stateMachineConfig}),
 * not part of the state machine. Every value that affects what is written to the replicated state
 * or to snapshots must be the same on every replica. Build one with {@link #builder()}; values are
 * validated at {@link Builder#build()}.
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
 * @param zstdLevel zstd level chunks are stored with ({@code -7..22})
 * @param captureBytesPerSecond throttle of the capture writer, so foreground apply keeps priority
 * @param installDeadline how long an install may take before it is abandoned (and retried)
 * @param holdExpiryEntries a log-retention hold ({@link RetentionHold}) not renewed for more than
 *     this many log entries expires (the same on every replica: it depends only on log indices). It
 *     bounds the log a hold whose installer died keeps: an idle log keeps nothing more
 * @param verifyReportedChanges for a state machine that implements {@link ReportsChanges}: at every
 *     capture, check that the changes it reported through {@link ApplyContext#changed} since the
 *     previous capture are exactly what its {@link StateView} holds now. A mismatch (a change that
 *     was not reported: the digest would silently diverge from the state) fails the capture with a
 *     message naming the key, logged at error level. It reads the whole state once more per
 *     capture. Default: the system property {@code ferry.verifyReportedChanges} ({@code false}
 *     unless set to {@code true}; Ferry's own tests set it)
 * @param scrubBytesPerSecond the background scrub re-reads and re-hashes every stored chunk at up
 *     to this many uncompressed bytes a second, pass after pass (a minute apart); a corrupt chunk
 *     it finds is quarantined and fetched again from the peers. {@code 0} turns the scrub off.
 *     Default 8 MiB/s
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
    Duration installDeadline,
    long holdExpiryEntries,
    boolean verifyReportedChanges,
    long scrubBytesPerSecond) {

  /** The system property that turns {@link #verifyReportedChanges} on by default. */
  public static final String VERIFY_PROPERTY = "ferry.verifyReportedChanges";

  /**
   * Validates every value.
   *
   * @throws IllegalArgumentException naming the first bad value
   * @throws NullPointerException if {@code installDeadline} is null
   */
  public StateMachineConfig {
    positive("captureEveryEntries", captureEveryEntries);
    positive("captureEveryBytes", captureEveryBytes);
    positive("sessionIdleEntries", sessionIdleEntries);
    positive("maxOutstandingPerSession", maxOutstandingPerSession);
    positive("maxRunsPerShard", maxRunsPerShard);
    positive("retainSnapshots", retainSnapshots);
    positive("captureBytesPerSecond", captureBytesPerSecond);
    positive("holdExpiryEntries", holdExpiryEntries);
    if (scrubBytesPerSecond < 0) {
      throw new IllegalArgumentException(
          "scrubBytesPerSecond must be >= 0: " + scrubBytesPerSecond);
    }
    Objects.requireNonNull(installDeadline, "installDeadline");
    if (installDeadline.isNegative() || installDeadline.isZero()) {
      throw new IllegalArgumentException("installDeadline must be positive: " + installDeadline);
    }
    if (zstdLevel < -7 || zstdLevel > 22) {
      throw new IllegalArgumentException("zstdLevel out of range (-7..22): " + zstdLevel);
    }
  }

  /**
   * Defaults: capture every 100k entries or 256 MiB, sessions idle for 10M entries expire, 1024
   * outstanding replies per session, 4 runs per shard, keep 3 snapshots, zstd level 3, captures
   * written at up to 512 MiB/s, installs abandoned after 10 minutes, retention holds expire 100k
   * entries after their last renewal, stored chunks scrubbed at 8 MiB/s.
   */
  public static StateMachineConfig defaults() {
    return builder().build();
  }

  /** A builder starting from the defaults. */
  public static Builder builder() {
    return new Builder();
  }

  /** A builder starting from this configuration. */
  public Builder toBuilder() {
    return new Builder()
        .captureEveryEntries(captureEveryEntries)
        .captureEveryBytes(captureEveryBytes)
        .sessionIdleEntries(sessionIdleEntries)
        .maxOutstandingPerSession(maxOutstandingPerSession)
        .maxRunsPerShard(maxRunsPerShard)
        .retainSnapshots(retainSnapshots)
        .zstdLevel(zstdLevel)
        .captureBytesPerSecond(captureBytesPerSecond)
        .installDeadline(installDeadline)
        .holdExpiryEntries(holdExpiryEntries)
        .verifyReportedChanges(verifyReportedChanges)
        .scrubBytesPerSecond(scrubBytesPerSecond);
  }

  /** A copy with another capture policy. */
  public StateMachineConfig withCaptureEvery(long entries, long bytes) {
    return toBuilder().captureEveryEntries(entries).captureEveryBytes(bytes).build();
  }

  private static void positive(String name, long value) {
    if (value <= 0) {
      throw new IllegalArgumentException(name + " must be positive: " + value);
    }
  }

  /**
   * Builds a {@link StateMachineConfig}; every setter names the record component it sets (see
   * there). Nothing is checked before {@link #build()}. Not thread-safe.
   */
  public static final class Builder {
    private long captureEveryEntries = 100_000;
    private long captureEveryBytes = 256L << 20;
    private long sessionIdleEntries = 10_000_000;
    private long holdExpiryEntries = 100_000;
    private int maxOutstandingPerSession = 1024;
    private int maxRunsPerShard = 4;
    private int retainSnapshots = 3;
    private int zstdLevel = 3;
    private long captureBytesPerSecond = 512L << 20;
    private Duration installDeadline = Duration.ofMinutes(10);
    private boolean verifyReportedChanges = Boolean.getBoolean(VERIFY_PROPERTY);
    private long scrubBytesPerSecond = 8L << 20;

    private Builder() {}

    /** See {@link StateMachineConfig#captureEveryEntries()}. */
    public Builder captureEveryEntries(long entries) {
      this.captureEveryEntries = entries;
      return this;
    }

    /** See {@link StateMachineConfig#captureEveryBytes()}. */
    public Builder captureEveryBytes(long bytes) {
      this.captureEveryBytes = bytes;
      return this;
    }

    /** See {@link StateMachineConfig#sessionIdleEntries()}. */
    public Builder sessionIdleEntries(long entries) {
      this.sessionIdleEntries = entries;
      return this;
    }

    /** See {@link StateMachineConfig#maxOutstandingPerSession()}. */
    public Builder maxOutstandingPerSession(int replies) {
      this.maxOutstandingPerSession = replies;
      return this;
    }

    /** See {@link StateMachineConfig#maxRunsPerShard()}. */
    public Builder maxRunsPerShard(int runs) {
      this.maxRunsPerShard = runs;
      return this;
    }

    /** See {@link StateMachineConfig#retainSnapshots()}. */
    public Builder retainSnapshots(int snapshots) {
      this.retainSnapshots = snapshots;
      return this;
    }

    /** See {@link StateMachineConfig#zstdLevel()}. */
    public Builder zstdLevel(int level) {
      this.zstdLevel = level;
      return this;
    }

    /** See {@link StateMachineConfig#captureBytesPerSecond()}. */
    public Builder captureBytesPerSecond(long bytesPerSecond) {
      this.captureBytesPerSecond = bytesPerSecond;
      return this;
    }

    /** See {@link StateMachineConfig#installDeadline()}. */
    public Builder installDeadline(Duration deadline) {
      this.installDeadline = deadline;
      return this;
    }

    /** See {@link StateMachineConfig#holdExpiryEntries()}. */
    public Builder holdExpiryEntries(long entries) {
      this.holdExpiryEntries = entries;
      return this;
    }

    /** See {@link StateMachineConfig#verifyReportedChanges()}. */
    public Builder verifyReportedChanges(boolean on) {
      this.verifyReportedChanges = on;
      return this;
    }

    /** See {@link StateMachineConfig#scrubBytesPerSecond()}. */
    public Builder scrubBytesPerSecond(long bytesPerSecond) {
      this.scrubBytesPerSecond = bytesPerSecond;
      return this;
    }

    /**
     * The configuration.
     *
     * @throws IllegalArgumentException naming the first bad value
     * @throws NullPointerException if the install deadline is null
     */
    public StateMachineConfig build() {
      return new StateMachineConfig(
          captureEveryEntries,
          captureEveryBytes,
          sessionIdleEntries,
          maxOutstandingPerSession,
          maxRunsPerShard,
          retainSnapshots,
          zstdLevel,
          captureBytesPerSecond,
          installDeadline,
          holdExpiryEntries,
          verifyReportedChanges,
          scrubBytesPerSecond);
    }
  }
}
