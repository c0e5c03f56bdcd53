package dev.ferry.bench;

import dev.ferry.snapshot.chunk.Chunker;
import dev.ferry.snapshot.chunk.ChunkerConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.SplittableRandom;

/**
 * The benchmark input: seeded, semi-compressible, text-like bytes shaped like a serialized
 * key-value state (one JSON-ish record per line: a key, a few words from a skewed vocabulary,
 * numbers and a short random token). zstd compresses it a few times over, and it has no long
 * repeats, so chunking sees realistic content. The same seed and size always give the same bytes.
 */
public final class BenchData {
  /** The seed every benchmark uses. */
  public static final long SEED = 0x5EED_F0E7_7C0DEL;

  private static final byte[] ALPHABET =
      "abcdefghijklmnopqrstuvwxyz".getBytes(StandardCharsets.US_ASCII);
  private static final byte[] TOKEN =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
          .getBytes(StandardCharsets.US_ASCII);

  private BenchData() {}

  /** {@code size} bytes of text-like data from {@code seed}. */
  public static byte[] textLike(int size, long seed) {
    SplittableRandom random = new SplittableRandom(seed);
    byte[][] words = new byte[4096][];
    for (int i = 0; i < words.length; i++) {
      byte[] w = new byte[2 + random.nextInt(9)];
      for (int j = 0; j < w.length; j++) {
        w[j] = ALPHABET[random.nextInt(ALPHABET.length)];
      }
      words[i] = w;
    }
    byte[] out = new byte[size];
    int pos = 0;
    long key = 0;
    byte[] line = new byte[512];
    while (pos < size) {
      int n = 0;
      key += 1 + random.nextInt(16);
      n = put(line, n, "{\"key\":\"user:");
      n = putLong(line, n, key);
      n = put(line, n, "\",\"name\":\"");
      int count = 1 + random.nextInt(3);
      for (int i = 0; i < count; i++) {
        n = putWord(line, n, words, random);
        line[n++] = ' ';
      }
      n = put(line, n, "\",\"visits\":");
      n = putLong(line, n, random.nextInt(100_000));
      n = put(line, n, ",\"score\":0.");
      n = putLong(line, n, 1000 + random.nextInt(9000));
      n = put(line, n, ",\"note\":\"");
      count = random.nextInt(8);
      for (int i = 0; i < count; i++) {
        n = putWord(line, n, words, random);
        line[n++] = ' ';
      }
      n = put(line, n, "\",\"token\":\"");
      for (int i = 0; i < 12; i++) {
        line[n++] = TOKEN[random.nextInt(TOKEN.length)];
      }
      n = put(line, n, "\"}\n");
      int take = Math.min(n, size - pos);
      System.arraycopy(line, 0, out, pos, take);
      pos += take;
    }
    return out;
  }

  /** Skewed choice: low indexes are far more frequent, as words in text are. */
  private static int putWord(byte[] line, int n, byte[][] words, SplittableRandom random) {
    double u = random.nextDouble();
    byte[] w = words[(int) (words.length * u * u * u)];
    System.arraycopy(w, 0, line, n, w.length);
    return n + w.length;
  }

  private static int put(byte[] line, int n, String s) {
    for (int i = 0; i < s.length(); i++) {
      line[n++] = (byte) s.charAt(i);
    }
    return n;
  }

  private static int putLong(byte[] line, int n, long v) {
    byte[] digits = Long.toString(v).getBytes(StandardCharsets.US_ASCII);
    System.arraycopy(digits, 0, line, n, digits.length);
    return n + digits.length;
  }

  /**
   * The chunk boundaries of {@code data} under {@code config}, as alternating (offset, length)
   * pairs.
   */
  public static int[] chunkBounds(byte[] data, ChunkerConfig config) {
    int[][] out = {new int[64]};
    int[] count = {0};
    try (Chunker chunker =
        new Chunker(
            config,
            (offset, bytes, from, length) -> {
              if (count[0] + 2 > out[0].length) {
                out[0] = Arrays.copyOf(out[0], out[0].length * 2);
              }
              out[0][count[0]++] = Math.toIntExact(offset);
              out[0][count[0]++] = length;
            })) {
      chunker.write(data, 0, data.length);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return Arrays.copyOf(out[0], count[0]);
  }
}
