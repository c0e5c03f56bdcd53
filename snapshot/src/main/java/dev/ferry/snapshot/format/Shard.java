package dev.ferry.snapshot.format;

import dev.ferry.snapshot.ChunkRef;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * A part of the state that can be assembled and loaded on its own (for example a key range). Its
 * content is an ordered list of runs, oldest first; a reader applies them in order, later runs
 * overriding earlier ones.
 *
 * @param name a stable name chosen by the state machine (at most {@link #MAX_NAME_BYTES} UTF-8
 *     bytes, no unpaired surrogates), identical on every replica
 * @param runs the runs, oldest first
 */
public record Shard(String name, List<Run> runs) {
  /** Longest shard name, in UTF-8 bytes. */
  public static final int MAX_NAME_BYTES = 256;

  public Shard {
    Objects.requireNonNull(name, "name");
    if (Utf8.encode(name, "shard name").length > MAX_NAME_BYTES) {
      throw new IllegalArgumentException(
          "shard name longer than " + MAX_NAME_BYTES + " bytes: " + Utf8.quote(name));
    }
    runs = List.copyOf(runs);
  }

  /** A shard of one run. */
  public static Shard ofChunks(String name, List<ChunkRef> chunks) {
    return new Shard(name, List.of(new Run(chunks)));
  }

  /** Every chunk of every run, in order. */
  public List<ChunkRef> chunks() {
    List<ChunkRef> all = new ArrayList<>();
    for (Run r : runs) {
      all.addAll(r.chunks());
    }
    return all;
  }
}
