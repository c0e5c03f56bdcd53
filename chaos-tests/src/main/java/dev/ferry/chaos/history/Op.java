package dev.ferry.chaos.history;

import java.util.Objects;
import java.util.Set;

/**
 * One completed client operation, as recorded by a workload client in a {@link History}.
 *
 * <p>Fields by {@link OpType}:
 *
 * <table>
 *   <caption>Field use</caption>
 *   <tr><th>type</th><th>value</th><th>expected</th><th>result (OK only)</th>
 *       <th>resultSet (OK only)</th></tr>
 *   <tr><td>READ</td><td>0</td><td>0</td><td>value read, {@code null} if absent</td>
 *       <td>{@code null}</td></tr>
 *   <tr><td>WRITE</td><td>value written</td><td>0</td><td>{@code null}</td><td>{@code null}</td></tr>
 *   <tr><td>CAS</td><td>new value</td><td>expected value</td><td>1 swapped, 0 not swapped</td>
 *       <td>{@code null}</td></tr>
 *   <tr><td>INCREMENT</td><td>delta</td><td>0</td><td>counter after the increment, or
 *       {@code null} if the client did not learn it</td><td>{@code null}</td></tr>
 *   <tr><td>ADD</td><td>element</td><td>0</td><td>{@code null}</td><td>{@code null}</td></tr>
 *   <tr><td>READ_SET</td><td>0</td><td>0</td><td>{@code null}</td><td>the elements read</td></tr>
 * </table>
 *
 * <p>An operation whose outcome is {@link Outcome#FAIL} or {@link Outcome#UNKNOWN} carries neither
 * result nor result set. Times are {@link System#nanoTime()} stamps, normally from {@link
 * History#invoke()} and {@link History#complete()}; {@code invokeNanos <= completeNanos}. Only an
 * UNKNOWN operation may have {@code completeNanos == Long.MAX_VALUE} (its completion was never
 * observed); checkers treat every UNKNOWN operation as never returning, whatever its completion
 * stamp.
 *
 * @param process the client process that issued the operation, {@code >= 0}; one process has at
 *     most one operation outstanding at a time
 * @param type the kind of operation
 * @param key the register, counter or set the operation addresses; non-empty
 * @param value write value, CAS new value, increment delta or added element; 0 otherwise
 * @param expected the CAS expected value; 0 otherwise
 * @param outcome what the client learned
 * @param result the read result, CAS swap flag or increment result; see the table
 * @param resultSet the elements of a READ_SET; {@code null} otherwise; stored as an unmodifiable
 *     copy
 * @param invokeNanos when the client invoked the operation
 * @param completeNanos when the client saw it complete, fail or time out
 */
public record Op(
    int process,
    OpType type,
    String key,
    long value,
    long expected,
    Outcome outcome,
    Long result,
    Set<Long> resultSet,
    long invokeNanos,
    long completeNanos) {

  /**
   * Validates the operation.
   *
   * @throws NullPointerException if type, key or outcome is null, or resultSet holds a null
   * @throws IllegalArgumentException if a field does not fit the type and outcome (see the class
   *     comment), with the offending value in the message
   */
  public Op {
    Objects.requireNonNull(type, "type");
    Objects.requireNonNull(key, "key");
    Objects.requireNonNull(outcome, "outcome");
    if (process < 0) {
      throw new IllegalArgumentException("process must be >= 0: " + process);
    }
    if (key.isEmpty()) {
      throw new IllegalArgumentException("key must be non-empty");
    }
    if (invokeNanos > completeNanos) {
      throw new IllegalArgumentException(
          "invokeNanos " + invokeNanos + " > completeNanos " + completeNanos);
    }
    if (completeNanos == Long.MAX_VALUE && outcome != Outcome.UNKNOWN) {
      throw new IllegalArgumentException(
          "only an UNKNOWN op may have completeNanos Long.MAX_VALUE, not " + outcome);
    }
    if (expected != 0 && type != OpType.CAS) {
      throw new IllegalArgumentException(type + " must have expected 0: " + expected);
    }
    if (value != 0 && (type == OpType.READ || type == OpType.READ_SET)) {
      throw new IllegalArgumentException(type + " must have value 0: " + value);
    }
    boolean ok = outcome == Outcome.OK;
    if (result != null) {
      if (!ok) {
        throw new IllegalArgumentException(
            outcome + " " + type + " must have no result: " + result);
      }
      switch (type) {
        case READ, INCREMENT -> {}
        case CAS -> {
          if (result != 0 && result != 1) {
            throw new IllegalArgumentException("CAS result must be 1 (swapped) or 0: " + result);
          }
        }
        default -> throw new IllegalArgumentException(type + " must have no result: " + result);
      }
    } else if (ok && type == OpType.CAS) {
      throw new IllegalArgumentException("OK CAS must have result 1 (swapped) or 0 (not swapped)");
    }
    if (ok && type == OpType.READ_SET) {
      Objects.requireNonNull(resultSet, "OK READ_SET must have a resultSet");
      resultSet = Set.copyOf(resultSet);
    } else if (resultSet != null) {
      throw new IllegalArgumentException(
          outcome + " " + type + " must have no resultSet: " + resultSet);
    }
  }

  /** A register read; {@code result} is the value read ({@code null}: absent) when OK. */
  public static Op read(
      int process, String key, Outcome outcome, Long result, long invokeNanos, long completeNanos) {
    return new Op(
        process, OpType.READ, key, 0, 0, outcome, result, null, invokeNanos, completeNanos);
  }

  /** A register write of {@code value}. */
  public static Op write(
      int process, String key, long value, Outcome outcome, long invokeNanos, long completeNanos) {
    return new Op(
        process, OpType.WRITE, key, value, 0, outcome, null, null, invokeNanos, completeNanos);
  }

  /**
   * A compare-and-set from {@code expected} to {@code value}; when OK, {@code swapped} says whether
   * it swapped; it must be {@code null} otherwise.
   */
  public static Op cas(
      int process,
      String key,
      long expected,
      long value,
      Outcome outcome,
      Boolean swapped,
      long invokeNanos,
      long completeNanos) {
    Long result = swapped == null ? null : swapped ? 1L : 0L;
    return new Op(
        process,
        OpType.CAS,
        key,
        value,
        expected,
        outcome,
        result,
        null,
        invokeNanos,
        completeNanos);
  }

  /** An increment by {@code delta}; {@code result} is the new value when OK and known. */
  public static Op increment(
      int process,
      String key,
      long delta,
      Outcome outcome,
      Long result,
      long invokeNanos,
      long completeNanos) {
    return new Op(
        process,
        OpType.INCREMENT,
        key,
        delta,
        0,
        outcome,
        result,
        null,
        invokeNanos,
        completeNanos);
  }

  /** A unique insert of {@code element} into a set. */
  public static Op add(
      int process,
      String key,
      long element,
      Outcome outcome,
      long invokeNanos,
      long completeNanos) {
    return new Op(
        process, OpType.ADD, key, element, 0, outcome, null, null, invokeNanos, completeNanos);
  }

  /** A read of a whole set; {@code elements} is the set read when OK, {@code null} otherwise. */
  public static Op readSet(
      int process,
      String key,
      Outcome outcome,
      Set<Long> elements,
      long invokeNanos,
      long completeNanos) {
    return new Op(
        process, OpType.READ_SET, key, 0, 0, outcome, null, elements, invokeNanos, completeNanos);
  }

  /** Whether this CAS completed OK and swapped. */
  public boolean swapped() {
    return type == OpType.CAS && outcome == Outcome.OK && result == 1L;
  }
}
