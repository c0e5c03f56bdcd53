package dev.ferry.kv.internal;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

/**
 * A deterministic set of keys chosen to stress ordering: the empty key, bytes on both sides of the
 * signed/unsigned boundary (0x7f, 0x80, 0xff), chains of keys that are prefixes of one another,
 * long keys that differ only in their last byte, and random short keys. Drawing operations from a
 * small pool yields many overwrites and removals of present keys.
 */
final class KeyPool {
  private final List<byte[]> keys = new ArrayList<>();

  KeyPool(long seed, int randomKeys) {
    SplittableRandom random = new SplittableRandom(seed);
    keys.add(new byte[0]);
    for (int b : new int[] {0x00, 0x01, 0x7f, 0x80, 0x81, 0xfe, 0xff}) {
      keys.add(new byte[] {(byte) b});
      keys.add(new byte[] {(byte) b, 0});
      keys.add(new byte[] {(byte) b, (byte) 0xff});
      keys.add(new byte[] {(byte) b, 0, 0});
    }
    for (int length : new int[] {255, 256, 1024, 4096}) {
      byte[] prefix = new byte[length];
      random.nextBytes(prefix);
      for (int last : new int[] {0x00, 0x7f, 0x80, 0xff}) {
        byte[] key = prefix.clone();
        key[length - 1] = (byte) last;
        keys.add(key);
      }
    }
    for (int i = 0; i < randomKeys; i++) {
      byte[] key = new byte[1 + random.nextInt(12)];
      random.nextBytes(key);
      keys.add(key);
    }
  }

  int size() {
    return keys.size();
  }

  /** Returns a fresh copy of key {@code i}, so identity never stands in for equality. */
  byte[] key(int i) {
    return keys.get(i).clone();
  }

  byte[] randomKey(SplittableRandom random) {
    return key(random.nextInt(keys.size()));
  }

  /** A key from the pool most of the time, else a fresh random key likely absent from the map. */
  byte[] randomBound(SplittableRandom random) {
    if (random.nextInt(4) == 0) {
      byte[] key = new byte[random.nextInt(4)];
      random.nextBytes(key);
      return key;
    }
    return randomKey(random);
  }

  static byte[] randomValue(SplittableRandom random) {
    byte[] value = new byte[random.nextInt(17)];
    random.nextBytes(value);
    return value;
  }
}
