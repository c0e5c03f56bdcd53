package dev.ferry.snapshot.format;

import dev.ferry.snapshot.ChunkRef;
import java.util.List;

/**
 * One layer of a shard: an ordered list of chunks whose concatenation is one serialized run.
 * Layered snapshots reuse the previous snapshot's runs unchanged and add a run holding only what
 * changed since.
 *
 * @param chunks the chunks in order; may be empty (an empty run)
 */
public record Run(List<ChunkRef> chunks) {
  public Run {
    chunks = List.copyOf(chunks);
  }

  /** Total uncompressed bytes of this run. */
  public long rawBytes() {
    long sum = 0;
    for (ChunkRef c : chunks) {
      sum += c.rawSize();
    }
    return sum;
  }
}
