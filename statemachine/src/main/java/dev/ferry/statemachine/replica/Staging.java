package dev.ferry.statemachine.replica;

import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.StateDigest;
import dev.ferry.snapshot.format.Manifest;
import dev.ferry.snapshot.store.ChunkStore;
import dev.ferry.statemachine.LoadReport;
import dev.ferry.statemachine.ShardLayout;
import dev.ferry.statemachine.StateLoader;
import dev.ferry.statemachine.StateMachine;
import dev.ferry.statemachine.StateView;
import dev.ferry.statemachine.internal.SessionTable;
import dev.ferry.statemachine.internal.SnapshotCatalog;
import dev.ferry.statemachine.internal.StagedLoad;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executor;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Loads snapshots into a new state beside the live one and verifies them: the node's own latest
 * snapshot at a restart, and installs (as the {@link InstallTarget} an installer works on). A
 * verified install waits here, staged, until the Raft layer swaps it in.
 *
 * <p>For a state machine that reports changes it also keeps the delta base: the newest snapshot
 * with the point-in-time view of the state at its index, which installs edit from.
 *
 * <p>Concurrency: thread-safe. Loads run on the load executor and install threads; the staged state
 * and the base are published through volatile fields.
 */
final class Staging {
  private static final Logger LOG = LoggerFactory.getLogger(Staging.class);

  private final SnapshotCatalog catalog;
  private final StateMachine sm;
  private final ShardLayout layout;
  private final Executor loadPool;
  private final boolean reportsChanges;
  private final String name;
  private final Object baselineLock = new Object();
  private volatile StagedLoad.Base baseline;
  private volatile StagedState staged;
  private volatile LoadReport lastLoad;

  Staging(
      SnapshotCatalog catalog,
      StateMachine sm,
      ShardLayout layout,
      Executor loadPool,
      boolean reportsChanges,
      String name) {
    this.catalog = catalog;
    this.sm = sm;
    this.layout = layout;
    this.loadPool = loadPool;
    this.reportsChanges = reportsChanges;
    this.name = name;
  }

  /** How the last load went, if any. */
  Optional<LoadReport> lastLoad() {
    return Optional.ofNullable(lastLoad);
  }

  /** The installed state waiting to be swapped in, if any. */
  Optional<StagedState> staged() {
    return Optional.ofNullable(staged);
  }

  /** Takes the staged state (to swap it in), leaving none. */
  Optional<StagedState> takeStaged() {
    synchronized (this) {
      StagedState s = staged;
      staged = null;
      return Optional.ofNullable(s);
    }
  }

  /**
   * Loads the node's own latest snapshot on every core. Its chunks were verified when they were
   * stored, so they are not hashed again: the state digest is checked against the manifest. Only if
   * that check fails is the snapshot read again with every chunk hashed, to name a corrupt chunk.
   */
  StagedState loadAtStartup(Manifest m) throws IOException {
    try {
      return stage(new StagedLoad(catalog, m, sm.newLoader(), null, false, null));
    } catch (DigestMismatchException e) {
      LOG.error(
          "{}: snapshot {} does not match its digest; re-reading it with chunk hashes",
          name,
          m.index());
      return stage(new StagedLoad(catalog, m, sm.newLoader(), null, true, null));
    }
  }

  /**
   * After {@code s} was committed into the live state: for a state machine that reports changes, it
   * is the delta base now.
   *
   * @param live the view of the live state right after the commit (apply thread)
   */
  void committed(StagedState s, StateView live) {
    synchronized (baselineLock) {
      baseline = new StagedLoad.Base(s.manifest(), live, s.shards());
    }
  }

  /** Makes {@code b} the delta base unless a newer one is set. */
  void offerBaseline(StagedLoad.Base b) {
    synchronized (baselineLock) {
      StagedLoad.Base now = baseline;
      if (now == null || now.manifest().index() < b.manifest().index()) {
        baseline = b;
      }
    }
  }

  /** The install target: loads into a new state and stages it. */
  InstallTarget target() {
    return new Target();
  }

  private final class Target implements InstallTarget {
    @Override
    public ChunkStore chunkStore() {
      return catalog.store();
    }

    @Override
    public Optional<Manifest> latestManifest() {
      return catalog.latest();
    }

    @Override
    public StagedInstall begin(Manifest manifest) {
      return begin(manifest, null);
    }

    @Override
    public StagedInstall begin(Manifest manifest, Function<ChunkId, byte[]> decoded) {
      // Every chunk was verified when it arrived (or when it was stored, for those held before):
      // chunks are not hashed again, and complete() checks the digest of what was loaded.
      // Chunks the installer still holds decoded are not read from the store again; shards that
      // share runs with the held state are edited from it (only the runs it lacks are read).
      StagedLoad load =
          new StagedLoad(
              catalog, manifest, sm.newLoader(), reportsChanges ? baseline : null, false, decoded);
      return new StagedInstall() {
        @Override
        public void loadShard(int shard) throws IOException {
          load.loadShard(shard);
        }

        @Override
        public void complete() throws IOException {
          long t0 = System.nanoTime();
          StagedState s;
          try {
            s = stage(load);
          } catch (DigestMismatchException e) {
            if (!load.usesBase()) {
              throw e;
            }
            // The held state was not what its snapshot says (a bug): load everything in full.
            LOG.warn(
                "{}: building snapshot {} from the held state gave a wrong digest ({});"
                    + " loading it in full",
                name,
                manifest.index(),
                e.getMessage());
            s = stage(new StagedLoad(catalog, manifest, sm.newLoader(), null, false, decoded));
          }
          catalog.publish(manifest);
          staged = s;
          LoadReport r = lastLoad;
          LOG.info(
              "{}: snapshot {} loaded and verified ({} ms after the transfer): {} shards edited"
                  + " ({} changes), {} reused, {} loaded in full; read {} chunks ({} MB)",
              name,
              manifest.index(),
              (System.nanoTime() - t0) / 1_000_000,
              r.shardsEdited(),
              r.changesApplied(),
              r.shardsReused(),
              r.shardsInFull(),
              r.chunksRead(),
              r.bytesRead() / 1_000_000);
        }

        @Override
        public void abort() {
          load.loader().abort();
        }
      };
    }
  }

  /**
   * Loads what is left of {@code load} on every core and verifies the whole state's digest against
   * the manifest; aborts the loader on any failure.
   */
  private StagedState stage(StagedLoad load) throws IOException {
    Manifest m = load.manifest();
    StateLoader loader = load.loader();
    try {
      checkLayout(m);
      StateDigest records = load.loadAll(loadPool);
      lastLoad = load.stats();
      byte[] table = catalog.readSessions(m);
      SessionTable s = SessionTable.decode(new ByteArrayInputStream(table), Integer.MAX_VALUE);
      StateDigest total = records.plus(s.digest());
      if (!total.equals(m.digest())) {
        throw new DigestMismatchException("snapshot at index " + m.index(), m.digest(), total);
      }
      return new StagedState(m, loader, s, load.shardDigests());
    } catch (IOException | RuntimeException e) {
      loader.abort();
      throw e;
    }
  }

  private void checkLayout(Manifest m) throws IOException {
    List<String> names = layout.names();
    if (m.shards().size() != names.size()) {
      throw new IOException(
          "snapshot "
              + m.index()
              + " has "
              + m.shards().size()
              + " shards, this state machine's layout has "
              + names.size());
    }
    for (int i = 0; i < m.shards().size(); i++) {
      if (!m.shards().get(i).name().equals(names.get(i))) {
        throw new IOException(
            "snapshot "
                + m.index()
                + " was written with another shard layout (shard "
                + i
                + " is "
                + m.shards().get(i).name()
                + ", this layout calls it "
                + names.get(i)
                + ")");
      }
    }
  }
}
