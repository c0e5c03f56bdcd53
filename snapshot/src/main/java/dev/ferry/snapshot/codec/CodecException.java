package dev.ferry.snapshot.codec;

import java.io.IOException;

/** Stored chunk bytes that cannot be decoded within their bounds. */
public final class CodecException extends IOException {
  private static final long serialVersionUID = 1L;

  public CodecException(String message) {
    super(message);
  }

  public CodecException(String message, Throwable cause) {
    super(message, cause);
  }
}
