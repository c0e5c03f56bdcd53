package dev.ferry.chaos.checker;

import dev.ferry.chaos.history.Op;
import dev.ferry.chaos.history.Outcome;
import java.util.Collection;
import java.util.Locale;
import java.util.stream.Collectors;

/** Short human-readable descriptions of operations, for explanations and reports. */
final class OpText {
  private OpText() {}

  /**
   * Describes {@code op} with its times in milliseconds relative to {@code origin} (a nanoTime
   * stamp, normally the earliest invocation of the history).
   */
  static String describe(Op op, long origin) {
    StringBuilder s = new StringBuilder();
    s.append('p').append(op.process()).append(' ').append(op.type()).append(' ').append(op.key());
    switch (op.type()) {
      case READ -> {
        if (op.outcome() == Outcome.OK) {
          s.append(" -> ").append(op.result() == null ? "absent" : op.result().toString());
        }
      }
      case WRITE, ADD -> s.append(' ').append(op.value());
      case CAS -> {
        s.append(' ').append(op.expected()).append("->").append(op.value());
        if (op.outcome() == Outcome.OK) {
          s.append(op.swapped() ? " swapped" : " not swapped");
        }
      }
      case INCREMENT -> {
        s.append(op.value() >= 0 ? " +" : " ").append(op.value());
        if (op.result() != null) {
          s.append(" -> ").append(op.result());
        }
      }
      case READ_SET -> {
        if (op.resultSet() != null) {
          s.append(" -> ").append(op.resultSet().size()).append(" elements");
        }
      }
    }
    s.append(' ').append(op.outcome()).append(" [").append(millis(op.invokeNanos() - origin));
    s.append(", ");
    s.append(
        op.outcome() == Outcome.UNKNOWN && op.completeNanos() == Long.MAX_VALUE
            ? "never"
            : millis(op.completeNanos() - origin));
    return s.append(']').toString();
  }

  /** Describes each of {@code ops} on its own indented line. */
  static String lines(Collection<Op> ops, long origin, String indent) {
    return ops.stream().map(op -> indent + describe(op, origin)).collect(Collectors.joining("\n"));
  }

  private static String millis(long nanos) {
    return String.format(Locale.ROOT, "%+.3fms", nanos / 1e6);
  }
}
