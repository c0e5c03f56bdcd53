package dev.ferry.shipping.chunks;

import java.io.IOException;

/**
 * A chunk-service connection could not be authenticated: the TLS handshake failed, the peer refused
 * this node (wrong cluster secret, unsupported protocol version, too many connections), the peer
 * failed to prove the secret itself, or it is not the node it was expected to be.
 */
public final class ChunkAuthException extends IOException {
  private static final long serialVersionUID = 1L;

  public ChunkAuthException(String message) {
    super(message);
  }

  public ChunkAuthException(String message, Throwable cause) {
    super(message, cause);
  }
}
