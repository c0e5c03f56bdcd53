package dev.ferry.shipping.chunks;

/**
 * Counters of a {@link ChunkServer} since it started.
 *
 * @param connectionsAccepted TCP connections accepted (authenticated or not)
 * @param connectionsAuthenticated connections whose peer proved the cluster secret
 * @param connectionsRefused connections refused: failed TLS handshake, wrong secret, unsupported
 *     version, no authentication in time, over the connection limit, or over the limits on
 *     unauthenticated connections (in all and per source address)
 * @param malformedFrames connections closed for breaking the protocol: a malformed, oversized,
 *     truncated (the connection closed or was reset in the middle of it) or unknown frame, or a
 *     frame not allowed in the connection's state
 * @param chunksServed chunks sent completely
 * @param bytesServed stored bytes of the chunks sent (frame headers excluded)
 * @param chunksMissing chunks asked for that the store does not hold or could not read
 * @param openConnections connections open now
 */
public record ChunkServerStats(
    long connectionsAccepted,
    long connectionsAuthenticated,
    long connectionsRefused,
    long malformedFrames,
    long chunksServed,
    long bytesServed,
    long chunksMissing,
    int openConnections) {}
