package dev.ferry.kv.shard;

import dev.ferry.kv.internal.KvCodec;
import java.io.ByteArrayOutputStream;

/**
 * The text form of a key in a descriptor file and in messages: printable ASCII other than {@code %}
 * stands for itself, every other byte is {@code %XX} (two upper-case hex digits), so a key is one
 * whitespace-free token and binary keys survive. A key whose text would be exactly {@code -} (the
 * descriptor's "unbounded" mark) is written {@code %2D}.
 *
 * <p>Stateless; any thread.
 */
public final class KeyText {
  private static final char[] HEX = "0123456789ABCDEF".toCharArray();

  private KeyText() {}

  /** The key's token (the key is not changed). */
  public static String encode(byte[] key) {
    StringBuilder b = new StringBuilder(key.length);
    for (byte x : key) {
      int c = x & 0xff;
      if (c > 0x20 && c < 0x7f && c != '%') {
        b.append((char) c);
      } else {
        b.append('%').append(HEX[c >>> 4]).append(HEX[c & 0xf]);
      }
    }
    return b.toString().equals("-") ? "%2D" : b.toString();
  }

  /**
   * The key a token stands for.
   *
   * @throws IllegalArgumentException if the token has a character outside printable ASCII, a
   *     malformed escape, or decodes to a key longer than the store allows
   */
  public static byte[] decode(String token) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(token.length());
    for (int i = 0; i < token.length(); i++) {
      char c = token.charAt(i);
      if (c == '%') {
        if (i + 2 >= token.length()) {
          throw new IllegalArgumentException("key '" + token + "': '%' needs two hex digits");
        }
        int hi = Character.digit(token.charAt(i + 1), 16);
        int lo = Character.digit(token.charAt(i + 2), 16);
        if (hi < 0 || lo < 0) {
          throw new IllegalArgumentException(
              "key '" + token + "': bad escape '" + token.substring(i, i + 3) + "'");
        }
        out.write(hi << 4 | lo);
        i += 2;
      } else if (c > 0x20 && c < 0x7f) {
        out.write(c);
      } else {
        throw new IllegalArgumentException(
            "key '" + token + "': character U+" + Integer.toHexString(c) + " must be escaped");
      }
    }
    byte[] key = out.toByteArray();
    checkLength(key);
    return key;
  }

  /** The key for a message: its token in quotes. */
  static String text(byte[] key) {
    return "'" + encode(key) + "'";
  }

  /**
   * @throws IllegalArgumentException if the key is longer than the store accepts
   */
  static void checkLength(byte[] key) {
    if (key.length > KvCodec.MAX_KEY) {
      throw new IllegalArgumentException(
          "key of " + key.length + " bytes: longer than the store's " + KvCodec.MAX_KEY);
    }
  }
}
