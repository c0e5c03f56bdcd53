package dev.ferry.snapshot.store;

/**
 * A point-in-time view of a store's size.
 *
 * @param chunks chunks held (quarantined ones excluded)
 * @param storedBytes total stored size of those chunks (codec tag included)
 * @param quarantined chunks quarantined since the store was opened
 */
public record StoreStats(long chunks, long storedBytes, long quarantined) {
  public StoreStats {
    if (chunks < 0 || storedBytes < 0 || quarantined < 0) {
      throw new IllegalArgumentException(
          "negative count: chunks="
              + chunks
              + " bytes="
              + storedBytes
              + " quarantined="
              + quarantined);
    }
  }
}
