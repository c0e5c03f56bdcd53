package dev.ferry.snapshot.codec;

/**
 * How a chunk's bytes are stored and shipped. The tag is the first byte of every stored chunk, so a
 * stored chunk describes its own codec; a chunk's id never depends on it.
 */
public enum ChunkCodec {
  /** The uncompressed bytes. */
  RAW((byte) 0),
  /** One zstd frame whose content size is recorded in the frame header. */
  ZSTD((byte) 1);

  private final byte tag;

  ChunkCodec(byte tag) {
    this.tag = tag;
  }

  /** The one-byte tag that starts a stored chunk. */
  public byte tag() {
    return tag;
  }

  /**
   * The codec with this tag.
   *
   * @throws CodecException if the tag names no codec
   */
  public static ChunkCodec ofTag(byte tag) throws CodecException {
    for (ChunkCodec c : values()) {
      if (c.tag == tag) {
        return c;
      }
    }
    throw new CodecException("unknown chunk codec tag " + (tag & 0xff));
  }
}
