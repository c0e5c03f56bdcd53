package dev.ferry.kv.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;

/** Property tests of {@link PersistentSortedMap} against {@link ReferenceModel}. */
class PersistentSortedMapPropertiesTest {
  private static final KeyPool POOL = new KeyPool(1, 60);

  /**
   * One step: put (with a value of {@code valueLength} bytes) or remove of pool key {@code key}.
   */
  record Op(boolean remove, int key, int valueLength) {}

  @Provide
  Arbitrary<List<Op>> operations() {
    Arbitrary<Op> op =
        Combinators.combine(
                Arbitraries.integers().between(0, 99),
                Arbitraries.integers().between(0, POOL.size() - 1),
                Arbitraries.integers().between(0, 8))
            .as((percent, key, length) -> new Op(percent < 35, key, length));
    return op.list().ofMaxSize(400);
  }

  @Property(tries = 300)
  void everyVersionMatchesTheModelAfterEachStep(
      @ForAll("operations") List<Op> ops, @ForAll @IntRange(min = 4, max = 9) int capacity) {
    PersistentSortedMap map = PersistentSortedMap.empty(capacity);
    ReferenceModel model = new ReferenceModel();
    List<PersistentSortedMap> versions = new ArrayList<>();
    List<ReferenceModel> models = new ArrayList<>();
    int step = 0;
    for (Op op : ops) {
      byte[] key = POOL.key(op.key());
      if (op.remove()) {
        PersistentSortedMap.Update update = map.getAndRemove(key);
        assertArrayEquals(model.remove(key), update.previous());
        map = update.map();
      } else {
        byte[] value = new byte[op.valueLength()];
        if (value.length > 0) {
          value[0] = (byte) step; // tell successive values for one key apart
        }
        PersistentSortedMap.Update update = map.getAndPut(key, value);
        assertArrayEquals(model.put(key, value), update.previous());
        map = update.map();
      }
      assertEquals(model.size(), map.size());
      versions.add(map);
      models.add(model.copy());
      step++;
    }
    for (int i = 0; i < versions.size(); i++) {
      versions.get(i).checkInvariants();
      models.get(i).assertMatches(versions.get(i));
    }
  }

  @Property(tries = 300)
  void rangeMatchesSubMap(
      @ForAll("operations") List<Op> ops,
      @ForAll @IntRange(min = 4, max = 9) int capacity,
      @ForAll @IntRange(min = -1, max = 200) int from,
      @ForAll @IntRange(min = -1, max = 200) int to) {
    PersistentSortedMap map = PersistentSortedMap.empty(capacity);
    ReferenceModel model = new ReferenceModel();
    for (Op op : ops) {
      byte[] key = POOL.key(op.key());
      if (op.remove()) {
        map = map.remove(key);
        model.remove(key);
      } else {
        byte[] value = new byte[op.valueLength()];
        map = map.put(key, value);
        model.put(key, value);
      }
    }
    model.assertRangeMatches(map, bound(from), bound(to));
  }

  @Property(tries = 200)
  void builderMatchesIncrementalPuts(
      @ForAll("operations") List<Op> ops, @ForAll @IntRange(min = 4, max = 9) int capacity) {
    ReferenceModel model = new ReferenceModel();
    for (Op op : ops) {
      model.put(POOL.key(op.key()), new byte[op.valueLength()]);
    }
    PersistentSortedMap.Builder builder = PersistentSortedMap.builder(capacity);
    PersistentSortedMap incremental = PersistentSortedMap.empty(capacity);
    for (Map.Entry<byte[], byte[]> e : model.entries().entrySet()) {
      builder.add(e.getKey(), e.getValue());
      incremental = incremental.put(e.getKey(), e.getValue());
    }
    PersistentSortedMap built = builder.build();
    built.checkInvariants();
    model.assertMatches(built);
    model.assertMatches(incremental);
  }

  /** -1 means unbounded; other values pick a pool key, or past the pool a short fresh key. */
  private static byte[] bound(int i) {
    if (i < 0) {
      return null;
    }
    return i < POOL.size() ? POOL.key(i) : new byte[] {(byte) (i * 37), (byte) i};
  }
}
