package dev.ferry.raft.metrics;

import com.codahale.metrics.Counter;
import com.codahale.metrics.Gauge;
import com.codahale.metrics.Meter;
import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.Timer;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Metrics of snapshot installs on this node, in a Dropwizard {@link MetricRegistry} under {@code
 * ferry.install.*}: bytes fetched per source, bytes avoided by dedup (already held) and by
 * compression (raw minus stored), chunk latency, throughput, completeness of the current install,
 * time to the first loaded shard, time to finalize, and outcomes. Thread-safe.
 */
public final class InstallMetrics {
  /** Metric name prefix. */
  public static final String PREFIX = "ferry.install.";

  private final MetricRegistry registry;
  private final Meter bytesFetched;
  private final Counter avoidedDedup;
  private final Counter avoidedCompression;
  private final Timer chunkLatency;
  private final Timer firstShard;
  private final Timer finalizeTime;
  private final Timer duration;
  private final Counter succeeded;
  private final Counter failed;
  private final Counter corruptSources;
  private final AtomicLong wantedBytes = new AtomicLong();
  private final AtomicLong doneBytes = new AtomicLong();

  public InstallMetrics(MetricRegistry registry) {
    this.registry = Objects.requireNonNull(registry, "registry");
    this.bytesFetched = registry.meter(PREFIX + "bytes.fetched");
    this.avoidedDedup = registry.counter(PREFIX + "bytes.avoided.dedup");
    this.avoidedCompression = registry.counter(PREFIX + "bytes.avoided.compression");
    this.chunkLatency = registry.timer(PREFIX + "chunk.latency");
    this.firstShard = registry.timer(PREFIX + "time.first-shard");
    this.finalizeTime = registry.timer(PREFIX + "time.finalize");
    this.duration = registry.timer(PREFIX + "time.total");
    this.succeeded = registry.counter(PREFIX + "outcome.success");
    this.failed = registry.counter(PREFIX + "outcome.failure");
    this.corruptSources = registry.counter(PREFIX + "sources.demoted");
    registry.gauge(
        PREFIX + "completeness",
        () ->
            (Gauge<Double>)
                () -> {
                  long w = wantedBytes.get();
                  return w == 0 ? 1.0 : Math.min(1.0, (double) doneBytes.get() / w);
                });
  }

  /** The registry these metrics live in. */
  public MetricRegistry registry() {
    return registry;
  }

  /** An install started that needs {@code wanted} stored bytes, {@code held} of them local. */
  public void started(long wanted, long held, long heldRawBytes) {
    wantedBytes.set(wanted);
    doneBytes.set(held);
    avoidedDedup.inc(heldRawBytes);
  }

  /** A chunk arrived from {@code source}. */
  public void fetched(String source, long storedBytes, long rawBytes, long latencyNanos) {
    bytesFetched.mark(storedBytes);
    registry.meter(PREFIX + "bytes.source." + source).mark(storedBytes);
    avoidedCompression.inc(Math.max(0, rawBytes - storedBytes));
    chunkLatency.update(latencyNanos, TimeUnit.NANOSECONDS);
    doneBytes.addAndGet(storedBytes);
  }

  /** A source was demoted (it served corrupt data). */
  public void demoted() {
    corruptSources.inc();
  }

  /** The first shard was loaded, {@code nanos} after the install started. */
  public void firstShard(long nanos) {
    firstShard.update(nanos, TimeUnit.NANOSECONDS);
  }

  /** The install ended. */
  public void finished(boolean success, long totalNanos, long finalizeNanos) {
    (success ? succeeded : failed).inc();
    duration.update(totalNanos, TimeUnit.NANOSECONDS);
    if (success) {
      finalizeTime.update(finalizeNanos, TimeUnit.NANOSECONDS);
    }
  }
}
