package dev.ferry.statemachine.internal;

import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.ChunkRef;
import dev.ferry.snapshot.StateDigest;
import dev.ferry.snapshot.chunk.Chunker;
import dev.ferry.snapshot.chunk.ChunkerConfig;
import dev.ferry.snapshot.format.Manifest;
import dev.ferry.snapshot.format.ManifestCodec;
import dev.ferry.snapshot.format.ManifestFormatException;
import dev.ferry.snapshot.format.Run;
import dev.ferry.snapshot.format.Shard;
import dev.ferry.snapshot.store.ChunkStore;
import dev.ferry.snapshot.store.ChunkWriter;
import dev.ferry.snapshot.store.FileChunkStore;
import dev.ferry.snapshot.store.QuarantineListener;
import dev.ferry.statemachine.ShardLayout;
import dev.ferry.statemachine.StateLoader;
import dev.ferry.statemachine.StateLoader.Record;
import dev.ferry.statemachine.StateMachineConfig;
import java.io.BufferedOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A replica's durable snapshots: the chunk store and the manifests that name snapshots in it.
 *
 * <p>Layout under the state machine directory: {@code chunks/} (a {@link FileChunkStore}) and
 * {@code manifests/<index>.manifest} (encoded with {@link ManifestCodec}, written to a temp file,
 * fsynced and renamed). A manifest is published only after every chunk it names is durable and
 * retained in the store.
 *
 * <p>Concurrency: {@link #capture} runs on the single capture thread; {@link #publish} may be
 * called from an install thread too (both synchronize on the catalog); reads of the manifest list
 * are lock-free.
 */
public final class SnapshotCatalog implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(SnapshotCatalog.class);
  private static final Pattern MANIFEST_FILE = Pattern.compile("(\\d{20})\\.manifest");

  /** Metadata key naming the record format of runs. */
  public static final String FORMAT_KEY = "ferry.runs";

  /** Metadata value of the current run format. */
  public static final String FORMAT_VALUE = "records-v1";

  private final Path manifestDir;
  private final FileChunkStore store;
  private final ShardLayout layout;
  private final StateMachineConfig config;
  private final ChunkerConfig chunker = ChunkerConfig.DEFAULT;
  private final ConcurrentSkipListMap<Long, Manifest> manifests = new ConcurrentSkipListMap<>();

  /**
   * Manifests found at open whose chunks the store lacks (lost to corruption): not served or loaded
   * until {@link #readmit} finds them whole again.
   */
  private final ConcurrentSkipListMap<Long, Manifest> incomplete = new ConcurrentSkipListMap<>();

  private SnapshotCatalog(
      Path manifestDir, FileChunkStore store, ShardLayout layout, StateMachineConfig config) {
    this.manifestDir = manifestDir;
    this.store = store;
    this.layout = layout;
    this.config = config;
  }

  private volatile long lastCaptureBytes;

  /** Opens (creating if needed) the catalog under a state machine directory. */
  public static SnapshotCatalog open(Path dir, ShardLayout layout, StateMachineConfig config)
      throws IOException {
    return open(dir, layout, config, QuarantineListener.NONE);
  }

  /**
   * Opens (creating if needed) the catalog under a state machine directory; {@code listener} is
   * told about every chunk the store quarantines (on the thread that found it).
   */
  public static SnapshotCatalog open(
      Path dir, ShardLayout layout, StateMachineConfig config, QuarantineListener listener)
      throws IOException {
    Path manifestDir = Files.createDirectories(dir.resolve("manifests"));
    FileChunkStore store =
        FileChunkStore.open(
            dir.resolve("chunks"),
            FileChunkStore.Options.defaults()
                .withZstdLevel(config.zstdLevel())
                .withQuarantineListener(listener));
    SnapshotCatalog c = new SnapshotCatalog(manifestDir, store, layout, config);
    c.loadManifests();
    return c;
  }

  private void loadManifests() throws IOException {
    try (DirectoryStream<Path> files = Files.newDirectoryStream(manifestDir)) {
      for (Path f : files) {
        String name = f.getFileName().toString();
        Matcher m = MANIFEST_FILE.matcher(name);
        if (!m.matches()) {
          if (name.endsWith(".tmp")) {
            Files.deleteIfExists(f);
          }
          continue;
        }
        try {
          Manifest manifest = ManifestCodec.decode(Files.readAllBytes(f));
          if (manifest.index() != Long.parseLong(m.group(1))) {
            throw new ManifestFormatException("index does not match its file name", 0);
          }
          if (!allPresent(manifest)) {
            LOG.warn("manifest {} names chunks the store lacks; set aside until they are back", f);
            incomplete.put(manifest.index(), manifest);
            continue;
          }
          manifests.put(manifest.index(), manifest);
        } catch (ManifestFormatException e) {
          LOG.error("manifest {} is corrupt, moving it aside: {}", f, e.getMessage());
          Files.move(f, f.resolveSibling(name + ".corrupt"), StandardCopyOption.REPLACE_EXISTING);
        }
      }
    }
  }

  private boolean allPresent(Manifest m) {
    for (ChunkRef r : m.allChunks()) {
      if (!store.contains(r.id())) {
        return false;
      }
    }
    return true;
  }

  /**
   * The newest manifest on disk, whole or not: what a restart should load once its missing chunks
   * are fetched again ({@link #missing}).
   */
  public Optional<Manifest> newest() {
    Optional<Manifest> whole = latest();
    Map.Entry<Long, Manifest> e = incomplete.lastEntry();
    if (e != null && (whole.isEmpty() || e.getKey() > whole.get().index())) {
      return Optional.of(e.getValue());
    }
    return whole;
  }

  /** The chunks of {@code m} the store does not hold, each once. Does no I/O. */
  public List<ChunkRef> missing(Manifest m) {
    Map<ChunkId, ChunkRef> out = new java.util.LinkedHashMap<>();
    for (ChunkRef r : m.allChunks()) {
      if (!store.contains(r.id())) {
        out.putIfAbsent(r.id(), r);
      }
    }
    return List.copyOf(out.values());
  }

  /**
   * The references of those of {@code ids} that a manifest on disk (whole or not) names; ids no
   * manifest names (chunks nothing needs) are left out. Does no I/O.
   */
  public Map<ChunkId, ChunkRef> references(Set<ChunkId> ids) {
    Map<ChunkId, ChunkRef> out = new java.util.HashMap<>();
    for (var map : List.of(manifests, incomplete)) {
      for (Manifest m : map.values()) {
        for (ChunkRef r : m.allChunks()) {
          if (ids.contains(r.id())) {
            out.putIfAbsent(r.id(), r);
          }
        }
      }
    }
    return out;
  }

  /**
   * Brings back every set-aside manifest whose chunks are all held again, so that it is served and
   * retained as before. Returns how many came back.
   */
  public synchronized int readmit() {
    int n = 0;
    for (Manifest m : incomplete.values()) {
      if (allPresent(m)) {
        incomplete.remove(m.index());
        manifests.put(m.index(), m);
        LOG.info("snapshot {} is whole again", m.index());
        n++;
      }
    }
    return n;
  }

  /** The chunk store. */
  public ChunkStore store() {
    return store;
  }

  /** The newest durable manifest. */
  public Optional<Manifest> latest() {
    Map.Entry<Long, Manifest> e = manifests.lastEntry();
    return e == null ? Optional.empty() : Optional.of(e.getValue());
  }

  /** The durable manifest at {@code index}. */
  public Optional<Manifest> at(long index) {
    return Optional.ofNullable(manifests.get(index));
  }

  /** All durable manifests, oldest first. */
  public List<Manifest> manifests() {
    return List.copyOf(manifests.values());
  }

  /**
   * The bytes of state the last {@link #capture} chunked and wrote (its delta runs, or every run
   * written in full; runs reused from the previous snapshot are not counted); {@code 0} before the
   * first capture or after a failed one. Read it on the capture thread, after {@code capture}.
   */
  public long lastCaptureBytes() {
    return lastCaptureBytes;
  }

  /**
   * When the newest durable manifest became durable: its file's modification time, in milliseconds
   * since the epoch, or {@code -1} without one (or if the file cannot be read). Does one file
   * system stat.
   */
  public long latestDurableAtMillis() {
    Optional<Manifest> m = latest();
    if (m.isEmpty()) {
      return -1;
    }
    try {
      return Files.getLastModifiedTime(manifestPath(m.get().index())).toMillis();
    } catch (IOException e) {
      return -1;
    }
  }

  /** The file a manifest at {@code index} is kept in. */
  public Path manifestPath(long index) {
    return manifestDir.resolve(String.format(Locale.ROOT, "%020d.manifest", index));
  }

  // ---------------------------------------------------------------------------------------------
  // Capture
  // ---------------------------------------------------------------------------------------------

  /**
   * Writes a snapshot: layered where the job carries changes and the previous snapshot can be
   * reused, in full otherwise; then publishes its manifest. Runs on the capture thread.
   */
  public Manifest capture(CaptureJob job) throws IOException {
    lastCaptureBytes = 0;
    Manifest prev = previous(job.index());
    int n = layout.names().size();
    List<Shard> shards = new ArrayList<>(n);
    StateDigest computed = StateDigest.EMPTY;
    Throttle throttle = new Throttle(config.captureBytesPerSecond());
    try (ChunkWriter writer = store.openBatchWriter()) {
      for (int i = 0; i < n; i++) {
        String name = layout.names().get(i);
        Shard layered = layered(prev, i, name, job, writer, throttle);
        if (layered != null) {
          shards.add(layered);
        } else {
          int shard = i;
          StateDigest[] d = {StateDigest.EMPTY};
          boolean hashRecords = job.digest() == null;
          Run run =
              writeRun(
                  writer,
                  throttle,
                  w ->
                      job.view()
                          .writeShard(
                              shard,
                              (key, value) -> {
                                w.put(key, value);
                                if (hashRecords) {
                                  d[0] = d[0].plus(RecordDigest.hash(key, value));
                                }
                              }));
          computed = computed.plus(d[0]);
          shards.add(new Shard(name, List.of(run)));
        }
      }
      List<ChunkRef> sessions = writeBytes(job.sessionTable(), writer, throttle);
      StateDigest digest =
          job.digest() != null ? job.digest() : computed.plus(job.sessionsDigest());
      Manifest manifest =
          new Manifest(
              job.term(),
              job.index(),
              shards,
              sessions,
              digest,
              new TreeMap<>(Map.of(FORMAT_KEY, FORMAT_VALUE)));
      writer.commit(ChunkStore.manifestKey(manifest), ids(manifest));
      writeManifestFile(manifest);
      lastCaptureBytes = throttle.bytes;
      return manifest;
    } finally {
      retire();
    }
  }

  private Manifest previous(long index) {
    Map.Entry<Long, Manifest> e = manifests.lowerEntry(index);
    return e == null ? null : e.getValue();
  }

  /**
   * Shard {@code i} built on the previous snapshot's, or {@code null} when it must be written in
   * full. Unchanged: the previous shard as it is. Fewer than {@code maxRunsPerShard} runs: the
   * previous runs plus a delta run of the changes. At the limit, while the delta runs (all but the
   * first, the base) and the changes hold at most a {@link #MERGE_DELTAS_FRACTION} of the base's
   * bytes: the base plus one run merging the delta runs and the changes (a minor compaction: the
   * base's chunks stay shared, so a lagging replica still fetches only what changed). Otherwise (or
   * without a usable previous shard) the shard is rewritten in full. Chunks kept are protected in
   * {@code writer}.
   */
  private Shard layered(
      Manifest prev, int i, String name, CaptureJob job, ChunkWriter writer, Throttle throttle)
      throws IOException {
    if (job.changes() == null || prev == null || prev.shards().size() != layout.names().size()) {
      return null;
    }
    Shard s = prev.shards().get(i);
    if (!s.name().equals(name) || !FORMAT_VALUE.equals(prev.metadata().get(FORMAT_KEY))) {
      return null;
    }
    Map<ByteKey, byte[]> changes = job.changes().get(i);
    if (changes.isEmpty()) {
      return adoptAll(s.runs(), writer) ? s : null;
    }
    if (s.runs().size() < config.maxRunsPerShard()) {
      if (!adoptAll(s.runs(), writer)) {
        return null;
      }
      List<Run> runs = new ArrayList<>(s.runs());
      runs.add(writeDelta(List.of(), changes, job.tombstone(), writer, throttle));
      return new Shard(name, runs);
    }
    if (s.runs().size() < 2) {
      return null;
    }
    Run base = s.runs().get(0);
    List<Run> deltas = s.runs().subList(1, s.runs().size());
    long deltaBytes = deltas.stream().mapToLong(Run::rawBytes).sum() + changeBytes(changes);
    if (deltaBytes > base.rawBytes() * MERGE_DELTAS_FRACTION || !adoptAll(List.of(base), writer)) {
      return null;
    }
    // The delta runs are read back from the store (they are this node's own chunks).
    List<Iterator<RunFormat.Entry>> older = readRuns(prev, s, 1, false, null, null);
    return new Shard(
        name, List.of(base, writeDelta(older, changes, job.tombstone(), writer, throttle)));
  }

  /** The most bytes of delta runs, relative to the base run, that a minor compaction keeps. */
  static final double MERGE_DELTAS_FRACTION = 0.25;

  private static long changeBytes(Map<ByteKey, byte[]> changes) {
    long n = 0;
    for (Map.Entry<ByteKey, byte[]> e : changes.entrySet()) {
      n += 9 + e.getKey().bytes().length + e.getValue().length;
    }
    return n;
  }

  private static boolean adoptAll(List<Run> runs, ChunkWriter writer) {
    for (Run run : runs) {
      for (ChunkRef r : run.chunks()) {
        if (!writer.adopt(r.id())) {
          return false;
        }
      }
    }
    return true;
  }

  /**
   * One run holding the net effect of the runs {@code older} (oldest first, each in key order) and
   * then of {@code changes} (the {@code tombstone} array, by identity, for a deleted key): the
   * newest entry of a key wins, deletions kept as tombstones (an older run below may hold the key).
   */
  private Run writeDelta(
      List<Iterator<RunFormat.Entry>> older,
      Map<ByteKey, byte[]> changes,
      byte[] tombstone,
      ChunkWriter writer,
      Throttle throttle)
      throws IOException {
    List<Iterator<RunFormat.Entry>> runs = new ArrayList<>(older);
    runs.add(
        new TreeMap<>(changes)
            .entrySet().stream()
                .map(
                    e ->
                        new RunFormat.Entry(
                            e.getKey().bytes(), e.getValue() == tombstone ? null : e.getValue()))
                .iterator());
    Iterator<RunFormat.Entry> merged = RunFormat.mergeChanges(runs);
    try {
      return writeRun(
          writer,
          throttle,
          w -> {
            while (merged.hasNext()) {
              RunFormat.Entry e = merged.next();
              if (e.value() == null) {
                w.delete(e.key());
              } else {
                w.put(e.key(), e.value());
              }
            }
          });
    } catch (RunFormat.CorruptRunException e) {
      throw e.io();
    }
  }

  private interface RunBody {
    void write(RunFormat.Writer w) throws IOException;
  }

  private Run writeRun(ChunkWriter writer, Throttle throttle, RunBody body) throws IOException {
    List<ChunkRef> refs = new ArrayList<>();
    try (Chunker chunks = chunker(writer, throttle, refs);
        OutputStream out = new BufferedOutputStream(chunks, 64 << 10)) {
      RunFormat.Writer w = new RunFormat.Writer(out);
      body.write(w);
      w.flush();
    }
    return new Run(refs);
  }

  private List<ChunkRef> writeBytes(byte[] bytes, ChunkWriter writer, Throttle throttle)
      throws IOException {
    List<ChunkRef> refs = new ArrayList<>();
    try (Chunker chunks = chunker(writer, throttle, refs)) {
      chunks.write(bytes);
    }
    return refs;
  }

  private Chunker chunker(ChunkWriter writer, Throttle throttle, List<ChunkRef> refs) {
    return new Chunker(
        chunker,
        (offset, bytes, from, length) -> {
          refs.add(writer.put(bytes, from, length));
          throttle.account(length);
        });
  }

  private static List<ChunkId> ids(Manifest m) {
    Set<ChunkId> ids = new LinkedHashSet<>();
    for (ChunkRef r : m.allChunks()) {
      ids.add(r.id());
    }
    return new ArrayList<>(ids);
  }

  /** Makes a manifest whose chunks are all in the store durable and current (used by installs). */
  public void publish(Manifest manifest) throws IOException {
    if (!allPresent(manifest)) {
      throw new IOException("cannot publish snapshot " + manifest.index() + ": chunks missing");
    }
    store.retain(manifest);
    writeManifestFile(manifest);
    retire();
  }

  private synchronized void writeManifestFile(Manifest manifest) throws IOException {
    Path target = manifestPath(manifest.index());
    Path tmp = target.resolveSibling(target.getFileName() + ".tmp");
    byte[] bytes = ManifestCodec.encode(manifest);
    try (FileChannel ch =
        FileChannel.open(
            tmp,
            StandardOpenOption.CREATE,
            StandardOpenOption.TRUNCATE_EXISTING,
            StandardOpenOption.WRITE)) {
      ch.write(java.nio.ByteBuffer.wrap(bytes));
      ch.force(true);
    }
    Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    try (FileChannel dir = FileChannel.open(manifestDir, StandardOpenOption.READ)) {
      dir.force(true);
    }
    manifests.put(manifest.index(), manifest);
  }

  /** Drops snapshots beyond the retention count (pinned chunks stay) and collects garbage. */
  private synchronized void retire() {
    try {
      while (manifests.size() > config.retainSnapshots()) {
        Manifest old = manifests.pollFirstEntry().getValue();
        Files.deleteIfExists(manifestPath(old.index()));
        store.release(ChunkStore.manifestKey(old));
      }
      // A set-aside snapshot older than a whole one will never be loaded: forget it.
      Map.Entry<Long, Manifest> whole = manifests.lastEntry();
      while (whole != null && !incomplete.isEmpty() && incomplete.firstKey() < whole.getKey()) {
        Manifest old = incomplete.pollFirstEntry().getValue();
        Files.deleteIfExists(manifestPath(old.index()));
        store.release(ChunkStore.manifestKey(old));
      }
      store.collectGarbage();
    } catch (IOException e) {
      LOG.warn("retiring old snapshots failed (will retry at the next capture): {}", e.toString());
    }
  }

  // ---------------------------------------------------------------------------------------------
  // Load
  // ---------------------------------------------------------------------------------------------

  /**
   * Loads one shard of {@code m} from the store into {@code loader}, hashing every chunk it reads.
   *
   * @return the digest of the records loaded
   */
  public StateDigest loadShard(Manifest m, int shard, StateLoader loader) throws IOException {
    return loadShard(m, shard, loader, true);
  }

  /**
   * Loads one shard of {@code m} from the store into {@code loader}. With {@code hashChunks} false
   * chunks are decoded but not hashed on read: for a caller that compares the returned digest with
   * the manifest's and whose chunks were verified when they were stored (an install, which has just
   * verified every fetched chunk on arrival).
   *
   * @return the digest of the records loaded
   */
  public StateDigest loadShard(Manifest m, int shard, StateLoader loader, boolean hashChunks)
      throws IOException {
    return loadShard(m, shard, loader, hashChunks, null);
  }

  /**
   * Loads one shard of {@code m} like {@link #loadShard(Manifest, int, StateLoader, boolean)},
   * taking each chunk's content from {@code decoded} when it answers one (not {@code null}) and
   * reading it from the store otherwise. {@code decoded} must answer only content verified against
   * the chunk's id (an install's chunks, decoded and hashed when they arrived); its arrays are only
   * read.
   *
   * @param decoded the decoded content of chunks, or {@code null} to read every chunk from the
   *     store
   * @return the digest of the records loaded
   */
  public StateDigest loadShard(
      Manifest m,
      int shard,
      StateLoader loader,
      boolean hashChunks,
      Function<ChunkId, byte[]> decoded)
      throws IOException {
    return loadShard(m, shard, loader, hashChunks, decoded, null);
  }

  /** Like the above, counting the chunks read into {@code counter} (when not null). */
  StateDigest loadShard(
      Manifest m,
      int shard,
      StateLoader loader,
      boolean hashChunks,
      Function<ChunkId, byte[]> decoded,
      RunFormat.ReadCounter counter)
      throws IOException {
    Shard s = m.shards().get(shard);
    List<Iterator<RunFormat.Entry>> runs = readRuns(m, s, 0, hashChunks, decoded, counter);
    StateDigest[] digest = {StateDigest.EMPTY};
    Iterator<Record> merged = RunFormat.merge(runs);
    Iterator<Record> hashing =
        new Iterator<>() {
          @Override
          public boolean hasNext() {
            return merged.hasNext();
          }

          @Override
          public Record next() {
            Record r = merged.next();
            digest[0] = digest[0].plus(RecordDigest.hash(r.key(), r.value()));
            return r;
          }
        };
    try {
      loader.loadShard(shard, hashing);
      while (hashing.hasNext()) {
        hashing.next(); // a loader that stopped early still gets a full digest check
      }
    } catch (RunFormat.CorruptRunException e) {
      throw e.io();
    }
    return digest[0];
  }

  /**
   * The outcome of {@link #editShard}.
   *
   * @param digest the shard's records digest after the edit
   * @param changes records applied (puts and deletions)
   */
  record Edit(StateDigest digest, long changes) {}

  /**
   * Builds shard {@code shard} of {@code m} from an earlier version of it: applies the net changes
   * of the shard's runs from {@code fromRun} on (the ones the earlier version lacks) through {@code
   * editor}, and updates {@code from}, the earlier version's records digest, by the changed records
   * only. Runs before {@code fromRun} are not read.
   *
   * @param mustCover keys every one of which the applied changes must touch (they are removed from
   *     it as they are), or {@code null}; if any is left, the editor is not finished and this
   *     returns {@code null}
   * @return the edit, or {@code null} if {@code mustCover} was not covered
   */
  Edit editShard(
      Manifest m,
      int shard,
      int fromRun,
      StateDigest from,
      StateLoader.ShardEditor editor,
      java.util.Set<ByteKey> mustCover,
      boolean hashChunks,
      Function<ChunkId, byte[]> decoded,
      RunFormat.ReadCounter counter)
      throws IOException {
    Shard s = m.shards().get(shard);
    Iterator<RunFormat.Entry> changes =
        RunFormat.mergeChanges(readRuns(m, s, fromRun, hashChunks, decoded, counter));
    StateDigest digest = from;
    long n = 0;
    try {
      while (changes.hasNext()) {
        RunFormat.Entry e = changes.next();
        byte[] previous = editor.set(e.key(), e.value());
        if (mustCover != null) {
          mustCover.remove(new ByteKey(e.key()));
        }
        if (previous != null) {
          digest = digest.minus(RecordDigest.hash(e.key(), previous));
        }
        if (e.value() != null) {
          digest = digest.plus(RecordDigest.hash(e.key(), e.value()));
        }
        n++;
      }
    } catch (RunFormat.CorruptRunException e) {
      throw e.io();
    }
    if (mustCover != null && !mustCover.isEmpty()) {
      return null;
    }
    editor.finish();
    return new Edit(digest, n);
  }

  /**
   * The keys (deletions included) of the runs of shard {@code shard} of {@code m} from {@code
   * fromRun} on.
   */
  java.util.Set<ByteKey> keysOf(Manifest m, int shard, int fromRun, RunFormat.ReadCounter counter)
      throws IOException {
    java.util.Set<ByteKey> keys = new java.util.HashSet<>();
    Iterator<RunFormat.Entry> it =
        RunFormat.mergeChanges(readRuns(m, m.shards().get(shard), fromRun, false, null, counter));
    try {
      while (it.hasNext()) {
        keys.add(new ByteKey(it.next().key()));
      }
    } catch (RunFormat.CorruptRunException e) {
      throw e.io();
    }
    return keys;
  }

  private List<Iterator<RunFormat.Entry>> readRuns(
      Manifest m,
      Shard s,
      int fromRun,
      boolean hashChunks,
      Function<ChunkId, byte[]> decoded,
      RunFormat.ReadCounter counter)
      throws IOException {
    List<Iterator<RunFormat.Entry>> runs = new ArrayList<>();
    for (int r = fromRun; r < s.runs().size(); r++) {
      runs.add(
          new RunFormat.Reader(
              new RunFormat.ChunkInputStream(
                  store, s.runs().get(r).chunks(), hashChunks, decoded, counter),
              "snapshot " + m.index() + " shard " + s.name() + " run " + r));
    }
    return runs;
  }

  /** The encoded session table of {@code m}. */
  public byte[] readSessions(Manifest m) throws IOException {
    try (RunFormat.ChunkInputStream in = new RunFormat.ChunkInputStream(store, m.sessionChunks())) {
      return in.readAllBytes();
    }
  }

  @Override
  public void close() throws IOException {
    store.close();
  }

  /** Limits the capture writer's rate so foreground apply keeps the disk and CPU. */
  private static final class Throttle {
    private final long bytesPerSecond;
    private final long start = System.nanoTime();
    private long bytes;

    Throttle(long bytesPerSecond) {
      this.bytesPerSecond = bytesPerSecond;
    }

    void account(int n) throws IOException {
      bytes += n;
      long dueNanos = bytes * 1_000_000_000L / bytesPerSecond;
      long ahead = dueNanos - (System.nanoTime() - start);
      if (ahead > 1_000_000) {
        try {
          Thread.sleep(ahead / 1_000_000);
        } catch (InterruptedException e) {
          Thread.currentThread().interrupt();
          throw new IOException("capture interrupted", e);
        }
      }
    }
  }
}
