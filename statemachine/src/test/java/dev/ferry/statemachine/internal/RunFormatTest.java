package dev.ferry.statemachine.internal;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.ferry.statemachine.StateLoader.Record;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.TreeMap;
import org.junit.jupiter.api.Test;

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
}
