package dev.ferry.raft.metrics;

/**
 * A node's counters of its service port (the chunk service, which carries admin requests too), of
 * its admin service and of its chunk store, read at one moment (each counter since its service
 * started); 0 for a service the node does not run. What {@link ServiceMetrics} exports.
 *
 * @param chunkAccepted service port connections accepted (chunk and admin clients)
 * @param chunkAuthenticated of them, authenticated
 * @param chunkRefused chunk service connections refused (failed TLS or authentication, no
 *     authentication in time, over a connection limit)
 * @param chunkMalformed chunk service connections closed for a malformed, truncated or out-of-place
 *     frame or a malformed admin request
 * @param chunkOpen chunk service connections open now
 * @param adminServed admin requests answered
 * @param quarantined chunks the store found corrupt and quarantined since it was opened
 */
public record ServiceCounters(
    long chunkAccepted,
    long chunkAuthenticated,
    long chunkRefused,
    long chunkMalformed,
    long chunkOpen,
    long adminServed,
    long quarantined) {}
