package dev.ferry.raft.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.shipping.metrics.NodeMetrics;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

class MetricsHttpServerTest {
  private final HttpClient http = HttpClient.newHttpClient();

  private HttpResponse<String> send(InetSocketAddress a, String method, String path)
      throws Exception {
    HttpRequest r =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + a.getPort() + path))
            .method(method, HttpRequest.BodyPublishers.noBody())
            .build();
    return http.send(r, HttpResponse.BodyHandlers.ofString());
  }

  @Test
  void servesMetricsAndHealthWithStatusByReadiness() throws Exception {
    NodeMetrics m = new NodeMetrics("n1");
    m.gauge("ferry_test_up", "Up.", () -> 1);
    AtomicReference<Health> health =
        new AtomicReference<>(Health.of("LISTENER", false, "n2", false));
    try (MetricsHttpServer s =
        MetricsHttpServer.start(
            new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), m, health::get)) {
      InetSocketAddress a = s.address();

      HttpResponse<String> metrics = send(a, "GET", "/metrics");
      assertEquals(200, metrics.statusCode());
      assertTrue(metrics.body().contains("ferry_test_up{node=\"n1\"} 1"), metrics.body());

      HttpResponse<String> notReady = send(a, "GET", "/health");
      assertEquals(503, notReady.statusCode());
      assertTrue(notReady.body().contains("\"reason\":\"not a voting member\""), notReady.body());
      assertEquals(200, send(a, "GET", "/health/live").statusCode());
      assertEquals(503, send(a, "GET", "/health/ready").statusCode());

      health.set(Health.of("FOLLOWER", true, "n2", false));
      HttpResponse<String> ready = send(a, "GET", "/health");
      assertEquals(200, ready.statusCode());
      assertEquals(
          "{\"live\":true,\"ready\":true,\"role\":\"FOLLOWER\",\"member\":true,\"leader\":\"n2\","
              + "\"installing\":false,\"reason\":\"ready\"}\n",
          ready.body());

      assertEquals(404, send(a, "GET", "/nothing").statusCode());
      assertEquals(405, send(a, "POST", "/health").statusCode());
    }
  }
}
