package dev.ferry.kv;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import dev.ferry.kv.cluster.NodeMeasures;
import dev.ferry.kv.cluster.ProcessCluster;
import dev.ferry.kv.cluster.Progress;
import dev.ferry.kv.testing.NodeLogsOnFailure;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/** Separate `ferry server` processes, killed with SIGKILL. */
@ExtendWith(NodeLogsOnFailure.class)
class KvProcessIT {
  private static final Duration T = Duration.ofSeconds(90);

  @TempDir Path dir;

  /** A replica's applied index and value of the last key written (null if unknown). */
  private record Replica(long applied, String value) {}

  private static String lastValue(KvClient probe, String id) {
    try {
      byte[] v = probe.getStale("key-399".getBytes(StandardCharsets.UTF_8), id);
      return v == null ? null : new String(v, StandardCharsets.UTF_8);
    } catch (IOException | RuntimeException e) {
      return null;
    }
  }

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
          assertArrayEquals(
              ("value-" + k.substring(4)).getBytes(StandardCharsets.UTF_8), v, "lost " + k);
        }
        // Every replica, the once-killed follower included, converges to the last write.
        try (KvClient probe = cluster.client(Duration.ofSeconds(5))) {
          for (var p : cluster.peers()) {
            // A replica catching up on a busy machine may be slow: wait as long as it applies.
            Progress.await(
                p.id() + " to apply the last write",
                () -> new Replica(NodeMeasures.applied(probe, p.id()), lastValue(probe, p.id())),
                r -> "value-399".equals(r.value()),
                Progress.STALL,
                Progress.CAP);
          }
        }
      }
    }
  }
}
