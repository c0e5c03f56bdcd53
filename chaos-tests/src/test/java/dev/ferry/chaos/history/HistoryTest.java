package dev.ferry.chaos.history;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class HistoryTest {
  @TempDir Path dir;

  private static final String GOOD = "0 WRITE k 1 0 OK - - 10 20";

  @Test
  void stampsStrictlyIncreaseEvenWhenTheClockStalls() {
    History history = new History(() -> 5);
    long a = history.invoke();
    long b = history.complete();
    long c = history.invoke();
    assertEquals(5, a);
    assertEquals(6, b);
    assertEquals(7, c);
  }

  @Test
  void stampsAreUniqueAcrossThreads() throws InterruptedException {
    History history = new History();
    Set<Long> seen = ConcurrentHashMap.newKeySet();
    int threads = 4;
    int perThread = 10_000;
    CountDownLatch done = new CountDownLatch(threads);
    for (int t = 0; t < threads; t++) {
      new Thread(
              () -> {
                for (int i = 0; i < perThread; i++) {
                  seen.add(history.invoke());
                }
                done.countDown();
              })
          .start();
    }
    done.await();
    assertEquals(threads * perThread, seen.size());
  }

  @Test
  void opsIsASnapshot() {
    History history = new History();
    history.record(Op.write(0, "k", 1, Outcome.OK, 1, 2));
    List<Op> snapshot = history.ops();
    history.record(Op.read(1, "k", Outcome.OK, 1L, 3, 4));
    assertEquals(1, snapshot.size());
    assertEquals(2, history.ops().size());
    assertThrows(UnsupportedOperationException.class, () -> snapshot.add(snapshot.get(0)));
  }

  @Test
  void opRejectsFieldsThatDoNotFitItsTypeAndOutcome() {
    assertThrows(IllegalArgumentException.class, () -> Op.write(-1, "k", 1, Outcome.OK, 1, 2));
    assertThrows(IllegalArgumentException.class, () -> Op.write(0, "", 1, Outcome.OK, 1, 2));
    assertThrows(IllegalArgumentException.class, () -> Op.write(0, "k", 1, Outcome.OK, 3, 2));
    assertThrows(
        IllegalArgumentException.class, () -> Op.write(0, "k", 1, Outcome.OK, 1, Long.MAX_VALUE));
    assertThrows(IllegalArgumentException.class, () -> Op.read(0, "k", Outcome.FAIL, 1L, 1, 2));
    assertThrows(
        IllegalArgumentException.class,
        () -> new Op(0, OpType.WRITE, "k", 1, 0, Outcome.OK, 1L, null, 1, 2));
    assertThrows(
        IllegalArgumentException.class,
        () -> new Op(0, OpType.WRITE, "k", 1, 3, Outcome.OK, null, null, 1, 2));
    assertThrows(
        IllegalArgumentException.class,
        () -> new Op(0, OpType.READ, "k", 1, 0, Outcome.OK, null, null, 1, 2));
    assertThrows(
        IllegalArgumentException.class,
        () -> new Op(0, OpType.CAS, "k", 1, 0, Outcome.OK, 2L, null, 1, 2));
    assertThrows(
        IllegalArgumentException.class,
        () -> new Op(0, OpType.CAS, "k", 1, 0, Outcome.OK, null, null, 1, 2));
    assertThrows(NullPointerException.class, () -> Op.readSet(0, "s", Outcome.OK, null, 1, 2));
    assertThrows(
        IllegalArgumentException.class, () -> Op.readSet(0, "s", Outcome.FAIL, Set.of(), 1, 2));
    assertThrows(NullPointerException.class, () -> Op.write(0, null, 1, Outcome.OK, 1, 2));
    Set<Long> withNull = new HashSet<>();
    withNull.add(null);
    assertThrows(NullPointerException.class, () -> Op.readSet(0, "s", Outcome.OK, withNull, 1, 2));
  }

  @Test
  void opCopiesTheResultSet() {
    Set<Long> elements = new HashSet<>(Set.of(1L, 2L));
    Op op = Op.readSet(0, "s", Outcome.OK, elements, 1, 2);
    elements.add(3L);
    assertEquals(Set.of(1L, 2L), op.resultSet());
  }

  @Test
  void saveThenLoadRoundTripsEveryKindOfOp() throws IOException {
    List<Op> ops = new ArrayList<>();
    ops.add(Op.write(0, "k1", -7, Outcome.OK, -100, -50));
    ops.add(Op.read(1, "k1", Outcome.OK, null, 1, 2));
    ops.add(Op.read(1, "k1", Outcome.OK, -7L, 3, 4));
    ops.add(Op.read(2, "k1", Outcome.UNKNOWN, null, 5, Long.MAX_VALUE));
    ops.add(Op.cas(3, "key with space", 1, 2, Outcome.OK, true, 6, 7));
    ops.add(Op.cas(3, "100%é\n", 1, 2, Outcome.OK, false, 8, 9));
    ops.add(Op.cas(3, "k1", Long.MIN_VALUE, Long.MAX_VALUE, Outcome.FAIL, null, 10, 11));
    ops.add(Op.increment(4, "c", 1, Outcome.OK, 5L, 12, 12));
    ops.add(Op.increment(4, "c", 1, Outcome.OK, null, 13, 14));
    ops.add(Op.increment(4, "c", 1, Outcome.UNKNOWN, null, 15, 16));
    ops.add(Op.add(5, "s", 42, Outcome.FAIL, 17, 18));
    ops.add(Op.readSet(6, "s", Outcome.OK, Set.of(), 19, 20));
    ops.add(Op.readSet(6, "s", Outcome.OK, Set.of(42L, -1L, 9L), 21, 22));
    ops.add(Op.readSet(6, "s", Outcome.UNKNOWN, null, 23, 24));
    History history = History.of(ops);
    Path file = dir.resolve("history.txt");
    history.save(file);
    assertEquals(ops, History.load(file).ops());
    String text = Files.readString(file);
    assertTrue(text.startsWith(HistoryFormat.HEADER + "\n"), text);
    assertTrue(text.contains(" key%20with%20space "), text);
    assertTrue(text.contains(" 100%25%C3%A9%0A "), text);
    assertTrue(text.contains(" {-1,9,42} "), text);
  }

  @Test
  void emptyHistoryRoundTrips() throws IOException {
    Path file = dir.resolve("empty.txt");
    new History().save(file);
    assertEquals(HistoryFormat.HEADER + "\n", Files.readString(file));
    assertEquals(List.of(), History.load(file).ops());
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "",
        "0 WRITE k 1 0 OK - - 10",
        "0 WRITE k 1 0 OK - - 10 20 30",
        "0  WRITE k 1 0 OK - - 10 20",
        "0 WRITE k 1 0 OK - - 10 20 ",
        "0 write k 1 0 OK - - 10 20",
        "0 WRITE k 1 0 ok - - 10 20",
        "0 DELETE k 1 0 OK - - 10 20",
        "+0 WRITE k 1 0 OK - - 10 20",
        "00 WRITE k 1 0 OK - - 10 20",
        "0 WRITE k 0x1 0 OK - - 10 20",
        "0 WRITE k 1 0 OK - - 10 99999999999999999999",
        "4294967296 WRITE k 1 0 OK - - 10 20",
        "-1 WRITE k 1 0 OK - - 10 20",
        "0 WRITE k 1 0 OK - - 30 20",
        "0 WRITE k 1 0 OK 5 - 10 20",
        "0 WRITE k 1 0 OK - {} 10 20",
        "0 WRITE k 1 0 OK - - 10 9223372036854775807",
        "0 WRITE k%2 1 0 OK - - 10 20",
        "0 WRITE k%zz 1 0 OK - - 10 20",
        "0 WRITE k%41 1 0 OK - - 10 20",
        "0 WRITE k%2a 1 0 OK - - 10 20",
        "0 WRITE k%FF 1 0 OK - - 10 20",
        "0 WRITE k\t 1 0 OK - - 10 20",
        "0 READ k 0 0 OK null - 10 20",
        "0 CAS k 1 0 OK - - 10 20",
        "0 CAS k 1 0 OK 2 - 10 20",
        "0 READ_SET s 0 0 OK - - 10 20",
        "0 READ_SET s 0 0 OK - {2,1} 10 20",
        "0 READ_SET s 0 0 OK - {1,1} 10 20",
        "0 READ_SET s 0 0 OK - {1,} 10 20",
        "0 READ_SET s 0 0 OK - {1 10 20",
        "0 READ_SET s 0 0 OK - [1] 10 20",
        "0 READ_SET s 0 0 FAIL - {} 10 20",
        "# comment",
      })
  void loadRejectsAMalformedLineWithItsNumber(String bad) throws IOException {
    Path file = dir.resolve("bad.txt");
    Files.writeString(file, HistoryFormat.HEADER + "\n" + GOOD + "\n" + bad + "\n" + GOOD + "\n");
    IOException e = assertThrows(IOException.class, () -> History.load(file));
    assertTrue(e.getMessage().contains("bad.txt:3: "), e.getMessage());
  }

  @Test
  void loadRejectsABadHeaderMissingNewlineAndBadUtf8() throws IOException {
    Path file = dir.resolve("bad.txt");
    for (String text :
        List.of("", "ferry-history 2\n", GOOD + "\n", HistoryFormat.HEADER, "\n" + GOOD + "\n")) {
      Files.writeString(file, text);
      assertThrows(IOException.class, () -> History.load(file), text);
    }
    Files.writeString(file, HistoryFormat.HEADER + "\n" + GOOD);
    IOException e = assertThrows(IOException.class, () -> History.load(file));
    assertTrue(e.getMessage().contains(":2: "), e.getMessage());
    Files.writeString(file, HistoryFormat.HEADER + "\r\n" + GOOD + "\r\n");
    assertThrows(IOException.class, () -> History.load(file));
    byte[] header = (HistoryFormat.HEADER + "\n").getBytes(StandardCharsets.UTF_8);
    byte[] bytes = new byte[header.length + 2];
    System.arraycopy(header, 0, bytes, 0, header.length);
    bytes[header.length] = (byte) 0xC3;
    bytes[header.length + 1] = '\n';
    Files.write(file, bytes);
    assertThrows(IOException.class, () -> History.load(file));
  }

  @Test
  void saveReplacesAnExistingFile() throws IOException {
    Path file = dir.resolve("h.txt");
    Files.writeString(file, "old contents\n");
    History.of(List.of(Op.write(0, "k", 1, Outcome.OK, 1, 2))).save(file);
    assertEquals(1, History.load(file).ops().size());
    try (var files = Files.list(dir)) {
      assertEquals(1, files.count(), "no temporary file left behind");
    }
  }
}
