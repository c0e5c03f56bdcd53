package dev.ferry.testing;

import dev.ferry.raft.ClusterSecret;
import dev.ferry.raft.FerryNode;
import dev.ferry.shipping.FreePorts;
import dev.ferry.shipping.PeerAddress;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;

/** Addresses and builders for {@link FerryNode}s that tests start in their own JVM. */
public final class TestNodes {
  private TestNodes() {}

  /** Node {@code id} on 127.0.0.1 with two free ports (Raft, then the chunk service). */
  public static PeerAddress address(String id) throws IOException {
    int[] ports = FreePorts.pick(2);
    return new PeerAddress(id, "127.0.0.1", ports[0], ports[1]);
  }

  /**
   * A builder for node {@code self} with its data in {@code dataDir}, the cluster's {@code secret},
   * no JMX and election timeouts of 1.5–3 s; the test adds its state machines and groups.
   */
  public static FerryNode.Builder builder(PeerAddress self, Path dataDir, ClusterSecret secret) {
    return FerryNode.builder()
        .self(self)
        .dataDir(dataDir)
        .clusterSecret(secret)
        .jmx(false)
        .electionTimeout(Duration.ofMillis(1500), Duration.ofMillis(3000));
  }
}
