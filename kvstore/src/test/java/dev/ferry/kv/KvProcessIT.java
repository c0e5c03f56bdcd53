package dev.ferry.kv;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.ferry.kv.cluster.ProcessCluster;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Separate `ferry server` processes, killed with SIGKILL. */
class KvProcessIT {
  private static final Duration T = Duration.ofSeconds(90);

  @TempDir Path dir;

  @Test
  void noAcknowledgedWriteIsLostWhenEveryNodeIsKilled() throws Exception {
    try (ProcessCluster cluster =
        ProcessCluster.builder(dir, 3).serverArgs("--capture-every", "150").start(T)) {
      List<String> acknowledged = new ArrayList<>();
      try (KvClient c = cluster.client(Duration.ofSeconds(30))) {
        for (int i = 0; i < 400; i++) {
          String k = "key-" + i;
          c.put(
              k.getBytes(StandardCharsets.UTF_8), ("value-" + i).getBytes(StandardCharsets.UTF_8));
          acknowledged.add(k);
          if (i == 250) {
            cluster.kill("n3"); // a follower or the leader: either way writes go on
          }
        }
      }
      for (var p : cluster.peers()) {
        cluster.kill(p.id());
      }
      for (var p : cluster.peers()) {
        cluster.start(p.id());
      }
      cluster.awaitWritable(T);
      try (KvClient c = cluster.client(Duration.ofSeconds(30))) {
        for (String k : acknowledged) {
          byte[] v = c.get(k.getBytes(StandardCharsets.UTF_8));
          if (!java.util.Arrays.equals(
              ("value-" + k.substring(4)).getBytes(StandardCharsets.UTF_8), v)) {
            StringBuilder logs = new StringBuilder();
            for (var p : cluster.peers()) {
              java.nio.file.Files.copy(
                  cluster.logFile(p.id()),
                  Path.of("target", "KvProcessIT-" + p.id() + ".log"),
                  java.nio.file.StandardCopyOption.REPLACE_EXISTING);
              logs.append("\n--- ").append(p.id()).append('\n').append(cluster.tail(p.id(), 40));
            }
            throw new AssertionError(
                "lost " + k + " (read " + java.util.Arrays.toString(v) + ")" + logs);
          }
        }
        // Every replica, the once-killed follower included, converges to the last write.
        byte[] last = "value-399".getBytes(StandardCharsets.UTF_8);
        for (var p : cluster.peers()) {
          long deadline = System.nanoTime() + T.toNanos();
          byte[] v = null;
          while (System.nanoTime() < deadline) {
            v = c.getStale("key-399".getBytes(StandardCharsets.UTF_8), p.id());
            if (v != null && java.util.Arrays.equals(v, last)) {
              break;
            }
          }
          assertArrayEquals(last, v, p.id() + " did not converge");
        }
      }
    }
  }
}
