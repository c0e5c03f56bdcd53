package dev.ferry.statemachine.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.ChunkRef;
import dev.ferry.snapshot.store.FileChunkStore;
import dev.ferry.statemachine.StateLoader.Record;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RunFormatTest {

  private static byte[] b(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  /** A run as a sorted map of key to value, {@code null} for deletions. */
  private static byte[] encode(TreeMap<ByteKey, byte[]> run) throws IOException {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    RunFormat.Writer w = new RunFormat.Writer(out);
    for (Map.Entry<ByteKey, byte[]> e : run.entrySet()) {
      if (e.getValue() == null) {
        w.delete(e.getKey().bytes());
      } else {
        w.put(e.getKey().bytes(), e.getValue());
      }
    }
    w.flush();
    return out.toByteArray();
  }

  private static Iterator<RunFormat.Entry> reader(byte[] run) throws IOException {
    return new RunFormat.Reader(new ByteArrayInputStream(run), "test run");
  }

  @Test
  void smallAndLargeFieldsRoundTripAndTruncationIsCaughtInBoth() throws IOException {
    byte[] small = new byte[1000];
    byte[] large = new byte[200_000]; // above the exact-read threshold
    new Random(5).nextBytes(small);
    new Random(6).nextBytes(large);
    TreeMap<ByteKey, byte[]> run = new TreeMap<>();
    run.put(new ByteKey(b("a")), small);
    run.put(new ByteKey(b("b")), large);
    byte[] bytes = encode(run);
    Iterator<RunFormat.Entry> it = reader(bytes);
    assertArrayEquals(small, it.next().value());
    assertArrayEquals(large, it.next().value());
    assertEquals(false, it.hasNext());
    // Cut inside the large value, then inside the small one.
    for (int cut : new int[] {bytes.length - 1000, 20}) {
      byte[] truncated = Arrays.copyOf(bytes, cut);
      Exception e =
          assertThrows(
              Exception.class,
              () -> {
                Iterator<RunFormat.Entry> r = reader(truncated);
                while (r.hasNext()) {
                  r.next();
                }
              });
      Throwable io = e instanceof RunFormat.CorruptRunException ? e.getCause() : e;
      assertEquals(true, io instanceof IOException, io.toString());
      assertEquals(true, String.valueOf(io.getMessage()).contains("truncated"), io.toString());
    }
  }

  @Test
  void mergeAgreesWithApplyingRunsInOrder() throws IOException {
    Random rnd = new Random(3);
    for (int trial = 0; trial < 200; trial++) {
      TreeMap<ByteKey, byte[]> model = new TreeMap<>();
      List<Iterator<RunFormat.Entry>> runs = new ArrayList<>();
      int runCount = 1 + rnd.nextInt(5);
      for (int r = 0; r < runCount; r++) {
        TreeMap<ByteKey, byte[]> run = new TreeMap<>();
        int n = rnd.nextInt(30);
        for (int i = 0; i < n; i++) {
          ByteKey k = new ByteKey(b("k" + rnd.nextInt(40)));
          byte[] v = r > 0 && rnd.nextInt(4) == 0 ? null : b("v" + trial + "." + r + "." + i);
          run.put(k, v);
        }
        for (Map.Entry<ByteKey, byte[]> e : run.entrySet()) {
          if (e.getValue() == null) {
            model.remove(e.getKey());
          } else {
            model.put(e.getKey(), e.getValue());
          }
        }
        runs.add(reader(encode(run)));
      }
      Iterator<Record> merged = RunFormat.merge(runs);
      for (Map.Entry<ByteKey, byte[]> e : model.entrySet()) {
        Record r = merged.next();
        assertArrayEquals(e.getKey().bytes(), r.key(), "trial " + trial);
        assertArrayEquals(e.getValue(), r.value(), "trial " + trial);
      }
      assertEquals(false, merged.hasNext(), "trial " + trial);
    }
  }

  @Test
  void writerRefusesKeysOutOfOrder() throws IOException {
    RunFormat.Writer w = new RunFormat.Writer(new ByteArrayOutputStream());
    w.put(b("b"), b("1"));
    assertThrows(IllegalArgumentException.class, () -> w.put(b("a"), b("2")));
    assertThrows(IllegalArgumentException.class, () -> w.put(b("b"), b("2")));
  }

  @Test
  void readerRejectsMalformedRuns() throws IOException {
    TreeMap<ByteKey, byte[]> run = new TreeMap<>();
    run.put(new ByteKey(b("a")), b("1"));
    run.put(new ByteKey(b("b")), b("2"));
    byte[] good = encode(run);
    // Truncated anywhere inside a record.
    for (int cut = 1; cut < good.length; cut++) {
      byte[] bad = Arrays.copyOf(good, cut);
      boolean endsOnRecord = cut == 1 + 4 + 1 + 4 + 1;
      if (endsOnRecord) {
        continue;
      }
      assertThrows(
          Exception.class,
          () -> {
            Iterator<RunFormat.Entry> it = reader(bad);
            while (it.hasNext()) {
              it.next();
            }
          },
          "cut at " + cut);
    }
    // A huge length is refused before allocation.
    byte[] huge = good.clone();
    huge[1] = 0x7f;
    assertThrows(IOException.class, () -> reader(huge));
    // A bad flag.
    byte[] flag = good.clone();
    flag[0] = 9;
    assertThrows(IOException.class, () -> reader(flag));
  }

  @Test
  void chunkInputStreamTakesDecodedContentWhereOfferedAndReadsTheStoreOtherwise(@TempDir Path dir)
      throws IOException {
    byte[] all = new byte[30_000];
    new Random(7).nextBytes(all);
    try (FileChunkStore store = FileChunkStore.open(dir.resolve("chunks"))) {
      List<ChunkRef> refs = new ArrayList<>();
      for (int off = 0; off < all.length; off += 10_000) {
        refs.add(store.put(all, off, 10_000));
      }
      Map<ChunkId, byte[]> held = new HashMap<>();
      held.put(refs.get(1).id(), Arrays.copyOfRange(all, 10_000, 20_000));
      List<ChunkId> asked = new ArrayList<>();
      Function<ChunkId, byte[]> decoded =
          id -> {
            asked.add(id);
            return held.remove(id);
          };
      try (RunFormat.ChunkInputStream in =
          new RunFormat.ChunkInputStream(store, refs, false, decoded)) {
        assertArrayEquals(all, in.readAllBytes());
      }
      assertEquals(List.of(refs.get(0).id(), refs.get(1).id(), refs.get(2).id()), asked);
      assertTrue(held.isEmpty());
    }
  }

  @Test
  void chunkInputStreamNeedsNoStoreForDecodedChunksAndChecksTheirSize(@TempDir Path dir)
      throws IOException {
    byte[] raw = new byte[5000];
    new Random(8).nextBytes(raw);
    ChunkRef ref = new ChunkRef(ChunkId.of(raw), raw.length, raw.length + 1);
    try (FileChunkStore store = FileChunkStore.open(dir.resolve("chunks"))) {
      // The store does not hold the chunk: only the decoded content can answer it.
      try (RunFormat.ChunkInputStream in =
          new RunFormat.ChunkInputStream(store, List.of(ref), false, id -> raw)) {
        assertArrayEquals(raw, in.readAllBytes());
      }
      try (RunFormat.ChunkInputStream in =
          new RunFormat.ChunkInputStream(
              store, List.of(ref), false, id -> Arrays.copyOf(raw, 4999))) {
        IOException e = assertThrows(IOException.class, in::readAllBytes);
        assertTrue(e.getMessage().contains("unexpected size"), e.getMessage());
      }
      try (RunFormat.ChunkInputStream in =
          new RunFormat.ChunkInputStream(store, List.of(ref), false, id -> null)) {
        assertThrows(
            IOException.class, in::readAllBytes, "falls back to the store, which lacks it");
      }
    }
  }
}
