package dev.ferry.raft.metrics;

import com.sun.net.httpserver.HttpExchange;
import dev.ferry.shipping.metrics.NodeMetrics;
import io.prometheus.metrics.exporter.httpserver.HTTPServer;
import java.io.Closeable;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A node's metrics and health over HTTP, unauthenticated (bind it to an address only the monitoring
 * network reaches):
 *
 * <ul>
 *   <li>{@code GET /metrics}: the registry in Prometheus text format (or OpenMetrics/protobuf when
 *       the scraper asks for it), served by the Prometheus client's exporter;
 *   <li>{@code GET /health} and {@code GET /health/ready}: the {@link Health} report as JSON, with
 *       status 200 when the node is ready and 503 when it is not;
 *   <li>{@code GET /health/live}: the same JSON, always with status 200 (the process runs).
 * </ul>
 *
 * Anything else is 404; a method other than GET or HEAD on a health path is 405. The health report
 * is computed per request on the exporter's threads. Thread-safe.
 */
public final class MetricsHttpServer implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(MetricsHttpServer.class);

  private final HTTPServer server;
  private final InetSocketAddress address;

  private MetricsHttpServer(HTTPServer server, InetSocketAddress address) {
    this.server = server;
    this.address = address;
  }

  /**
   * Starts serving on {@code bind} (port 0 picks a free port).
   *
   * @param metrics what {@code /metrics} serves
   * @param health computes the health report; called per request, must not block for long
   * @throws IOException if the address cannot be bound
   */
  public static MetricsHttpServer start(
      InetSocketAddress bind, NodeMetrics metrics, Supplier<Health> health) throws IOException {
    Objects.requireNonNull(bind, "bind");
    Objects.requireNonNull(metrics, "metrics");
    Objects.requireNonNull(health, "health");
    HTTPServer server;
    try {
      server =
          HTTPServer.builder()
              .inetAddress(bind.getAddress())
              .port(bind.getPort())
              .registry(metrics.registry())
              .registerHealthHandler(false)
              .defaultHandler(exchange -> serveHealth(exchange, health))
              .buildAndStart();
    } catch (IOException e) {
      throw new IOException("metrics endpoint of " + metrics.node() + " cannot bind " + bind, e);
    }
    InetSocketAddress bound = new InetSocketAddress(bind.getAddress(), server.getPort());
    LOG.debug(
        "{}: metrics on http://{}:{}/metrics, health on /health (unauthenticated)",
        metrics.node(),
        bound.getHostString(),
        bound.getPort());
    return new MetricsHttpServer(server, bound);
  }

  /** The address served (with the port bound). */
  public InetSocketAddress address() {
    return address;
  }

  /** Stops serving. Idempotent. */
  @Override
  public void close() {
    server.close();
  }

  private static void serveHealth(HttpExchange exchange, Supplier<Health> health)
      throws IOException {
    try (exchange) {
      String path = exchange.getRequestURI().getPath();
      boolean live = path.equals("/health/live");
      if (!live && !path.equals("/health") && !path.equals("/health/ready")) {
        respond(exchange, 404, "text/plain; charset=utf-8", "not found: " + path + "\n");
        return;
      }
      String method = exchange.getRequestMethod();
      if (!method.equals("GET") && !method.equals("HEAD")) {
        exchange.getResponseHeaders().set("Allow", "GET, HEAD");
        respond(exchange, 405, "text/plain; charset=utf-8", "method not allowed\n");
        return;
      }
      Health h;
      try {
        h = health.get();
      } catch (RuntimeException e) {
        h = new Health(false, "UNKNOWN", false, null, false, "health unavailable: " + e);
      }
      respond(exchange, live || h.ready() ? 200 : 503, "application/json", h.toJson() + "\n");
    }
  }

  private static void respond(HttpExchange exchange, int status, String type, String body)
      throws IOException {
    byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", type);
    if (exchange.getRequestMethod().equals("HEAD")) {
      exchange.sendResponseHeaders(status, -1);
      return;
    }
    exchange.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(bytes);
    }
  }
}
