package dev.ferry.snapshot.format;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.Timeout;

/**
 * Hostile input for {@link ManifestCodec#decode}: random bytes, and mutations of valid encodings.
 * Whatever the input, decoding either throws {@link ManifestFormatException} or returns a manifest
 * that re-encodes to exactly the input (the format is canonical); never another exception, never an
 * {@link OutOfMemoryError}, and quickly.
 *
 * <p>A mutation of a valid encoding almost always breaks the root hash, which the decoder checks
 * before parsing the body. So most inputs are also tried with the root (and the header's body
 * length) recomputed after mutation, which drives them past that check into the body parser's
 * bounds checks: that is where a bug would hide.
 *
 * <p>All randomness is seeded; a failure message names the seed and mutation to replay.
 */
@Timeout(value = 60, unit = TimeUnit.SECONDS)
class ManifestCodecFuzzTest {
  /** Values written over length, count and size fields. */
  private static final int[] HOSTILE_INTS = {
    0x7fffffff, 0xffffffff, 0x80000000, 0x00000000, 0x00000001, 0x0000ffff, 0x00010001, 40
  };

  private static final int[] HOSTILE_SHORTS = {0xffff, 0x8000, 0x0000, 0x0001, 0x0101, 0x7fff};

  /** Any single decode slower than this fails the test. */
  private static final long SLOW_NANOS = TimeUnit.SECONDS.toNanos(1);

  private final Outcomes outcomes = new Outcomes();

  @AfterEach
  void report(TestInfo test) {
    System.out.printf(
        Locale.ROOT,
        "%s: %d inputs, %d accepted, %d rejected, slowest %.2f ms; rejections by kind: %s%n",
        test.getDisplayName(),
        outcomes.accepted + outcomes.rejected,
        outcomes.accepted,
        outcomes.rejected,
        outcomes.slowestNanos / 1e6,
        outcomes.kinds);
  }

  @Test
  void randomBytesOfManySizes() {
    Random rnd = new Random(1);
    for (int size = 0; size <= 256; size++) {
      for (int i = 0; i < 8; i++) {
        byte[] input = randomBytes(rnd, size);
        outcomes.decode(input, () -> "random bytes, seed 1, size " + input.length);
      }
    }
    for (int size : new int[] {1000, 4096, 65_536, 1 << 20}) {
      for (int i = 0; i < 4; i++) {
        byte[] input = randomBytes(rnd, size);
        outcomes.decode(input, () -> "random bytes, seed 1, size " + input.length);
      }
    }
    assertEquals(0, outcomes.accepted);
  }

  @Test
  void randomBodiesBehindAValidHeaderAndRoot() {
    for (long seed = 0; seed < 2000; seed++) {
      Random rnd = RandomManifests.seeded(seed);
      byte[] body = rnd.nextBoolean() ? randomBytes(rnd, rnd.nextInt(600)) : tokens(rnd);
      byte[] input = sealed(body);
      long s = seed;
      outcomes.decode(input, () -> "random body, seed " + s);
    }
    assertTrue(outcomes.kinds.keySet().stream().noneMatch(k -> k.contains("root hash")));
    assertReachedTheParser();
  }

  @Test
  void largestRandomBodyIsRefusedQuickly() {
    Random rnd = new Random(3);
    byte[] body = randomBytes(rnd, ManifestCodec.MAX_BYTES - ManifestCodec.HEADER_BYTES - 32);
    ByteBuffer.wrap(body).putLong(0, 1).putLong(8, 1).putInt(16, 1);
    outcomes.decode(sealed(body), () -> "64 MiB random body, seed 3");
    assertEquals(1, outcomes.rejected);
  }

  @Test
  void mutationsOfValidEncodings() {
    for (long seed = 0; seed < 400; seed++) {
      Random rnd = RandomManifests.seeded(seed);
      byte[] valid = ManifestCodec.encode(RandomManifests.random(rnd));
      for (Mutation mutation : Mutation.values()) {
        for (int i = 0; i < 6; i++) {
          byte[] mutated = mutation.apply(valid, rnd);
          long s = seed;
          int n = i;
          Supplier<String> what = () -> mutation + " #" + n + " of manifest seed " + s;
          boolean accepted = outcomes.decode(mutated, what);
          if (accepted) {
            assertArrayEquals(valid, mutated, () -> "a mutation kept its root: " + what.get());
          }
          outcomes.decode(RawManifest.withRoot(mutated), () -> what.get() + ", root recomputed");
          outcomes.decode(
              RawManifest.withLengthAndRoot(mutated),
              () -> what.get() + ", body length and root recomputed");
        }
      }
    }
    assertReachedTheParser();
    for (String kind :
        Set.of(
            "needs N bytes but only N remain",
            "exceeds the limit",
            "out of range",
            "is not well-formed UTF",
            "unread bytes at the end of the body",
            "does not follow",
            "trailing bytes after the root hash",
            "truncated",
            "unknown magic",
            "unsupported format version",
            "is negative")) {
      assertTrue(
          outcomes.kinds.keySet().stream().anyMatch(k -> k.contains(kind)),
          () -> "no mutation reached \"" + kind + "\": " + outcomes.kinds);
    }
  }

  @Test
  void everyFieldOverwrittenWithHostileValues() {
    for (long seed = 0; seed < 25; seed++) {
      Random rnd = RandomManifests.seeded(1000 + seed);
      byte[] valid = ManifestCodec.encode(RandomManifests.random(rnd, 3, 2, 3));
      int rootAt = valid.length - 32;
      for (int at = 0; at < rootAt; at++) {
        int pos = at;
        long s = seed;
        for (int value : HOSTILE_INTS) {
          if (at + 4 <= rootAt) {
            byte[] mutated = valid.clone();
            ByteBuffer.wrap(mutated).putInt(at, value);
            outcomes.decode(
                RawManifest.withRoot(mutated),
                () -> "u32 0x" + Integer.toHexString(value) + " at " + pos + ", seed " + s);
          }
        }
        for (int value : HOSTILE_SHORTS) {
          if (at + 2 <= rootAt) {
            byte[] mutated = valid.clone();
            ByteBuffer.wrap(mutated).putShort(at, (short) value);
            outcomes.decode(
                RawManifest.withRoot(mutated),
                () -> "u16 0x" + Integer.toHexString(value) + " at " + pos + ", seed " + s);
          }
        }
        for (long value : new long[] {Long.MIN_VALUE, -1L}) {
          if (at + 8 <= rootAt) {
            byte[] mutated = valid.clone();
            ByteBuffer.wrap(mutated).putLong(at, value);
            outcomes.decode(
                RawManifest.withRoot(mutated), () -> "i64 " + value + " at " + pos + ", seed " + s);
          }
        }
      }
    }
    assertReachedTheParser();
  }

  // ---- mutations ----

  private enum Mutation {
    FLIP_BITS {
      @Override
      byte[] apply(byte[] in, Random rnd) {
        byte[] out = in.clone();
        for (int i = 1 + rnd.nextInt(3); i > 0; i--) {
          out[rnd.nextInt(out.length)] ^= (byte) (1 << rnd.nextInt(8));
        }
        return out;
      }
    },
    SET_BYTE {
      @Override
      byte[] apply(byte[] in, Random rnd) {
        byte[] out = in.clone();
        byte[] values = {0, (byte) 0xff, 0x7f, (byte) 0x80, (byte) rnd.nextInt()};
        out[rnd.nextInt(out.length)] = values[rnd.nextInt(values.length)];
        return out;
      }
    },
    TRUNCATE {
      @Override
      byte[] apply(byte[] in, Random rnd) {
        return Arrays.copyOf(in, rnd.nextInt(in.length));
      }
    },
    INSERT {
      @Override
      byte[] apply(byte[] in, Random rnd) {
        byte[] extra = new byte[1 + rnd.nextInt(64)];
        switch (rnd.nextInt(3)) {
          case 0 -> rnd.nextBytes(extra);
          case 1 -> Arrays.fill(extra, (byte) 0xff);
          default -> {}
        }
        return splice(in, rnd.nextInt(in.length + 1), 0, extra);
      }
    },
    DELETE {
      @Override
      byte[] apply(byte[] in, Random rnd) {
        int at = rnd.nextInt(in.length);
        return splice(in, at, 1 + rnd.nextInt(Math.min(64, in.length - at)), new byte[0]);
      }
    },
    OVERWRITE_LENGTH {
      @Override
      byte[] apply(byte[] in, Random rnd) {
        byte[] out = in.clone();
        if (rnd.nextBoolean()) {
          ByteBuffer.wrap(out)
              .putInt(rnd.nextInt(in.length - 3), HOSTILE_INTS[rnd.nextInt(HOSTILE_INTS.length)]);
        } else {
          ByteBuffer.wrap(out)
              .putShort(
                  rnd.nextInt(in.length - 1),
                  (short) HOSTILE_SHORTS[rnd.nextInt(HOSTILE_SHORTS.length)]);
        }
        return out;
      }
    },
    DUPLICATE_REGION {
      @Override
      byte[] apply(byte[] in, Random rnd) {
        int at = rnd.nextInt(in.length);
        int n = 1 + rnd.nextInt(Math.min(200, in.length - at));
        int to = rnd.nextBoolean() ? at + n : rnd.nextInt(in.length + 1);
        return splice(in, to, 0, Arrays.copyOfRange(in, at, at + n));
      }
    },
    SWAP_REGIONS {
      @Override
      byte[] apply(byte[] in, Random rnd) {
        int n = 1 + rnd.nextInt(Math.max(1, Math.min(48, in.length / 2)));
        int a = rnd.nextInt(in.length - 2 * n + 1);
        int b = a + n + rnd.nextInt(in.length - a - 2 * n + 1);
        byte[] out = in.clone();
        System.arraycopy(in, a, out, b, n);
        System.arraycopy(in, b, out, a, n);
        return out;
      }
    };

    abstract byte[] apply(byte[] in, Random rnd);
  }

  /** {@code in} with {@code remove} bytes at {@code at} replaced by {@code insert}. */
  private static byte[] splice(byte[] in, int at, int remove, byte[] insert) {
    byte[] out = new byte[in.length - remove + insert.length];
    System.arraycopy(in, 0, out, 0, at);
    System.arraycopy(insert, 0, out, at, insert.length);
    System.arraycopy(in, at + remove, out, at + insert.length, in.length - at - remove);
    return out;
  }

  // ---- inputs ----

  private static byte[] randomBytes(Random rnd, int size) {
    byte[] b = new byte[size];
    rnd.nextBytes(b);
    return b;
  }

  /** A body of plausible-looking fields: small counts and lengths, ids, text. */
  private static byte[] tokens(Random rnd) {
    ByteBuffer out = ByteBuffer.allocate(4096);
    out.putLong(rnd.nextInt(10) == 0 ? -rnd.nextInt(5) : rnd.nextInt(100));
    out.putLong(rnd.nextInt(10) == 0 ? -rnd.nextInt(5) : rnd.nextInt(100));
    out.putInt(rnd.nextInt(4));
    while (out.remaining() > 64 && rnd.nextInt(40) != 0) {
      switch (rnd.nextInt(6)) {
        case 0 -> out.putInt(rnd.nextInt(4));
        case 1 -> out.putShort((short) rnd.nextInt(8));
        case 2 -> out.put(randomBytes(rnd, 32));
        case 3 -> out.putInt(rnd.nextInt(1 << 24) + (rnd.nextInt(4) == 0 ? 1 << 24 : 0));
        case 4 -> out.put(RandomManifests.string(rnd, 3).getBytes(StandardCharsets.UTF_8));
        default -> out.put((byte) rnd.nextInt());
      }
    }
    return Arrays.copyOf(out.array(), out.position());
  }

  private static byte[] sealed(byte[] body) {
    ByteBuffer out = ByteBuffer.allocate(ManifestCodec.HEADER_BYTES + body.length + 32);
    out.putInt(ManifestCodec.MAGIC).putShort((short) ManifestCodec.VERSION).putInt(body.length);
    out.put(body);
    return RawManifest.withRoot(out.array());
  }

  private void assertReachedTheParser() {
    long parserRejections =
        outcomes.kinds.entrySet().stream()
            .filter(e -> e.getKey().contains("needs") || e.getKey().contains("exceeds"))
            .mapToLong(Map.Entry::getValue)
            .sum();
    assertTrue(
        parserRejections > outcomes.rejected / 20,
        () -> "too few inputs reached the body parser: " + outcomes.kinds);
  }

  /** Counts outcomes; fails on anything but a clean rejection or a canonical acceptance. */
  private static final class Outcomes {
    int accepted;
    int rejected;
    long slowestNanos;
    final Map<String, Integer> kinds = new TreeMap<>();

    /** Decodes {@code input}; true when it was accepted. */
    boolean decode(byte[] input, Supplier<String> what) {
      Manifest manifest;
      long start = System.nanoTime();
      try {
        manifest = ManifestCodec.decode(input);
      } catch (ManifestFormatException e) {
        elapsed(start, what);
        rejected++;
        kinds.merge(kind(e.getMessage()), 1, Integer::sum);
        assertTrue(
            e.offset() >= 0 && e.offset() <= input.length,
            () -> "offset " + e.offset() + " outside the input: " + what.get());
        return false;
      } catch (Throwable t) {
        throw new AssertionError(
            "decode threw " + t + " instead of ManifestFormatException: " + what.get(), t);
      }
      elapsed(start, what);
      accepted++;
      assertArrayEquals(
          input,
          ManifestCodec.encode(manifest),
          () -> "accepted a non-canonical encoding: " + what.get());
      return true;
    }

    private void elapsed(long start, Supplier<String> what) {
      long nanos = System.nanoTime() - start;
      slowestNanos = Math.max(slowestNanos, nanos);
      assertTrue(nanos < SLOW_NANOS, () -> "decode took " + nanos / 1e6 + " ms: " + what.get());
    }

    /** The message with offsets, numbers, quoted strings and hashes blanked out. */
    private static String kind(String message) {
      return message
          .replaceFirst("^bad manifest at offset \\d+: ", "")
          .replaceAll("\"[^\"]*\"", "S")
          .replaceAll("[0-9a-f]{64}", "H")
          .replaceAll("0x[0-9A-F]+", "X")
          .replaceAll("\\d+", "N");
    }
  }
}
