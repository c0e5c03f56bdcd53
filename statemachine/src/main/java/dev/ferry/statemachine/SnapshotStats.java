package dev.ferry.statemachine;

/**
 * What a replica's snapshots look like and what capturing them cost, since the state machine
 * started. A point-in-time copy; every field is read without locks, so fields may be from slightly
 * different moments.
 *
 * @param latestIndex the log index of the newest durable snapshot, or {@code -1} if there is none
 * @param latestRawBytes the uncompressed size of the newest durable snapshot's state ({@code 0}
 *     without one)
 * @param latestDurableAtMillis when the newest durable snapshot became durable on this replica
 *     (captured or installed; for one found at start, its manifest file's modification time), in
 *     milliseconds since the epoch, or {@code -1} without one
 * @param captures captures that completed
 * @param captureFailures captures that failed
 * @param captureNanos time spent in completed captures
 * @param captureBytes bytes of state the completed captures chunked and wrote (a layered capture
 *     writes only its delta runs; reused runs are not counted)
 * @param lastCaptureNanos the duration of the last completed capture ({@code 0} before the first)
 * @param lastCaptureBytes the bytes the last completed capture wrote ({@code 0} before the first)
 * @param pendingCaptures captures queued or running now
 */
public record SnapshotStats(
    long latestIndex,
    long latestRawBytes,
    long latestDurableAtMillis,
    long captures,
    long captureFailures,
    long captureNanos,
    long captureBytes,
    long lastCaptureNanos,
    long lastCaptureBytes,
    long pendingCaptures) {}
