package dev.ferry.snapshot.store;

import java.time.Instant;
import java.util.Objects;

/**
 * A time-limited pin on a retained manifest's chunks (see {@link ChunkStore#pin}).
 *
 * @param id the lease's number, unique within its store (also across restarts); renew and unpin by
 *     it, for example on behalf of a remote peer
 * @param manifestKey the key whose chunk set is pinned
 * @param expiresAt the lease is live while the store's clock reads strictly before this instant
 */
public record Lease(long id, String manifestKey, Instant expiresAt) {
  public Lease {
    Objects.requireNonNull(manifestKey, "manifestKey");
    Objects.requireNonNull(expiresAt, "expiresAt");
  }

  /** True when the lease is live at {@code now}. */
  public boolean isLiveAt(Instant now) {
    return now.isBefore(expiresAt);
  }
}
