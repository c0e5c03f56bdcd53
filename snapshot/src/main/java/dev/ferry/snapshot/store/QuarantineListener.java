package dev.ferry.snapshot.store;

import dev.ferry.snapshot.ChunkId;

/**
 * Told when a store quarantines a chunk that failed verification. Called on the thread that found
 * the corruption (a reader's), after the chunk has left the store; must not block for long and must
 * not call back into the store's write methods. Exceptions it throws are logged and ignored.
 */
@FunctionalInterface
public interface QuarantineListener {
  /** The listener that does nothing (corruption is still logged and counted). */
  QuarantineListener NONE = (id, reason) -> {};

  /**
   * @param id the chunk that failed verification and is no longer held
   * @param reason why it failed
   */
  void quarantined(ChunkId id, String reason);
}
