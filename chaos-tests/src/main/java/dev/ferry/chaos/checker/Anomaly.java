package dev.ferry.chaos.checker;

import dev.ferry.chaos.history.Op;
import java.util.List;
import java.util.Objects;

/**
 * One kind of misbehaviour found on one key by {@link CounterChecker} or {@link SetChecker}; every
 * kind is also a violation of linearizability.
 *
 * @param kind what went wrong
 * @param key the counter or set key
 * @param description what was seen, with counts and an example
 * @param ops some of the operations involved (at most {@value #MAX_OPS}), in invocation order
 */
public record Anomaly(Kind kind, String key, String description, List<Op> ops) {
  /** The most operations an anomaly lists. */
  public static final int MAX_OPS = 10;

  /** What went wrong. */
  public enum Kind {
    /** A counter read or increment result is below what completed increments guarantee. */
    LOST_INCREMENT,
    /**
     * A counter read or increment result is above what attempted increments allow, or two
     * increments returned the same value: some increment was applied twice.
     */
    DOUBLE_APPLY,
    /**
     * An element acknowledged by an OK add, or seen by an earlier read, is missing from the final
     * read of its set.
     */
    LOST_WRITE,
    /**
     * An element acknowledged or seen before a read began is missing from that read, though the
     * final read has it.
     */
    STALE_READ,
    /** A read holds an element never added, or added only after the read completed. */
    PHANTOM_ELEMENT,
    /** A read holds an element all of whose adds FAILed (definitely did not happen). */
    FAILED_ADD_PRESENT,
    /**
     * A read holds an element but lacks another whose add completed OK before any add of the first
     * was invoked (and after the read began, else it is a STALE_READ or LOST_WRITE).
     */
    OUT_OF_ORDER,
    /** Two reads each hold an element the other lacks: no order of the adds explains both. */
    INCOMPARABLE_READS
  }

  /** Validates the anomaly and copies (and truncates) the list. */
  public Anomaly {
    Objects.requireNonNull(kind, "kind");
    Objects.requireNonNull(key, "key");
    Objects.requireNonNull(description, "description");
    ops = List.copyOf(ops.subList(0, Math.min(ops.size(), MAX_OPS)));
  }
}
