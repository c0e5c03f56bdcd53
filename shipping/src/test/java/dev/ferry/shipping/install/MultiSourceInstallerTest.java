package dev.ferry.shipping.install;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import dev.ferry.shipping.chunks.ForwardingStore;
import dev.ferry.shipping.chunks.ManifestInfo;
import dev.ferry.shipping.chunks.SnapshotPeer;
import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.ChunkRef;
import dev.ferry.snapshot.StateDigest;
import dev.ferry.snapshot.codec.ChunkCodecs;
import dev.ferry.snapshot.format.Manifest;
import dev.ferry.snapshot.format.Shard;
import dev.ferry.snapshot.store.ChunkStore;
import dev.ferry.snapshot.store.ChunkWriter;
import dev.ferry.snapshot.store.FileChunkStore;
import dev.ferry.snapshot.store.Lease;
import dev.ferry.snapshot.transfer.TransferConfig;
import dev.ferry.statemachine.replica.InstallTarget;
import dev.ferry.statemachine.replica.Installer.InstallRequest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The installer against in-memory peers and a small install target: sources that appear and leave
 * while a transfer runs, and shards loading concurrently. Every wait is on a condition with a
 * generous deadline; no verdict depends on timing.
 */
class MultiSourceInstallerTest {
  private static final long WAIT_SECONDS = 60;
  private static final int SHARDS = 6;
  private static final int CHUNKS_PER_SHARD = 40;
  private static final int IN_FLIGHT_BYTES = 32 << 10;

  @TempDir Path dir;
  private final List<ExecutorService> executors = new ArrayList<>();
  private final AtomicInteger delivered = new AtomicInteger();
  private final Map<ChunkId, byte[]> stored = new LinkedHashMap<>();
  private Manifest manifest;

  @AfterEach
  void tearDown() {
    executors.forEach(ExecutorService::shutdownNow);
  }

  /**
   * {@link #SHARDS} shards of {@link #CHUNKS_PER_SHARD} distinct 4 KiB chunks, one session chunk.
   */
  private void snapshot() {
    SplittableRandom random = new SplittableRandom(7);
    List<Shard> shards = new ArrayList<>();
    for (int s = 0; s < SHARDS; s++) {
      List<ChunkRef> refs = new ArrayList<>();
      for (int i = 0; i < CHUNKS_PER_SHARD; i++) {
        refs.add(chunk(random));
      }
      shards.add(Shard.ofChunks("shard-" + s, refs));
    }
    manifest = new Manifest(3, 100, shards, List.of(chunk(random)), StateDigest.EMPTY);
  }

  private ChunkRef chunk(SplittableRandom random) {
    byte[] raw = new byte[4096];
    if (random.nextBoolean()) {
      random.nextBytes(raw);
    } else {
      byte[] text = ("value " + random.nextLong() + " ").getBytes(StandardCharsets.UTF_8);
      for (int i = 0; i < raw.length; i++) {
        raw[i] = text[i % text.length];
      }
    }
    byte[] s = ChunkCodecs.encode(raw, 0, raw.length, ChunkCodecs.DEFAULT_LEVEL);
    ChunkRef ref = new ChunkRef(ChunkId.of(raw), raw.length, s.length);
    stored.put(ref.id(), s);
    return ref;
  }

  /**
   * A peer that holds {@link #manifest} and serves its chunks one at a time from its own thread.
   * Until {@code listsFrom} chunks were delivered (by all peers) it lists nothing; after it served
   * {@code failAfter} chunks it "leaves": every later fetch, list and renewal fails. Before serving
   * its chunk number {@code holdAt}, it waits until {@code holdUntil} opens.
   */
  private final class FakePeer implements SnapshotPeer {
    final String id;
    final int listsFrom;
    final int failAfter;
    final int holdAt;
    final CountDownLatch holdUntil;
    final CountDownLatch fetched = new CountDownLatch(1);
    final AtomicInteger served = new AtomicInteger();
    final Set<ChunkId> failedChunks = ConcurrentHashMap.newKeySet();
    final Set<Long> liveLeases = ConcurrentHashMap.newKeySet();
    final AtomicInteger leases = new AtomicInteger();
    final ExecutorService thread = Executors.newSingleThreadExecutor();
    volatile boolean gone;
    volatile boolean captured = true;
    final CountDownLatch listedThrice = new CountDownLatch(3);
    volatile Runnable onLeave = () -> {};

    FakePeer(String id, int listsFrom, int failAfter, int holdAt, CountDownLatch holdUntil) {
      this.id = id;
      this.listsFrom = listsFrom;
      this.failAfter = failAfter;
      this.holdAt = holdAt;
      this.holdUntil = holdUntil;
      executors.add(thread);
    }

    @Override
    public String sourceId() {
      return id;
    }

    @Override
    public void fetch(List<ChunkId> chunks, FetchListener listener) {
      fetched.countDown();
      thread.execute(
          () -> {
            for (ChunkId c : chunks) {
              if (served.get() == holdAt) {
                await(holdUntil, id + " held until another source was asked");
              }
              if (gone || served.get() >= failAfter) {
                if (!gone) {
                  gone = true;
                  onLeave.run();
                }
                failedChunks.add(c);
                listener.failed(c, new IOException(id + " left"));
                continue;
              }
              served.incrementAndGet();
              delivered.incrementAndGet();
              listener.arrived(c, ByteBuffer.wrap(stored.get(c)).asReadOnlyBuffer());
            }
          });
    }

    @Override
    public java.util.concurrent.CompletableFuture<List<ManifestInfo>> listManifests(long minIndex) {
      if (gone) {
        return java.util.concurrent.CompletableFuture.failedFuture(new IOException(id + " left"));
      }
      listedThrice.countDown();
      List<ManifestInfo> l =
          captured && delivered.get() >= listsFrom && manifest.index() >= minIndex
              ? List.of(ManifestInfo.of(manifest))
              : List.of();
      return java.util.concurrent.CompletableFuture.completedFuture(l);
    }

    @Override
    public java.util.concurrent.CompletableFuture<Manifest> fetchManifest(long index) {
      return java.util.concurrent.CompletableFuture.completedFuture(manifest);
    }

    @Override
    public java.util.concurrent.CompletableFuture<Lease> pin(long index, Duration ttl) {
      if (gone) {
        return java.util.concurrent.CompletableFuture.failedFuture(new IOException(id + " left"));
      }
      long lease = leases.incrementAndGet();
      liveLeases.add(lease);
      return java.util.concurrent.CompletableFuture.completedFuture(lease(lease, ttl));
    }

    @Override
    public java.util.concurrent.CompletableFuture<Lease> renew(long leaseId, Duration ttl) {
      return gone
          ? java.util.concurrent.CompletableFuture.failedFuture(new IOException(id + " left"))
          : java.util.concurrent.CompletableFuture.completedFuture(lease(leaseId, ttl));
    }

    private Lease lease(long leaseId, Duration ttl) {
      return new Lease(leaseId, "manifest-" + manifest.index(), Instant.now().plus(ttl));
    }

    @Override
    public java.util.concurrent.CompletableFuture<Void> unpin(long leaseId) {
      liveLeases.remove(leaseId);
      return java.util.concurrent.CompletableFuture.completedFuture(null);
    }
  }

  /**
   * Loads shards by reading (or taking) their chunks and checking their hashes; counts loads per
   * shard, and checks that {@code complete()} never overlaps a load. {@code onLoad} runs at the
   * start of every {@code loadShard}.
   */
  private static final class FakeTarget implements InstallTarget {
    final ChunkStore store;
    final Map<Integer, AtomicInteger> loads = new ConcurrentHashMap<>();
    final AtomicInteger loading = new AtomicInteger();
    final List<String> problems = new CopyOnWriteArrayList<>();
    final LoadHook onLoad;
    volatile boolean completed;

    interface LoadHook {
      void started(int shard) throws IOException;
    }

    FakeTarget(ChunkStore store, LoadHook onLoad) {
      this.store = store;
      this.onLoad = onLoad;
    }

    @Override
    public ChunkStore chunkStore() {
      return store;
    }

    @Override
    public Optional<Manifest> latestManifest() {
      return Optional.empty();
    }

    @Override
    public StagedInstall begin(Manifest m) {
      return begin(m, id -> null);
    }

    @Override
    public StagedInstall begin(Manifest m, Function<ChunkId, byte[]> decoded) {
      return new StagedInstall() {
        @Override
        public void loadShard(int shard) throws IOException {
          loading.incrementAndGet();
          try {
            onLoad.started(shard);
            load(m.shards().get(shard).chunks(), decoded);
            loads.computeIfAbsent(shard, k -> new AtomicInteger()).incrementAndGet();
          } finally {
            loading.decrementAndGet();
          }
        }

        @Override
        public void complete() throws IOException {
          if (loading.get() != 0) {
            problems.add("complete() while " + loading.get() + " load(s) ran");
          }
          for (int i = 0; i < m.shards().size(); i++) {
            if (!loads.containsKey(i)) {
              loadShard(i);
            }
          }
          load(m.sessionChunks(), id -> null);
          completed = true;
        }

        @Override
        public void abort() {}
      };
    }

    private void load(List<ChunkRef> refs, Function<ChunkId, byte[]> decoded) throws IOException {
      for (ChunkRef r : refs) {
        byte[] raw = decoded.apply(r.id());
        if (raw == null) {
          raw = store.read(r.id());
        }
        if (!r.id().matches(raw, 0, raw.length)) {
          throw new IOException("wrong content for " + r.id().toHex());
        }
      }
    }
  }

  private static void await(CountDownLatch latch, String what) {
    try {
      if (!latch.await(WAIT_SECONDS, TimeUnit.SECONDS)) {
        throw new AssertionError("timed out waiting: " + what);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError(e);
    }
  }

  private FakeTarget target(FakeTarget.LoadHook onLoad) throws IOException {
    return new FakeTarget(
        FileChunkStore.open(
            dir.resolve("store"), FileChunkStore.Options.defaults().withFsync(false)),
        onLoad);
  }

  private static MultiSourceInstaller.Builder installer(List<SnapshotPeer> peers) {
    return MultiSourceInstaller.builder()
        .selfId("self")
        .peers(() -> List.copyOf(peers))
        .pinTtl(Duration.ofMillis(300))
        .sourcePoll(Duration.ofMillis(20))
        // Small windows, so chunks go out over time; never a timeout while a peer is held.
        .transferConfig(
            TransferConfig.defaults()
                .withMaxInFlightBytesPerSource(IN_FLIGHT_BYTES)
                .withChunkTimeout(Duration.ofSeconds(WAIT_SECONDS))
                .withFailureBackoff(Duration.ofMillis(1), Duration.ofMillis(20)));
  }

  @Test
  void aSourceThatAppearsMidTransferIsUsedAndOneThatLeavesIsReplaced() throws Exception {
    snapshot();
    CountDownLatch never = new CountDownLatch(0);
    // The late peer lists the baseline only once 12 chunks arrived. The leader serves 8 chunks,
    // then waits until the late peer was asked for chunks: the transfer cannot end without it. The
    // leaving peer serves 10 chunks, then fails everything and leaves the configuration.
    FakePeer late = new FakePeer("late", 12, Integer.MAX_VALUE, -1, never);
    FakePeer leader = new FakePeer("leader", 0, Integer.MAX_VALUE, 8, late.fetched);
    FakePeer leaving = new FakePeer("leaving", 0, 10, -1, never);
    List<SnapshotPeer> peers = new CopyOnWriteArrayList<>(List.of(leader, late, leaving));
    leaving.onLeave = () -> peers.remove(leaving);

    FakeTarget target = target(shard -> {});
    MultiSourceInstaller installer = installer(peers).build();
    Manifest installed =
        installer
            .install(new InstallRequest(101, 3, "leader"), target)
            .get(WAIT_SECONDS, TimeUnit.SECONDS);

    assertEquals(manifest, installed);
    InstallReport report = installer.lastReport();
    assertTrue(report.success(), report.toString());
    Map<String, Long> bytes = report.bytesPerSource();
    assertTrue(bytes.getOrDefault("late", 0L) > 0, "the late peer contributed: " + report);
    assertTrue(bytes.getOrDefault("leaving", 0L) > 0, "the leaving peer is reported: " + report);
    assertTrue(bytes.getOrDefault("leader", 0L) > 0, "the leader served: " + report);
    long distinctStored =
        manifest.allChunks().stream().distinct().mapToLong(ChunkRef::storedSize).sum();
    // Every chunk fetched once, but for the held leader's in-flight requests: the late source
    // may take them over while the leader is held, and the leader still answers them when it is
    // released (there is no cancel frame). Whether it does depends on scheduling; on a busy
    // machine it did, 16 KiB of 461 KiB. At most one in-flight window of one source.
    long extra = report.bytesFetched() - distinctStored;
    assertTrue(extra >= 0 && extra <= IN_FLIGHT_BYTES, "fetched once, but a window: " + report);
    assertTrue(leaving.gone && !leaving.failedChunks.isEmpty(), "the leaving peer failed chunks");
    for (ChunkId c : leaving.failedChunks) {
      assertTrue(target.store.contains(c), "refetched elsewhere: " + c.toHex());
    }
    for (ChunkRef r : manifest.allChunks()) {
      assertTrue(target.store.contains(r.id()), "stored: " + r.id().toHex());
    }
    assertTrue(target.completed);
    assertEquals(List.of(), target.problems);
    for (int i = 0; i < SHARDS; i++) {
      assertEquals(1, target.loads.get(i).get(), "shard " + i + " loaded once");
    }
    assertTrue(leader.liveLeases.isEmpty() && late.liveLeases.isEmpty(), "pins released");
  }

  /**
   * By default the leader is asked last: with two followers serving it gets no chunk. With {@code
   * leaderLast(false)} it is a source like the others and serves its share.
   */
  @ParameterizedTest
  @ValueSource(booleans = {true, false})
  void theLeaderServesOnlyWhenItIsNotAskedLast(boolean leaderLast) throws Exception {
    snapshot();
    CountDownLatch never = new CountDownLatch(0);
    List<SnapshotPeer> peers =
        List.of(
            new FakePeer("leader", 0, Integer.MAX_VALUE, -1, never),
            new FakePeer("a", 0, Integer.MAX_VALUE, -1, never),
            new FakePeer("b", 0, Integer.MAX_VALUE, -1, never));
    MultiSourceInstaller installer = installer(peers).leaderLast(leaderLast).build();
    installer
        .install(new InstallRequest(101, 3, "leader"), target(shard -> {}))
        .get(WAIT_SECONDS, TimeUnit.SECONDS);
    InstallReport report = installer.lastReport();
    assertTrue(report.success(), report.toString());
    long fromLeader = report.bytesPerSource().getOrDefault("leader", 0L);
    if (leaderLast) {
      assertEquals(0, fromLeader, "the leader held back: " + report);
    } else {
      assertTrue(fromLeader > 0, "the leader served: " + report);
    }
    assertTrue(report.bytesPerSource().getOrDefault("a", 0L) > 0, report.toString());
    assertTrue(report.bytesPerSource().getOrDefault("b", 0L) > 0, report.toString());
  }

  /**
   * The peers answer but are still capturing the baseline (a membership change's capture takes
   * seconds for a large state): the install asks again until one holds it, in one attempt, instead
   * of failing (a failed install backs off, which delayed joins by seconds).
   */
  @Test
  void anInstallWaitsForThePeersToCaptureTheBaseline() throws Exception {
    snapshot();
    CountDownLatch never = new CountDownLatch(0);
    FakePeer a = new FakePeer("a", 0, Integer.MAX_VALUE, -1, never);
    a.captured = false;
    MultiSourceInstaller installer = installer(List.of(a)).build();
    java.util.concurrent.CompletableFuture<Manifest> f =
        installer.install(new InstallRequest(101, 3, "a"), target(shard -> {}));
    await(a.listedThrice, "the peer to be asked three times");
    assertTrue(!f.isDone(), "still waiting, not failed: " + f);
    a.captured = true;
    assertEquals(manifest, f.get(WAIT_SECONDS, TimeUnit.SECONDS));
    assertTrue(installer.lastReport().success(), installer.lastReport().toString());
  }

  @Test
  void shardsLoadConcurrently() throws Exception {
    assumeTrue(Runtime.getRuntime().availableProcessors() >= 2, "needs two cores");
    snapshot();
    // Shard 0's load waits for shard 1's to start: with one loader thread it never would.
    CountDownLatch shard1Started = new CountDownLatch(1);
    FakeTarget target =
        target(
            shard -> {
              if (shard == 1) {
                shard1Started.countDown();
              } else if (shard == 0) {
                try {
                  if (!shard1Started.await(WAIT_SECONDS, TimeUnit.SECONDS)) {
                    throw new IOException("shard 1 did not start loading while shard 0 loaded");
                  }
                } catch (InterruptedException e) {
                  Thread.currentThread().interrupt();
                  throw new IOException(e);
                }
              }
            });
    CountDownLatch never = new CountDownLatch(0);
    FakePeer a = new FakePeer("a", 0, Integer.MAX_VALUE, -1, never);
    MultiSourceInstaller installer = installer(List.of(a)).build();
    installer
        .install(new InstallRequest(101, 3, "a"), target)
        .get(WAIT_SECONDS * 2, TimeUnit.SECONDS);
    assertTrue(installer.lastReport().success(), installer.lastReport().toString());
    assertEquals(List.of(), target.problems);
    for (int i = 0; i < SHARDS; i++) {
      assertEquals(1, target.loads.get(i).get(), "shard " + i + " loaded once");
    }
  }

  /** A peer that sends every chunk with one byte flipped, and offers no snapshot. */
  private final class CorruptingPeer implements SnapshotPeer {
    final AtomicInteger sent = new AtomicInteger();

    @Override
    public String sourceId() {
      return "liar";
    }

    @Override
    public void fetch(List<ChunkId> chunks, FetchListener listener) {
      for (ChunkId c : chunks) {
        byte[] b = stored.get(c).clone();
        b[b.length / 2] ^= 0x5a;
        sent.incrementAndGet();
        listener.arrived(c, ByteBuffer.wrap(b));
      }
    }

    @Override
    public CompletableFuture<List<ManifestInfo>> listManifests(long minIndex) {
      return CompletableFuture.completedFuture(List.of());
    }

    @Override
    public CompletableFuture<Manifest> fetchManifest(long index) {
      return CompletableFuture.failedFuture(new IOException("none"));
    }

    @Override
    public CompletableFuture<Lease> pin(long index, Duration ttl) {
      return CompletableFuture.failedFuture(new IOException("none"));
    }

    @Override
    public CompletableFuture<Lease> renew(long leaseId, Duration ttl) {
      return CompletableFuture.failedFuture(new IOException("none"));
    }

    @Override
    public CompletableFuture<Void> unpin(long leaseId) {
      return CompletableFuture.completedFuture(null);
    }
  }

  @Test
  void repairStoresEachLostChunkFromAPeerWhoseBytesVerify() throws Exception {
    snapshot();
    List<ChunkRef> lost = manifest.allChunks().subList(0, 3);
    CorruptingPeer liar = new CorruptingPeer();
    FakePeer good = new FakePeer("good", 0, Integer.MAX_VALUE, -1, new CountDownLatch(0));
    try (FileChunkStore store =
        FileChunkStore.open(dir.resolve("a"), FileChunkStore.Options.defaults().withFsync(false))) {
      installer(List.of(liar, good))
          .build()
          .repair(lost, store)
          .get(WAIT_SECONDS, TimeUnit.SECONDS);

      assertEquals(3, liar.sent.get(), "the liar was asked first");
      for (ChunkRef r : lost) {
        assertTrue(store.verify(r.id()), r.id() + " stored intact");
      }
      assertEquals(0, store.stats().quarantined());
    }
  }

  @Test
  void repairFailsNamingTheChunksNoPeerSuppliedIntact() throws Exception {
    snapshot();
    List<ChunkRef> lost = manifest.allChunks().subList(0, 2);
    try (FileChunkStore store =
        FileChunkStore.open(dir.resolve("b"), FileChunkStore.Options.defaults().withFsync(false))) {
      CompletableFuture<Void> f =
          installer(List.of(new CorruptingPeer())).build().repair(lost, store);
      ExecutionException e =
          assertThrows(ExecutionException.class, () -> f.get(WAIT_SECONDS, TimeUnit.SECONDS));
      assertInstanceOf(IOException.class, e.getCause());
      for (ChunkRef r : lost) {
        assertTrue(e.getCause().getMessage().contains(r.id().toHex()), e.getCause().getMessage());
        assertFalse(store.contains(r.id()), "nothing corrupt was stored");
      }
    }
  }

  /**
   * The disk-full chaos run (seed 75360): the last chunk's write failed with ENOSPC after the
   * transfer had handed it out together with {@code Done}, so the transfer ignored the failure and
   * the install neither finished nor failed (the replica waits 10 minutes). The install must fail
   * with the cause, and the next one, once the disk has room, fetch only what is missing.
   */
  @Test
  void aWriteThatFailsAfterTheTransferIsDoneFailsTheInstall() throws Exception {
    snapshot();
    long wanted = manifest.allChunks().stream().map(ChunkRef::id).distinct().count();
    // The last write happens after the transfer emitted its last Store, and with it Done.
    AtomicInteger writes = new AtomicInteger();
    ChunkStore files =
        FileChunkStore.open(
            dir.resolve("store"), FileChunkStore.Options.defaults().withFsync(false));
    ChunkStore full =
        new ForwardingStore(
            files, w -> new FailingWriter(w, () -> writes.incrementAndGet() == wanted));
    CountDownLatch never = new CountDownLatch(0);
    FakePeer a = new FakePeer("a", 0, Integer.MAX_VALUE, -1, never);
    MultiSourceInstaller installer = installer(List.of(a)).build();

    ExecutionException failed =
        assertThrows(
            ExecutionException.class,
            () ->
                installer
                    .install(new InstallRequest(101, 3, "a"), new FakeTarget(full, shard -> {}))
                    .get(WAIT_SECONDS, TimeUnit.SECONDS));
    assertEquals("No space left on device", failed.getCause().getMessage(), failed.toString());
    assertEquals(wanted, writes.get());
    assertTrue(!installer.lastReport().success(), installer.lastReport().toString());
    assertTrue(a.liveLeases.isEmpty(), "pins released");

    // The disk has room again: the next install fetches only what the store lacks: the chunk
    // whose write failed, and any chunk another write thread was still writing when the install
    // failed (the scheduler writes on 2 threads, so at most one more).
    FakeTarget target = new FakeTarget(files, shard -> {});
    assertEquals(
        manifest,
        installer
            .install(new InstallRequest(101, 3, "a"), target)
            .get(WAIT_SECONDS, TimeUnit.SECONDS));
    InstallReport report = installer.lastReport();
    assertTrue(report.success(), report.toString());
    long largest =
        manifest.allChunks().stream().mapToLong(ChunkRef::storedSize).max().orElseThrow();
    assertEquals(
        report.bytesWanted() - report.bytesHeld(),
        report.bytesFetched(),
        "only what the store lacks fetched: " + report);
    assertTrue(
        report.bytesFetched() <= 2 * largest,
        "the failed chunk, and at most one being written beside it: " + report);
    assertTrue(target.completed);
  }

  /**
   * Three groups' installers share one node scheduler that runs two installs at once with a 64 KiB
   * budget, less than one install's windows (3 sources × 32 KiB): the third waits in the queue, the
   * bytes in flight never exceed the budget (sampled throughout), every install completes, and
   * nothing is held at the end.
   */
  @Test
  void installsOfSeveralGroupsShareTheNodesBudgetAndInstallLimit() throws Exception {
    snapshot();
    long budget = 64 << 10;
    CountDownLatch go = new CountDownLatch(1);
    List<SnapshotPeer> peers =
        List.of(
            new FakePeer("a", 0, Integer.MAX_VALUE, 0, go),
            new FakePeer("b", 0, Integer.MAX_VALUE, 0, go),
            new FakePeer("leader", 0, Integer.MAX_VALUE, 0, go));
    try (TransferScheduler node =
        TransferScheduler.builder().maxActiveInstalls(2).maxBytesInFlight(budget).build()) {
      List<CompletableFuture<Manifest>> installs = new ArrayList<>();
      List<FakeTarget> targets = new ArrayList<>();
      for (int g = 0; g < 3; g++) {
        FakeTarget t =
            new FakeTarget(
                FileChunkStore.open(
                    dir.resolve("store-" + g), FileChunkStore.Options.defaults().withFsync(false)),
                shard -> {});
        targets.add(t);
        MultiSourceInstaller installer =
            installer(peers).leaderLast(false).scheduler(node).name("g" + g).build();
        installs.add(installer.install(new InstallRequest(101, 3, "leader"), t));
      }
      TransferScheduler.Stats queued = node.stats();
      assertEquals(2, queued.activeCount(), queued.toString());
      assertEquals(
          List.of("g2"), whoAndPriority(queued.queuedInstalls(), TransferPriority.CATCH_UP));
      go.countDown();
      long[] peak = {0};
      sampleWhileRunning(
          installs,
          node,
          st -> {
            peak[0] = Math.max(peak[0], st.bytesInFlight());
            assertTrue(st.bytesInFlight() <= budget && st.activeCount() <= 2, st::toString);
          });
      for (CompletableFuture<Manifest> f : installs) {
        assertEquals(manifest, f.get(WAIT_SECONDS, TimeUnit.SECONDS));
      }
      assertTrue(targets.stream().allMatch(t -> t.completed));
      assertTrue(peak[0] > 0, "bytes were reserved");
      TransferScheduler.Stats end = node.stats();
      assertEquals(0, end.bytesInFlight(), end.toString());
      assertEquals(0, end.activeCount() + end.queuedCount(), end.toString());
    }
  }

  /**
   * Hands {@code node}'s figures to {@code sample} every millisecond while any of {@code installs}
   * runs (at most {@link #WAIT_SECONDS}): a sampler of what happens meanwhile, not a wait for an
   * outcome (the caller then checks the installs' results).
   */
  private static void sampleWhileRunning(
      List<? extends CompletableFuture<?>> installs,
      TransferScheduler node,
      java.util.function.Consumer<TransferScheduler.Stats> sample)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WAIT_SECONDS);
    while (!installs.stream().allMatch(CompletableFuture::isDone) && System.nanoTime() < deadline) {
      sample.accept(node.stats());
      Thread.sleep(1); // sampling, not waiting for an outcome
    }
  }

  /** Who the installs are for, checking that each has {@code priority}. */
  private static List<String> whoAndPriority(
      List<TransferScheduler.Install> installs, TransferPriority priority) {
    installs.forEach(i -> assertEquals(priority, i.priority(), i.toString()));
    return installs.stream().map(TransferScheduler.Install::who).toList();
  }

  /**
   * Three installs run at once on a node whose decoded-chunk pool (40 KiB) is far smaller than what
   * their caches would keep (each install's own cap is larger than its whole snapshot), while their
   * shard loads are held back so nothing is taken from the caches: the pool fills, and sampled
   * throughout, the decoded bytes kept never exceed it and the bytes in flight never exceed the
   * budget, so together they stay within budget + pool. Every install then completes (the chunks
   * not kept are read from the store) and nothing stays held.
   */
  @Test
  void decodedChunksOfAllInstallsStayWithinTheNodesPool() throws Exception {
    snapshot();
    long budget = 64 << 10;
    long pool = 40 << 10;
    CountDownLatch never = new CountDownLatch(0);
    CountDownLatch loadsMayRun = new CountDownLatch(1);
    List<SnapshotPeer> peers =
        List.of(
            new FakePeer("a", 0, Integer.MAX_VALUE, -1, never),
            new FakePeer("leader", 0, Integer.MAX_VALUE, -1, never));
    try (TransferScheduler node =
        TransferScheduler.builder()
            .maxActiveInstalls(3)
            .maxBytesInFlight(budget)
            .maxDecodedBytes(pool)
            .build()) {
      List<CompletableFuture<Manifest>> installs = new ArrayList<>();
      for (int g = 0; g < 3; g++) {
        FakeTarget t =
            new FakeTarget(
                FileChunkStore.open(
                    dir.resolve("store-" + g), FileChunkStore.Options.defaults().withFsync(false)),
                shard -> await(loadsMayRun, "the pool to fill"));
        MultiSourceInstaller installer =
            installer(peers)
                .leaderLast(false)
                .scheduler(node)
                .name("g" + g)
                .decodedCacheBytes(4L << 20)
                .build();
        installs.add(installer.install(new InstallRequest(101, 3, "leader"), t));
      }
      long[] peakTotal = {0};
      sampleWhileRunning(
          installs,
          node,
          st -> {
            assertTrue(st.decodedBytes() <= pool && st.bytesInFlight() <= budget, st::toString);
            assertEquals(
                st.decodedBytes(),
                st.activeInstalls().stream()
                    .mapToLong(TransferScheduler.Install::decodedBytes)
                    .sum(),
                st::toString);
            peakTotal[0] = Math.max(peakTotal[0], st.decodedBytes() + st.bytesInFlight());
            if (st.decodedBytes() > pool - 4096) {
              loadsMayRun.countDown(); // full: no further 4 KiB chunk fits
            }
          });
      assertEquals(0, loadsMayRun.getCount(), "the pool never filled");
      for (CompletableFuture<Manifest> f : installs) {
        assertEquals(manifest, f.get(WAIT_SECONDS, TimeUnit.SECONDS));
      }
      assertTrue(peakTotal[0] <= budget + pool, "peak " + peakTotal[0]);
      TransferScheduler.Stats end = node.stats();
      assertEquals(0, end.decodedBytes(), end.toString());
      assertEquals(0, end.bytesInFlight(), end.toString());
    }
  }

  /**
   * An install that fails gives its slot and its bytes back: the install queued behind it runs and
   * completes, and nothing stays reserved.
   */
  @Test
  void aFailedInstallGivesBackItsSlotAndBytes() throws Exception {
    snapshot();
    CountDownLatch submitted = new CountDownLatch(1);
    CountDownLatch never = new CountDownLatch(0);
    FakePeer failing = new FakePeer("bad", 0, 5, 0, submitted);
    FakePeer good = new FakePeer("good", 0, Integer.MAX_VALUE, -1, never);
    try (TransferScheduler node =
        TransferScheduler.builder().maxActiveInstalls(1).maxBytesInFlight(64 << 10).build()) {
      MultiSourceInstaller first =
          installer(List.of(failing))
              .scheduler(node)
              .name("g0")
              .priority(TransferPriority.REPAIR)
              .build();
      MultiSourceInstaller second = installer(List.of(good)).scheduler(node).name("g1").build();
      assertEquals(TransferPriority.REPAIR, first.priority());
      CompletableFuture<Manifest> bad =
          first.install(new InstallRequest(101, 3, "bad"), target(s -> {}));
      FakeTarget t2 =
          new FakeTarget(
              FileChunkStore.open(
                  dir.resolve("store-2"), FileChunkStore.Options.defaults().withFsync(false)),
              shard -> {});
      CompletableFuture<Manifest> ok = second.install(new InstallRequest(101, 3, "good"), t2);
      assertEquals(
          List.of("g1"), whoAndPriority(node.stats().queuedInstalls(), TransferPriority.CATCH_UP));
      submitted.countDown();
      assertThrows(ExecutionException.class, () -> bad.get(WAIT_SECONDS, TimeUnit.SECONDS));
      assertEquals(manifest, ok.get(WAIT_SECONDS, TimeUnit.SECONDS));
      assertEquals(TransferPriority.REPAIR, first.priority(), "kept until an install succeeds");
      assertEquals(TransferPriority.CATCH_UP, second.priority());
      TransferScheduler.Stats end = node.stats();
      assertEquals(0, end.bytesInFlight(), end.toString());
      assertEquals(0, end.activeCount() + end.queuedCount(), end.toString());
      assertEquals(1L, end.admittedTotal().get(TransferPriority.REPAIR));
    }
  }

  /** Forwards to a writer, but {@code putVerified} fails as on a full disk when {@code full}. */
  private static final class FailingWriter implements ChunkWriter {
    private final ChunkWriter delegate;
    private final java.util.function.BooleanSupplier full;

    FailingWriter(ChunkWriter delegate, java.util.function.BooleanSupplier full) {
      this.delegate = delegate;
      this.full = full;
    }

    @Override
    public ChunkRef put(byte[] raw, int offset, int length) throws IOException {
      return delegate.put(raw, offset, length);
    }

    @Override
    public void putStored(ChunkRef ref, ByteBuffer stored) throws IOException {
      delegate.putStored(ref, stored);
    }

    @Override
    public void putVerified(ChunkRef ref, ByteBuffer stored) throws IOException {
      if (full.getAsBoolean()) {
        throw new IOException("No space left on device");
      }
      delegate.putVerified(ref, stored);
    }

    @Override
    public boolean adopt(ChunkId id) {
      return delegate.adopt(id);
    }

    @Override
    public void commit(String key, Collection<ChunkId> chunks) throws IOException {
      delegate.commit(key, chunks);
    }

    @Override
    public void sync() throws IOException {
      delegate.sync();
    }

    @Override
    public void close() {
      delegate.close();
    }
  }
}
