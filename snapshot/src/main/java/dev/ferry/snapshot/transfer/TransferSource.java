package dev.ferry.snapshot.transfer;

import java.util.Objects;
import java.util.OptionalDouble;

/**
 * A source a {@link ChunkTransfer} may fetch from, as the driver offers it.
 *
 * @param id a stable name (for example the peer id, or {@code ChunkTransport.sourceId()})
 * @param tier preference class, lower first: a source of a higher tier gets a chunk only when no
 *     usable source of a lower tier is left for it (so nearest peers come first and the leader,
 *     given the highest tier, last); {@code >= 0}
 * @param bytesPerSecond an initial throughput estimate, or empty when unknown (then the source
 *     starts with an equal share, which adapts as its chunks arrive)
 */
public record TransferSource(String id, int tier, OptionalDouble bytesPerSecond) {

  public TransferSource {
    Objects.requireNonNull(id, "id");
    if (id.isEmpty()) {
      throw new IllegalArgumentException("source id is empty");
    }
    if (tier < 0) {
      throw new IllegalArgumentException("tier < 0: " + tier);
    }
    Objects.requireNonNull(bytesPerSecond, "bytesPerSecond");
    if (bytesPerSecond.isPresent()) {
      ChunkTransfer.requireRate(bytesPerSecond.getAsDouble());
    }
  }

  /** A tier-0 source of unknown throughput. */
  public static TransferSource of(String id) {
    return new TransferSource(id, 0, OptionalDouble.empty());
  }

  /** A source of unknown throughput in the given tier. */
  public static TransferSource of(String id, int tier) {
    return new TransferSource(id, tier, OptionalDouble.empty());
  }

  /** A tier-0 source with an initial throughput estimate. */
  public static TransferSource withThroughput(String id, double bytesPerSecond) {
    return new TransferSource(id, 0, OptionalDouble.of(bytesPerSecond));
  }
}
