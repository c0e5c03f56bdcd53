package dev.ferry.snapshot.format;

import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;

/**
 * Strict UTF-8 for the manifest's strings: encoding refuses unpaired surrogates (which {@link
 * String#getBytes} would silently turn into {@code '?'}), decoding refuses malformed, overlong and
 * surrogate-encoding byte sequences. Together they make every string's encoding unique, which the
 * manifest's root hash relies on.
 */
final class Utf8 {
  private Utf8() {}

  /**
   * The UTF-8 bytes of {@code s}.
   *
   * @throws IllegalArgumentException if {@code s} holds an unpaired surrogate
   */
  static byte[] encode(String s, String what) {
    for (int i = 0; i < s.length(); i++) {
      char c = s.charAt(i);
      if (Character.isHighSurrogate(c)
          && i + 1 < s.length()
          && Character.isLowSurrogate(s.charAt(i + 1))) {
        i++;
      } else if (Character.isSurrogate(c)) {
        throw new IllegalArgumentException(
            what + " holds an unpaired surrogate at char " + i + ": " + quote(s));
      }
    }
    return s.getBytes(StandardCharsets.UTF_8);
  }

  /**
   * Decodes {@code bytes[offset, offset+length)}.
   *
   * @throws CharacterCodingException if the bytes are not well-formed UTF-8
   */
  static String decode(byte[] bytes, int offset, int length) throws CharacterCodingException {
    CharBuffer chars =
        StandardCharsets.UTF_8
            .newDecoder()
            .onMalformedInput(CodingErrorAction.REPORT)
            .onUnmappableCharacter(CodingErrorAction.REPORT)
            .decode(ByteBuffer.wrap(bytes, offset, length));
    return chars.toString();
  }

  /** {@code s} quoted and cut to 64 chars, for error messages. */
  static String quote(String s) {
    return '"' + (s.length() <= 64 ? s : s.substring(0, 64) + "...") + '"';
  }
}
