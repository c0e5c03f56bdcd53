package dev.ferry.kv.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.HexFormat;
import java.util.Iterator;
import java.util.Map;
import java.util.NavigableMap;
import java.util.NoSuchElementException;
import java.util.TreeMap;

/**
 * The reference model for {@link PersistentSortedMap}: a {@link TreeMap} ordered by unsigned
 * lexicographic key comparison, with assertions that a map version holds exactly its entries.
 */
final class ReferenceModel {
  private static final HexFormat HEX = HexFormat.of();

  private final TreeMap<byte[], byte[]> entries;

  ReferenceModel() {
    entries = new TreeMap<>(Arrays::compareUnsigned);
  }

  private ReferenceModel(TreeMap<byte[], byte[]> entries) {
    this.entries = entries;
  }

  /** Returns an independent copy (the arrays themselves are shared; nobody mutates them). */
  ReferenceModel copy() {
    return new ReferenceModel(new TreeMap<>(entries));
  }

  byte[] put(byte[] key, byte[] value) {
    return entries.put(key, value);
  }

  byte[] remove(byte[] key) {
    return entries.remove(key);
  }

  byte[] get(byte[] key) {
    return entries.get(key);
  }

  int size() {
    return entries.size();
  }

  NavigableMap<byte[], byte[]> entries() {
    return entries;
  }

  /** Asserts that {@code map} has the model's size and, in order, exactly its entries. */
  void assertMatches(PersistentSortedMap map) {
    assertEquals(entries.size(), map.size(), "size");
    assertEquals(entries.isEmpty(), map.isEmpty(), "isEmpty");
    assertSameEntries(entries, map.iterator(), "full iteration");
  }

  /**
   * Asserts that {@code map.range(from, to)} yields exactly the model's entries in {@code [from,
   * to)}, or throws {@link IllegalArgumentException} when {@code from > to}.
   */
  void assertRangeMatches(PersistentSortedMap map, byte[] from, byte[] to) {
    if (from != null && to != null && Arrays.compareUnsigned(from, to) > 0) {
      assertThrows(IllegalArgumentException.class, () -> map.range(from, to));
      return;
    }
    NavigableMap<byte[], byte[]> expected = entries;
    if (from != null) {
      expected = expected.tailMap(from, true);
    }
    if (to != null) {
      expected = expected.headMap(to, false);
    }
    assertSameEntries(expected, map.range(from, to), "range [" + hex(from) + ", " + hex(to) + ")");
  }

  private static void assertSameEntries(
      Map<byte[], byte[]> expected, Iterator<PersistentSortedMap.Entry> actual, String what) {
    int i = 0;
    for (Map.Entry<byte[], byte[]> e : expected.entrySet()) {
      assertTrue(actual.hasNext(), what + ": ended early at entry " + i);
      PersistentSortedMap.Entry got = actual.next();
      assertArrayEquals(e.getKey(), got.key(), what + ": key of entry " + i);
      assertArrayEquals(e.getValue(), got.value(), what + ": value of entry " + i);
      i++;
    }
    assertFalse(actual.hasNext(), what + ": more entries than expected after " + i);
    assertThrows(NoSuchElementException.class, actual::next, what);
  }

  static String hex(byte[] bytes) {
    return bytes == null ? "null" : HEX.formatHex(bytes);
  }
}
