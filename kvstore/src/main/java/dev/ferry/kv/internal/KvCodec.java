package dev.ferry.kv.internal;

import java.nio.BufferUnderflowException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

/**
 * Wire form of key-value commands, queries and their replies (inside Ferry's session envelope).
 * Every field is length-prefixed; decoding checks every length against the remaining bytes and the
 * limits before allocating, and throws {@link IllegalArgumentException} on malformed input.
 */
public final class KvCodec {
  public static final byte PUT = 0x01;
  public static final byte DELETE = 0x02;
  public static final byte CAS = 0x03;
  public static final byte INCREMENT = 0x04;
  public static final byte PUT_ALL = 0x05;

  /** Most entries in one {@link #putAll}. */
  public static final int MAX_BATCH = 10_000;

  /** Most bytes in one {@link #putAll}. */
  public static final int MAX_BATCH_BYTES = 32 << 20;

  public static final byte GET = 0x11;
  public static final byte SCAN = 0x12;

  /** Longest key. */
  public static final int MAX_KEY = 64 << 10;

  /** Longest value. */
  public static final int MAX_VALUE = 8 << 20;

  /** Most entries one scan returns. */
  public static final int MAX_SCAN = 10_000;

  private KvCodec() {}

  /** A decoded command or query. Absent optional fields are {@code null}. */
  public record Op(byte kind, byte[] key, byte[] expected, byte[] value, byte[] to, int limit) {}

  public static byte[] put(byte[] key, byte[] value) {
    checkKey(key);
    checkValue(value);
    return ByteBuffer.allocate(1 + 8 + key.length + value.length)
        .put(PUT)
        .putInt(key.length)
        .put(key)
        .putInt(value.length)
        .put(value)
        .array();
  }

  public static byte[] delete(byte[] key) {
    checkKey(key);
    return ByteBuffer.allocate(1 + 4 + key.length).put(DELETE).putInt(key.length).put(key).array();
  }

  /** Compare-and-set: {@code expected == null} means "absent", {@code value == null} deletes. */
  public static byte[] cas(byte[] key, byte[] expected, byte[] value) {
    checkKey(key);
    if (expected != null) {
      checkValue(expected);
    }
    if (value != null) {
      checkValue(value);
    }
    ByteBuffer b = ByteBuffer.allocate(1 + 4 + key.length + optSize(expected) + optSize(value));
    b.put(CAS).putInt(key.length).put(key);
    putOpt(b, expected);
    putOpt(b, value);
    return b.array();
  }

  /** Adds {@code delta} to the key's value read as a big-endian 64-bit integer (absent = 0). */
  public static byte[] increment(byte[] key, long delta) {
    checkKey(key);
    return ByteBuffer.allocate(1 + 4 + key.length + 8)
        .put(INCREMENT)
        .putInt(key.length)
        .put(key)
        .putLong(delta)
        .array();
  }

  public static byte[] get(byte[] key) {
    checkKey(key);
    return ByteBuffer.allocate(1 + 4 + key.length).put(GET).putInt(key.length).put(key).array();
  }

  /** A scan of {@code [from, to)} ({@code null} = unbounded), at most {@code limit} entries. */
  public static byte[] scan(byte[] from, byte[] to, int limit) {
    if (limit < 1 || limit > MAX_SCAN) {
      throw new IllegalArgumentException("scan limit must be 1.." + MAX_SCAN + ": " + limit);
    }
    ByteBuffer b = ByteBuffer.allocate(1 + optSize(from) + optSize(to) + 4);
    b.put(SCAN);
    putOpt(b, from);
    putOpt(b, to);
    b.putInt(limit);
    return b.array();
  }

  /**
   * Sets several keys in one command (one log entry): applied atomically, in order, so a later
   * entry for the same key wins.
   */
  public static byte[] putAll(List<byte[][]> entries) {
    if (entries.isEmpty() || entries.size() > MAX_BATCH) {
      throw new IllegalArgumentException("batch must hold 1.." + MAX_BATCH + " entries");
    }
    long size = 1 + 4;
    for (byte[][] e : entries) {
      checkKey(e[0]);
      checkValue(e[1]);
      size += 8 + e[0].length + e[1].length;
    }
    if (size > MAX_BATCH_BYTES) {
      throw new IllegalArgumentException(
          "batch larger than " + MAX_BATCH_BYTES + " bytes: " + size);
    }
    ByteBuffer b = ByteBuffer.allocate((int) size).put(PUT_ALL).putInt(entries.size());
    for (byte[][] e : entries) {
      b.putInt(e[0].length).put(e[0]).putInt(e[1].length).put(e[1]);
    }
    return b.array();
  }

  /**
   * Decodes the entries of a {@link #putAll} command (the bytes after its kind byte).
   *
   * @throws IllegalArgumentException if malformed
   */
  public static List<byte[][]> decodePutAll(byte[] bytes) {
    try {
      ByteBuffer b = ByteBuffer.wrap(bytes);
      if (b.get() != PUT_ALL) {
        throw new IllegalArgumentException("not a batch");
      }
      int n = b.getInt();
      if (n < 1 || n > MAX_BATCH) {
        throw new IllegalArgumentException("batch size out of range: " + n);
      }
      List<byte[][]> out = new ArrayList<>(n);
      for (int i = 0; i < n; i++) {
        out.add(new byte[][] {field(b, MAX_KEY), field(b, MAX_VALUE)});
      }
      if (b.hasRemaining()) {
        throw new IllegalArgumentException(b.remaining() + " trailing bytes");
      }
      return out;
    } catch (BufferUnderflowException e) {
      throw new IllegalArgumentException("truncated batch", e);
    }
  }

  /** Decodes a command or query. */
  public static Op decode(byte[] bytes) {
    try {
      ByteBuffer b = ByteBuffer.wrap(bytes);
      byte kind = b.get();
      Op op =
          switch (kind) {
            case PUT -> new Op(kind, field(b, MAX_KEY), null, field(b, MAX_VALUE), null, 0);
            case DELETE, GET -> new Op(kind, field(b, MAX_KEY), null, null, null, 0);
            case INCREMENT -> {
              byte[] key = field(b, MAX_KEY);
              byte[] delta = new byte[8];
              b.get(delta);
              yield new Op(kind, key, null, delta, null, 0);
            }
            case CAS ->
                new Op(kind, field(b, MAX_KEY), opt(b, MAX_VALUE), opt(b, MAX_VALUE), null, 0);
            case SCAN -> {
              byte[] from = opt(b, MAX_KEY);
              byte[] to = opt(b, MAX_KEY);
              int limit = b.getInt();
              if (limit < 1 || limit > MAX_SCAN) {
                throw new IllegalArgumentException("scan limit out of range: " + limit);
              }
              yield new Op(kind, from, null, null, to, limit);
            }
            default -> throw new IllegalArgumentException("unknown kv operation " + kind);
          };
      if (b.hasRemaining()) {
        throw new IllegalArgumentException(b.remaining() + " trailing bytes");
      }
      return op;
    } catch (BufferUnderflowException e) {
      throw new IllegalArgumentException("truncated kv operation", e);
    }
  }

  /** Reply of put/delete: whether the key existed before. */
  public static byte[] existed(boolean existed) {
    return new byte[] {(byte) (existed ? 1 : 0)};
  }

  /** Reply of a get, or of a CAS (its outcome and the value now current). */
  public static byte[] valueReply(boolean success, byte[] value) {
    ByteBuffer b = ByteBuffer.allocate(1 + optSize(value));
    b.put((byte) (success ? 1 : 0));
    putOpt(b, value);
    return b.array();
  }

  /** Decoded {@link #valueReply}. */
  public record ValueReply(boolean success, byte[] value) {}

  public static ValueReply decodeValueReply(byte[] bytes) {
    try {
      ByteBuffer b = ByteBuffer.wrap(bytes);
      boolean ok = b.get() != 0;
      return new ValueReply(ok, opt(b, MAX_VALUE));
    } catch (BufferUnderflowException e) {
      throw new IllegalArgumentException("truncated reply", e);
    }
  }

  /** Reply of a scan. */
  public static byte[] scanReply(List<byte[][]> entries) {
    int size = 4;
    for (byte[][] e : entries) {
      size += 8 + e[0].length + e[1].length;
    }
    ByteBuffer b = ByteBuffer.allocate(size).putInt(entries.size());
    for (byte[][] e : entries) {
      b.putInt(e[0].length).put(e[0]).putInt(e[1].length).put(e[1]);
    }
    return b.array();
  }

  public static List<byte[][]> decodeScanReply(byte[] bytes) {
    try {
      ByteBuffer b = ByteBuffer.wrap(bytes);
      int n = b.getInt();
      if (n < 0 || n > MAX_SCAN) {
        throw new IllegalArgumentException("scan reply count out of range: " + n);
      }
      List<byte[][]> out = new ArrayList<>(n);
      for (int i = 0; i < n; i++) {
        out.add(new byte[][] {field(b, MAX_KEY), field(b, MAX_VALUE)});
      }
      return out;
    } catch (BufferUnderflowException e) {
      throw new IllegalArgumentException("truncated scan reply", e);
    }
  }

  private static byte[] field(ByteBuffer b, int max) {
    int n = b.getInt();
    if (n < 0 || n > max || n > b.remaining()) {
      throw new IllegalArgumentException("field length out of range: " + n);
    }
    byte[] out = new byte[n];
    b.get(out);
    return out;
  }

  private static byte[] opt(ByteBuffer b, int max) {
    byte present = b.get();
    if (present == 0) {
      return null;
    }
    if (present != 1) {
      throw new IllegalArgumentException("bad presence flag " + present);
    }
    return field(b, max);
  }

  private static int optSize(byte[] v) {
    return v == null ? 1 : 1 + 4 + v.length;
  }

  private static void putOpt(ByteBuffer b, byte[] v) {
    if (v == null) {
      b.put((byte) 0);
    } else {
      b.put((byte) 1).putInt(v.length).put(v);
    }
  }

  private static void checkKey(byte[] key) {
    if (key.length > MAX_KEY) {
      throw new IllegalArgumentException("key longer than " + MAX_KEY + " bytes: " + key.length);
    }
  }

  private static void checkValue(byte[] value) {
    if (value.length > MAX_VALUE) {
      throw new IllegalArgumentException(
          "value longer than " + MAX_VALUE + " bytes: " + value.length);
    }
  }
}
