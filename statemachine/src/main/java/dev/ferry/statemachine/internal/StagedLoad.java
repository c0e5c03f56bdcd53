package dev.ferry.statemachine.internal;

import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.StateDigest;
import dev.ferry.snapshot.format.Manifest;
import dev.ferry.snapshot.format.Shard;
import dev.ferry.statemachine.LoadReport;
import dev.ferry.statemachine.StateLoader;
import dev.ferry.statemachine.StateView;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;

/**
 * One snapshot being loaded into a {@link StateLoader}, shard by shard, on many threads.
 *
 * <p>For each shard it picks the cheapest way that gives the snapshot's content: when a {@link
 * Base} (the node's latest snapshot and the point-in-time view of its state) is given and the new
 * shard's runs start with the base shard's runs, the loader edits the base's shard, and only the
 * runs the base lacks are read (none when the shard did not change); the shard's digest is the
 * base's, updated by the changed records. Otherwise the shard is read and loaded in full.
 *
 * <p>Concurrency: {@link #loadShard} may be called from several threads at once for distinct shards
 * (a second call for a shard waits for the first and does nothing); {@link #loadAll} loads the rest
 * in parallel on the given executor. Every shard's result is published under its own lock.
 */
public final class StagedLoad {
  /**
   * What a node holds of an earlier snapshot: its manifest, the point-in-time view of the state at
   * its index, and the records digest of each shard.
   *
   * @param manifest the snapshot
   * @param view the state at {@code manifest.index()}
   * @param shardDigests the records digest of each shard of that state
   */
  public record Base(Manifest manifest, StateView view, List<StateDigest> shardDigests) {
    public Base {
      Objects.requireNonNull(manifest, "manifest");
      Objects.requireNonNull(view, "view");
      shardDigests = List.copyOf(shardDigests);
      if (shardDigests.size() != manifest.shards().size()) {
        throw new IllegalArgumentException(
            shardDigests.size() + " digests for " + manifest.shards().size() + " shards");
      }
    }
  }

  private final SnapshotCatalog catalog;
  private final Manifest manifest;
  private final StateLoader loader;
  private final Base base;
  private final boolean hashChunks;
  private final Function<ChunkId, byte[]> decoded;
  private final Object[] locks;
  private final StateDigest[] digests;
  private final RunFormat.ReadCounter counter = new RunFormat.ReadCounter();
  private final AtomicInteger inFull = new AtomicInteger();
  private final AtomicInteger edited = new AtomicInteger();
  private final AtomicInteger reused = new AtomicInteger();
  private final AtomicLong changes = new AtomicLong();

  /**
   * @param catalog where the chunks are
   * @param manifest the snapshot to load
   * @param loader the state machine's new loader
   * @param base what the node holds to edit from, or {@code null} to load every shard in full
   * @param hashChunks whether chunks read from the store are hashed again (false when the digest
   *     check covers them: they were verified when stored)
   * @param decoded verified decoded chunk content to use instead of reading the store, or {@code
   *     null}
   */
  public StagedLoad(
      SnapshotCatalog catalog,
      Manifest manifest,
      StateLoader loader,
      Base base,
      boolean hashChunks,
      Function<ChunkId, byte[]> decoded) {
    this.catalog = catalog;
    this.manifest = manifest;
    this.loader = loader;
    this.base = base;
    this.hashChunks = hashChunks;
    this.decoded = decoded;
    int n = manifest.shards().size();
    this.locks = new Object[n];
    for (int i = 0; i < n; i++) {
      locks[i] = new Object();
    }
    this.digests = new StateDigest[n];
  }

  /** The snapshot being loaded. */
  public Manifest manifest() {
    return manifest;
  }

  /** The loader the shards go into. */
  public StateLoader loader() {
    return loader;
  }

  /** Whether any shard was (or may be) taken from the base. */
  public boolean usesBase() {
    return base != null;
  }

  /** Loads shard {@code shard} unless it is loaded already. Thread-safe. */
  public void loadShard(int shard) throws IOException {
    synchronized (locks[shard]) {
      if (digests[shard] == null) {
        digests[shard] = load(shard);
      }
    }
  }

  /**
   * Loads every shard not loaded yet, in parallel on {@code executor}, and returns the records
   * digest of the whole snapshot.
   */
  public StateDigest loadAll(Executor executor) throws IOException {
    List<CompletableFuture<Void>> loads = new ArrayList<>();
    for (int i = 0; i < digests.length; i++) {
      int shard = i;
      loads.add(
          CompletableFuture.runAsync(
              () -> {
                try {
                  loadShard(shard);
                } catch (IOException e) {
                  throw new UncheckedIOException(e);
                }
              },
              executor));
    }
    try {
      CompletableFuture.allOf(loads.toArray(CompletableFuture[]::new)).join();
    } catch (CompletionException e) {
      Throwable cause = e.getCause();
      if (cause instanceof UncheckedIOException u) {
        throw u.getCause();
      }
      if (cause instanceof RuntimeException r) {
        throw r;
      }
      if (cause instanceof Error err) {
        throw err;
      }
      throw new IOException(cause);
    }
    StateDigest total = StateDigest.EMPTY;
    for (int i = 0; i < digests.length; i++) {
      synchronized (locks[i]) {
        total = total.plus(digests[i]);
      }
    }
    return total;
  }

  /** The records digest of each shard; call after {@link #loadAll}. */
  public List<StateDigest> shardDigests() {
    List<StateDigest> out = new ArrayList<>(digests.length);
    for (int i = 0; i < digests.length; i++) {
      synchronized (locks[i]) {
        out.add(Objects.requireNonNull(digests[i], "shard not loaded"));
      }
    }
    return out;
  }

  /** What was read and how each shard was built, so far. */
  public LoadReport stats() {
    return new LoadReport(
        inFull.get(), edited.get(), reused.get(), counter.chunks(), counter.bytes(), changes.get());
  }

  private StateDigest load(int shard) throws IOException {
    int shared = sharedRuns(shard);
    if (shared >= 1 || (shared == 0 && heldRuns(shard) == 0)) {
      StateLoader.ShardEditor editor = loader.editShard(shard, base.view());
      if (editor != null) {
        StateDigest from = base.shardDigests().get(shard);
        Shard s = manifest.shards().get(shard);
        // Runs of the held shard after the shared ones (merged away since, by a minor compaction):
        // the new runs must touch every key they touch, or the held state holds values the new
        // snapshot does not.
        Set<ByteKey> mustCover =
            shared < heldRuns(shard)
                ? catalog.keysOf(base.manifest(), shard, shared, counter)
                : null;
        if (shared == s.runs().size() && mustCover == null) {
          editor.finish();
          reused.incrementAndGet();
          return from;
        }
        SnapshotCatalog.Edit e =
            catalog.editShard(
                manifest, shard, shared, from, editor, mustCover, hashChunks, decoded, counter);
        if (e != null) {
          changes.addAndGet(e.changes());
          edited.incrementAndGet();
          return e.digest();
        }
        // Not covered: the unfinished editor is dropped and the shard loads in full.
      }
    }
    StateDigest d = catalog.loadShard(manifest, shard, loader, hashChunks, decoded, counter);
    inFull.incrementAndGet();
    return d;
  }

  private int heldRuns(int shard) {
    return base == null ? -1 : base.manifest().shards().get(shard).runs().size();
  }

  /**
   * How many leading runs shard {@code shard} shares with the base's shard, or -1 when the base
   * cannot be used for it.
   */
  private int sharedRuns(int shard) {
    if (base == null) {
      return -1;
    }
    Manifest b = base.manifest();
    if (b.shards().size() != manifest.shards().size()
        || !Objects.equals(
            b.metadata().get(SnapshotCatalog.FORMAT_KEY),
            manifest.metadata().get(SnapshotCatalog.FORMAT_KEY))) {
      return -1;
    }
    Shard was = b.shards().get(shard);
    Shard now = manifest.shards().get(shard);
    if (!was.name().equals(now.name())) {
      return -1;
    }
    int k = 0;
    while (k < was.runs().size()
        && k < now.runs().size()
        && was.runs().get(k).equals(now.runs().get(k))) {
      k++;
    }
    return k;
  }
}
