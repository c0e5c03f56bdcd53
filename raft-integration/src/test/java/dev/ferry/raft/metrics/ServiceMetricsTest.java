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

  private static final List<String> NAMES =
      List.of(
          "ferry.chunks.connections.accepted",
          "ferry.chunks.connections.authenticated",
          "ferry.chunks.connections.refused",
          "ferry.chunks.frames.malformed",
          "ferry.chunks.connections.open",
          "ferry.admin.requests.served",
          "ferry.store.chunks.quarantined");

  @Test
  void gaugesReadTheSourcesUnderStableNamesAndReachJmx() throws Exception {
    MetricRegistry registry = new MetricRegistry();
    AtomicLong base = new AtomicLong();
    ServiceMetrics.register(
        registry,
        () -> {
          long b = base.get();
          return new ServiceCounters(b + 1, b + 2, b + 3, b + 4, b + 5, b + 6, b + 7);
        });
    base.set(100);
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
