package dev.ferry.chaos.history;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.Writer;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The text format of a saved {@link History}: UTF-8, lines ending in {@code '\n'}.
 *
 * <p>The first line is the header {@value #HEADER}. Each following line is one {@link Op}, ten
 * fields separated by single spaces, in the order of the record components:
 *
 * <pre>
 * process type key value expected outcome result resultSet invokeNanos completeNanos
 * 3 CAS k1 7 5 OK 1 - 1200 1350
 * 0 READ k1 0 0 OK - - 1400 1500
 * 1 READ_SET s 0 0 OK - {1,4,9} 1600 1700
 * 2 WRITE k%20x 2 0 UNKNOWN - - 1800 9223372036854775807
 * </pre>
 *
 * <ul>
 *   <li>{@code process}, {@code value}, {@code expected}, {@code invokeNanos}, {@code
 *       completeNanos}: decimal integers in canonical form (no {@code +}, no leading zeros);
 *   <li>{@code type}, {@code outcome}: the enum constant names;
 *   <li>{@code key}: the key's UTF-8 bytes, each byte outside {@code '!'..'~'} and each {@code '%'}
 *       written as {@code %XX} (two upper-case hex digits), every other byte as itself;
 *   <li>{@code result}: a decimal integer, or {@code -} for none (for a READ: key absent);
 *   <li>{@code resultSet}: {@code -} for none, else the elements in ascending order, comma
 *       separated, in braces ({@code {}} for the empty set).
 * </ul>
 *
 * Reading is strict: anything {@link #formatLine(Op)} would not write is rejected with the line
 * number. There are no comments or blank lines.
 */
public final class HistoryFormat {
  /** The first line of every saved history; the trailing number is the format version. */
  public static final String HEADER = "ferry-history 1";

  private static final int FIELDS = 10;
  private static final char[] HEX = "0123456789ABCDEF".toCharArray();

  private HistoryFormat() {}

  /** One line (without its terminator) encoding {@code op}. */
  public static String formatLine(Op op) {
    StringBuilder line = new StringBuilder(64);
    line.append(op.process())
        .append(' ')
        .append(op.type().name())
        .append(' ')
        .append(encodeKey(op.key()))
        .append(' ')
        .append(op.value())
        .append(' ')
        .append(op.expected())
        .append(' ')
        .append(op.outcome().name())
        .append(' ')
        .append(op.result() == null ? "-" : op.result().toString())
        .append(' ');
    if (op.resultSet() == null) {
      line.append('-');
    } else {
      line.append('{');
      long[] elements = op.resultSet().stream().mapToLong(Long::longValue).sorted().toArray();
      for (int i = 0; i < elements.length; i++) {
        if (i > 0) {
          line.append(',');
        }
        line.append(elements[i]);
      }
      line.append('}');
    }
    line.append(' ').append(op.invokeNanos()).append(' ').append(op.completeNanos());
    return line.toString();
  }

  /**
   * Parses one line written by {@link #formatLine(Op)}.
   *
   * @throws IllegalArgumentException if the line is malformed or does not make a valid {@link Op}
   */
  public static Op parseLine(String line) {
    String[] f = line.split(" ", -1);
    if (f.length != FIELDS) {
      throw new IllegalArgumentException(
          "expected " + FIELDS + " space-separated fields, found " + f.length);
    }
    long process = parseLong(f[0], "process");
    if (process != (int) process) {
      throw new IllegalArgumentException("process out of int range: " + process);
    }
    OpType type = parseEnum(OpType.class, f[1], "type");
    String key = decodeKey(f[2]);
    long value = parseLong(f[3], "value");
    long expected = parseLong(f[4], "expected");
    Outcome outcome = parseEnum(Outcome.class, f[5], "outcome");
    Long result = f[6].equals("-") ? null : parseLong(f[6], "result");
    Set<Long> resultSet = f[7].equals("-") ? null : parseSet(f[7]);
    long invoke = parseLong(f[8], "invokeNanos");
    long complete = parseLong(f[9], "completeNanos");
    try {
      return new Op(
          (int) process, type, key, value, expected, outcome, result, resultSet, invoke, complete);
    } catch (NullPointerException e) {
      throw new IllegalArgumentException(e.getMessage(), e);
    }
  }

  static void write(List<Op> ops, Path file) throws IOException {
    Path dir = file.toAbsolutePath().getParent();
    Path tmp = Files.createTempFile(dir, file.getFileName().toString(), ".tmp");
    try {
      try (Writer out = Files.newBufferedWriter(tmp, StandardCharsets.UTF_8)) {
        out.write(HEADER);
        out.write('\n');
        for (Op op : ops) {
          out.write(formatLine(op));
          out.write('\n');
        }
      }
      try {
        Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
      } catch (AtomicMoveNotSupportedException e) {
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
      }
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  static List<Op> read(Path file) throws IOException {
    String text;
    try {
      text =
          StandardCharsets.UTF_8
              .newDecoder()
              .onMalformedInput(CodingErrorAction.REPORT)
              .onUnmappableCharacter(CodingErrorAction.REPORT)
              .decode(ByteBuffer.wrap(Files.readAllBytes(file)))
              .toString();
    } catch (CharacterCodingException e) {
      throw new IOException(file + ": not valid UTF-8", e);
    }
    if (!text.endsWith("\n")) {
      int lineNo = (int) text.chars().filter(c -> c == '\n').count() + 1;
      throw new IOException(file + ":" + lineNo + ": missing final newline or header");
    }
    String[] lines = text.substring(0, text.length() - 1).split("\n", -1);
    if (!lines[0].equals(HEADER)) {
      throw new IOException(file + ":1: expected header '" + HEADER + "'");
    }
    List<Op> ops = new ArrayList<>(lines.length - 1);
    for (int i = 1; i < lines.length; i++) {
      try {
        ops.add(parseLine(lines[i]));
      } catch (IllegalArgumentException e) {
        throw new IOException(file + ":" + (i + 1) + ": " + e.getMessage(), e);
      }
    }
    return ops;
  }

  static String encodeKey(String key) {
    StringBuilder out = new StringBuilder(key.length());
    for (byte b : key.getBytes(StandardCharsets.UTF_8)) {
      int c = b & 0xFF;
      if (c > ' ' && c < 0x7F && c != '%') {
        out.append((char) c);
      } else {
        out.append('%').append(HEX[c >>> 4]).append(HEX[c & 0xF]);
      }
    }
    return out.toString();
  }

  static String decodeKey(String field) {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream(field.length());
    for (int i = 0; i < field.length(); i++) {
      char c = field.charAt(i);
      if (c == '%') {
        if (i + 2 >= field.length()) {
          throw new IllegalArgumentException("truncated %-escape in key: " + field);
        }
        int hi = hexDigit(field.charAt(i + 1));
        int lo = hexDigit(field.charAt(i + 2));
        if (hi < 0 || lo < 0) {
          throw new IllegalArgumentException("bad %-escape in key: " + field);
        }
        bytes.write(hi << 4 | lo);
        i += 2;
      } else {
        bytes.write(c);
      }
    }
    String key;
    try {
      key =
          StandardCharsets.UTF_8
              .newDecoder()
              .onMalformedInput(CodingErrorAction.REPORT)
              .onUnmappableCharacter(CodingErrorAction.REPORT)
              .decode(ByteBuffer.wrap(bytes.toByteArray()))
              .toString();
    } catch (CharacterCodingException e) {
      throw new IllegalArgumentException("key is not UTF-8: " + field, e);
    }
    if (!encodeKey(key).equals(field)) {
      throw new IllegalArgumentException("key not in canonical encoding: " + field);
    }
    return key;
  }

  private static int hexDigit(char c) {
    if (c >= '0' && c <= '9') {
      return c - '0';
    }
    if (c >= 'A' && c <= 'F') {
      return c - 'A' + 10;
    }
    return -1;
  }

  private static long parseLong(String field, String name) {
    long v;
    try {
      v = Long.parseLong(field);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(name + " is not an integer: '" + field + "'", e);
    }
    if (!Long.toString(v).equals(field)) {
      throw new IllegalArgumentException(name + " is not in canonical form: '" + field + "'");
    }
    return v;
  }

  private static <E extends Enum<E>> E parseEnum(Class<E> type, String field, String name) {
    try {
      return Enum.valueOf(type, field);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("unknown " + name + ": '" + field + "'", e);
    }
  }

  private static Set<Long> parseSet(String field) {
    if (field.length() < 2 || field.charAt(0) != '{' || field.charAt(field.length() - 1) != '}') {
      throw new IllegalArgumentException("resultSet must be '-' or '{...}': '" + field + "'");
    }
    String body = field.substring(1, field.length() - 1);
    Set<Long> set = new HashSet<>();
    if (body.isEmpty()) {
      return set;
    }
    long previous = Long.MIN_VALUE;
    boolean first = true;
    for (String element : body.split(",", -1)) {
      long v = parseLong(element, "resultSet element");
      if (!first && v <= previous) {
        throw new IllegalArgumentException(
            "resultSet elements must be strictly ascending: '" + field + "'");
      }
      set.add(v);
      previous = v;
      first = false;
    }
    return set;
  }
}
