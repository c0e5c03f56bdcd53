package dev.ferry.statemachine.replica;

import dev.ferry.snapshot.format.Manifest;
import java.util.concurrent.CompletableFuture;

/**
 * Brings a follower that fell behind the leader's log up to a snapshot baseline. The server
 * assembly injects the real one (multi-source chunk shipping); without it, {@link #unavailable()}
 * fails every install with a clear message.
 *
 * <p>Called from a Ratis thread: implementations must return at once and do the work elsewhere. The
 * returned future completes with the manifest that was installed (through {@link InstallTarget}) or
 * fails; Ratis then retries with a new notification.
 */
public interface Installer {

  /**
   * Starts an install.
   *
   * @param request what Ratis needs: a baseline at or after {@code request.firstAvailableIndex() -
   *     1}
   * @param target the local state machine to install into
   */
  CompletableFuture<Manifest> install(InstallRequest request, InstallTarget target);

  /**
   * Told that a state this installer installed is live: Ratis swapped it in, {@code sinceInstalled}
   * after the install's future completed (the last step of an install, and the one Ratis decides
   * when to take). Called once per install that went live, on the thread that swapped it in (a
   * Ratis thread): must return at once. The default does nothing.
   *
   * @param manifest the installed snapshot
   * @param sinceInstalled from the install's completion to the swap
   */
  default void swappedIn(Manifest manifest, java.time.Duration sinceInstalled) {}

  /**
   * Fetches chunks this node lost to corruption (quarantined by its store) from peers that hold the
   * same chunks, and stores them in {@code store} after verifying each against its id. Called by
   * the replica on its background thread (and at startup, before the first load); must not block.
   * The default fails with {@link UnsupportedOperationException}: without snapshot shipping there
   * is nowhere to fetch from (a restart then fails on corrupt chunks rather than wait for ever).
   *
   * @param chunks the chunks to fetch (at most a few thousand; their sizes come from the local
   *     manifests that name them)
   * @param store where to put them
   * @return completes when every chunk is stored; fails with an {@link java.io.IOException} naming
   *     the chunks no reachable peer could supply (those that were stored stay stored), or with
   *     {@link UnsupportedOperationException} if this installer cannot fetch chunks at all
   */
  default CompletableFuture<Void> repair(
      java.util.Collection<dev.ferry.snapshot.ChunkRef> chunks,
      dev.ferry.snapshot.store.ChunkStore store) {
    return CompletableFuture.failedFuture(
        new UnsupportedOperationException(
            chunks.size() + " corrupt chunk(s) cannot be re-fetched: no snapshot shipping"));
  }

  /**
   * Told that the replica applied the first log entry after a state this installer installed: the
   * leader is replaying its log to this node, so the log after the snapshot is no longer needed on
   * the voters' side for this install (a log-retention hold may be released). Called once per
   * install that went live, from a background thread of the replica: must return at once. The
   * default does nothing.
   *
   * @param manifest the installed snapshot
   */
  default void replaying(Manifest manifest) {}

  /** An installer that always fails: snapshot shipping is not configured. */
  static Installer unavailable() {
    return (request, target) -> {
      CompletableFuture<Manifest> f = new CompletableFuture<>();
      f.completeExceptionally(
          new IllegalStateException(
              "this follower needs a snapshot at index >= "
                  + (request.firstAvailableIndex() - 1)
                  + " from leader "
                  + request.leaderId()
                  + " but no snapshot installer is configured"));
      return f;
    };
  }

  /**
   * What Ratis asked for.
   *
   * @param firstAvailableIndex the first index still in the leader's log; a baseline at {@code >=
   *     firstAvailableIndex - 1} lets Ratis replay the rest
   * @param firstAvailableTerm the term of that entry
   * @param leaderId the leader's peer id (a source of last resort)
   */
  record InstallRequest(long firstAvailableIndex, long firstAvailableTerm, String leaderId) {}
}
