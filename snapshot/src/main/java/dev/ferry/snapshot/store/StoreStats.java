package dev.ferry.snapshot.store;

/**
 * A point-in-time view of a store's size.
 *
 * @param chunks chunks held (quarantined ones excluded): one file each in a file store
 * @param storedBytes total stored size of those chunks (codec tag included)
 * @param quarantined chunks quarantined since the store was opened
 * @param pins leases held now (not released and not expired by the store's clock)
 */
public record StoreStats(long chunks, long storedBytes, long quarantined, long pins) {
  public StoreStats {
    if (chunks < 0 || storedBytes < 0 || quarantined < 0 || pins < 0) {
      throw new IllegalArgumentException(
          "negative count: chunks="
              + chunks
              + " bytes="
              + storedBytes
              + " quarantined="
              + quarantined
              + " pins="
              + pins);
    }
  }
}
