package dev.ferry.shipping.chunks;

import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * Serves the admin requests of one group on a {@link ChunkServer} (registered with {@link
 * ChunkServer#serveAdmin}). The chunk service has already authenticated the connection, bounded the
 * frame and checked that the request names this handler's group.
 *
 * <p>Concurrency: {@link #handle} is called on the connection's event-loop thread and must not
 * block: blocking work goes to the handler's own threads. A connection has at most one admin
 * request outstanding, so calls for one connection never overlap; calls for different connections
 * may run concurrently.
 */
@FunctionalInterface
public interface AdminHandler {

  /**
   * Starts answering one request.
   *
   * @param peer the id the client authenticated with (for logs)
   * @param request the request's kind and body, as the client sent them
   * @param progress takes interim messages to send before the answer (any thread, never blocks;
   *     ignored once the answer is given or the connection closed)
   * @return the answer; a future failed with {@link IllegalArgumentException} means the request's
   *     body is malformed: the client gets an error naming the reason, the connection is closed and
   *     counted in {@link ChunkServerStats#malformedFrames()}. Any other failure is answered as an
   *     internal error and the connection stays open.
   */
  CompletableFuture<AdminMessage> handle(
      String peer, AdminMessage request, Consumer<AdminMessage> progress);
}
