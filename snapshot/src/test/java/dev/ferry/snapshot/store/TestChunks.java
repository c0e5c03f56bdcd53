package dev.ferry.snapshot.store;

import java.nio.charset.StandardCharsets;
import java.util.Random;

/** Deterministic chunk contents for tests. */
final class TestChunks {
  private TestChunks() {}

  /** Incompressible bytes: zstd cannot save 5 %, so the store keeps them raw. */
  static byte[] random(long seed, int length) {
    byte[] b = new byte[length];
    new Random(seed).nextBytes(b);
    return b;
  }

  /** Text-like bytes that compress well. */
  static byte[] compressible(long seed, int length) {
    Random r = new Random(seed);
    StringBuilder sb = new StringBuilder(length + 64);
    while (sb.length() < length) {
      sb.append("key-").append(r.nextInt(1000)).append("=value-").append(r.nextInt(50)).append(';');
    }
    byte[] all = sb.toString().getBytes(StandardCharsets.US_ASCII);
    byte[] out = new byte[length];
    System.arraycopy(all, 0, out, 0, length);
    return out;
  }
}
