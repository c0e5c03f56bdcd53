package dev.ferry.snapshot.transfer;

/**
 * Bytes a {@link ChunkTransfer} may request beyond its own per-source windows: a budget shared with
 * other transfers (a node's receive budget). The transfer asks it for each chunk request it is
 * about to make, before the request goes out; a chunk it refuses waits, and so do the chunks after
 * it, until the driver says bytes were freed ({@link ChunkTransfer#onBudgetFreed}). The transfer
 * never gives bytes back: its driver releases a request's bytes when the request ends (the chunk
 * was written, failed, or the request was abandoned), since only the driver sees that.
 *
 * <p>Called on the transfer's owning thread, from inside its event methods; must not block.
 */
@FunctionalInterface
public interface RequestBudget {
  /** A budget that grants everything: a transfer bounded only by its per-source windows. */
  RequestBudget UNLIMITED = bytes -> true;

  /**
   * Reserves {@code bytes} (a chunk's stored size) for one request about to be made.
   *
   * @return true if reserved (the request goes out), false if the chunk must wait
   */
  boolean tryReserve(long bytes);
}
