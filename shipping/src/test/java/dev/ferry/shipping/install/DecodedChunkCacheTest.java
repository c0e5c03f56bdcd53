package dev.ferry.shipping.install;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.snapshot.ChunkId;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;

class DecodedChunkCacheTest {

  /** Distinct content per seed (the seed is in the first bytes). */
  private static byte[] content(int size, int seed) {
    byte[] b = new byte[size];
    for (int i = 0; i < size; i++) {
      b[i] = (byte) (i < 4 ? seed >>> (8 * i) : i);
    }
    return b;
  }

  @Test
  void aChunkIsTakenOnceAndThenGone() {
    DecodedChunkCache cache = new DecodedChunkCache(1 << 20);
    byte[] raw = content(1000, 1);
    ChunkId id = ChunkId.of(raw);
    assertTrue(cache.offer(id, raw, 1));
    assertEquals(1000, cache.bytes());
    assertSame(raw, cache.take(id));
    assertNull(cache.take(id), "consumed");
    assertEquals(0, cache.bytes());
    assertEquals(0, cache.size());
  }

  @Test
  void aChunkNamedSeveralTimesIsKeptForEachUse() {
    DecodedChunkCache cache = new DecodedChunkCache(1 << 20);
    byte[] raw = content(1000, 2);
    ChunkId id = ChunkId.of(raw);
    assertTrue(cache.offer(id, raw, 2));
    assertFalse(cache.offer(id, raw.clone(), 2), "already held");
    assertSame(raw, cache.take(id));
    assertEquals(1000, cache.bytes());
    assertSame(raw, cache.take(id));
    assertNull(cache.take(id));
    assertEquals(0, cache.bytes());
  }

  @Test
  void chunksNoShardReadsAreNotKept() {
    DecodedChunkCache cache = new DecodedChunkCache(1 << 20);
    byte[] raw = content(10, 3);
    assertFalse(cache.offer(ChunkId.of(raw), raw, 0));
    assertEquals(0, cache.size());
  }

  @Test
  void chunksOverTheCapAreNotKeptAndTheCapFreesAsChunksAreTaken() {
    DecodedChunkCache cache = new DecodedChunkCache(2500);
    byte[] a = content(1000, 4);
    byte[] b = content(1000, 5);
    byte[] c = content(1000, 6);
    byte[] small = content(500, 7);
    assertTrue(cache.offer(ChunkId.of(a), a, 1));
    assertTrue(cache.offer(ChunkId.of(b), b, 1));
    assertFalse(cache.offer(ChunkId.of(c), c, 1), "would hold 3000 > 2500");
    assertTrue(cache.offer(ChunkId.of(small), small, 1), "exactly at the cap");
    assertEquals(2500, cache.bytes());
    assertNull(cache.take(ChunkId.of(c)));
    assertSame(a, cache.take(ChunkId.of(a)));
    assertTrue(cache.offer(ChunkId.of(c), c, 1));
    assertEquals(2500, cache.bytes());
    assertTrue(cache.describe().contains("1 over the cap"), cache.describe());
  }

  @Test
  void aZeroCapKeepsNothing() {
    DecodedChunkCache cache = new DecodedChunkCache(0);
    byte[] raw = content(10, 8);
    assertFalse(cache.offer(ChunkId.of(raw), raw, 1));
    assertThrows(IllegalArgumentException.class, () -> new DecodedChunkCache(-1));
  }

  @Test
  void closeDropsEverythingAndRefusesMore() {
    DecodedChunkCache cache = new DecodedChunkCache(1 << 20);
    byte[] a = content(1000, 9);
    byte[] b = content(1000, 10);
    assertTrue(cache.offer(ChunkId.of(a), a, 3));
    cache.close();
    assertEquals(0, cache.bytes());
    assertEquals(0, cache.size());
    assertNull(cache.take(ChunkId.of(a)));
    assertFalse(cache.offer(ChunkId.of(b), b, 1));
    cache.close();
    assertEquals(0, cache.bytes());
  }

  @Test
  void theDefaultCapIsBoundedByTheHeapAnd256MiB() {
    long cap = DecodedChunkCache.defaultCap();
    assertTrue(cap <= DecodedChunkCache.MAX_DEFAULT_CAP);
    assertTrue(cap <= Runtime.getRuntime().maxMemory() / 16);
    assertTrue(cap > 0);
  }

  @Test
  void oneThreadOffersWhileAnotherTakes() throws InterruptedException {
    DecodedChunkCache cache = new DecodedChunkCache(64 * 100);
    List<byte[]> chunks = new ArrayList<>();
    List<ChunkId> ids = new ArrayList<>();
    for (int i = 0; i < 5000; i++) {
      chunks.add(content(100, i));
      ids.add(ChunkId.of(chunks.get(i)));
    }
    CountDownLatch offered = new CountDownLatch(1);
    AtomicLong kept = new AtomicLong();
    Thread driver =
        new Thread(
            () -> {
              for (int i = 0; i < chunks.size(); i++) {
                if (cache.offer(ids.get(i), chunks.get(i), 1)) {
                  kept.incrementAndGet();
                }
              }
              offered.countDown();
            });
    driver.start();
    long taken = 0;
    boolean done = false;
    while (!done) {
      done = offered.getCount() == 0;
      for (int i = 0; i < chunks.size(); i++) {
        byte[] got = cache.take(ids.get(i));
        if (got != null) {
          assertSame(chunks.get(i), got);
          taken++;
        }
      }
    }
    driver.join();
    assertEquals(kept.get(), taken);
    assertEquals(0, cache.bytes());
    assertEquals(0, cache.size());
  }
}
