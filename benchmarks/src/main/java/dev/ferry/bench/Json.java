package dev.ferry.bench;

import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A small JSON writer for benchmark results: maps (keys in their iteration order), lists, numbers
 * (doubles with 4 decimals, non-finite ones as {@code null}), booleans, {@code null}, and anything
 * else as its {@code toString()} in quotes. Thread-safe (stateless).
 */
public final class Json {
  private Json() {}

  /** {@code v} as JSON text. */
  public static String of(Object v) {
    StringBuilder b = new StringBuilder();
    value(b, v);
    return b.toString();
  }

  /** Appends {@code v} as JSON to {@code b}. */
  public static void value(StringBuilder b, Object v) {
    if (v == null) {
      b.append("null");
    } else if (v instanceof Map<?, ?> map) {
      b.append('{');
      boolean first = true;
      for (Map.Entry<?, ?> e : map.entrySet()) {
        b.append(first ? "" : ", ");
        first = false;
        string(b, String.valueOf(e.getKey()));
        b.append(": ");
        value(b, e.getValue());
      }
      b.append('}');
    } else if (v instanceof List<?> list) {
      b.append('[');
      for (int i = 0; i < list.size(); i++) {
        b.append(i == 0 ? "" : ", ");
        value(b, list.get(i));
      }
      b.append(']');
    } else if (v instanceof Double d) {
      b.append(Double.isFinite(d) ? String.format(Locale.ROOT, "%.4f", d) : "null");
    } else if (v instanceof Number || v instanceof Boolean) {
      b.append(v);
    } else {
      string(b, v.toString());
    }
  }

  private static void string(StringBuilder b, String s) {
    b.append('"');
    for (char c : s.toCharArray()) {
      switch (c) {
        case '"' -> b.append("\\\"");
        case '\\' -> b.append("\\\\");
        case '\n' -> b.append("\\n");
        default -> {
          if (c < 0x20) {
            b.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
          } else {
            b.append(c);
          }
        }
      }
    }
    b.append('"');
  }
}
