package dev.ferry.statemachine.internal;

import java.util.Arrays;

/**
 * A byte-array key with value equality and unsigned lexicographic order.
 *
 * @param bytes the key bytes (not copied; callers must not mutate them)
 */
public record ByteKey(byte[] bytes) implements Comparable<ByteKey> {
  @Override
  public int compareTo(ByteKey o) {
    return Arrays.compareUnsigned(bytes, o.bytes);
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof ByteKey k && Arrays.equals(bytes, k.bytes);
  }

  @Override
  public int hashCode() {
    return Arrays.hashCode(bytes);
  }

  @Override
  public String toString() {
    return "ByteKey[" + bytes.length + " bytes]";
  }
}
