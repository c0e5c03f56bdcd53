package dev.ferry.snapshot.chunk;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import dev.ferry.snapshot.ChunkId;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * A sink that records each chunk's offset, length and id, and checks as it goes that the chunks are
 * contiguous and that their bytes are the input's bytes at their offsets.
 */
final class ChunkRecorder implements ChunkSink {
  /** One recorded chunk. */
  record Cut(long offset, int length, ChunkId id) {}

  private final byte[] input;
  private final List<Cut> cuts = new ArrayList<>();
  private long next;

  /**
   * @param input the whole stream, to compare chunk bytes against; or null to skip the check
   */
  ChunkRecorder(byte[] input) {
    this.input = input;
  }

  @Override
  public void accept(Chunk chunk) {
    assertEquals(next, chunk.offset(), "chunks must be contiguous");
    if (input != null) {
      int from = Math.toIntExact(chunk.offset());
      assertArrayEquals(
          Arrays.copyOfRange(input, from, from + chunk.length()),
          chunk.copyBytes(),
          "chunk bytes at " + from);
    }
    assertEquals(
        ChunkId.of(chunk.array(), chunk.arrayOffset(), chunk.length()), chunk.id(), "chunk id");
    cuts.add(new Cut(chunk.offset(), chunk.length(), chunk.id()));
    next += chunk.length();
  }

  List<Cut> cuts() {
    return cuts;
  }

  /** The end offsets of the chunks. */
  List<Long> ends() {
    return cuts.stream().map(c -> c.offset() + c.length()).toList();
  }

  long total() {
    return next;
  }
}
