package dev.ferry.bench;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.OptionalDouble;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * One scrape of a node's Prometheus {@code /metrics} (text format): the samples, and the figures
 * the multi-process benchmarks read from them. Immutable.
 *
 * @param samples every series' value, in the order of the text
 */
public record Scrape(List<Sample> samples) {
  private static final Pattern LINE =
      Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{(.*)})? (\\S+)$");
  private static final Pattern LABEL =
      Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)=\"((?:[^\"\\\\]|\\\\.)*)\"");
  private static final HttpClient HTTP =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  /** Copies the samples. */
  public Scrape {
    samples = List.copyOf(samples);
  }

  /**
   * One series' value.
   *
   * @param name the metric's name
   * @param labels its labels
   * @param value its value
   */
  public record Sample(String name, Map<String, String> labels, double value) {}

  /**
   * Scrapes {@code http://<address>/metrics}.
   *
   * <p>Blocks the calling thread (any thread) for the request.
   *
   * @throws IOException if the endpoint does not answer 200 within 60 s
   */
  public static Scrape of(InetSocketAddress address) throws IOException {
    URI uri =
        URI.create("http://" + address.getHostString() + ":" + address.getPort() + "/metrics");
    try {
      HttpResponse<String> r =
          HTTP.send(
              HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(60)).build(),
              HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() != 200) {
        throw new IOException(uri + ": HTTP " + r.statusCode());
      }
      return parse(r.body());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted scraping " + uri);
    }
  }

  /** Parses the text format; comments and lines it does not understand are skipped. */
  public static Scrape parse(String text) {
    List<Sample> out = new ArrayList<>();
    for (String line : text.split("\n")) {
      Matcher m = LINE.matcher(line.strip());
      if (line.startsWith("#") || !m.matches()) {
        continue;
      }
      Map<String, String> labels = new HashMap<>();
      if (m.group(3) != null) {
        Matcher l = LABEL.matcher(m.group(3));
        while (l.find()) {
          labels.put(l.group(1), l.group(2));
        }
      }
      try {
        out.add(new Sample(m.group(1), labels, Double.parseDouble(m.group(4))));
      } catch (NumberFormatException e) {
        // "+Inf" and the like: not a figure this benchmark reads
      }
    }
    return new Scrape(out);
  }

  /** Series {@code name}'s value per group (label {@code group}). */
  public Map<String, Double> byGroup(String name) {
    Map<String, Double> out = new TreeMap<>();
    for (Sample s : samples) {
      if (s.name().equals(name) && s.labels().containsKey("group")) {
        out.put(s.labels().get("group"), s.value());
      }
    }
    return out;
  }

  /** The groups this node leads ({@code ferry_raft_role{role="leader"} == 1}). */
  public List<String> ledGroups() {
    List<String> out = new ArrayList<>();
    for (Sample s : samples) {
      if (s.name().equals("ferry_raft_role")
          && "leader".equals(s.labels().get("role"))
          && s.value() == 1) {
        out.add(s.labels().get("group"));
      }
    }
    return out;
  }

  /** The first series {@code name} whose labels include {@code labels}, if any. */
  public OptionalDouble value(String name, Map<String, String> labels) {
    for (Sample s : samples) {
      if (s.name().equals(name) && s.labels().entrySet().containsAll(labels.entrySet())) {
        return OptionalDouble.of(s.value());
      }
    }
    return OptionalDouble.empty();
  }

  /** The JVM's direct buffer pool in use, bytes, or -1 if not in the scrape. */
  public long directPoolBytes() {
    return (long) value("jvm_buffer_pool_used_bytes", Map.of("pool", "direct")).orElse(-1);
  }

  /**
   * The direct memory Ratis's Netty counts itself (a gauge the groups benchmark's nodes add), -1 if
   * it does not.
   */
  public long nettyDirectBytes() {
    return (long) value("bench_netty_used_direct_memory_bytes", Map.of()).orElse(-1);
  }
}
