package dev.ferry.snapshot.format;

import dev.ferry.snapshot.ChunkId;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.Arrays;

/**
 * Writes manifest fields one by one, independently of {@link ManifestCodec}, so tests can state the
 * layout byte for byte and craft encodings the codec would never produce.
 */
final class RawManifest {
  private final ByteArrayOutputStream body = new ByteArrayOutputStream();

  RawManifest u16(int v) {
    body.write(v >>> 8);
    body.write(v);
    return this;
  }

  RawManifest u32(long v) {
    return u16((int) (v >>> 16) & 0xffff).u16((int) v & 0xffff);
  }

  RawManifest i64(long v) {
    return u32(v >>> 32).u32(v & 0xffffffffL);
  }

  RawManifest bytes(byte[] b) {
    body.write(b, 0, b.length);
    return this;
  }

  RawManifest repeat(int value, int n) {
    for (int i = 0; i < n; i++) {
      body.write(value);
    }
    return this;
  }

  /** A {@code u16} length and the UTF-8 bytes of {@code s}. */
  RawManifest str(String s) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    return u16(b.length).bytes(b);
  }

  RawManifest chunk(ChunkId id, long rawSize, long storedSize) {
    return bytes(id.toBytes()).u32(rawSize).u32(storedSize);
  }

  /** Offset, in the sealed manifest, of the next field to be written. */
  int offset() {
    return ManifestCodec.HEADER_BYTES + body.size();
  }

  /** Magic, version 1, the body's length, the body, and the SHA-256 root over all of it. */
  byte[] seal() {
    byte[] b = body.toByteArray();
    ByteBuffer out = ByteBuffer.allocate(ManifestCodec.HEADER_BYTES + b.length + 32);
    out.put("FRYM".getBytes(StandardCharsets.US_ASCII)).putShort((short) 1).putInt(b.length);
    out.put(b);
    return withRoot(out.array());
  }

  /** A copy of {@code encoded} with its last 32 bytes replaced by the SHA-256 of the rest. */
  static byte[] withRoot(byte[] encoded) {
    byte[] out = encoded.clone();
    if (out.length >= 32) {
      MessageDigest sha = ChunkId.sha256();
      sha.update(out, 0, out.length - 32);
      System.arraycopy(sha.digest(), 0, out, out.length - 32, 32);
    }
    return out;
  }

  /**
   * A copy of {@code encoded} with its header's body length set to match the array's length (when
   * it has a header and room for a root) and its root recomputed.
   */
  static byte[] withLengthAndRoot(byte[] encoded) {
    byte[] out = encoded.clone();
    if (out.length >= ManifestCodec.HEADER_BYTES + 32) {
      ByteBuffer.wrap(out).putInt(6, out.length - ManifestCodec.HEADER_BYTES - 32);
    }
    return withRoot(out);
  }

  static byte[] concat(byte[] a, byte[] b) {
    byte[] out = Arrays.copyOf(a, a.length + b.length);
    System.arraycopy(b, 0, out, a.length, b.length);
    return out;
  }
}
