package dev.ferry.raft.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;

import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.jmx.JmxReporter;
import java.lang.management.ManagementFactory;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import javax.management.ObjectName;
import org.junit.jupiter.api.Test;

class ServiceMetricsTest {

  /** Sources whose every counter is its position in {@link ServiceMetrics.Sources} plus a base. */
  private static final class Fixed implements ServiceMetrics.Sources {
    final AtomicLong base = new AtomicLong();

    @Override
    public long chunkAccepted() {
      return base.get() + 1;
    }

    @Override
    public long chunkAuthenticated() {
      return base.get() + 2;
    }

    @Override
    public long chunkRefused() {
      return base.get() + 3;
    }

    @Override
    public long chunkMalformed() {
      return base.get() + 4;
    }

    @Override
    public long chunkOpen() {
      return base.get() + 5;
    }

    @Override
    public long adminRefused() {
      return base.get() + 6;
    }

    @Override
    public long adminMalformed() {
      return base.get() + 7;
    }

    @Override
    public long adminServed() {
      return base.get() + 8;
    }

    @Override
    public long quarantined() {
      return base.get() + 9;
    }
  }

  private static final List<String> NAMES =
      List.of(
          "ferry.chunks.connections.accepted",
          "ferry.chunks.connections.authenticated",
          "ferry.chunks.connections.refused",
          "ferry.chunks.frames.malformed",
          "ferry.chunks.connections.open",
          "ferry.admin.connections.refused",
          "ferry.admin.frames.malformed",
          "ferry.admin.requests.served",
          "ferry.store.chunks.quarantined");

  @Test
  void gaugesReadTheSourcesUnderStableNamesAndReachJmx() throws Exception {
    MetricRegistry registry = new MetricRegistry();
    Fixed sources = new Fixed();
    ServiceMetrics.register(registry, sources);
    sources.base.set(100);
    for (int i = 0; i < NAMES.size(); i++) {
      assertEquals(101L + i, registry.getGauges().get(NAMES.get(i)).getValue(), NAMES.get(i));
    }
    try (JmxReporter jmx =
        JmxReporter.forRegistry(registry).inDomain("dev.ferry.metrics-test").build()) {
      jmx.start();
      for (int i = 0; i < NAMES.size(); i++) {
        Object value =
            ManagementFactory.getPlatformMBeanServer()
                .getAttribute(
                    new ObjectName("dev.ferry.metrics-test:name=" + NAMES.get(i) + ",type=gauges"),
                    "Value");
        assertEquals(101L + i, value, NAMES.get(i));
      }
    }
  }
}
