package dev.ferry.raft;

import dev.ferry.shipping.net.LogLimiter;
import java.time.Duration;
import java.util.EnumSet;
import java.util.Locale;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import org.apache.ratis.conf.Parameters;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.grpc.GrpcConfigKeys;
import org.apache.ratis.grpc.server.GrpcServices;
import org.apache.ratis.server.RaftServerConfigKeys;
import org.apache.ratis.thirdparty.io.grpc.netty.NettyServerBuilder;
import org.apache.ratis.util.SizeInBytes;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The bounds Ferry puts on a node's Raft (gRPC) port, which any client that can reach it may talk
 * to unless the cluster runs mutual TLS:
 *
 * <ul>
 *   <li>an inbound message is at most the Raft log appender's buffer limit plus 1 MiB (5 MiB by
 *       default; Ratis's own minimum), the largest message Ratis sends (an append batch, or a
 *       client request whose log entry Ratis would accept at all); a larger one is refused from its
 *       5-byte gRPC header with {@code RESOURCE_EXHAUSTED}, before its body is buffered;
 *   <li>a connection must finish its TLS and HTTP/2 handshake within {@link #HANDSHAKE_TIMEOUT};
 *       one with no call open for {@link #IDLE_TIMEOUT} is closed (clients reconnect when needed);
 *   <li>at most {@link #MAX_RESETS} stream resets per {@link #RESET_WINDOW_SECONDS} s per
 *       connection: beyond that the connection gets a GOAWAY and is closed (HTTP/2 rapid reset).
 * </ul>
 *
 * Calls per connection are not capped: Ratis keeps a long-lived append stream per group and
 * follower on one connection between two servers, and a cap would leave the groups beyond it
 * waiting forever. Nor does gRPC cap connections. So one stranger can still make the node buffer up
 * to the message cap per open call; only mutual TLS keeps strangers off this port.
 *
 * <p>gRPC reports a bad connection or call through java.util.logging, as a stack trace of about 20
 * lines; {@link #quietGrpcLogs()} turns each such record into one line of this class's log, at most
 * {@value #LOG_LINES_PER_MINUTE} a minute.
 *
 * <p>Stateless apart from the JVM-wide logging hook; thread-safe.
 */
final class RaftPort {
  private static final Logger LOG = LoggerFactory.getLogger(RaftPort.class);

  static final Duration HANDSHAKE_TIMEOUT = Duration.ofSeconds(10);
  static final Duration IDLE_TIMEOUT = Duration.ofMinutes(1);
  static final int MAX_RESETS = 200;
  static final int RESET_WINDOW_SECONDS = 10;
  static final int LOG_LINES_PER_MINUTE = 20;

  /** The JUL loggers gRPC (shaded in Ratis) and its Netty write to; kept: JUL holds them weakly. */
  private static final java.util.logging.Logger[] GRPC_LOGGERS = {
    java.util.logging.Logger.getLogger("org.apache.ratis.thirdparty.io.grpc"),
    java.util.logging.Logger.getLogger("org.apache.ratis.thirdparty.io.netty"),
  };

  private static final LogLimiter LOG_LIMIT = LogLimiter.perMinute(LOG_LINES_PER_MINUTE);
  private static boolean quieted;

  private RaftPort() {}

  /**
   * Caps the inbound message size in {@code p} at the appender buffer limit plus 1 MiB, unless
   * {@code raft.grpc.message.size.max} is set there already. Call after every other property is
   * set.
   *
   * @return the cap
   */
  static SizeInBytes capMessageSize(RaftProperties p) {
    if (p.get(GrpcConfigKeys.MESSAGE_SIZE_MAX_KEY) != null) {
      return GrpcConfigKeys.messageSizeMax(p, s -> {});
    }
    long buffer = RaftServerConfigKeys.Log.Appender.bufferByteLimit(p).getSize();
    SizeInBytes cap = SizeInBytes.valueOf(buffer + SizeInBytes.ONE_MB.getSize());
    GrpcConfigKeys.setMessageSizeMax(p, cap);
    return cap;
  }

  /** Adds the connection bounds to the Ratis parameters {@code parameters}. */
  static void limitConnections(Parameters parameters) {
    GrpcConfigKeys.Server.setServicesCustomizer(parameters, RaftPort::customize);
  }

  /**
   * Adds the connection bounds and {@code gate} (a node's "starting" answer for the groups it is
   * still adding, see {@link StartingGate}) to the Ratis parameters {@code parameters}.
   */
  static void limitConnections(Parameters parameters, StartingGate gate) {
    GrpcConfigKeys.Server.setServicesCustomizer(
        parameters, (b, types) -> customize(b, types).intercept(gate));
  }

  private static NettyServerBuilder customize(
      NettyServerBuilder b, EnumSet<GrpcServices.Type> types) {
    b.handshakeTimeout(HANDSHAKE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
    return b.maxConnectionIdle(IDLE_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS)
        .maxRstFramesPerWindow(MAX_RESETS, RESET_WINDOW_SECONDS);
  }

  /**
   * Sends what gRPC and its Netty log through java.util.logging to this class's SLF4J log instead
   * of the console, one line per record: WARN for SEVERE and WARNING, INFO for INFO with an
   * exception (a connection that failed), DEBUG for the rest; a stack trace becomes its exception's
   * class and message (and its root cause's). Idempotent; JVM-wide.
   */
  static synchronized void quietGrpcLogs() {
    if (quieted) {
      return;
    }
    quieted = true;
    Handler oneLine = new OneLineHandler();
    for (java.util.logging.Logger l : GRPC_LOGGERS) {
      l.setUseParentHandlers(false);
      l.addHandler(oneLine);
    }
  }

  /** One line per record, rate-limited. */
  private static final class OneLineHandler extends Handler {
    @Override
    public void publish(LogRecord r) {
      int level = r.getLevel().intValue();
      if (level < Level.INFO.intValue()
          || (level < Level.WARNING.intValue() && r.getThrown() == null)) {
        if (LOG.isDebugEnabled()) {
          LOG.debug("gRPC: {}", line(r));
        }
        return;
      }
      long skipped = LOG_LIMIT.admit();
      if (skipped < 0) {
        return;
      }
      if (level >= Level.WARNING.intValue()) {
        LOG.warn("gRPC: {}{}", line(r), LogLimiter.note(skipped));
      } else {
        LOG.info("gRPC: {}{}", line(r), LogLimiter.note(skipped));
      }
    }

    private static String line(LogRecord r) {
      String message = r.getMessage();
      Object[] params = r.getParameters();
      if (message != null && params != null && params.length > 0) {
        message = new java.text.MessageFormat(message, Locale.ROOT).format(params);
      }
      String source = r.getLoggerName();
      source = source == null ? "?" : source.substring(source.lastIndexOf('.') + 1);
      StringBuilder b = new StringBuilder().append(message).append(" [").append(source).append(']');
      Throwable t = r.getThrown();
      if (t != null) {
        b.append(": ").append(t);
        Throwable root = t;
        while (root.getCause() != null && root.getCause() != root) {
          root = root.getCause();
        }
        if (root != t) {
          b.append(" (caused by ").append(root).append(')');
        }
      }
      return b.toString();
    }

    @Override
    public void flush() {}

    @Override
    public void close() {}
  }
}
