package dev.ferry.snapshot.format;

import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.ChunkRef;
import dev.ferry.snapshot.StateDigest;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;

/**
 * Seeded random manifests for tests: small shapes with repeated chunks, edge-case sizes, and names
 * and metadata drawn from 1- to 4-byte UTF-8 code points.
 */
public final class RandomManifests {
  private RandomManifests() {}

  /**
   * A {@link Random} for {@code seed}, with the seed scrambled first: {@code new Random(seed)} for
   * consecutive seeds gives strongly correlated first values.
   */
  public static Random seeded(long seed) {
    long z = seed + 0x9E3779B97F4A7C15L;
    z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
    z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
    return new Random(z ^ (z >>> 31));
  }

  /** A manifest of up to 4 shards, 3 runs per shard, 6 chunks per run. */
  public static Manifest random(Random rnd) {
    return random(rnd, 4, 3, 6);
  }

  /** A manifest with up to the given numbers of shards, runs per shard and chunks per run. */
  public static Manifest random(Random rnd, int maxShards, int maxRuns, int maxChunks) {
    List<ChunkRef> pool = new ArrayList<>();
    int poolSize = 1 + rnd.nextInt(6);
    for (int i = 0; i < poolSize; i++) {
      pool.add(chunk(rnd));
    }
    int shardCount = rnd.nextInt(maxShards + 1);
    List<Shard> shards = new ArrayList<>();
    Set<String> names = new HashSet<>();
    while (shards.size() < shardCount) {
      String name = string(rnd, rnd.nextInt(4) == 0 ? 0 : 1 + rnd.nextInt(12));
      if (!names.add(name)) {
        continue;
      }
      List<Run> runs = new ArrayList<>();
      int runCount = rnd.nextInt(maxRuns + 1);
      for (int r = 0; r < runCount; r++) {
        runs.add(new Run(chunks(rnd, pool, rnd.nextInt(maxChunks + 1))));
      }
      shards.add(new Shard(name, runs));
    }
    List<ChunkRef> session = chunks(rnd, pool, rnd.nextInt(4));
    TreeMap<String, String> metadata = new TreeMap<>();
    int entries = rnd.nextInt(5);
    for (int i = 0; i < entries; i++) {
      metadata.put(string(rnd, rnd.nextInt(10)), string(rnd, rnd.nextInt(20)));
    }
    return new Manifest(nonNegative(rnd), nonNegative(rnd), shards, session, digest(rnd), metadata);
  }

  /** A fresh chunk reference with a random id and sizes biased towards the bounds. */
  public static ChunkRef chunk(Random rnd) {
    byte[] id = new byte[ChunkId.LENGTH];
    rnd.nextBytes(id);
    return new ChunkRef(
        ChunkId.fromBytes(id),
        size(rnd, ChunkRef.MAX_CHUNK_SIZE),
        size(rnd, ChunkRef.MAX_STORED_SIZE));
  }

  /** A random state digest. */
  public static StateDigest digest(Random rnd) {
    byte[] d = new byte[StateDigest.LENGTH];
    rnd.nextBytes(d);
    return StateDigest.fromBytes(d);
  }

  /**
   * A string of {@code codePoints} code points from ASCII (control characters and NUL included),
   * 2-, 3- and 4-byte UTF-8 ranges; at most 4 * codePoints UTF-8 bytes.
   */
  public static String string(Random rnd, int codePoints) {
    StringBuilder sb = new StringBuilder();
    for (int i = 0; i < codePoints; i++) {
      int cp =
          switch (rnd.nextInt(5)) {
            case 0 -> rnd.nextInt(0x80);
            case 1 -> 'a' + rnd.nextInt(26);
            case 2 -> 0x80 + rnd.nextInt(0x800 - 0x80);
            case 3 -> 0xE000 + rnd.nextInt(0x10000 - 0xE000);
            default -> 0x10000 + rnd.nextInt(0x110000 - 0x10000);
          };
      sb.appendCodePoint(cp);
    }
    return sb.toString();
  }

  private static List<ChunkRef> chunks(Random rnd, List<ChunkRef> pool, int n) {
    List<ChunkRef> out = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      out.add(rnd.nextInt(3) == 0 ? pool.get(rnd.nextInt(pool.size())) : chunk(rnd));
    }
    return out;
  }

  private static int size(Random rnd, int max) {
    return switch (rnd.nextInt(6)) {
      case 0 -> 1;
      case 1 -> max;
      default -> 1 + rnd.nextInt(max);
    };
  }

  private static long nonNegative(Random rnd) {
    return switch (rnd.nextInt(6)) {
      case 0 -> 0;
      case 1 -> Long.MAX_VALUE;
      default -> rnd.nextLong() >>> 1;
    };
  }
}
