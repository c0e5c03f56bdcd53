package dev.ferry.kv.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class PersistentSortedMapTest {
  private static final byte[] A = {1};
  private static final byte[] B = {2};

  @Test
  void emptyMapHasNothing() {
    PersistentSortedMap map = PersistentSortedMap.empty();
    assertEquals(0, map.size());
    assertTrue(map.isEmpty());
    assertNull(map.get(new byte[0]));
    assertFalse(map.iterator().hasNext());
    assertThrows(NoSuchElementException.class, () -> map.iterator().next());
    assertFalse(map.range(A, B).hasNext());
    assertSame(map, map.remove(A));
    map.checkInvariants();
  }

  @Test
  void putReturnsNewVersionAndLeavesOldOneUnchanged() {
    PersistentSortedMap empty = PersistentSortedMap.empty();
    PersistentSortedMap one = empty.put(A, B);
    PersistentSortedMap two = one.put(A, A);

    assertNull(empty.get(A));
    assertFalse(empty.containsKey(A));
    assertTrue(one.containsKey(A));
    assertArrayEquals(B, one.get(A));
    assertArrayEquals(A, two.get(A));
    assertEquals(1, two.size());
  }

  @Test
  void getAndPutAndGetAndRemoveReportThePreviousValue() {
    PersistentSortedMap.Update inserted = PersistentSortedMap.empty().getAndPut(A, B);
    assertNull(inserted.previous());
    PersistentSortedMap.Update replaced = inserted.map().getAndPut(A, A);
    assertSame(B, replaced.previous());
    PersistentSortedMap.Update removed = replaced.map().getAndRemove(A);
    assertSame(A, removed.previous());
    assertTrue(removed.map().isEmpty());
    PersistentSortedMap.Update absent = removed.map().getAndRemove(A);
    assertNull(absent.previous());
    assertSame(removed.map(), absent.map());
  }

  @Test
  void puttingTheStoredArrayAgainReturnsTheSameMap() {
    byte[] value = {9};
    PersistentSortedMap map = PersistentSortedMap.empty().put(A, value);
    PersistentSortedMap.Update again = map.getAndPut(A.clone(), value);
    assertSame(map, again.map());
    assertSame(value, again.previous());
  }

  @Test
  void keysAreOrderedUnsignedAndEmptyKeyComesFirst() {
    byte[][] inOrder = {
      {}, {0x00}, {0x00, 0x00}, {0x01}, {0x7f}, {0x7f, (byte) 0xff}, {(byte) 0x80}, {(byte) 0xff}
    };
    PersistentSortedMap map = PersistentSortedMap.empty();
    for (int i = inOrder.length - 1; i >= 0; i--) {
      map = map.put(inOrder[i], new byte[] {(byte) i});
    }
    Iterator<PersistentSortedMap.Entry> it = map.iterator();
    for (int i = 0; i < inOrder.length; i++) {
      PersistentSortedMap.Entry entry = it.next();
      assertArrayEquals(inOrder[i], entry.key());
      assertArrayEquals(new byte[] {(byte) i}, entry.value());
    }
    assertFalse(it.hasNext());
  }

  @Test
  void nullKeysAndValuesAreRejected() {
    PersistentSortedMap map = PersistentSortedMap.empty().put(A, B);
    assertThrows(NullPointerException.class, () -> map.get(null));
    assertThrows(NullPointerException.class, () -> map.put(null, B));
    assertThrows(NullPointerException.class, () -> map.put(A, null));
    assertThrows(NullPointerException.class, () -> map.remove(null));
    assertThrows(NullPointerException.class, () -> PersistentSortedMap.builder().add(null, B));
    assertThrows(NullPointerException.class, () -> PersistentSortedMap.builder().add(A, null));
  }

  @Test
  void rangeRejectsStartAfterEndAndIsEmptyWhenTheyAreEqual() {
    PersistentSortedMap map = PersistentSortedMap.empty().put(A, A).put(B, B);
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> map.range(B, A));
    assertTrue(e.getMessage().contains("02"), e.getMessage());
    assertFalse(map.range(A, A).hasNext());
    assertTrue(map.range(A, B).hasNext());
  }

  @Test
  void rangeCanBeCutShortAfterALimit() {
    PersistentSortedMap map = load(PersistentSortedMap.empty(4), 1000);
    Iterator<PersistentSortedMap.Entry> it = map.range(key(500), null);
    for (int i = 0; i < 10; i++) {
      assertArrayEquals(key(500 + i), it.next().key());
    }
  }

  @Test
  void entryEqualityIsByContent() {
    PersistentSortedMap.Entry entry = new PersistentSortedMap.Entry(new byte[] {1}, new byte[] {2});
    assertEquals(new PersistentSortedMap.Entry(new byte[] {1}, new byte[] {2}), entry);
    assertEquals(
        new PersistentSortedMap.Entry(new byte[] {1}, new byte[] {2}).hashCode(), entry.hashCode());
    assertFalse(entry.equals(new PersistentSortedMap.Entry(new byte[] {1}, new byte[] {3})));
  }

  @Test
  void builderRejectsKeysThatAreNotStrictlyIncreasing() {
    PersistentSortedMap.Builder builder = PersistentSortedMap.builder().add(new byte[] {0x7f}, A);
    assertThrows(IllegalArgumentException.class, () -> builder.add(new byte[] {0x7f}, A));
    assertThrows(IllegalArgumentException.class, () -> builder.add(new byte[] {0x00}, A));
    builder.add(new byte[] {(byte) 0x80}, B); // unsigned: 0x80 sorts after 0x7f
    PersistentSortedMap map = builder.build();
    assertEquals(2, map.size());
    assertArrayEquals(B, map.get(new byte[] {(byte) 0x80}));
  }

  @Test
  void builderIsSingleUse() {
    PersistentSortedMap.Builder builder = PersistentSortedMap.builder().add(A, A);
    builder.build();
    assertThrows(IllegalStateException.class, () -> builder.add(B, B));
    assertThrows(IllegalStateException.class, builder::build);
  }

  @Test
  void capacityBelowFourIsRejected() {
    assertThrows(IllegalArgumentException.class, () -> PersistentSortedMap.empty(3));
    assertThrows(IllegalArgumentException.class, () -> PersistentSortedMap.builder(3));
  }

  @ParameterizedTest
  @ValueSource(ints = {4, 5, 8, 32})
  void randomOperationsMatchTreeMapAndOldVersionsNeverChange(int capacity) {
    for (long seed = 0; seed < 4; seed++) {
      runRandomOperations(capacity, seed, 6_000);
    }
  }

  private static void runRandomOperations(int capacity, long seed, int operations) {
    SplittableRandom random = new SplittableRandom(seed * 31 + capacity);
    KeyPool pool = new KeyPool(seed, 40 + random.nextInt(400));
    PersistentSortedMap map = PersistentSortedMap.empty(capacity);
    ReferenceModel model = new ReferenceModel();
    List<PersistentSortedMap> versions = new ArrayList<>();
    List<ReferenceModel> versionModels = new ArrayList<>();
    // Phases bias towards growth, then churn, then shrinkage, so trees grow deep and collapse.
    for (int op = 0; op < operations; op++) {
      int removePercent = op < operations / 3 ? 20 : op < 2 * operations / 3 ? 50 : 80;
      byte[] key = pool.randomKey(random);
      PersistentSortedMap before = map;
      if (random.nextInt(100) < removePercent) {
        PersistentSortedMap.Update update = map.getAndRemove(key);
        assertArrayEquals(model.remove(key), update.previous(), "removed value");
        if (update.previous() == null) {
          assertSame(before, update.map(), "removing an absent key returns the same map");
        }
        map = update.map();
        assertNull(map.get(key));
      } else {
        byte[] value =
            random.nextInt(10) == 0 && model.get(key) != null
                ? model.get(key) // the very array already stored
                : KeyPool.randomValue(random);
        PersistentSortedMap.Update update = map.getAndPut(key, value);
        assertArrayEquals(model.put(key, value), update.previous(), "previous value");
        map = update.map();
        assertSame(value, map.get(key));
      }
      assertEquals(model.size(), map.size(), "size");
      byte[] probe = pool.randomBound(random);
      assertArrayEquals(model.get(probe), map.get(probe), "get");
      if (op % 97 == 0) {
        map.checkInvariants();
        model.assertRangeMatches(map, pool.randomBound(random), pool.randomBound(random));
      }
      if (op % 500 == 0) {
        versions.add(map);
        versionModels.add(model.copy());
      }
    }
    map.checkInvariants();
    model.assertMatches(map);
    for (int i = 0; i < versions.size(); i++) {
      versions.get(i).checkInvariants();
      versionModels.get(i).assertMatches(versions.get(i));
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {4, 5, 8, 32})
  void rangesMatchTreeMapSubMapForRandomBounds(int capacity) {
    SplittableRandom random = new SplittableRandom(capacity);
    KeyPool pool = new KeyPool(capacity, 2_000);
    PersistentSortedMap map = PersistentSortedMap.empty(capacity);
    ReferenceModel model = new ReferenceModel();
    for (int i = 0; i < 1_500; i++) {
      byte[] key = pool.randomKey(random);
      byte[] value = KeyPool.randomValue(random);
      map = map.put(key, value);
      model.put(key, value);
    }
    for (int i = 0; i < 400; i++) {
      byte[] from = random.nextInt(8) == 0 ? null : pool.randomBound(random);
      byte[] to = random.nextInt(8) == 0 ? null : pool.randomBound(random);
      model.assertRangeMatches(map, from, to);
    }
    model.assertRangeMatches(map, null, null);
  }

  @ParameterizedTest
  @ValueSource(ints = {4, 5, 8, 32})
  void builderEqualsIncrementalPutsAndSupportsLaterUpdates(int capacity) {
    SplittableRandom random = new SplittableRandom(capacity * 7L);
    KeyPool pool = new KeyPool(capacity, 3_000);
    int[] sizes = {
      0,
      1,
      2,
      3,
      capacity / 2 - 1,
      capacity / 2,
      capacity - 1,
      capacity,
      capacity + 1,
      2 * capacity,
      capacity * capacity,
      capacity * capacity + 1,
      capacity * capacity + 3,
      2_500
    };
    for (int n : sizes) {
      ReferenceModel model = new ReferenceModel();
      while (model.size() < n) {
        model.put(pool.randomKey(random), KeyPool.randomValue(random));
      }
      PersistentSortedMap.Builder builder = PersistentSortedMap.builder(capacity);
      PersistentSortedMap incremental = PersistentSortedMap.empty(capacity);
      for (Map.Entry<byte[], byte[]> e : model.entries().entrySet()) {
        builder.add(e.getKey(), e.getValue());
        incremental = incremental.put(e.getKey(), e.getValue());
      }
      assertEquals(n, builder.size());
      PersistentSortedMap built = builder.build();
      built.checkInvariants();
      model.assertMatches(built);
      model.assertMatches(incremental);

      // The built tree must be a valid starting point for further updates.
      for (int i = 0; i < 3 * n + 10; i++) {
        byte[] key = pool.randomKey(random);
        if (random.nextBoolean()) {
          assertArrayEquals(model.remove(key), built.getAndRemove(key).previous());
          built = built.remove(key);
        } else {
          byte[] value = KeyPool.randomValue(random);
          assertArrayEquals(model.put(key, value), built.getAndPut(key, value).previous());
          built = built.put(key, value);
        }
      }
      built.checkInvariants();
      model.assertMatches(built);
    }
  }

  @ParameterizedTest
  @ValueSource(ints = {4, 32})
  void removingEverythingLeavesAnEmptyMap(int capacity) {
    int n = 5_000;
    PersistentSortedMap full = load(PersistentSortedMap.empty(capacity), n);
    PersistentSortedMap map = full;
    SplittableRandom random = new SplittableRandom(capacity);
    int[] order = random.ints(0, n).distinct().limit(n).toArray();
    for (int i = 0; i < n; i++) {
      map = map.remove(key(order[i]));
      if (i % 1000 == 0) {
        map.checkInvariants();
      }
    }
    assertTrue(map.isEmpty());
    map.checkInvariants();
    assertFalse(map.iterator().hasNext());
    assertEquals(n, full.size());
    full.checkInvariants();
  }

  /** One million puts in random order: size and spot gets stay right; runs in about a second. */
  @Test
  void millionEntries() {
    int n = 1_000_000;
    PersistentSortedMap map = PersistentSortedMap.empty();
    byte[] value = {42};
    for (int i = 0; i < n; i++) {
      map = map.put(scrambledKey(i), value);
    }
    assertEquals(n, map.size());
    SplittableRandom random = new SplittableRandom(7);
    for (int probe = 0; probe < 1_000; probe++) {
      int i = random.nextInt(n);
      assertSame(value, map.get(scrambledKey(i)), "key " + i);
      assertNull(map.get(scrambledKey(n + i)));
    }
    map.checkInvariants();
  }

  /** A 16-byte key: a bijective scramble of {@code i} (random order), then {@code i} itself. */
  static byte[] scrambledKey(long i) {
    long z = i * 0x9E3779B97F4A7C15L;
    z = (z ^ (z >>> 32)) * 0xD6E8FEB86659FD93L;
    return ByteBuffer.allocate(16).putLong(z).putLong(i).array();
  }

  private static byte[] key(int i) {
    return ByteBuffer.allocate(4).putInt(i).array();
  }

  private static PersistentSortedMap load(PersistentSortedMap map, int n) {
    for (int i = 0; i < n; i++) {
      map = map.put(key(i), key(i));
    }
    return map;
  }
}
