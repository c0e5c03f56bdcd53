package dev.ferry.bench;

import java.io.PrintWriter;
import java.io.StringWriter;

/**
 * How the benchmarks record an error in their results: its stack trace, cut to a bounded length.
 */
public final class StackTraces {
  /** The most characters of a trace kept in a results file. */
  public static final int MAX_CHARS = 4000;

  private StackTraces() {}

  /** {@code e}'s stack trace (causes included), at most {@link #MAX_CHARS} characters of it. */
  public static String truncated(Throwable e) {
    StringWriter w = new StringWriter();
    e.printStackTrace(new PrintWriter(w));
    String trace = w.toString();
    return trace.substring(0, Math.min(MAX_CHARS, trace.length()));
  }
}
