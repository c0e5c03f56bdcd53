package dev.ferry.shipping.install;

import dev.ferry.statemachine.RetentionHold;
import java.util.concurrent.CompletableFuture;

/**
 * This node's log-retention hold on the voters, as the installer places, renews and releases it:
 * each call proposes a hold record ({@code CommandCodec.holdRenew} / {@code holdRelease}) through
 * the Raft leader. The server assembly supplies it; {@link #none()} places nothing.
 *
 * <p>Called from an install's driver thread: implementations return at once and complete the future
 * later (from any thread). Thread-safe.
 */
public interface LogHold {

  /**
   * Places this node's hold at {@code floor}, or renews it if it stands there.
   *
   * @return the hold as the replicas recorded it once the record was applied; fails if it could not
   *     be committed
   */
  CompletableFuture<RetentionHold> renew(long floor);

  /** Releases this node's hold, if it has one; completes once the release was applied. */
  CompletableFuture<Void> release();

  /** No hold: {@link #renew} fails, {@link #release} does nothing; installs run without one. */
  static LogHold none() {
    return new LogHold() {
      @Override
      public CompletableFuture<RetentionHold> renew(long floor) {
        return CompletableFuture.failedFuture(
            new UnsupportedOperationException("no log-retention hold configured"));
      }

      @Override
      public CompletableFuture<Void> release() {
        return CompletableFuture.completedFuture(null);
      }
    };
  }
}
