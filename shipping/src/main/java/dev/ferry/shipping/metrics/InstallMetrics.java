package dev.ferry.shipping.metrics;

import com.codahale.metrics.Counter;
import com.codahale.metrics.Gauge;
import com.codahale.metrics.Meter;
import com.codahale.metrics.MetricRegistry;
import com.codahale.metrics.Timer;
import io.prometheus.metrics.core.metrics.Histogram;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Metrics of snapshot installs into one group on this node.
 *
 * <p>Over JMX (a Dropwizard {@link MetricRegistry}, names under {@code ferry.install.*}): bytes
 * fetched per source, bytes avoided by dedup (already held) and by compression (raw minus stored),
 * chunk latency, completeness of the current install, time to the first loaded shard, time to
 * finalize, outcomes and demoted sources.
 *
 * <p>In Prometheus ({@link NodeMetrics}, every series labelled {@code node} and {@code group}):
 * {@code ferry_install_fetched_bytes_total{source}}, {@code
 * ferry_install_avoided_bytes_total{reason}}, {@code ferry_install_chunk_latency_seconds{source}}
 * (histogram), {@code ferry_install_phase_seconds{phase}} (histogram), {@code
 * ferry_install_outcomes_total{outcome,reason}}, {@code ferry_install_completeness_ratio}, {@code
 * ferry_install_in_progress}, {@code ferry_install_wanted_bytes}, {@code ferry_install_done_bytes}
 * and {@code ferry_install_sources_demoted_total}. Counters are read from the Dropwizard ones at
 * scrape time; only the histograms are recorded twice. A registry holds the install metrics of one
 * group. Thread-safe.
 */
public final class InstallMetrics {
  /** Metric name prefix (JMX). */
  public static final String PREFIX = "ferry.install.";

  private static final String SOURCE_PREFIX = PREFIX + "bytes.source.";

  /** The phases of an install, in order; each is timed once per install that reaches its end. */
  public enum Phase {
    /** Asking the peers for their snapshots, choosing a baseline, fetching and pinning it. */
    LIST,
    /** From the first request for a chunk until every missing chunk is verified and stored. */
    TRANSFER,
    /** Shard loads still running after the transfer ended (loads overlap the transfer). */
    LOAD,
    /** Making the chunks durable, checking the state's digest and publishing the manifest. */
    VERIFY,
    /** From the install's success until Ratis swapped the new state in. */
    FINALIZE;

    /** The label value. */
    public String label() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /** Why an install ended; the label {@code reason} of {@code ferry_install_outcomes_total}. */
  public enum Outcome {
    /** Installed. */
    INSTALLED(true),
    /** No baseline: no peer listed a snapshot that was new enough, or none could be pinned. */
    NO_BASELINE(false),
    /** The transfer gave up (no sources left, chunks unavailable, attempts exhausted). */
    TRANSFER_GAVE_UP(false),
    /** The loaded state's digest differed from the manifest's. */
    DIGEST_MISMATCH(false),
    /** Reading or writing local storage failed. */
    IO_ERROR(false),
    /** Any other failure. */
    ERROR(false);

    private final boolean success;

    Outcome(boolean success) {
      this.success = success;
    }

    /** The label value of {@code reason}. */
    public String label() {
      return name().toLowerCase(Locale.ROOT);
    }

    /** The label value of {@code outcome}: {@code success} or {@code failure}. */
    public String outcome() {
      return success ? "success" : "failure";
    }
  }

  /** Install alerts; the label {@code alert} of {@code ferry_install_alerts_total}. */
  public enum Alert {
    /** The install has run longer than the slow-install threshold. */
    SLOW,
    /** The install's ETA is longer than its retention hold's remaining budget lasts. */
    HOLD_AT_RISK,
    /** Several installs in a row failed. */
    REPEATED_FAILURES;

    /** The label value. */
    public String label() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  private static final String CHUNK_LATENCY = "ferry_install_chunk_latency_seconds";
  private static final String CHUNK_LATENCY_HELP =
      "Time from requesting a chunk to its arrival, per source.";
  private static final double[] CHUNK_BOUNDS = NodeMetrics.exponentialBounds(0.001, 2, 15);
  private static final String PHASES = "ferry_install_phase_seconds";
  private static final String PHASES_HELP =
      "Duration of each phase of an install (list, transfer, load, verify, finalize).";
  private static final double[] PHASE_BOUNDS = NodeMetrics.exponentialBounds(0.01, 2, 17);

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
  private final LabelledCounts outcomes = new LabelledCounts("outcome", "reason");
  private final LabelledCounts corruptSourceAlerts = new LabelledCounts("source");
  private final LabelledCounts alerts = new LabelledCounts("alert");
  private final AtomicLong holds = new AtomicLong();
  private final AtomicLong rebases = new AtomicLong();
  private final AtomicLong wantedBytes = new AtomicLong();
  private final AtomicLong doneBytes = new AtomicLong();
  private final AtomicBoolean inProgress = new AtomicBoolean();
  private final String group;
  private final Histogram chunkSeconds;
  private final Histogram phaseSeconds;

  /** Metrics in {@code registry} only (Prometheus series go to a registry nobody serves). */
  public InstallMetrics(MetricRegistry registry) {
    this(registry, new NodeMetrics("local"), "local");
  }

  /**
   * Metrics in {@code registry} (JMX) and {@code prometheus}, labelled with {@code group}.
   *
   * @throws IllegalArgumentException if {@code prometheus} already holds install metrics
   */
  public InstallMetrics(MetricRegistry registry, NodeMetrics prometheus, String group) {
    this.registry = Objects.requireNonNull(registry, "registry");
    this.group = Objects.requireNonNull(group, "group");
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
    registry.gauge(PREFIX + "completeness", () -> (Gauge<Double>) this::completeness);
    for (Outcome o : Outcome.values()) {
      outcomes.init(o.outcome(), o.label());
    }
    for (Alert a : Alert.values()) {
      alerts.init(a.label());
    }
    String[] bySource = {"group", "source"};
    String[] byPhase = {"group", "phase"};
    this.chunkSeconds =
        prometheus.histogram(CHUNK_LATENCY, CHUNK_LATENCY_HELP, CHUNK_BOUNDS, bySource);
    this.phaseSeconds = prometheus.histogram(PHASES, PHASES_HELP, PHASE_BOUNDS, byPhase);
    register(prometheus);
  }

  private void register(NodeMetrics m) {
    List<String> g = List.of("group");
    m.counters(
        "ferry_install_fetched_bytes_total",
        "Stored bytes of chunks fetched by installs, per source.",
        List.of("group", "source"),
        cb ->
            registry
                .getMeters((name, meter) -> name.startsWith(SOURCE_PREFIX))
                .forEach(
                    (name, meter) ->
                        cb.call(meter.getCount(), group, name.substring(SOURCE_PREFIX.length()))));
    m.counters(
        "ferry_install_avoided_bytes_total",
        "Bytes installs did not fetch: already held (dedup) or saved by compression.",
        List.of("group", "reason"),
        cb -> {
          cb.call(avoidedDedup.getCount(), group, "dedup");
          cb.call(avoidedCompression.getCount(), group, "compression");
        });
    m.counters(
        "ferry_install_outcomes_total",
        "Installs that ended, by outcome and reason.",
        List.of("group", "outcome", "reason"),
        cb -> outcomes.forEach((values, n) -> cb.call(n, group, values.get(0), values.get(1))));
    m.counters(
        "ferry_install_sources_demoted_total",
        "Sources an install stopped using because they served corrupt data.",
        g,
        cb -> cb.call(corruptSources.getCount(), group));
    m.counters(
        "ferry_install_corrupt_source_alerts_total",
        "Alerts 'a source was demoted for corruption', per source: the source was told which"
            + " chunks failed, to re-verify, quarantine and re-fetch them.",
        List.of("group", "source"),
        cb -> corruptSourceAlerts.forEach((values, n) -> cb.call(n, group, values.get(0))));
    m.counters(
        "ferry_install_holds_total",
        "Log-retention holds this node's installs placed (one per baseline).",
        g,
        cb -> cb.call(holds.get(), group));
    m.counters(
        "ferry_install_rebases_total",
        "Installs that moved to a newer baseline because their hold's log budget ran out.",
        g,
        cb -> cb.call(rebases.get(), group));
    m.counters(
        "ferry_install_alerts_total",
        "Install alerts raised (once per episode), by alert.",
        List.of("group", "alert"),
        cb -> alerts.forEach((values, n) -> cb.call(n, group, values.get(0))));
    m.gauges(
        "ferry_install_completeness_ratio",
        "Share of the current (or last) install's bytes held: 1 when none runs.",
        g,
        cb -> cb.call(completeness(), group));
    m.gauges(
        "ferry_install_in_progress",
        "1 while an install runs on this node, else 0.",
        g,
        cb -> cb.call(inProgress.get() ? 1 : 0, group));
    m.gauges(
        "ferry_install_wanted_bytes",
        "Stored bytes of the current (or last) install's baseline.",
        g,
        cb -> cb.call(wantedBytes.get(), group));
    m.gauges(
        "ferry_install_done_bytes",
        "Stored bytes of the current (or last) install's baseline held so far.",
        g,
        cb -> cb.call(Math.min(doneBytes.get(), wantedBytes.get()), group));
  }

  private double completeness() {
    long w = wantedBytes.get();
    return w == 0 ? 1.0 : Math.min(1.0, (double) doneBytes.get() / w);
  }

  /** The registry these metrics live in. */
  public MetricRegistry registry() {
    return registry;
  }

  /** An install began: it asks the peers for their snapshots. */
  public void begun() {
    inProgress.set(true);
  }

  /**
   * An install chose its baseline, which needs {@code wanted} stored bytes, {@code held} of them
   * local ({@code heldRawBytes} uncompressed).
   */
  public void started(long wanted, long held, long heldRawBytes) {
    wantedBytes.set(wanted);
    doneBytes.set(held);
    inProgress.set(true);
    avoidedDedup.inc(heldRawBytes);
  }

  /** A chunk arrived from {@code source}. */
  public void fetched(String source, long storedBytes, long rawBytes, long latencyNanos) {
    bytesFetched.mark(storedBytes);
    registry.meter(SOURCE_PREFIX + source).mark(storedBytes);
    avoidedCompression.inc(Math.max(0, rawBytes - storedBytes));
    chunkLatency.update(latencyNanos, TimeUnit.NANOSECONDS);
    chunkSeconds.labelValues(group, source).observe(latencyNanos / 1e9);
    doneBytes.addAndGet(storedBytes);
  }

  /** A source was demoted (it served corrupt data). */
  public void demoted() {
    corruptSources.inc();
  }

  /**
   * The alert "a source was demoted for corruption" was raised for {@code source} (once per
   * episode: an install that demoted it).
   */
  public void corruptSourceAlert(String source) {
    corruptSourceAlerts.inc(source);
    registry.counter(PREFIX + "alerts.corrupt-source").inc();
  }

  /** How many corrupt-source alerts were raised for {@code source}. */
  public long corruptSourceAlerts(String source) {
    return corruptSourceAlerts.get(source);
  }

  /** An install placed a log-retention hold at its baseline. */
  public void holdPlaced() {
    holds.incrementAndGet();
  }

  /** An install moved to a newer baseline (its hold's budget ran out). */
  public void rebased() {
    rebases.incrementAndGet();
  }

  /** An install raised {@code alert}. */
  public void alert(Alert alert) {
    alerts.inc(alert.label());
  }

  /** Holds placed so far. */
  public long holdsPlaced() {
    return holds.get();
  }

  /** Rebases so far. */
  public long rebases() {
    return rebases.get();
  }

  /** Alerts raised so far, by alert (every alert present, 0 before the first). */
  public Map<Alert, Long> alerts() {
    Map<Alert, Long> out = new java.util.EnumMap<>(Alert.class);
    for (Alert a : Alert.values()) {
      out.put(a, alerts.get(a.label()));
    }
    return out;
  }

  /** The first shard was loaded, {@code nanos} after the install started. */
  public void firstShard(long nanos) {
    firstShard.update(nanos, TimeUnit.NANOSECONDS);
  }

  /** An install finished {@code phase}, which took {@code nanos}. */
  public void phase(Phase phase, long nanos) {
    phaseSeconds.labelValues(group, phase.label()).observe(Math.max(0, nanos) / 1e9);
    if (phase == Phase.VERIFY) {
      finalizeTime.update(nanos, TimeUnit.NANOSECONDS);
    }
  }

  /** The install ended with {@code outcome} after {@code totalNanos}. */
  public void finished(Outcome outcome, long totalNanos) {
    Objects.requireNonNull(outcome, "outcome");
    inProgress.set(false);
    (outcome == Outcome.INSTALLED ? succeeded : failed).inc();
    outcomes.inc(outcome.outcome(), outcome.label());
    duration.update(totalNanos, TimeUnit.NANOSECONDS);
  }

  /** The installs that ended, by outcome and reason (every reason present, 0 before the first). */
  public Map<Outcome, Long> outcomes() {
    Map<Outcome, Long> out = new java.util.EnumMap<>(Outcome.class);
    for (Outcome o : Outcome.values()) {
      out.put(o, outcomes.get(o.outcome(), o.label()));
    }
    return out;
  }
}
