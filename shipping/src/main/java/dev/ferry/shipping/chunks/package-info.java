/**
 * The chunk service: {@link dev.ferry.shipping.chunks.ChunkServer}, which each node runs on its own
 * port to serve its manifests and chunks to authenticated peers, and {@link
 * dev.ferry.shipping.chunks.ChunkClient}, its client, the network {@link
 * dev.ferry.snapshot.transport.ChunkTransport} and the installer's {@link
 * dev.ferry.shipping.chunks.SnapshotPeer}. The wire protocol is documented on {@code ChunkServer}
 * and in {@code docs/chunk-protocol.md}; frame codecs and connection handlers are package-private.
 */
package dev.ferry.shipping.chunks;
