package dev.ferry.shipping.chunks;

import dev.ferry.snapshot.ChunkId;
import io.netty.buffer.ByteBuf;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.util.regex.Pattern;

/**
 * Strict reader of one frame body: every read checks that the bytes are there, every value its
 * range, and {@link #end()} that nothing is left over. Any failure is a {@link ProtocolException}
 * naming the frame and the field.
 */
final class FrameReader {
  private final ByteBuf body;
  private final String frame;

  FrameReader(ByteBuf body, String frame) {
    this.body = body;
    this.frame = frame;
  }

  private void need(int n, String field) throws ProtocolException {
    if (body.readableBytes() < n) {
      throw new ProtocolException(
          frame
              + " frame truncated: "
              + field
              + " needs "
              + n
              + " bytes, "
              + body.readableBytes()
              + " left");
    }
  }

  int u8(String field) throws ProtocolException {
    need(1, field);
    return body.readUnsignedByte();
  }

  int u16(String field) throws ProtocolException {
    need(2, field);
    return body.readUnsignedShort();
  }

  long u32(String field) throws ProtocolException {
    need(4, field);
    return body.readUnsignedInt();
  }

  long i64(String field) throws ProtocolException {
    need(8, field);
    return body.readLong();
  }

  /** A signed 64-bit value that must be {@code >= 0}. */
  long nonNegative(String field) throws ProtocolException {
    long v = i64(field);
    if (v < 0) {
      throw new ProtocolException(frame + " frame: " + field + " is negative: " + v);
    }
    return v;
  }

  /** An unsigned count in {@code min..max}, as {@code u16} or {@code u32} per {@code wide}. */
  int count(String field, int min, int max, boolean wide) throws ProtocolException {
    long n = wide ? u32(field) : u16(field);
    if (n < min || n > max) {
      throw new ProtocolException(
          frame + " frame: " + field + " out of range (" + min + ".." + max + "): " + n);
    }
    return (int) n;
  }

  byte[] bytes(int n, String field) throws ProtocolException {
    need(n, field);
    byte[] out = new byte[n];
    body.readBytes(out);
    return out;
  }

  ChunkId chunkId(String field) throws ProtocolException {
    return ChunkId.fromBytes(bytes(ChunkId.LENGTH, field));
  }

  /** A {@code u8}-length-prefixed UTF-8 string that must match {@code pattern}. */
  String token(String field, Pattern pattern) throws ProtocolException {
    int n = u8(field + " length");
    String s = utf8(bytes(n, field), field);
    if (!pattern.matcher(s).matches()) {
      throw new ProtocolException(
          frame + " frame: " + field + " does not match " + pattern + ": " + Text.printable(s));
    }
    return s;
  }

  /** A {@code u16}-length-prefixed UTF-8 text of at most {@code maxBytes} bytes. */
  String text(String field, int maxBytes) throws ProtocolException {
    int n = count(field + " length", 0, maxBytes, false);
    return utf8(bytes(n, field), field);
  }

  /** All remaining bytes, which must number {@code min..max}. */
  byte[] rest(String field, int min, int max) throws ProtocolException {
    int n = body.readableBytes();
    if (n < min || n > max) {
      throw new ProtocolException(
          frame + " frame: " + field + " of " + n + " bytes, expected " + min + ".." + max);
    }
    return bytes(n, field);
  }

  /** Checks that the whole body was read. */
  void end() throws ProtocolException {
    if (body.isReadable()) {
      throw new ProtocolException(
          frame + " frame has " + body.readableBytes() + " unexpected trailing bytes");
    }
  }

  private String utf8(byte[] b, String field) throws ProtocolException {
    try {
      return StandardCharsets.UTF_8
          .newDecoder()
          .onMalformedInput(CodingErrorAction.REPORT)
          .onUnmappableCharacter(CodingErrorAction.REPORT)
          .decode(ByteBuffer.wrap(b))
          .toString();
    } catch (CharacterCodingException e) {
      throw new ProtocolException(frame + " frame: " + field + " is not valid UTF-8");
    }
  }
}
