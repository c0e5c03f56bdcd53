package dev.ferry.shipping.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.codahale.metrics.MetricRegistry;
import org.junit.jupiter.api.Test;

class InstallMetricsTest {

  @Test
  void holdsRebasesAndAlertsAreExportedFromTheStart() {
    NodeMetrics prom = new NodeMetrics("n4");
    InstallMetrics m = new InstallMetrics(new MetricRegistry(), prom, "kv");
    String before = Scrapes.text(prom);
    assertTrue(before.contains("ferry_install_holds_total{group=\"kv\",node=\"n4\"} 0"), before);
    assertTrue(
        before.contains(
            "ferry_install_alerts_total{alert=\"hold_at_risk\",group=\"kv\",node=\"n4\"} 0"),
        before);
    m.holdPlaced();
    m.rebased();
    m.alert(InstallMetrics.Alert.SLOW);
    String after = Scrapes.text(prom);
    assertTrue(after.contains("ferry_install_holds_total{group=\"kv\",node=\"n4\"} 1"), after);
    assertTrue(after.contains("ferry_install_rebases_total{group=\"kv\",node=\"n4\"} 1"), after);
    assertTrue(
        after.contains("ferry_install_alerts_total{alert=\"slow\",group=\"kv\",node=\"n4\"} 1"),
        after);
    assertEquals(1, m.alerts().get(InstallMetrics.Alert.SLOW));
    assertEquals(0, m.alerts().get(InstallMetrics.Alert.REPEATED_FAILURES));
  }

  @Test
  void anInstallShowsInBothRegistries() {
    MetricRegistry jmx = new MetricRegistry();
    NodeMetrics prom = new NodeMetrics("n4");
    InstallMetrics m = new InstallMetrics(jmx, prom, "kv");

    assertTrue(
        Scrapes.text(prom).contains("ferry_install_in_progress{group=\"kv\",node=\"n4\"} 0"));
    m.begun();
    assertTrue(
        Scrapes.text(prom).contains("ferry_install_in_progress{group=\"kv\",node=\"n4\"} 1"));
    m.started(1000, 400, 900);
    String during = Scrapes.text(prom);
    assertTrue(during.contains("ferry_install_in_progress{group=\"kv\",node=\"n4\"} 1"), during);
    assertTrue(
        during.contains("ferry_install_completeness_ratio{group=\"kv\",node=\"n4\"} 0.4"), during);

    m.fetched("n1", 300, 500, 2_000_000);
    m.fetched("n2", 300, 300, 4_000_000);
    m.phase(InstallMetrics.Phase.LIST, 50_000_000);
    m.phase(InstallMetrics.Phase.TRANSFER, 3_000_000_000L);
    m.finished(InstallMetrics.Outcome.INSTALLED, 4_000_000_000L);

    String text = Scrapes.text(prom);
    assertTrue(
        text.contains(
            "ferry_install_fetched_bytes_total{group=\"kv\",node=\"n4\",source=\"n1\"} 300"),
        text);
    assertTrue(
        text.contains(
            "ferry_install_avoided_bytes_total{group=\"kv\",node=\"n4\",reason=\"dedup\"} 900"),
        text);
    assertTrue(
        text.contains(
            "ferry_install_avoided_bytes_total{group=\"kv\",node=\"n4\",reason=\"compression\"}"
                + " 200"),
        text);
    assertTrue(
        text.contains(
            "ferry_install_outcomes_total{group=\"kv\",node=\"n4\",outcome=\"success\","
                + "reason=\"installed\"} 1"),
        text);
    assertTrue(
        text.contains(
            "ferry_install_outcomes_total{group=\"kv\",node=\"n4\",outcome=\"failure\","
                + "reason=\"digest_mismatch\"} 0"),
        text);
    assertTrue(
        text.contains(
            "ferry_install_phase_seconds_count{group=\"kv\",node=\"n4\",phase=\"transfer\"} 1"),
        text);
    assertTrue(
        text.contains(
            "ferry_install_chunk_latency_seconds_count{group=\"kv\",node=\"n4\",source=\"n2\"} 1"),
        text);
    assertTrue(text.contains("ferry_install_in_progress{group=\"kv\",node=\"n4\"} 0"), text);
    assertTrue(text.contains("ferry_install_completeness_ratio{group=\"kv\",node=\"n4\"} 1"), text);

    // JMX keeps its names.
    assertEquals(1, jmx.counter("ferry.install.outcome.success").getCount());
    assertEquals(300, jmx.meter("ferry.install.bytes.source.n2").getCount());
    assertEquals(1L, m.outcomes().get(InstallMetrics.Outcome.INSTALLED));
  }
}
