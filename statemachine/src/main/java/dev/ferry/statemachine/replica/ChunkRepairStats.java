package dev.ferry.statemachine.replica;

/**
 * What a replica did about corrupt chunks in its store since it started.
 *
 * @param repaired chunks fetched again from peers (verified) after the store quarantined them
 * @param failedRepairs attempts to fetch them that failed (retried with a backoff)
 * @param pending quarantined chunks a snapshot still needs that are not back yet
 * @param scrubPasses full passes of the background scrub
 * @param scrubbedBytes uncompressed bytes the scrub re-hashed
 * @param scrubFoundCorrupt chunks the scrub found corrupt
 */
public record ChunkRepairStats(
    long repaired,
    long failedRepairs,
    long pending,
    long scrubPasses,
    long scrubbedBytes,
    long scrubFoundCorrupt) {}
