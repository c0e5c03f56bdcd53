package dev.ferry.snapshot.format;

import java.io.IOException;

/**
 * Bytes that are not a valid encoded manifest: wrong magic or version, a size or count out of
 * bounds, truncated or trailing bytes, malformed UTF-8, a value that breaks a manifest invariant,
 * or a root hash that does not match the content. The message says what was wrong; {@link
 * #offset()} says where.
 *
 * <p>This is the only exception {@link ManifestCodec} decoding throws for bad input, whatever the
 * input.
 */
public final class ManifestFormatException extends IOException {
  private static final long serialVersionUID = 1L;

  private final long offset;

  /**
   * @param message what was wrong
   * @param offset the byte offset, from the start of the encoded manifest, of the offending field
   */
  public ManifestFormatException(String message, long offset) {
    super("bad manifest at offset " + offset + ": " + message);
    this.offset = offset;
  }

  /**
   * @param message what was wrong
   * @param offset the byte offset of the offending field
   * @param cause the underlying error
   */
  public ManifestFormatException(String message, long offset, Throwable cause) {
    super("bad manifest at offset " + offset + ": " + message, cause);
    this.offset = offset;
  }

  /** The byte offset, from the start of the encoded manifest, of the offending field. */
  public long offset() {
    return offset;
  }
}
