package dev.ferry.shipping.chunks;

import java.nio.charset.StandardCharsets;

/** Text from the wire made safe for logs and exception messages. */
final class Text {
  private Text() {}

  /** {@code s} with control characters replaced by {@code '?'} and cut to 200 characters. */
  static String printable(String s) {
    StringBuilder b = new StringBuilder(Math.min(s.length(), 200));
    for (int i = 0; i < s.length() && b.length() < 200; i++) {
      char c = s.charAt(i);
      b.append(Character.isISOControl(c) ? '?' : c);
    }
    if (b.length() < s.length()) {
      b.append("...");
    }
    return b.toString();
  }

  /** The longest prefix of {@code s} whose UTF-8 encoding fits {@code maxBytes}, as bytes. */
  static byte[] utf8Bounded(String s, int maxBytes) {
    byte[] b = s.getBytes(StandardCharsets.UTF_8);
    if (b.length <= maxBytes) {
      return b;
    }
    int n = maxBytes;
    // Do not cut a multi-byte sequence: back up to a lead byte.
    while (n > 0 && (b[n] & 0xC0) == 0x80) {
      n--;
    }
    byte[] out = new byte[n];
    System.arraycopy(b, 0, out, 0, n);
    return out;
  }
}
