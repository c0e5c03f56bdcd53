package dev.ferry.kv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.kv.testing.LocalCluster;
import dev.ferry.shipping.chunks.ChunkServer;
import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.ChunkRef;
import dev.ferry.snapshot.format.Manifest;
import dev.ferry.statemachine.DigestAt;
import dev.ferry.statemachine.StateMachineConfig;
import io.prometheus.metrics.model.snapshots.CounterSnapshot;
import io.prometheus.metrics.model.snapshots.MetricSnapshot;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;
import java.util.stream.Stream;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Corrupt chunks at rest on real nodes: a source that serves them is demoted, told, and repairs
 * itself from its peers; a node restarted with corrupt chunks fetches them and starts.
 */
class ChunkRepairIT {
  private static final Duration T = Duration.ofSeconds(60);
  private static final int KEYS = 4_000;

  @TempDir Path dir;
  @AutoClose private LocalCluster cluster;

  private void start() throws IOException {
    cluster =
        LocalCluster.start(
            dir,
            3,
            // The scrub is off: here only reports and restarts find corruption (its own test is
            // FileChunkStoreTest), so the counts below are exact.
            StateMachineConfig.defaults().toBuilder()
                .captureEveryEntries(50)
                .captureEveryBytes(1L << 40)
                .scrubBytesPerSecond(0)
                .build());
  }

  /** Writes {@link #KEYS} keys of random 1 KiB values (a capture follows every 50 entries). */
  private static void load(KvClient c) throws IOException {
    LocalCluster.putRandom(c, "k", KEYS, 50, 7);
  }

  private static final java.nio.charset.Charset UTF8 = StandardCharsets.UTF_8;

  /**
   * Flips a byte in the middle of the file of each chunk {@code which} accepts in {@code node}'s
   * store; returns how many.
   */
  private int corrupt(String node, Predicate<ChunkId> which) throws IOException {
    return cluster.corruptChunkFiles(
        node, p -> which.test(ChunkId.fromHex(p.getFileName().toString())));
  }

  /** Every running replica records the same digest at a new checkpoint. */
  private void assertSameDigestEverywhere(long checkpoint) throws Exception {
    try (KvClient c = cluster.client(T)) {
      DigestAt expected = c.checkpoint(checkpoint);
      for (String r : cluster.running()) {
        assertEquals(expected, c.checkpointOn(r, checkpoint, expected.index()), r);
      }
    }
  }

  /** The exported corrupt-source alert count on {@code node} for {@code source}. */
  private double exportedAlerts(String node, String source) {
    for (MetricSnapshot s : cluster.server(node).prometheus().registry().scrape()) {
      if (s instanceof CounterSnapshot c
          && c.getMetadata().getName().equals("ferry_install_corrupt_source_alerts")) {
        for (CounterSnapshot.CounterDataPointSnapshot d : c.getDataPoints()) {
          if (source.equals(d.getLabels().get("source"))) {
            return d.getValue();
          }
        }
      }
    }
    return 0;
  }

  @Test
  void aCorruptingSourceIsDemotedToldAndRepairsItsChunksFromItsPeers() throws Exception {
    start();
    String leader = cluster.leader(T);
    String joiner = cluster.follower(T);
    try (KvClient c = cluster.client(T)) {
      load(c);
      cluster.wipeAndLeaveBehind(joiner, leader, c, T);
    }
    String bad =
        cluster.running().stream().filter(id -> !id.equals(leader)).findFirst().orElseThrow();
    // Both remaining nodes hold the same newest snapshot, so both are the joiner's sources.
    LocalCluster.await(
        T,
        () -> latestIndex(bad) >= 0 && latestIndex(bad) == latestIndex(leader),
        bad + " and " + leader + " to hold the same newest snapshot");
    // Every chunk it holds: whatever the joiner asks of it comes back corrupt.
    assertTrue(corrupt(bad, id -> true) > 0, "chunk files corrupted on " + bad);

    cluster.start(joiner);
    LocalCluster.await(
        T,
        () ->
            cluster.installer(joiner).lastReport() != null
                && cluster.installer(joiner).lastReport().success(),
        joiner + " to install despite " + bad);

    // The alert: raised once, naming the node, counted and exported.
    assertEquals(
        1,
        cluster.server(joiner).metrics().counter("ferry.install.alerts.corrupt-source").getCount());
    assertEquals(1.0, exportedAlerts(joiner, bad));

    // The source was told; its own bytes confirmed each reported chunk; it quarantined them and
    // fetched them again from its peers, verified.
    ChunkServer source = cluster.server(bad).chunkServer().orElseThrow();
    LocalCluster.await(
        T, () -> source.corruptReports().confirmed() >= 1, bad + " to confirm the report");
    ChunkServer.CorruptReports reports = source.corruptReports();
    assertEquals(reports.reported(), reports.confirmed(), "every reported chunk was corrupt");
    List<ChunkId> quarantined = quarantined(bad);
    assertFalse(quarantined.isEmpty(), "quarantined on " + bad);
    LocalCluster.await(
        T,
        () -> quarantined.stream().allMatch(id -> cluster.replica(bad).chunkStore().contains(id)),
        bad + " to fetch its quarantined chunks again");
    for (ChunkId id : quarantined) {
      assertTrue(cluster.replica(bad).chunkStore().verify(id), id + " intact on " + bad);
    }
    assertTrue(cluster.replica(bad).chunkRepairs().repaired() >= quarantined.size());
    assertSameDigestEverywhere(1);
  }

  private long latestIndex(String node) {
    return cluster.replica(node).latestManifest().map(Manifest::index).orElse(-1L);
  }

  /** The chunks in {@code node}'s quarantine directory (files named {@code <hex>.<n>}). */
  private List<ChunkId> quarantined(String node) throws IOException {
    List<ChunkId> out = new ArrayList<>();
    try (Stream<Path> files = Files.walk(cluster.dataDir(node))) {
      for (Path p : files.filter(Files::isRegularFile).toList()) {
        if (p.getParent().getFileName().toString().equals("quarantine")) {
          out.add(ChunkId.fromHex(p.getFileName().toString().substring(0, 64)));
        }
      }
    }
    return out;
  }

  @Test
  void aNodeRestartedWithCorruptChunksFetchesThemAndCatchesUp() throws Exception {
    start();
    String node = cluster.follower(T);
    try (KvClient c = cluster.client(T)) {
      load(c);
    }
    LocalCluster.await(
        T, () -> cluster.replica(node).latestManifest().isPresent(), node + " to capture");
    Manifest m = cluster.replica(node).latestManifest().orElseThrow();
    cluster.stop(node);
    Set<ChunkId> damaged = new LinkedHashSet<>();
    List<ChunkRef> chunks = m.allChunks();
    for (int i = 0; damaged.size() < 3 && i < chunks.size(); i += Math.max(1, chunks.size() / 3)) {
      damaged.add(chunks.get(i).id());
    }
    assertEquals(3, damaged.size(), "chunks to damage in " + chunks.size());
    assertEquals(3, corrupt(node, damaged::contains), "chunk files corrupted on " + node);

    // Before: the load failed on the first corrupt chunk and the node did not start.
    cluster.start(node);

    for (ChunkId id : damaged) {
      assertTrue(cluster.replica(node).chunkStore().verify(id), id + " fetched again");
    }
    assertTrue(
        cluster.replica(node).chunkRepairs().repaired() >= damaged.size(),
        "repaired " + cluster.replica(node).chunkRepairs());
    assertEquals(damaged.size(), quarantined(node).size(), "all quarantined in one start");
    try (KvClient c = cluster.client(T)) {
      assertFalse(c.put("after".getBytes(UTF8), "restart".getBytes(UTF8)), "a new key");
    }
    assertSameDigestEverywhere(1);
  }
}
