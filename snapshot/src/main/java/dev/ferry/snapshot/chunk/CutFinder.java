package dev.ferry.snapshot.chunk;

/**
 * The boundary-finding core of the chunker: the cut rule stated in {@link Chunker}, applied to a
 * stream presented in pieces. It holds only the position within the current chunk and the gear
 * hash; it never copies or keeps bytes.
 *
 * <p>Not thread-safe; owned by one chunker.
 */
final class CutFinder {
  private final int min;
  private final int avg;
  private final int max;
  private final long strictMask;
  private final long looseMask;

  /** Bytes of the current chunk consumed so far. */
  private int position;

  /** The gear hash over the current chunk's bytes from {@code min} on. */
  private long hash;

  CutFinder(ChunkerConfig config) {
    this.min = config.min();
    this.avg = config.avg();
    this.max = config.max();
    this.strictMask = mask(config.avgBits() + 2);
    this.looseMask = mask(config.avgBits() - 2);
  }

  /**
   * Consumes {@code b[from, to)} up to the end of the current chunk. Returns the index just past
   * the chunk's last byte if the chunk ends within the range (the next call starts a new chunk), or
   * -1 if it does not (the whole range was consumed).
   */
  int next(byte[] b, int from, int to) {
    int i = from;
    while (i < to) {
      if (position < min) {
        int skip = Math.min(min - position, to - i);
        position += skip;
        i += skip;
        continue;
      }
      boolean strict = position < avg;
      int room = (strict ? avg : max) - position;
      int stop = i + Math.min(room, to - i);
      int cut = scan(b, i, stop, strict ? strictMask : looseMask);
      if (cut >= 0 || (!strict && stop - i == room)) {
        position = 0;
        hash = 0;
        return cut >= 0 ? cut : stop;
      }
      position += stop - i;
      i = stop;
    }
    return -1;
  }

  /** Bytes of the current (uncut) chunk consumed so far. */
  int position() {
    return position;
  }

  /**
   * Advances the hash over {@code b[from, to)} and returns the index just past the first byte after
   * which {@code (hash & mask) == 0}, or -1 if there is none (then {@link #hash} holds the state
   * after {@code b[to-1]}). Two bytes per step: {@code h} holds the hash shifted left by one after
   * the first byte of a pair, so the first test uses {@code mask << 1}; bit 63 is never in a mask,
   * so nothing is lost.
   */
  private int scan(byte[] b, int from, int to, long mask) {
    final long[] gear = GearTable.GEAR;
    final long[] gearShifted = GearTable.GEAR_SHIFTED;
    final long shiftedMask = mask << 1;
    long h = hash;
    int i = from;
    for (; i < to - 1; i += 2) {
      h = (h << 2) + gearShifted[b[i] & 0xff];
      if ((h & shiftedMask) == 0) {
        return i + 1;
      }
      h += gear[b[i + 1] & 0xff];
      if ((h & mask) == 0) {
        return i + 2;
      }
    }
    if (i < to) {
      h = (h << 1) + gear[b[i] & 0xff];
      if ((h & mask) == 0) {
        return i + 1;
      }
    }
    hash = h;
    return -1;
  }

  /** Ones in bits {@code 63-n .. 62}. */
  static long mask(int n) {
    return ((1L << n) - 1) << (63 - n);
  }
}
