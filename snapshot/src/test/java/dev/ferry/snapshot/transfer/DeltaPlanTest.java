package dev.ferry.snapshot.transfer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.ChunkRef;
import dev.ferry.snapshot.StateDigest;
import dev.ferry.snapshot.format.Manifest;
import dev.ferry.snapshot.format.RandomManifests;
import dev.ferry.snapshot.format.Run;
import dev.ferry.snapshot.format.Shard;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

class DeltaPlanTest {
  private static final ChunkRef A = chunk("a", 100, 40);
  private static final ChunkRef B = chunk("b", 200, 201);
  private static final ChunkRef C = chunk("c", 300, 90);
  private static final ChunkRef D = chunk("d", 400, 401);
  private static final ChunkRef E = chunk("e", 500, 100);

  private static ChunkRef chunk(String content, int rawSize, int storedSize) {
    return new ChunkRef(
        ChunkId.of(content.getBytes(java.nio.charset.StandardCharsets.UTF_8)), rawSize, storedSize);
  }

  /**
   * Shard s0: runs [A, B, A] and [C]; shard s1: runs [B, D] and []; shard s2: [A]; session: [E, C].
   * Distinct in first-reference order: A, B, C, D, E.
   */
  private static Manifest manifest() {
    return new Manifest(
        3,
        99,
        List.of(
            new Shard("s0", List.of(new Run(List.of(A, B, A)), new Run(List.of(C)))),
            new Shard("s1", List.of(new Run(List.of(B, D)), new Run(List.of()))),
            Shard.ofChunks("s2", List.of(A))),
        List.of(E, C),
        StateDigest.EMPTY);
  }

  @Test
  void nothingHeldFetchesEachDistinctChunkOnceInFirstReferenceOrder() {
    DeltaPlan plan = DeltaPlan.of(manifest(), id -> false);
    assertEquals(List.of(A, B, C, D, E), plan.missing());
    assertEquals(List.of(), plan.held());
    assertFalse(plan.isComplete());
    assertEquals(5, plan.distinctChunks());
    assertEquals(100 + 200 + 300 + 400 + 500, plan.missingRawBytes());
    assertEquals(40 + 201 + 90 + 401 + 100, plan.missingStoredBytes());
    assertEquals(0, plan.heldRawBytes());
    assertEquals(0, plan.heldStoredBytes());
    assertEquals(plan.missingRawBytes(), plan.totalRawBytes());
    assertEquals(plan.missingStoredBytes(), plan.totalStoredBytes());
  }

  @Test
  void repeatsWithinAndAmongShardsAreCountedOnceButReferencedBytesCountThemAll() {
    DeltaPlan plan = DeltaPlan.of(manifest(), id -> false);
    assertEquals(manifest().rawBytes(), plan.referencedRawBytes());
    // A three times, B twice, C twice: the repeats are what dedup within the manifest saves.
    assertEquals(2 * 100 + 200 + 300, plan.referencedRawBytes() - plan.totalRawBytes());
  }

  @Test
  void everythingHeldFetchesNothing() {
    DeltaPlan plan = DeltaPlan.of(manifest(), id -> true);
    assertTrue(plan.isComplete());
    assertEquals(List.of(), plan.missing());
    assertEquals(List.of(A, B, C, D, E), plan.held());
    assertEquals(0, plan.missingRawBytes());
    assertEquals(0, plan.missingStoredBytes());
    assertEquals(1500, plan.heldRawBytes());
    assertEquals(832, plan.heldStoredBytes());
    for (int s = 0; s < 3; s++) {
      assertEquals(0, plan.missingThroughShard(s));
    }
  }

  @Test
  void partlyHeldSplitsTheDistinctChunks() {
    Set<ChunkId> local = Set.of(B.id(), E.id());
    DeltaPlan plan = DeltaPlan.of(manifest(), local::contains);
    assertEquals(List.of(A, C, D), plan.missing());
    assertEquals(List.of(B, E), plan.held());
    assertEquals(800, plan.missingRawBytes());
    assertEquals(531, plan.missingStoredBytes());
    assertEquals(700, plan.heldRawBytes());
    assertEquals(301, plan.heldStoredBytes());
    assertEquals(1500, plan.totalRawBytes());
    assertEquals(832, plan.totalStoredBytes());
  }

  @Test
  void shardsCompleteInOrderAsTheMissingListIsFetched() {
    DeltaPlan plan = DeltaPlan.of(manifest(), Set.of(B.id())::contains);
    assertEquals(List.of(A, C, D, E), plan.missing());
    assertEquals(2, plan.missingThroughShard(0)); // s0 needs A, C (B is held)
    assertEquals(3, plan.missingThroughShard(1)); // s1 adds D
    assertEquals(3, plan.missingThroughShard(2)); // s2 needs only A, already counted
    assertThrows(IndexOutOfBoundsException.class, () -> plan.missingThroughShard(3));
    assertThrows(IndexOutOfBoundsException.class, () -> plan.missingThroughShard(-1));
  }

  @Test
  void asksThePredicateOncePerDistinctChunkInOrder() {
    List<ChunkId> asked = new ArrayList<>();
    DeltaPlan.of(
        manifest(),
        id -> {
          asked.add(id);
          return false;
        });
    assertEquals(List.of(A.id(), B.id(), C.id(), D.id(), E.id()), asked);
  }

  @Test
  void anEmptyManifestNeedsNothing() {
    DeltaPlan plan =
        DeltaPlan.of(new Manifest(0, 0, List.of(), List.of(), StateDigest.EMPTY), id -> false);
    assertTrue(plan.isComplete());
    assertEquals(0, plan.distinctChunks());
    assertEquals(0, plan.referencedRawBytes());
  }

  @Test
  void aRepeatedIdUsesTheSizesOfItsFirstReference() {
    ChunkRef aStoredDifferently = new ChunkRef(A.id(), A.rawSize(), 77);
    Manifest m =
        new Manifest(
            0,
            0,
            List.of(Shard.ofChunks("s", List.of(A, aStoredDifferently))),
            List.of(),
            StateDigest.EMPTY);
    DeltaPlan plan = DeltaPlan.of(m, id -> false);
    assertEquals(List.of(A), plan.missing());
    assertEquals(A.storedSize(), plan.missingStoredBytes());
  }

  @Test
  void listsAreImmutable() {
    DeltaPlan plan = DeltaPlan.of(manifest(), id -> false);
    assertThrows(UnsupportedOperationException.class, () -> plan.missing().add(A));
    assertThrows(UnsupportedOperationException.class, () -> plan.held().clear());
  }

  /** Random manifests and held sets against a direct reference computation. */
  @Test
  void agreesWithAReferenceModel() {
    for (long seed = 0; seed < 500; seed++) {
      Random rnd = RandomManifests.seeded(seed);
      Manifest m = RandomManifests.random(rnd, 5, 3, 8);
      Set<ChunkId> local = new HashSet<>();
      for (ChunkRef c : m.allChunks()) {
        if (rnd.nextInt(3) == 0) {
          local.add(c.id());
        }
      }
      DeltaPlan plan = DeltaPlan.of(m, local::contains);

      Map<ChunkId, ChunkRef> distinct = new LinkedHashMap<>();
      for (ChunkRef c : m.allChunks()) {
        distinct.putIfAbsent(c.id(), c);
      }
      List<ChunkRef> missing = new ArrayList<>();
      List<ChunkRef> held = new ArrayList<>();
      for (ChunkRef c : distinct.values()) {
        (local.contains(c.id()) ? held : missing).add(c);
      }
      String at = "seed " + seed;
      assertEquals(missing, plan.missing(), at);
      assertEquals(held, plan.held(), at);
      assertEquals(sum(missing, true), plan.missingRawBytes(), at);
      assertEquals(sum(missing, false), plan.missingStoredBytes(), at);
      assertEquals(sum(held, true), plan.heldRawBytes(), at);
      assertEquals(sum(held, false), plan.heldStoredBytes(), at);
      assertEquals(m.rawBytes(), plan.referencedRawBytes(), at);

      // Fetching the first missingThroughShard(i) chunks completes shards 0..i.
      Map<ChunkId, Integer> position = new HashMap<>();
      for (int i = 0; i < plan.missing().size(); i++) {
        position.put(plan.missing().get(i).id(), i);
      }
      // It is exactly the number of distinct missing chunks that shards 0..i reference.
      Set<ChunkId> missingSoFar = new HashSet<>();
      for (int s = 0; s < m.shards().size(); s++) {
        int through = plan.missingThroughShard(s);
        int needed = 0;
        for (ChunkRef c : m.shards().get(s).chunks()) {
          if (!local.contains(c.id())) {
            needed = Math.max(needed, position.get(c.id()) + 1);
            missingSoFar.add(c.id());
          }
        }
        assertTrue(needed <= through, at + ", shard " + s);
        assertEquals(missingSoFar.size(), through, at + ", shard " + s);
      }
    }
  }

  private static long sum(List<ChunkRef> chunks, boolean raw) {
    long sum = 0;
    for (ChunkRef c : chunks) {
      sum += raw ? c.rawSize() : c.storedSize();
    }
    return sum;
  }
}
