package dev.ferry.chaos.history;

/**
 * The kind of a client operation. Which {@link Op} fields each kind uses is stated on {@link Op}.
 */
public enum OpType {
  /** Reads a register; {@link Op#result()} is the value read, {@code null} if the key is absent. */
  READ,
  /** Writes {@link Op#value()} to a register. */
  WRITE,
  /**
   * Compare-and-set: sets a register to {@link Op#value()} if it holds {@link Op#expected()}. An OK
   * CAS carries {@link Op#result()} 1 if it swapped and 0 if it found another value (an absent key
   * never matches).
   */
  CAS,
  /** Adds {@link Op#value()} (the delta) to a counter; an OK result may carry the new value. */
  INCREMENT,
  /** Inserts the unique element {@link Op#value()} into a set. */
  ADD,
  /** Reads a whole set; {@link Op#resultSet()} holds its elements. */
  READ_SET
}
