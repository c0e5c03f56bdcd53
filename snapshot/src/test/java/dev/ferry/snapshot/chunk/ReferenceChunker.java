package dev.ferry.snapshot.chunk;

import java.util.ArrayList;
import java.util.List;

/**
 * The cut rule of {@link Chunker}'s Javadoc, implemented as literally as possible: whole input in
 * memory, one byte at a time, masks computed from their definition. The model the fast chunker is
 * checked against.
 */
final class ReferenceChunker {
  private ReferenceChunker() {}

  /** The end offset of every chunk of {@code data}. */
  static List<Long> ends(byte[] data, ChunkerConfig config) {
    int bits = Integer.numberOfTrailingZeros(config.avg());
    long strict = onesEndingAtBit62(bits + 2);
    long loose = onesEndingAtBit62(bits - 2);
    List<Long> ends = new ArrayList<>();
    int start = 0;
    while (start < data.length) {
      int end = data.length;
      long h = 0;
      for (int r = 0; start + r < data.length; r++) {
        if (r >= config.min()) {
          h = (h << 1) + GearTable.GEAR[data[start + r] & 0xff];
          long mask = r < config.avg() ? strict : loose;
          if ((h & mask) == 0) {
            end = start + r + 1;
            break;
          }
        }
        if (r == config.max() - 1) {
          end = start + r + 1;
          break;
        }
      }
      ends.add((long) end);
      start = end;
    }
    return ends;
  }

  private static long onesEndingAtBit62(int n) {
    long mask = 0;
    for (int bit = 62; bit > 62 - n; bit--) {
      mask |= 1L << bit;
    }
    return mask;
  }
}
