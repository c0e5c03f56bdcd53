package dev.ferry.shipping.chunks;

import java.io.IOException;

/**
 * The peer broke the chunk protocol: a frame that is malformed, too long, of an unknown type, or
 * not allowed in the connection's state. The connection it arrived on is closed.
 */
final class ProtocolException extends IOException {
  private static final long serialVersionUID = 1L;

  ProtocolException(String message) {
    super(message);
  }
}
