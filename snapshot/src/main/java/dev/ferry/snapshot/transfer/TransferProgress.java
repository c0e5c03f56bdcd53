package dev.ferry.snapshot.transfer;

import java.util.List;
import java.util.Objects;
import java.util.OptionalDouble;

/**
 * A point-in-time view of a {@link ChunkTransfer}, for metrics, progress bars and alerts. Counts
 * are of distinct chunks; bytes are stored (on-the-wire) bytes as the manifest records them.
 *
 * @param chunksWanted distinct chunks the transfer must end up holding
 * @param bytesWanted their stored bytes
 * @param chunksHeldAtStart of those, chunks the local store already held (never fetched)
 * @param bytesHeldAtStart their stored bytes
 * @param chunksStored chunks received, verified and handed out for storing
 * @param bytesStored their stored bytes
 * @param chunksInFlight chunks requested and not yet answered
 * @param bytesInFlight their stored bytes
 * @param failures chunk requests that failed or timed out
 * @param timeouts of those, requests that timed out
 * @param corruptions answers that failed verification
 * @param duplicates answers for chunks already stored (duplicate or late deliveries), ignored
 * @param unsolicited answers for chunks never requested from that source, or from a source lost or
 *     demoted, ignored
 * @param missing answers that a source does not hold a chunk
 * @param sources per-source figures, in the order the sources were first offered
 */
public record TransferProgress(
    int chunksWanted,
    long bytesWanted,
    int chunksHeldAtStart,
    long bytesHeldAtStart,
    int chunksStored,
    long bytesStored,
    int chunksInFlight,
    long bytesInFlight,
    long failures,
    long timeouts,
    long corruptions,
    long duplicates,
    long unsolicited,
    long missing,
    List<SourceProgress> sources) {

  public TransferProgress {
    sources = List.copyOf(sources);
  }

  /** Chunks held now: held at start plus stored. */
  public int chunksDone() {
    return chunksHeldAtStart + chunksStored;
  }

  /** Stored bytes held now: held at start plus stored. */
  public long bytesDone() {
    return bytesHeldAtStart + bytesStored;
  }

  /** Chunks still to be stored. */
  public int chunksRemaining() {
    return chunksWanted - chunksDone();
  }

  /** Figures of one source. */
  public record SourceProgress(
      String id,
      int tier,
      Status status,
      OptionalDouble bytesPerSecond,
      int chunksInFlight,
      long bytesInFlight,
      long chunksStored,
      long bytesStored,
      long failures,
      long timeouts,
      long corruptions) {

    public SourceProgress {
      Objects.requireNonNull(id, "id");
      Objects.requireNonNull(status, "status");
      Objects.requireNonNull(bytesPerSecond, "bytesPerSecond");
    }

    /** Whether a source gets requests. */
    public enum Status {
      /** Gets requests. */
      ACTIVE,
      /** Gets no new requests until its failure backoff ends. */
      BACKING_OFF,
      /** Reported lost by the driver; may be offered again. */
      LOST,
      /** Delivered corrupt chunks; never used again by this transfer. */
      DEMOTED
    }
  }
}
