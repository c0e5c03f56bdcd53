package dev.ferry.kv.cluster;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.kv.shard.ClusterLayout;
import dev.ferry.shipping.PeerAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A sharded {@link ProcessCluster}'s misuse fails before any node starts. */
class ProcessClusterTest {
  @TempDir Path dir;

  private Path map(int nodes) throws Exception {
    List<PeerAddress> peers =
        java.util.stream.IntStream.rangeClosed(1, nodes)
            .mapToObj(i -> new PeerAddress("n" + i, "127.0.0.1", 20000 + 2 * i, 20001 + 2 * i))
            .toList();
    ClusterLayout layout =
        ClusterLayout.create("c", peers, List.of("m".getBytes(StandardCharsets.UTF_8)), 3);
    Path file = dir.resolve("cluster.map");
    layout.write(file);
    return file;
  }

  @Test
  void aShardedClusterTakesItsNodesFromTheMapOnly() throws Exception {
    Path map = map(4);
    List<PeerAddress> peers =
        List.of(
            new PeerAddress("n1", "127.0.0.1", 21000, 21001),
            new PeerAddress("n2", "127.0.0.1", 21002, 21003),
            new PeerAddress("n3", "127.0.0.1", 21004, 21005),
            new PeerAddress("n4", "127.0.0.1", 21006, 21007));
    IllegalStateException both =
        assertThrows(
            IllegalStateException.class,
            () ->
                ProcessCluster.builder(dir, 4).map(map).peers(peers).start(Duration.ofSeconds(1)));
    assertTrue(both.getMessage().contains("not with peers"), both.getMessage());
    IllegalArgumentException count =
        assertThrows(
            IllegalArgumentException.class,
            () -> ProcessCluster.builder(dir, 3).map(map).start(Duration.ofSeconds(1)));
    assertTrue(count.getMessage().contains("3 nodes expected"), count.getMessage());
  }
}
