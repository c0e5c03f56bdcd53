package dev.ferry.statemachine.replica;

import static dev.ferry.statemachine.replica.TestMachines.bytes;
import static dev.ferry.statemachine.replica.TestMachines.encode;
import static dev.ferry.statemachine.replica.TestMachines.user;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.ChunkRef;
import dev.ferry.snapshot.format.Manifest;
import dev.ferry.snapshot.store.ChunkStore;
import dev.ferry.statemachine.ClientId;
import dev.ferry.statemachine.CommandCodec;
import dev.ferry.statemachine.DigestAt;
import dev.ferry.statemachine.StateMachineConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The replica engine on disk, without a Raft server: capture, restart, install and swap. */
class ReplicaTest {
  private static final ClientId A = new ClientId(1, 2);
  private static final StateMachineConfig CONFIG =
      StateMachineConfig.builder().captureEveryEntries(5).verifyReportedChanges(true).build();

  @TempDir Path dir;

  /** A Raft layer that records what the replica proposes. */
  private static final class FakeHost implements Replica.Host {
    final boolean leader;
    final List<byte[]> proposed = new CopyOnWriteArrayList<>();

    FakeHost(boolean leader) {
      this.leader = leader;
    }

    @Override
    public boolean isLeader() {
      return leader;
    }

    @Override
    public CompletableFuture<?> submit(byte[] command) {
      proposed.add(command);
      return CompletableFuture.completedFuture(null);
    }
  }

  /**
   * Applies 1..10 to a counter on a leader replica in {@link #dir}, captures a snapshot (index 11)
   * and closes the replica; returns the digest it had.
   */
  private DigestAt countToTenAndCapture(FakeHost host) throws Exception {
    TestMachines.Counter counter = new TestMachines.Counter();
    long index = 1;
    try (Replica r = new Replica(counter, CONFIG, Installer.unavailable(), "r1")) {
      assertTrue(r.open(dir, host).isEmpty());
      for (long seq = 1; seq <= 10; seq++) {
        r.apply(1, index++, user(A, seq, encode(seq)));
      }
      await(() -> !host.proposed.isEmpty(), "the leader proposes a capture");
      assertArrayEquals(CommandCodec.captureCommand(), host.proposed.get(0));
      r.apply(1, index++, ByteBuffer.wrap(host.proposed.get(0)));
      await(() -> r.pendingCaptures() == 0 && r.latestManifest().isPresent(), "the capture");
      assertEquals(55, counter.value());
      return r.digest().join();
    }
  }

  @Test
  void aRestartedReplicaLoadsItsSnapshotWithSessionsAndDigest() throws Exception {
    FakeHost host = new FakeHost(true);
    DigestAt before = countToTenAndCapture(host);
    long index = 12;
    TestMachines.Counter restarted = new TestMachines.Counter();
    try (Replica r = new Replica(restarted, CONFIG, Installer.unavailable(), "r1")) {
      Optional<Manifest> loaded = r.open(dir, host);
      assertEquals(index - 1, loaded.orElseThrow().index());
      assertEquals(index - 1, r.appliedIndex());
      assertEquals(55, restarted.value());
      assertEquals(before, r.digest().join());
      // The session table travelled with the snapshot: a retried command is not applied again.
      byte[] reply = r.apply(1, index, user(A, 10, encode(10))).join();
      assertArrayEquals(encode(55), CommandCodec.decodeReply(reply).payload());
      assertEquals(55, restarted.value());
      assertEquals(0, restarted.applied);
    }
  }

  @Test
  void anInstallIsStagedBesideTheLiveStateAndSwappedIn() throws Exception {
    TestMachines.MapMachine source = new TestMachines.MapMachine(false);
    try (Replica src = new Replica(source, CONFIG, Installer.unavailable(), "src")) {
      src.open(dir.resolve("src"), new FakeHost(false));
      long index = 1;
      for (long seq = 1; seq <= 20; seq++) {
        src.apply(1, index++, user(A, seq, bytes("put k" + (seq % 7) + " v" + seq)));
      }
      src.apply(1, index, ByteBuffer.wrap(CommandCodec.captureCommand()));
      await(() -> src.pendingCaptures() == 0 && src.latestManifest().isPresent(), "the capture");
      Manifest m = src.latestManifest().orElseThrow();
      assertTrue(src.lastCaptureFailure().isEmpty(), "all changes were reported");

      TestMachines.MapMachine target = new TestMachines.MapMachine(false);
      try (Replica dst = new Replica(target, CONFIG, copyFrom(src, m), "dst")) {
        dst.open(dir.resolve("dst"), new FakeHost(false));
        Manifest installed = dst.install(m.index() + 1, 1, "src").get(60, TimeUnit.SECONDS);
        assertEquals(m.index(), installed.index());
        assertTrue(dst.installing(), "installing until swapped in");
        assertEquals(m.index(), dst.stagedIndex().getAsLong());
        assertTrue(target.map().isEmpty(), "the live state is untouched until the swap");

        assertEquals(m, dst.swapInStaged().orElseThrow());
        assertFalse(dst.installing());
        assertTrue(dst.stagedIndex().isEmpty());
        assertEquals(source.map(), target.map());
        assertEquals(src.digest().join(), dst.digest().join());
        assertEquals(m.index(), dst.appliedIndex());
        assertArrayEquals(
            bytes("v20"), dst.query(CommandCodec.userQuery(bytes("k6"))).get(10, TimeUnit.SECONDS));
        assertTrue(dst.swapInStaged().isEmpty(), "nothing staged any more");
      }
    }
  }

  @Test
  void aCaptureOfAStateMachineThatForgotAChangeFailsNamingTheKey() throws Exception {
    try (Replica r =
        new Replica(new TestMachines.MapMachine(true), CONFIG, Installer.unavailable(), "r")) {
      r.open(dir, new FakeHost(false));
      r.apply(1, 1, user(A, 1, bytes("put a 1")));
      r.apply(1, 2, user(A, 2, bytes("put quiet 2")));
      r.apply(1, 3, ByteBuffer.wrap(CommandCodec.captureCommand()));
      await(() -> r.pendingCaptures() == 0, "the capture");
      Throwable failure = r.lastCaptureFailure().orElseThrow();
      String hexKey = java.util.HexFormat.of().formatHex(bytes("quiet"));
      assertTrue(failure.getMessage().contains("key " + hexKey), failure.getMessage());
      assertTrue(r.latestManifest().isEmpty(), "no snapshot with a wrong digest is written");
      assertEquals(1, r.snapshotStats().captureFailures());
    }
  }

  @Test
  void aRestartWithCorruptChunksFetchesThemAllAtOnceAndLoads() throws Exception {
    DigestAt before = countToTenAndCapture(new FakeHost(true));
    // Keep every chunk's bytes (a peer's copy), then damage every chunk file on disk.
    Map<ChunkId, byte[]> peerCopy = new ConcurrentHashMap<>();
    List<Path> files;
    try (Stream<Path> walk = Files.walk(dir.resolve("chunks").resolve("chunks"))) {
      files = walk.filter(Files::isRegularFile).toList();
    }
    for (Path f : files) {
      ChunkId id = ChunkId.fromHex(f.getFileName().toString());
      peerCopy.put(id, Files.readAllBytes(f));
      byte[] b = Files.readAllBytes(f);
      b[b.length / 2] ^= 0x5a;
      Files.write(f, b);
    }
    assertFalse(files.isEmpty());
    List<Collection<ChunkRef>> asked = new CopyOnWriteArrayList<>();
    Installer peers =
        new Installer() {
          @Override
          public CompletableFuture<Manifest> install(InstallRequest request, InstallTarget t) {
            return CompletableFuture.failedFuture(new IllegalStateException("not in this test"));
          }

          @Override
          public CompletableFuture<Void> repair(Collection<ChunkRef> chunks, ChunkStore store) {
            asked.add(List.copyOf(chunks));
            try {
              for (ChunkRef r : chunks) {
                store.putStored(r, ByteBuffer.wrap(peerCopy.get(r.id())));
              }
              return CompletableFuture.completedFuture(null);
            } catch (IOException e) {
              return CompletableFuture.failedFuture(e);
            }
          }
        };

    TestMachines.Counter restarted = new TestMachines.Counter();
    try (Replica r = new Replica(restarted, CONFIG, peers, "r1")) {
      assertEquals(11, r.open(dir, new FakeHost(false)).orElseThrow().index());
      assertEquals(55, restarted.value());
      assertEquals(before, r.digest().join());
      assertEquals(1, asked.size(), "every corrupt chunk fetched in one go: " + asked);
      assertEquals(files.size(), asked.get(0).size());
      assertEquals(files.size(), r.chunkRepairs().repaired());
      assertEquals(files.size(), r.chunkStore().stats().quarantined());
    }
  }

  @Test
  void aRestartWithCorruptChunksAndNoWayToFetchThemFailsRatherThanWait() throws Exception {
    countToTenAndCapture(new FakeHost(true));
    try (Stream<Path> walk = Files.walk(dir.resolve("chunks").resolve("chunks"))) {
      Path f = walk.filter(Files::isRegularFile).findFirst().orElseThrow();
      byte[] b = Files.readAllBytes(f);
      b[b.length / 2] ^= 0x5a;
      Files.write(f, b);
    }
    try (Replica r =
        new Replica(new TestMachines.Counter(), CONFIG, Installer.unavailable(), "r1")) {
      IOException e = assertThrows(IOException.class, () -> r.open(dir, new FakeHost(false)));
      assertTrue(e.getMessage().contains("no snapshot shipping"), e.getMessage());
    }
  }

  /** An installer that copies the manifest's chunks from another replica's store. */
  private static Installer copyFrom(Replica source, Manifest m) {
    return (request, target) ->
        CompletableFuture.supplyAsync(
            () -> {
              try {
                for (ChunkRef ref : m.allChunks()) {
                  byte[] raw = source.chunkStore().read(ref.id());
                  target.chunkStore().put(raw, 0, raw.length);
                }
                InstallTarget.StagedInstall staged = target.begin(m);
                for (int shard = 0; shard < m.shards().size(); shard++) {
                  staged.loadShard(shard);
                }
                staged.complete();
                return m;
              } catch (IOException e) {
                throw new UncheckedIOException(e);
              }
            });
  }

  private static void await(BooleanSupplier condition, String what) throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out waiting for " + what);
      }
      Thread.sleep(10);
    }
  }
}
