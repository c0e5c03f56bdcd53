package dev.ferry.kv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ferry.kv.cluster.ProcessCluster;
import dev.ferry.kv.testing.LocalCluster;
import dev.ferry.kv.testing.NodeLogsOnFailure;
import dev.ferry.raft.admin.AddRequest;
import dev.ferry.raft.admin.AdminClient;
import dev.ferry.shipping.PeerAddress;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code GET /metrics} and {@code GET /health} of running {@code ferry server} processes: a 3-node
 * cluster that then adds a 4th node (so an install, captures and a membership change happened).
 * Every node's scrape must pass {@code promtool check metrics} (Prometheus's own parser and
 * linter), hold the figures the install and the add produced, and name every metric the Grafana
 * dashboard uses; the example alerting rules must pass {@code promtool check rules}; health must be
 * 503 on a listener and 200 on members. One cluster for everything (this suite's time budget).
 */
@ExtendWith(NodeLogsOnFailure.class)
class MetricsProcessIT {
  private static final Duration T = Duration.ofSeconds(120);
  private static final Path DOCS = Path.of("..", "docs");

  @TempDir Path dir;

  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  private HttpResponse<String> get(InetSocketAddress a, String path) throws IOException {
    HttpRequest r =
        HttpRequest.newBuilder(URI.create("http://" + a.getHostString() + ":" + a.getPort() + path))
            .timeout(Duration.ofSeconds(10))
            .build();
    try {
      return http.send(r, HttpResponse.BodyHandlers.ofString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException(e);
    }
  }

  /** The status of {@code GET /health}, or -1 while the endpoint does not answer. */
  private int healthStatus(InetSocketAddress a) {
    try {
      return get(a, "/health").statusCode();
    } catch (IOException e) {
      return -1;
    }
  }

  private static Path promtool() {
    for (String d : System.getenv().getOrDefault("PATH", "/usr/bin").split(":")) {
      Path p = Path.of(d, "promtool");
      if (Files.isExecutable(p)) {
        return p;
      }
    }
    return null;
  }

  /** Runs promtool with {@code args} ({@code stdin} as its input, if not null). */
  private String promtool(Path promtool, Path stdin, String... args) throws Exception {
    List<String> cmd = new ArrayList<>(List.of(promtool.toString()));
    cmd.addAll(List.of(args));
    Path out = Files.createTempFile(dir, "promtool", ".out");
    ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
    pb.redirectOutput(out.toFile());
    if (stdin != null) {
      pb.redirectInput(stdin.toFile());
    }
    Process p = pb.start();
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "promtool did not finish: " + cmd);
    String output = Files.readString(out);
    assertEquals(0, p.exitValue(), "promtool " + String.join(" ", args) + ":\n" + output);
    return output;
  }

  @Test
  void scrapesPassPromtoolHealthFollowsMembershipAndTheDashboardNamesOnlyExportedMetrics()
      throws Exception {
    Path promtool = promtool();
    assumeTrue(
        promtool != null,
        "promtool not found on PATH: install Debian's 'prometheus' package"
            + " (scripts/test does as root) to run this test");
    long t0 = System.nanoTime();
    List<String> steps = new ArrayList<>();
    try (ProcessCluster cluster = ProcessCluster.builder(dir, 3).start(T)) {
      steps.add("cluster up " + (System.nanoTime() - t0) / 1_000_000 + " ms");
      try (KvClient c = cluster.client(Duration.ofSeconds(30))) {
        Random rnd = new Random(13);
        for (int b = 0; b < 20; b++) {
          List<byte[][]> batch = new ArrayList<>();
          for (int i = 0; i < 50; i++) {
            byte[] value = new byte[512];
            rnd.nextBytes(value);
            batch.add(new byte[][] {("k" + (b * 50 + i)).getBytes(StandardCharsets.UTF_8), value});
          }
          c.putAll(batch);
        }
      }
      for (PeerAddress p : cluster.peers()) {
        InetSocketAddress a = cluster.metricsAddress(p.id());
        LocalCluster.await(T, () -> healthStatus(a) == 200, p.id() + " to be ready");
      }

      steps.add("loaded, all ready " + (System.nanoTime() - t0) / 1_000_000 + " ms");
      // A listener is live but not ready until it is a voting member.
      int[] ports = ProcessCluster.freePorts(2);
      PeerAddress n4 = new PeerAddress("n4", "127.0.0.1", ports[0], ports[1]);
      cluster.startListener(n4);
      InetSocketAddress m4 = cluster.metricsAddress("n4");
      LocalCluster.await(T, () -> healthStatus(m4) > 0, "n4's health endpoint");
      HttpResponse<String> listening = get(m4, "/health");
      assertEquals(503, listening.statusCode(), listening.body());
      assertTrue(listening.body().contains("\"ready\":false"), listening.body());
      assertTrue(listening.body().contains("not a voting member"), listening.body());
      assertEquals(200, get(m4, "/health/live").statusCode());

      try (AdminClient admin =
          AdminClient.connect(
              cluster.peers().get(0),
              AdminClient.groupId(cluster.clusterName()),
              cluster.secret(),
              null,
              "metrics-it")) {
        admin.add(new AddRequest(n4, T), p -> {});
      }
      LocalCluster.await(T, () -> healthStatus(m4) == 200, "n4 to be ready once a voter");
      steps.add("n4 added and ready " + (System.nanoTime() - t0) / 1_000_000 + " ms");
      String ready = get(m4, "/health").body();
      assertTrue(ready.contains("\"ready\":true") && ready.contains("\"member\":true"), ready);

      Map<String, String> scrapes = new LinkedHashMap<>();
      for (String id : List.of("n1", "n2", "n3", "n4")) {
        HttpResponse<String> r = get(cluster.metricsAddress(id), "/metrics");
        assertEquals(200, r.statusCode());
        Path file = dir.resolve(id + ".prom");
        Files.writeString(file, r.body());
        promtool(promtool, file, "check", "metrics");
        scrapes.put(id, r.body());
      }
      System.out.println(
          "n4 scrape (ferry_install_*):\n"
              + scrapes
                  .get("n4")
                  .lines()
                  .filter(l -> l.startsWith("ferry_install_"))
                  .filter(l -> !l.contains("_bucket"))
                  .reduce("", (a, b) -> a + b + "\n"));

      // What the install into n4 and the add left behind.
      String s4 = scrapes.get("n4");
      assertTrue(value(s4, "ferry_install_outcomes_total", "reason=\"installed\"") >= 1, s4);
      for (String phase : List.of("list", "transfer", "load", "verify", "finalize")) {
        assertTrue(
            value(s4, "ferry_install_phase_seconds_count", "phase=\"" + phase + "\"") >= 1,
            phase + " timed:\n" + s4);
      }
      assertTrue(fetchedBytes(s4) > 0, "bytes fetched per source:\n" + s4);
      assertEquals(1, value(s4, "ferry_node_ready", "node=\"n4\""), s4);
      String s1 = scrapes.get("n1");
      assertEquals(
          1, value(s1, "ferry_membership_changes_total", "kind=\"add\"", "outcome=\"ok\""), s1);
      assertEquals(1, value(s1, "ferry_membership_checkpoints_total", "result=\"match\""), s1);
      List<String> leaders = new ArrayList<>();
      for (Map.Entry<String, String> e : scrapes.entrySet()) {
        String s = e.getValue();
        assertTrue(value(s, "ferry_snapshot_age_seconds", "node=\"" + e.getKey() + "\"") >= 0, s);
        assertTrue(value(s, "ferry_store_chunks", "node=\"" + e.getKey() + "\"") > 0, s);
        if (value(s, "ferry_raft_role", "role=\"leader\"") == 1) {
          leaders.add(e.getKey());
          assertTrue(
              value(s, "ferry_raft_follower_match_index", "follower=\"n4\"") > 0,
              "the leader knows n4's match index:\n" + s);
        }
      }
      assertTrue(leaders.size() <= 1, "leaders " + leaders);

      promtool(
          promtool, null, "check", "rules", DOCS.resolve("prometheus/ferry-alerts.yml").toString());

      Set<String> exported = new TreeSet<>();
      scrapes.values().forEach(s -> exported.addAll(sampleNames(s)));
      Set<String> used = dashboardMetrics(DOCS.resolve("grafana/ferry-dashboard.json"));
      assertTrue(used.size() >= 30, "metrics found in the dashboard: " + used);
      Set<String> missing = new TreeSet<>();
      for (String name : used) {
        if (!exported.contains(name)
            && !exported.contains(name + "_bucket")
            && !exported.contains(name + "_count")) {
          missing.add(name);
        }
      }
      assertTrue(missing.isEmpty(), "the dashboard uses metrics no node exports: " + missing);

      steps.add("scrapes checked " + (System.nanoTime() - t0) / 1_000_000 + " ms");
      // The leader and one more voter of four gone: the other two lose their leader (they start
      // elections they cannot win) and stop being ready, while staying live.
      List<String> gone = new ArrayList<>(leaders);
      for (String id : List.of("n1", "n2", "n3", "n4")) {
        if (gone.size() < 2 && !gone.contains(id)) {
          gone.add(id);
        }
      }
      for (String id : gone) {
        cluster.kill(id);
      }
      for (String id : List.of("n1", "n2", "n3", "n4")) {
        if (gone.contains(id)) {
          continue;
        }
        InetSocketAddress a = cluster.metricsAddress(id);
        LocalCluster.await(T, () -> healthStatus(a) == 503, id + " to be unready without a quorum");
        String body = get(a, "/health").body();
        assertTrue(body.contains("\"live\":true") && body.contains("no leader known"), body);
      }
      steps.add("no quorum, unready " + (System.nanoTime() - t0) / 1_000_000 + " ms");
      System.out.println("steps: " + steps);
    }
  }

  /**
   * The value of the first sample of {@code name} whose labels contain every one of {@code labels}
   * ({@code key="value"}), or -1 when there is none.
   */
  static double value(String scrape, String name, String... labels) {
    for (String line : scrape.lines().toList()) {
      if (!line.startsWith(name + "{")) {
        continue;
      }
      String labelPart = line.substring(name.length(), line.lastIndexOf('}') + 1);
      boolean all = true;
      for (String l : labels) {
        all &= labelPart.contains(l);
      }
      if (all) {
        return Double.parseDouble(line.substring(line.lastIndexOf(' ') + 1));
      }
    }
    return -1;
  }

  private static double fetchedBytes(String scrape) {
    return scrape
        .lines()
        .filter(l -> l.startsWith("ferry_install_fetched_bytes_total{"))
        .mapToDouble(l -> Double.parseDouble(l.substring(l.lastIndexOf(' ') + 1)))
        .sum();
  }

  /** The metric names of a scrape's samples (histograms as their _bucket, _count, _sum). */
  static Set<String> sampleNames(String scrape) {
    Set<String> names = new TreeSet<>();
    for (String line : scrape.lines().toList()) {
      if (line.isBlank() || line.startsWith("#")) {
        continue;
      }
      int end = 0;
      while (end < line.length() && line.charAt(end) != '{' && line.charAt(end) != ' ') {
        end++;
      }
      names.add(line.substring(0, end));
    }
    return names;
  }

  private static final Pattern EXPR =
      Pattern.compile("\"expr\"\\s*:\\s*\"((?:[^\"\\\\]|\\\\.)*)\"");
  private static final Pattern IDENT = Pattern.compile("[a-zA-Z_:][a-zA-Z0-9_:]*");
  private static final Set<String> KEYWORDS =
      Set.of(
          "by",
          "without",
          "on",
          "ignoring",
          "group_left",
          "group_right",
          "bool",
          "and",
          "or",
          "unless",
          "offset",
          "inf",
          "nan");

  /**
   * The metric names in the dashboard's PromQL expressions: identifiers outside label matchers,
   * strings, ranges and grouping clauses that are not functions, aggregations or keywords.
   */
  static Set<String> dashboardMetrics(Path dashboard) throws IOException {
    Set<String> names = new TreeSet<>();
    Matcher m = EXPR.matcher(Files.readString(dashboard));
    while (m.find()) {
      String expr = m.group(1).replace("\\\"", "\"").replace("\\\\", "\\");
      String bare =
          expr.replaceAll("\"(?:[^\"\\\\]|\\\\.)*\"", "\"\"")
              .replaceAll("\\{[^}]*}", " ")
              .replaceAll("\\[[^]]*]", " ")
              .replaceAll("\\b(by|without|on|ignoring|group_left|group_right)\\s*\\([^)]*\\)", " ");
      Matcher id = IDENT.matcher(bare);
      while (id.find()) {
        String token = id.group();
        int after = id.end();
        while (after < bare.length() && bare.charAt(after) == ' ') {
          after++;
        }
        boolean call = after < bare.length() && bare.charAt(after) == '(';
        boolean number = id.start() > 0 && Character.isDigit(bare.charAt(id.start() - 1));
        if (!call && !number && !KEYWORDS.contains(token)) {
          names.add(token);
        }
      }
    }
    assertFalse(names.isEmpty(), "no expressions found in " + dashboard);
    return names;
  }
}
