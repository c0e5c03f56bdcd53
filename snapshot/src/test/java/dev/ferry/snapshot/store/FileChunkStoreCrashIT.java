package dev.ferry.snapshot.store;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import dev.ferry.snapshot.ChunkId;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kills a process that is writing chunks (SIGKILL, mid-write) and checks that the store it leaves
 * behind opens cleanly: every chunk whose put returned is there and verifies, no temp or partial
 * file is visible, every listed chunk verifies, and every acknowledged retain is there.
 */
class FileChunkStoreCrashIT {
  private static final int ROUNDS = 3;
  private static final Duration ROUND_DEADLINE = Duration.ofSeconds(30);

  @TempDir Path tmp;

  @Test
  void acknowledgedChunksSurviveSigkill() throws Exception {
    for (int round = 0; round < ROUNDS; round++) {
      Path dir = tmp.resolve("store-" + round);
      int target = 25 + 15 * round;
      Acks acks = new Acks();
      crashOnce(dir, round, target, acks);
      int tempsLeft = countTemps(dir);
      verify(dir, acks);
      // Crash again into the same directory, then verify both runs' acknowledgements.
      Acks second = new Acks();
      crashOnce(dir, 100 + round, target, second);
      second.chunks.addAll(acks.chunks);
      second.retains.putAll(acks.retains);
      verify(dir, second);
      System.out.printf(
          Locale.ROOT,
          "crash round %d: %d + %d chunks acknowledged, %d temp files left by the first kill%n",
          round,
          acks.chunks.size(),
          second.chunks.size() - acks.chunks.size(),
          tempsLeft);
    }
  }

  /** What the child acknowledged: chunk ids and retained keys with their chunk counts. */
  private static final class Acks {
    final Set<ChunkId> chunks = new HashSet<>();
    final Map<String, Integer> retains = new HashMap<>();
  }

  private void crashOnce(Path dir, long seed, int target, Acks acks) throws Exception {
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    Path stderr = tmp.resolve("child-" + seed + ".err");
    ProcessBuilder pb =
        new ProcessBuilder(
                java.toString(),
                "-Xmx128m",
                "-XX:+UseSerialGC",
                "-cp",
                System.getProperty("java.class.path"),
                CrashWriterMain.class.getName(),
                dir.toString(),
                Long.toString(seed))
            .redirectError(stderr.toFile());
    Process child = pb.start();
    LinkedBlockingQueue<String> lines = new LinkedBlockingQueue<>();
    Thread reader =
        new Thread(
            () -> {
              try (BufferedReader in =
                  new BufferedReader(
                      new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8))) {
                for (String line; (line = in.readLine()) != null; ) {
                  lines.add(line);
                }
              } catch (IOException e) {
                // The child died; what was read is what counts.
              }
            },
            "crash-child-reader");
    reader.setDaemon(true);
    reader.start();
    long deadline = System.nanoTime() + ROUND_DEADLINE.toNanos();
    try {
      while (acks.chunks.size() < target) {
        long left = deadline - System.nanoTime();
        String line = lines.poll(Math.max(left, 0), TimeUnit.NANOSECONDS);
        if (line == null) {
          fail(
              "child acknowledged only "
                  + acks.chunks.size()
                  + " chunks in "
                  + ROUND_DEADLINE
                  + " (alive="
                  + child.isAlive()
                  + "); stderr:\n"
                  + Files.readString(stderr));
        }
        record(line, acks);
      }
    } finally {
      child.destroyForcibly();
      assertTrue(child.waitFor(30, TimeUnit.SECONDS), "child did not die");
      reader.join(TimeUnit.SECONDS.toMillis(30));
    }
    // Lines read before the pipe closed were all printed after their put or retain returned.
    for (String line; (line = lines.poll()) != null; ) {
      record(line, acks);
    }
  }

  private static void record(String line, Acks acks) {
    String[] parts = line.split(" ");
    if (parts.length == 2 && parts[0].equals("C") && parts[1].length() == 64) {
      acks.chunks.add(ChunkId.fromHex(parts[1]));
    } else if (parts.length == 3 && parts[0].equals("R")) {
      acks.retains.put(parts[1], Integer.parseInt(parts[2]));
    }
    // Anything else is the torn last line of a killed child: not an acknowledgement.
  }

  private static int countTemps(Path dir) throws IOException {
    try (Stream<Path> s = Files.list(dir.resolve("tmp"))) {
      return (int) s.count();
    }
  }

  private static void verify(Path dir, Acks acks) throws IOException {
    try (FileChunkStore store = FileChunkStore.open(dir)) {
      try (Stream<Path> s = Files.walk(dir)) {
        List<Path> temps = new ArrayList<>();
        s.filter(p -> p.getFileName().toString().endsWith(".tmp")).forEach(temps::add);
        assertEquals(List.of(), temps, "temp files visible after open");
      }
      Set<ChunkId> listed = store.ids();
      assertTrue(listed.containsAll(acks.chunks), "acknowledged chunks missing after the crash");
      for (ChunkId id : listed) {
        byte[] raw = store.read(id); // throws if a partial or corrupt chunk were listed
        assertArrayEquals(id.toBytes(), ChunkId.of(raw).toBytes());
      }
      assertEquals(0, store.stats().quarantined(), "a chunk file was corrupt");
      // Every chunk file on disk is listed.
      try (Stream<Path> s = Files.walk(dir.resolve("chunks"))) {
        assertEquals(listed.size(), s.filter(Files::isRegularFile).count());
      }
      Set<String> keys = store.retainedKeys();
      assertTrue(keys.containsAll(acks.retains.keySet()), keys + " lacks some of " + acks.retains);
    }
  }
}
