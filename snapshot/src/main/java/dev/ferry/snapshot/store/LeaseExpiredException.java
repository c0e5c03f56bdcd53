package dev.ferry.snapshot.store;

/**
 * A lease cannot be renewed because it expired or was released; the chunks it pinned may already be
 * gone. Pin the manifest again (if still retained) and re-check what is held.
 */
public final class LeaseExpiredException extends IllegalStateException {
  private static final long serialVersionUID = 1L;

  private final long leaseId;

  public LeaseExpiredException(long leaseId, String message) {
    super("lease " + leaseId + ": " + message);
    this.leaseId = leaseId;
  }

  /** The lease that could not be renewed. */
  public long leaseId() {
    return leaseId;
  }
}
