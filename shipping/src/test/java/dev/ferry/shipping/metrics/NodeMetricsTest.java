package dev.ferry.shipping.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class NodeMetricsTest {

  @Test
  void callbackMetricsReadTheirSourceAtEveryScrapeLabelledWithTheNode() {
    NodeMetrics m = new NodeMetrics("n1");
    AtomicLong refused = new AtomicLong(3);
    m.counter("ferry_test_refused_total", "Refused.", refused::get);
    m.gauge("ferry_test_open", "Open.", () -> 2.5);

    String text = Scrapes.text(m);
    assertTrue(text.contains("# TYPE ferry_test_refused_total counter"), text);
    assertTrue(text.contains("ferry_test_refused_total{node=\"n1\"} 3"), text);
    assertTrue(text.contains("ferry_test_open{node=\"n1\"} 2.5"), text);

    refused.set(7);
    assertTrue(Scrapes.text(m).contains("ferry_test_refused_total{node=\"n1\"} 7"));
  }

  @Test
  void labelledCountsExportOneSeriesPerEntryIncludingInitialisedZeros() {
    NodeMetrics m = new NodeMetrics("n2");
    LabelledCounts c = new LabelledCounts("kind", "outcome");
    c.init("add", "ok");
    c.inc("remove", "timeout");
    c.inc("remove", "timeout");
    m.counter("ferry_test_changes_total", "Changes.", c);

    String text = Scrapes.text(m);
    assertTrue(
        text.contains("ferry_test_changes_total{kind=\"add\",node=\"n2\",outcome=\"ok\"} 0"), text);
    assertTrue(
        text.contains(
            "ferry_test_changes_total{kind=\"remove\",node=\"n2\",outcome=\"timeout\"} 2"),
        text);
    assertEquals(2, c.get("remove", "timeout"));
    assertEquals(0, c.get("add", "failed"));
    assertThrows(IllegalArgumentException.class, () -> c.inc("add"));
  }

  @Test
  void aSeriesTheCallbackDoesNotReportIsAbsent() {
    NodeMetrics m = new NodeMetrics("n1");
    m.gauges("ferry_test_maybe", "Maybe.", List.of("group"), cb -> {});
    assertFalse(Scrapes.text(m).contains("ferry_test_maybe{"));
  }

  @Test
  void histogramsHaveClassicBucketsAndANameIsRegisteredOnce() {
    NodeMetrics m = new NodeMetrics("n1");
    var h =
        m.histogram(
            "ferry_test_seconds", "Seconds.", NodeMetrics.exponentialBounds(0.1, 10, 3), "phase");
    h.labelValues("list").observe(0.05);
    h.labelValues("list").observe(5);

    String text = Scrapes.text(m);
    assertTrue(text.contains("ferry_test_seconds_bucket{node=\"n1\",phase=\"list\",le=\"0.1\"} 1"));
    assertTrue(
        text.contains("ferry_test_seconds_bucket{node=\"n1\",phase=\"list\",le=\"10.0\"} 2"));
    assertTrue(text.contains("ferry_test_seconds_count{node=\"n1\",phase=\"list\"} 2"), text);
    assertThrows(
        IllegalArgumentException.class, () -> m.gauge("ferry_test_seconds", "Again.", () -> 1));
  }

  @Test
  void exponentialBounds() {
    double[] b = NodeMetrics.exponentialBounds(0.01, 2, 4);
    assertEquals(4, b.length);
    assertEquals(0.08, b[3], 1e-12);
  }
}
