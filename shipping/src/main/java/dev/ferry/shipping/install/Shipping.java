package dev.ferry.shipping.install;

/**
 * In which form chunks cross the network during an install.
 *
 * <p>Chunks are stored zstd-compressed. The receiver must decompress each one before it can check
 * its hash (the hash is over the uncompressed bytes), so the stored form costs the receiver
 * decompression; the raw form costs the link more bytes (and the sender the decompression, spread
 * over all sources). With transfer and verification pipelined, the stored form delivers {@code
 * min(link × ratio, verify rate)} uncompressed bytes per second and the raw form {@code link}: raw
 * wins exactly when the link is faster than this node verifies compressed chunks.
 */
public enum Shipping {
  /** Always as stored (compressed where compression paid at capture). */
  AS_STORED,
  /** Always uncompressed. */
  RAW,
  /**
   * Per source: raw once the measured link rate from that source exceeds this node's measured rate
   * of decompressing and hashing compressed chunks; as stored until both are measured.
   */
  AUTO;

  /** Minimum observations before {@link #AUTO} decides. */
  static final long MIN_SAMPLE_BYTES = 4L << 20;

  /**
   * The {@link #AUTO} decision.
   *
   * @param linkBytesPerSecond bytes per second measured on the wire from the source
   * @param verifyRawBytesPerSecond uncompressed bytes per second this node decompresses and hashes
   */
  static boolean rawPays(double linkBytesPerSecond, double verifyRawBytesPerSecond) {
    return linkBytesPerSecond > verifyRawBytesPerSecond;
  }

  /** Whether to ask a source for raw chunks now. */
  boolean raw(long wireBytes, long wireNanos, long verifiedRawBytes, long verifyNanos) {
    return switch (this) {
      case AS_STORED -> false;
      case RAW -> true;
      case AUTO ->
          wireBytes >= MIN_SAMPLE_BYTES
              && verifiedRawBytes >= MIN_SAMPLE_BYTES
              && wireNanos > 0
              && verifyNanos > 0
              && rawPays(wireBytes * 1e9 / wireNanos, verifiedRawBytes * 1e9 / verifyNanos);
    };
  }
}
