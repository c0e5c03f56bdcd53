package dev.ferry.snapshot.transfer;

import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.ChunkRef;
import dev.ferry.snapshot.StateDigest;
import dev.ferry.snapshot.codec.ChunkCodecs;
import dev.ferry.snapshot.format.Manifest;
import dev.ferry.snapshot.format.Shard;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;

/** Seeded snapshots for transfer tests: a manifest and the stored bytes of its chunks. */
final class TestSnapshots {
  private static final Map<List<Long>, Fixture> CACHE = new ConcurrentHashMap<>();

  private TestSnapshots() {}

  /** A manifest and the stored form of each distinct chunk it names. */
  record Fixture(Manifest manifest, Map<ChunkId, byte[]> stored) {
    Fixture {
      stored = java.util.Collections.unmodifiableMap(stored);
    }

    List<ChunkRef> wanted() {
      return manifest.allChunks();
    }

    /** The distinct chunks, in manifest order. */
    List<ChunkRef> distinct() {
      Map<ChunkId, ChunkRef> d = new LinkedHashMap<>();
      for (ChunkRef r : manifest.allChunks()) {
        d.putIfAbsent(r.id(), r);
      }
      return List.copyOf(d.values());
    }

    long distinctStoredBytes() {
      return distinct().stream().mapToLong(ChunkRef::storedSize).sum();
    }
  }

  /** One chunk: its reference and stored bytes. */
  record TestChunk(ChunkRef ref, byte[] stored) {}

  /**
   * {@code shards} shards of about {@code chunksPerShard} chunks of 1–6 KiB each (half compressible
   * text, half random bytes); about one chunk in ten repeats an earlier one, within or across
   * shards; plus two session-table chunks. Cached per arguments: callers must not modify the stored
   * arrays.
   */
  static Fixture fixture(long seed, int shards, int chunksPerShard) {
    return CACHE.computeIfAbsent(
        List.of(seed, (long) shards, (long) chunksPerShard),
        k -> build(seed, shards, chunksPerShard));
  }

  private static Fixture build(long seed, int shards, int chunksPerShard) {
    SplittableRandom random = new SplittableRandom(seed);
    Map<ChunkId, byte[]> stored = new LinkedHashMap<>();
    List<ChunkRef> all = new ArrayList<>();
    List<Shard> shardList = new ArrayList<>();
    for (int s = 0; s < shards; s++) {
      List<ChunkRef> refs = new ArrayList<>();
      for (int i = 0; i < chunksPerShard; i++) {
        if (!all.isEmpty() && random.nextInt(10) == 0) {
          ChunkRef again = all.get(random.nextInt(all.size()));
          refs.add(again);
          continue;
        }
        TestChunk c = chunk(random);
        stored.put(c.ref().id(), c.stored());
        refs.add(c.ref());
        all.add(c.ref());
      }
      shardList.add(Shard.ofChunks("shard-" + s, refs));
    }
    List<ChunkRef> session = new ArrayList<>();
    for (int i = 0; i < 2; i++) {
      TestChunk c = chunk(random);
      stored.put(c.ref().id(), c.stored());
      session.add(c.ref());
    }
    return new Fixture(new Manifest(1, 100, shardList, session, StateDigest.EMPTY), stored);
  }

  /** One random chunk of 1–6 KiB, compressible or not. */
  static TestChunk chunk(SplittableRandom random) {
    int size = 1024 + random.nextInt(5 * 1024);
    byte[] raw = new byte[size];
    if (random.nextBoolean()) {
      random.nextBytes(raw);
    } else {
      byte[] words =
          ("key-" + random.nextInt(1_000_000) + " value lorem ipsum " + random.nextLong() + "\n")
              .getBytes(StandardCharsets.UTF_8);
      for (int i = 0; i < size; i++) {
        raw[i] = words[i % words.length];
      }
      raw[random.nextInt(size)] = (byte) random.nextInt();
    }
    byte[] stored = ChunkCodecs.encode(raw, 0, raw.length, ChunkCodecs.DEFAULT_LEVEL);
    return new TestChunk(new ChunkRef(ChunkId.of(raw), raw.length, stored.length), stored);
  }
}
