package dev.ferry.snapshot.format;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;

import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.ChunkRef;
import dev.ferry.snapshot.StateDigest;
import java.io.ByteArrayInputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.TreeMap;
import java.util.function.BiFunction;
import java.util.function.UnaryOperator;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Assume;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;

/**
 * Properties of the manifest encoding against the simplest model there is, the {@link Manifest}
 * value itself: decode inverts encode, encoding depends only on the value, and the root tells
 * values apart. Seeds are fixed so a run is reproducible; jqwik shrinks a failure to a small case.
 */
class ManifestCodecPropertiesTest {

  @Property(tries = 400, seed = "20260101")
  void decodeInvertsEncode(@ForAll("manifests") Manifest m) throws Exception {
    byte[] encoded = ManifestCodec.encode(m);
    assertEquals(m, ManifestCodec.decode(encoded));
    assertEquals(m, ManifestCodec.read(new ByteArrayInputStream(encoded), encoded.length));
    assertEquals(ManifestCodec.rootHash(m), ManifestCodec.rootOf(encoded));
  }

  @Property(tries = 200, seed = "20260102")
  void encodingDependsOnlyOnTheValue(@ForAll("manifests") Manifest m) {
    Manifest copy = deepCopy(m);
    assertEquals(m, copy);
    assertArrayEquals(ManifestCodec.encode(m), ManifestCodec.encode(copy));
    assertEquals(ManifestCodec.rootHash(m), ManifestCodec.rootHash(copy));
  }

  @Property(tries = 300, seed = "20260103")
  void differentManifestsHaveDifferentRoots(
      @ForAll("manifests") Manifest a, @ForAll("manifests") Manifest b) {
    Assume.that(!a.equals(b));
    assertNotEquals(ManifestCodec.rootHash(a), ManifestCodec.rootHash(b));
  }

  @Property(tries = 1000, seed = "20260104")
  void everySmallEditChangesTheRoot(
      @ForAll("manifests") Manifest m, @ForAll("edits") Edit edit, @ForAll long seed) {
    Manifest edited = edit.apply(m, new Random(seed));
    Assume.that(!edited.equals(m));
    assertNotEquals(ManifestCodec.rootHash(m), ManifestCodec.rootHash(edited));
    assertEquals(edited, roundTrip(edited));
  }

  private static Manifest roundTrip(Manifest m) {
    try {
      return ManifestCodec.decode(ManifestCodec.encode(m));
    } catch (ManifestFormatException e) {
      throw new AssertionError(e);
    }
  }

  // ---- generators ----

  @Provide
  Arbitrary<Manifest> manifests() {
    Arbitrary<ChunkRef> fresh =
        Combinators.combine(
                Arbitraries.bytes().array(byte[].class).ofSize(ChunkId.LENGTH),
                Arbitraries.integers().between(1, ChunkRef.MAX_CHUNK_SIZE),
                Arbitraries.integers().between(1, ChunkRef.MAX_STORED_SIZE))
            .as((id, raw, stored) -> new ChunkRef(ChunkId.fromBytes(id), raw, stored));
    // A few fixed chunks that recur, as deduplicated chunks do.
    Arbitrary<ChunkRef> recurring =
        Arbitraries.of(
            new ChunkRef(ChunkId.of(new byte[] {1}), 1, 2),
            new ChunkRef(ChunkId.of(new byte[] {2}), 65_536, 20_000),
            new ChunkRef(ChunkId.of(new byte[] {3}), ChunkRef.MAX_CHUNK_SIZE, 1));
    Arbitrary<ChunkRef> chunks =
        Arbitraries.frequencyOf(List.of(Tuple.of(3, fresh), Tuple.of(1, recurring)));
    Arbitrary<Run> runs = chunks.list().ofMaxSize(8).map(Run::new);
    Arbitrary<Shard> shards =
        Combinators.combine(text(Shard.MAX_NAME_BYTES / 4), runs.list().ofMaxSize(4))
            .as(Shard::new);
    Arbitrary<StateDigest> digests =
        Arbitraries.bytes()
            .array(byte[].class)
            .ofSize(StateDigest.LENGTH)
            .map(StateDigest::fromBytes);
    Arbitrary<TreeMap<String, String>> metadata =
        Arbitraries.maps(text(12), text(40)).ofMaxSize(4).map(TreeMap::new);
    return Combinators.combine(
            Arbitraries.longs().greaterOrEqual(0),
            Arbitraries.longs().greaterOrEqual(0),
            shards.list().ofMaxSize(4).uniqueElements(Shard::name),
            chunks.list().ofMaxSize(3),
            digests,
            metadata)
        .as(Manifest::new);
  }

  /** Strings of up to {@code maxCodePoints} code points from every UTF-8 length class. */
  private static Arbitrary<String> text(int maxCodePoints) {
    Arbitrary<Integer> codePoints =
        Arbitraries.frequencyOf(
            List.of(
                Tuple.of(4, Arbitraries.integers().between('a', 'z')),
                Tuple.of(1, Arbitraries.integers().between(0, 0x7f)),
                Tuple.of(1, Arbitraries.integers().between(0x80, 0x7ff)),
                Tuple.of(1, Arbitraries.integers().between(0xe000, 0xffff)),
                Tuple.of(1, Arbitraries.integers().between(0x10000, 0x10ffff))));
    return codePoints
        .list()
        .ofMaxSize(maxCodePoints)
        .map(cps -> new String(cps.stream().mapToInt(Integer::intValue).toArray(), 0, cps.size()));
  }

  @Provide
  Arbitrary<Edit> edits() {
    return Arbitraries.of(Edit.values());
  }

  /** A small change to a manifest; returns it unchanged when it does not apply. */
  enum Edit {
    TERM((m, r) -> with(m, m.term() == Long.MAX_VALUE ? 0 : m.term() + 1, m.index())),
    INDEX((m, r) -> with(m, m.term(), m.index() ^ 1)),
    DIGEST(
        (m, r) ->
            new Manifest(
                m.term(),
                m.index(),
                m.shards(),
                m.sessionChunks(),
                m.digest().plus(StateDigest.elementHash(new byte[] {(byte) r.nextInt()})),
                m.metadata())),
    CHUNK_ID(
        (m, r) ->
            mapOneChunk(m, r, c -> new ChunkRef(flip(c.id(), r), c.rawSize(), c.storedSize()))),
    RAW_SIZE(
        (m, r) ->
            mapOneChunk(
                m,
                r,
                c -> new ChunkRef(c.id(), c.rawSize() == 1 ? 2 : c.rawSize() - 1, c.storedSize()))),
    STORED_SIZE(
        (m, r) ->
            mapOneChunk(
                m,
                r,
                c ->
                    new ChunkRef(
                        c.id(), c.rawSize(), c.storedSize() == 1 ? 2 : c.storedSize() - 1))),
    SPLIT_OR_MERGE_RUNS((m, r) -> mapOneShard(m, r, Edit::splitOrMerge)),
    ADD_EMPTY_RUN(
        (m, r) ->
            mapOneShard(
                m,
                r,
                s -> {
                  List<Run> runs = new ArrayList<>(s.runs());
                  runs.add(r.nextInt(runs.size() + 1), new Run(List.of()));
                  return new Shard(s.name(), runs);
                })),
    RENAME_SHARD((m, r) -> mapOneShard(m, r, s -> new Shard(s.name() + "\u0000", s.runs()))),
    SWAP_SHARDS(
        (m, r) -> {
          if (m.shards().size() < 2) {
            return m;
          }
          List<Shard> shards = new ArrayList<>(m.shards());
          int i = r.nextInt(shards.size() - 1);
          shards.set(i, m.shards().get(i + 1));
          shards.set(i + 1, m.shards().get(i));
          return withShards(m, shards);
        }),
    SESSION_CHUNK_INTO_A_SHARD(
        (m, r) -> {
          if (m.sessionChunks().isEmpty() || m.shards().isEmpty()) {
            return m;
          }
          List<Shard> shards = new ArrayList<>(m.shards());
          Shard last = shards.get(shards.size() - 1);
          List<Run> runs = new ArrayList<>(last.runs());
          runs.add(new Run(List.of(m.sessionChunks().get(0))));
          shards.set(shards.size() - 1, new Shard(last.name(), runs));
          return new Manifest(
              m.term(),
              m.index(),
              shards,
              m.sessionChunks().subList(1, m.sessionChunks().size()),
              m.digest(),
              m.metadata());
        }),
    METADATA(
        (m, r) -> {
          TreeMap<String, String> metadata = new TreeMap<>(m.metadata());
          String key = metadata.isEmpty() ? "k" : metadata.firstKey();
          metadata.merge(key, "", (old, x) -> old + "x");
          return new Manifest(
              m.term(), m.index(), m.shards(), m.sessionChunks(), m.digest(), metadata);
        });

    private final BiFunction<Manifest, Random, Manifest> f;

    Edit(BiFunction<Manifest, Random, Manifest> f) {
      this.f = f;
    }

    Manifest apply(Manifest m, Random r) {
      return f.apply(m, r);
    }

    private static Manifest with(Manifest m, long term, long index) {
      return new Manifest(term, index, m.shards(), m.sessionChunks(), m.digest(), m.metadata());
    }

    private static Manifest withShards(Manifest m, List<Shard> shards) {
      return new Manifest(m.term(), m.index(), shards, m.sessionChunks(), m.digest(), m.metadata());
    }

    private static Manifest mapOneShard(Manifest m, Random r, UnaryOperator<Shard> f) {
      if (m.shards().isEmpty()) {
        return m;
      }
      List<Shard> shards = new ArrayList<>(m.shards());
      int i = r.nextInt(shards.size());
      Shard changed = f.apply(shards.get(i));
      for (int j = 0; j < shards.size(); j++) {
        if (j != i && shards.get(j).name().equals(changed.name())) {
          return m;
        }
      }
      shards.set(i, changed);
      return withShards(m, shards);
    }

    /** Changes one chunk reference, in a shard's run or in the session table. */
    private static Manifest mapOneChunk(Manifest m, Random r, UnaryOperator<ChunkRef> f) {
      int total = m.allChunks().size();
      if (total == 0) {
        return m;
      }
      int target = r.nextInt(total);
      int seen = 0;
      List<Shard> shards = new ArrayList<>();
      for (Shard s : m.shards()) {
        List<Run> runs = new ArrayList<>();
        for (Run run : s.runs()) {
          List<ChunkRef> chunks = new ArrayList<>(run.chunks());
          for (int k = 0; k < chunks.size(); k++, seen++) {
            if (seen == target) {
              chunks.set(k, f.apply(chunks.get(k)));
            }
          }
          runs.add(new Run(chunks));
        }
        shards.add(new Shard(s.name(), runs));
      }
      List<ChunkRef> session = new ArrayList<>(m.sessionChunks());
      for (int k = 0; k < session.size(); k++, seen++) {
        if (seen == target) {
          session.set(k, f.apply(session.get(k)));
        }
      }
      return new Manifest(m.term(), m.index(), shards, session, m.digest(), m.metadata());
    }

    /** Splits a run of two or more chunks in two, or else merges two adjacent runs. */
    private static Shard splitOrMerge(Shard s) {
      List<Run> runs = new ArrayList<>(s.runs());
      for (int i = 0; i < runs.size(); i++) {
        List<ChunkRef> c = runs.get(i).chunks();
        if (c.size() >= 2) {
          runs.set(i, new Run(c.subList(0, 1)));
          runs.add(i + 1, new Run(c.subList(1, c.size())));
          return new Shard(s.name(), runs);
        }
      }
      if (runs.size() >= 2) {
        List<ChunkRef> merged = new ArrayList<>(runs.get(0).chunks());
        merged.addAll(runs.get(1).chunks());
        runs.set(0, new Run(merged));
        runs.remove(1);
      }
      return new Shard(s.name(), runs);
    }

    private static ChunkId flip(ChunkId id, Random r) {
      byte[] b = id.toBytes();
      b[r.nextInt(b.length)] ^= (byte) (1 << r.nextInt(8));
      return ChunkId.fromBytes(b);
    }
  }

  /** A copy sharing no objects with {@code m} but the strings. */
  private static Manifest deepCopy(Manifest m) {
    List<Shard> shards = new ArrayList<>();
    for (Shard s : m.shards()) {
      List<Run> runs = new ArrayList<>();
      for (Run r : s.runs()) {
        runs.add(new Run(copy(r.chunks())));
      }
      shards.add(new Shard(new String(s.name()), runs));
    }
    return new Manifest(
        m.term(),
        m.index(),
        shards,
        copy(m.sessionChunks()),
        StateDigest.fromBytes(m.digest().toBytes()),
        new TreeMap<>(m.metadata()));
  }

  private static List<ChunkRef> copy(List<ChunkRef> chunks) {
    List<ChunkRef> out = new ArrayList<>();
    for (ChunkRef c : chunks) {
      out.add(new ChunkRef(ChunkId.fromBytes(c.id().toBytes()), c.rawSize(), c.storedSize()));
    }
    return out;
  }
}
