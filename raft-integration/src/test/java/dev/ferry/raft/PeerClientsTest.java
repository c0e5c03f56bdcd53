package dev.ferry.raft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.ferry.shipping.PeerAddress;
import dev.ferry.shipping.chunks.ChunkClient;
import dev.ferry.shipping.chunks.ChunkRequestException;
import dev.ferry.shipping.chunks.ChunkServer;
import dev.ferry.shipping.chunks.ManifestInfo;
import dev.ferry.shipping.chunks.SnapshotPeer;
import dev.ferry.shipping.chunks.SnapshotSource;
import dev.ferry.snapshot.ChunkRef;
import dev.ferry.snapshot.StateDigest;
import dev.ferry.snapshot.format.Manifest;
import dev.ferry.snapshot.format.Shard;
import dev.ferry.snapshot.store.FileChunkStore;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.ratis.protocol.RaftGroupId;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Peer clients of a group on a node hosting many groups name that group, so an install lists and
 * fetches that group's snapshots; a single-group node's clients name none.
 */
class PeerClientsTest {
  private final ClusterSecret secret = ClusterSecret.random();
  private final RaftGroupId g1 = FerryServer.groupId("shop.r0");
  private final RaftGroupId g2 = FerryServer.groupId("shop.r1");

  @TempDir Path dir;
  private FileChunkStore store1;
  private FileChunkStore store2;
  private ChunkServer server;

  @AfterEach
  void tearDown() throws IOException {
    if (server != null) {
      server.close();
    }
    store2.close();
    store1.close();
  }

  @Test
  void clientsNameTheirGroupAndSeeOnlyItsSnapshots() throws Exception {
    store1 = FileChunkStore.open(dir.resolve("r0"));
    store2 = FileChunkStore.open(dir.resolve("r1"));
    Manifest m1 = manifest(store1, 4, "range zero");
    Manifest m2 = manifest(store2, 9, "range one");
    server =
        ChunkServer.builder()
            .nodeId("n1")
            .bind("127.0.0.1", 0)
            .secret(secret.bytes())
            .build()
            .start();
    server.serveChunks(uuid(g1), SnapshotSource.of(() -> List.of(m1), () -> store1));
    server.serveChunks(uuid(g2), SnapshotSource.of(() -> List.of(m2), () -> store2));
    List<PeerAddress> peers =
        List.of(
            new PeerAddress("n1", "127.0.0.1", 1, server.localAddress().getPort()),
            new PeerAddress("n2", "127.0.0.1", 2, 3));

    try (PeerClients of1 = new PeerClients("n2", secret, null, uuid(g1));
        PeerClients of2 = new PeerClients("n2", secret, null, uuid(g2));
        PeerClients unnamed = new PeerClients("n2", secret, null);
        PeerClients elsewhere =
            new PeerClients("n2", secret, null, uuid(FerryServer.groupId("shop.r7")))) {
      // No Raft server yet: the fallback list, without this node itself.
      assertEquals(List.of(ManifestInfo.of(m1)), only(of1.current(null, g1, peers)));
      assertEquals(List.of(ManifestInfo.of(m2)), only(of2.current(null, g2, peers)));

      // A node hosting only named groups answers a client naming none "name your group".
      SnapshotPeer plain = single(unnamed.current(null, g1, peers));
      ExecutionException e =
          assertThrows(
              ExecutionException.class, () -> plain.listManifests(0).get(10, TimeUnit.SECONDS));
      assertEquals(
          ChunkRequestException.Code.UNKNOWN_GROUP,
          assertInstanceOf(ChunkRequestException.class, e.getCause()).code());

      // A peer that does not host the group is left out, like one that cannot be reached.
      assertEquals(List.of(), elsewhere.current(null, FerryServer.groupId("shop.r7"), peers));
    }
  }

  @Test
  void aBadGroupIdIsRejectedAtOnce() throws IOException {
    store1 = FileChunkStore.open(dir.resolve("r0"));
    store2 = FileChunkStore.open(dir.resolve("r1"));
    assertThrows(
        IllegalArgumentException.class, () -> new PeerClients("n2", secret, null, "../r0"));
  }

  private static String uuid(RaftGroupId id) {
    return id.getUuid().toString();
  }

  private static SnapshotPeer single(List<SnapshotPeer> peers) {
    assertEquals(1, peers.size(), peers.toString());
    return peers.get(0);
  }

  private static List<ManifestInfo> only(List<SnapshotPeer> peers) throws Exception {
    ChunkClient c = (ChunkClient) single(peers);
    return c.listManifests(0).get(10, TimeUnit.SECONDS);
  }

  private static Manifest manifest(FileChunkStore store, long index, String content)
      throws IOException {
    byte[] bytes = content.getBytes(StandardCharsets.UTF_8);
    ChunkRef ref = store.put(bytes, 0, bytes.length);
    Manifest m =
        new Manifest(
            1, index, List.of(Shard.ofChunks("s", List.of(ref))), List.of(), StateDigest.EMPTY);
    store.retain(m);
    return m;
  }
}
