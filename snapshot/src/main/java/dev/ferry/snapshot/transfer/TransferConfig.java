package dev.ferry.snapshot.transfer;

import java.time.Duration;
import java.util.Objects;

/**
 * Tuning of a {@link ChunkTransfer}. Validated on construction; every duration must be positive
 * (the backoffs may be zero) and fit in a {@code long} of nanoseconds.
 *
 * @param maxInFlightBytesPerSource stored bytes requested from one source and not yet answered;
 *     exceeded only by a single chunk larger than the cap, sent to an otherwise idle source
 * @param maxBatchChunks most chunks named in one {@link TransferAction.Fetch}
 * @param chunkTimeout how long a requested chunk may stay unanswered before it is retried
 *     elsewhere; must cover the queueing a full in-flight window causes on the slowest source the
 *     transfer should tolerate ({@code maxInFlightBytesPerSource / throughput}) plus latency
 * @param maxAttemptsPerChunk how many times one chunk may fail (error, timeout or corrupt bytes)
 *     before the transfer gives up; a chunk rescheduled because its source was lost or demoted does
 *     not spend an attempt
 * @param corruptionsToDemote how many corrupt answers demote a source (no further fetches)
 * @param deadline how long the whole transfer may take, counted from {@link ChunkTransfer#start}
 * @param failureBackoff how long a source gets no new requests after a failure or timeout; doubled
 *     for each further failure of a request sent after the previous backoff ended, reset by any
 *     good chunk
 * @param maxFailureBackoff the cap of that doubling
 */
public record TransferConfig(
    long maxInFlightBytesPerSource,
    int maxBatchChunks,
    Duration chunkTimeout,
    int maxAttemptsPerChunk,
    int corruptionsToDemote,
    Duration deadline,
    Duration failureBackoff,
    Duration maxFailureBackoff) {

  public TransferConfig {
    if (maxInFlightBytesPerSource <= 0) {
      throw new IllegalArgumentException(
          "maxInFlightBytesPerSource must be > 0: " + maxInFlightBytesPerSource);
    }
    if (maxBatchChunks <= 0) {
      throw new IllegalArgumentException("maxBatchChunks must be > 0: " + maxBatchChunks);
    }
    requirePositive("chunkTimeout", chunkTimeout);
    if (maxAttemptsPerChunk <= 0) {
      throw new IllegalArgumentException("maxAttemptsPerChunk must be > 0: " + maxAttemptsPerChunk);
    }
    if (corruptionsToDemote <= 0) {
      throw new IllegalArgumentException("corruptionsToDemote must be > 0: " + corruptionsToDemote);
    }
    requirePositive("deadline", deadline);
    requireNonNegative("failureBackoff", failureBackoff);
    requireNonNegative("maxFailureBackoff", maxFailureBackoff);
    if (maxFailureBackoff.compareTo(failureBackoff) < 0) {
      throw new IllegalArgumentException(
          "maxFailureBackoff " + maxFailureBackoff + " < failureBackoff " + failureBackoff);
    }
  }

  /**
   * Defaults for chunks of a few hundred KiB over a LAN or WAN: 16 MiB in flight per source,
   * batches of 16, 30 s per chunk, 5 attempts, demotion on the first corrupt chunk, a 30 minute
   * deadline, backoff from 200 ms to 10 s.
   */
  public static TransferConfig defaults() {
    return new TransferConfig(
        16L << 20,
        16,
        Duration.ofSeconds(30),
        5,
        1,
        Duration.ofMinutes(30),
        Duration.ofMillis(200),
        Duration.ofSeconds(10));
  }

  /** This config with another in-flight cap per source. */
  public TransferConfig withMaxInFlightBytesPerSource(long bytes) {
    return new TransferConfig(
        bytes,
        maxBatchChunks,
        chunkTimeout,
        maxAttemptsPerChunk,
        corruptionsToDemote,
        deadline,
        failureBackoff,
        maxFailureBackoff);
  }

  /** This config with another batch size. */
  public TransferConfig withMaxBatchChunks(int chunks) {
    return new TransferConfig(
        maxInFlightBytesPerSource,
        chunks,
        chunkTimeout,
        maxAttemptsPerChunk,
        corruptionsToDemote,
        deadline,
        failureBackoff,
        maxFailureBackoff);
  }

  /** This config with another per-chunk timeout. */
  public TransferConfig withChunkTimeout(Duration timeout) {
    return new TransferConfig(
        maxInFlightBytesPerSource,
        maxBatchChunks,
        timeout,
        maxAttemptsPerChunk,
        corruptionsToDemote,
        deadline,
        failureBackoff,
        maxFailureBackoff);
  }

  /** This config with another attempt limit. */
  public TransferConfig withMaxAttemptsPerChunk(int attempts) {
    return new TransferConfig(
        maxInFlightBytesPerSource,
        maxBatchChunks,
        chunkTimeout,
        attempts,
        corruptionsToDemote,
        deadline,
        failureBackoff,
        maxFailureBackoff);
  }

  /** This config with another demotion threshold. */
  public TransferConfig withCorruptionsToDemote(int corruptions) {
    return new TransferConfig(
        maxInFlightBytesPerSource,
        maxBatchChunks,
        chunkTimeout,
        maxAttemptsPerChunk,
        corruptions,
        deadline,
        failureBackoff,
        maxFailureBackoff);
  }

  /** This config with another overall deadline. */
  public TransferConfig withDeadline(Duration overall) {
    return new TransferConfig(
        maxInFlightBytesPerSource,
        maxBatchChunks,
        chunkTimeout,
        maxAttemptsPerChunk,
        corruptionsToDemote,
        overall,
        failureBackoff,
        maxFailureBackoff);
  }

  /** This config with other failure backoffs. */
  public TransferConfig withFailureBackoff(Duration initial, Duration max) {
    return new TransferConfig(
        maxInFlightBytesPerSource,
        maxBatchChunks,
        chunkTimeout,
        maxAttemptsPerChunk,
        corruptionsToDemote,
        deadline,
        initial,
        max);
  }

  long chunkTimeoutNanos() {
    return chunkTimeout.toNanos();
  }

  long deadlineNanos() {
    return deadline.toNanos();
  }

  long failureBackoffNanos() {
    return failureBackoff.toNanos();
  }

  long maxFailureBackoffNanos() {
    return maxFailureBackoff.toNanos();
  }

  private static void requirePositive(String name, Duration d) {
    requireNonNegative(name, d);
    if (d.isZero()) {
      throw new IllegalArgumentException(name + " must be > 0: " + d);
    }
  }

  private static void requireNonNegative(String name, Duration d) {
    Objects.requireNonNull(d, name);
    if (d.isNegative()) {
      throw new IllegalArgumentException(name + " must not be negative: " + d);
    }
    try {
      d.toNanos();
    } catch (ArithmeticException e) {
      throw new IllegalArgumentException(name + " too long: " + d, e);
    }
  }
}
