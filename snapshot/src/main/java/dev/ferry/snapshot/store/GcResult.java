package dev.ferry.snapshot.store;

/**
 * What one {@link ChunkStore#collectGarbage()} did.
 *
 * @param chunksDeleted chunks deleted because nothing referenced them
 * @param bytesFreed stored bytes of those chunks
 * @param chunksKept chunks still held afterwards
 * @param leasesExpired expired leases forgotten
 */
public record GcResult(int chunksDeleted, long bytesFreed, int chunksKept, int leasesExpired) {
  public GcResult {
    if (chunksDeleted < 0 || bytesFreed < 0 || chunksKept < 0 || leasesExpired < 0) {
      throw new IllegalArgumentException(
          "negative count: deleted="
              + chunksDeleted
              + " freed="
              + bytesFreed
              + " kept="
              + chunksKept
              + " expired="
              + leasesExpired);
    }
  }
}
