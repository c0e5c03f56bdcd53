package dev.ferry.raft.metrics;

import com.codahale.metrics.Gauge;
import com.codahale.metrics.MetricRegistry;
import java.util.Objects;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * A node's counters of its service port (the chunk service, which carries the admin requests too),
 * its admin service and its chunk store, as gauges in a Dropwizard {@link MetricRegistry} (exported
 * over JMX by {@code FerryServer}, as {@code dev.ferry.<node>:name=<metric>,type=gauges}). The
 * names are stable; each gauge reads a fresh {@link ServiceCounters} (taken from the services' own
 * counters: a {@code ChunkServerStats}, the {@code AdminServer}'s accessors, the store's {@code
 * StoreStats}) when read, so the registry and those objects always agree:
 *
 * <table>
 *   <caption>Metrics</caption>
 *   <tr><th>name</th><th>counts</th></tr>
 *   <tr><td>{@code ferry.chunks.connections.accepted}</td><td>service port connections
 *       accepted (chunk and admin clients)</td></tr>
 *   <tr><td>{@code ferry.chunks.connections.authenticated}</td><td>of them, authenticated</td></tr>
 *   <tr><td>{@code ferry.chunks.connections.refused}</td><td>refused: failed TLS or
 *       authentication, no authentication in time, over a connection limit</td></tr>
 *   <tr><td>{@code ferry.chunks.frames.malformed}</td><td>closed for a malformed, truncated or
 *       out-of-place frame or a malformed admin request</td></tr>
 *   <tr><td>{@code ferry.chunks.connections.open}</td><td>open now</td></tr>
 *   <tr><td>{@code ferry.admin.requests.served}</td><td>admin requests answered</td></tr>
 *   <tr><td>{@code ferry.store.chunks.quarantined}</td><td>chunks the store found corrupt and
 *       quarantined since it was opened</td></tr>
 * </table>
 *
 * A gauge whose source is not there (a node without a chunk service, a store not open yet) reads 0.
 * Thread-safe.
 */
public final class ServiceMetrics {
  /** Chunk service metric name prefix. */
  public static final String CHUNKS = "ferry.chunks.";

  /** Admin service metric name prefix. */
  public static final String ADMIN = "ferry.admin.";

  /** Chunk store metric name prefix. */
  public static final String STORE = "ferry.store.";

  private ServiceMetrics() {}

  /**
   * Registers the gauges in {@code registry}; each reads {@code counters} when it is read.
   *
   * @param counters the node's counters now; called from any thread, must not block
   * @throws IllegalArgumentException if one of the names is registered already
   */
  public static void register(MetricRegistry registry, Supplier<ServiceCounters> counters) {
    Objects.requireNonNull(registry, "registry");
    Objects.requireNonNull(counters, "counters");
    gauge(registry, CHUNKS + "connections.accepted", () -> counters.get().chunkAccepted());
    gauge(
        registry, CHUNKS + "connections.authenticated", () -> counters.get().chunkAuthenticated());
    gauge(registry, CHUNKS + "connections.refused", () -> counters.get().chunkRefused());
    gauge(registry, CHUNKS + "frames.malformed", () -> counters.get().chunkMalformed());
    gauge(registry, CHUNKS + "connections.open", () -> counters.get().chunkOpen());
    gauge(registry, ADMIN + "requests.served", () -> counters.get().adminServed());
    gauge(registry, STORE + "chunks.quarantined", () -> counters.get().quarantined());
  }

  private static void gauge(MetricRegistry registry, String name, LongSupplier value) {
    registry.register(name, (Gauge<Long>) value::getAsLong);
  }
}
