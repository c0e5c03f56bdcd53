package dev.ferry.kv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.ferry.kv.KvStateMachine;
import dev.ferry.raft.FerryServer;
import dev.ferry.shipping.PeerAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.ratis.server.RaftServerConfigKeys;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The pause after which Ratis stops a node is a setting, in the API and `ferry server`. */
class PauseStopThresholdTest {
  @TempDir Path dir;

  private long thresholdSeconds(FerryServer.Builder b) throws Exception {
    try (FerryServer s =
        b.clusterName("t")
            .selfId("n1")
            .peers(List.of(PeerAddress.of("n1", "127.0.0.1", 30_700)))
            .dataDir(dir.resolve("n1-" + System.nanoTime()))
            .stateMachine(new KvStateMachine())
            .jmx(false)
            .build()) {
      return RaftServerConfigKeys.closeThreshold(s.raftServer().getProperties())
          .toLong(TimeUnit.SECONDS);
    }
  }

  @Test
  void theThresholdReachesRatis() throws Exception {
    assertEquals(60, thresholdSeconds(FerryServer.builder()), "Ratis's default");
    assertEquals(
        300, thresholdSeconds(FerryServer.builder().pauseStopThreshold(Duration.ofMinutes(5))));
    assertThrows(
        IllegalArgumentException.class,
        () -> FerryServer.builder().pauseStopThreshold(Duration.ZERO));
  }

  @Test
  void aBadValueIsAOneLineError() {
    assertEquals(2, ServerArgs.exitWith("--pause-stop-threshold", "0"));
  }
}
