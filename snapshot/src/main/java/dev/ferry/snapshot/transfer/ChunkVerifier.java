package dev.ferry.snapshot.transfer;

import dev.ferry.snapshot.ChunkRef;
import dev.ferry.snapshot.codec.ChunkCodecs;
import dev.ferry.snapshot.codec.CodecException;
import java.nio.ByteBuffer;
import java.util.Objects;

/**
 * Checks that the stored bytes received for a chunk are that chunk: decodes them within the chunk's
 * raw size and hashes the result against its id. This is the CPU-heavy part of receiving a chunk
 * (one decode, one SHA-256), kept apart from {@link ChunkTransfer}'s bookkeeping so that a driver
 * can run it on any number of threads and hand the {@link Result} to the transfer ({@link
 * ChunkTransfer#onChunkVerified}).
 *
 * <p>Pure and stateless: no I/O, no clock; safe to call from any thread, concurrently.
 */
public final class ChunkVerifier {
  private ChunkVerifier() {}

  /** The outcome of verifying the stored bytes received for one chunk. */
  public sealed interface Result permits Verified, Corrupt {
    /** The chunk the bytes were verified against. */
    ChunkRef ref();

    /** The number of stored bytes received (what the transfer counts as delivered). */
    int storedBytes();
  }

  /**
   * The bytes are the chunk.
   *
   * @param ref the chunk
   * @param stored its stored form as received (position and limit delimit it, not moved)
   * @param raw its decoded content: exactly {@code ref.rawSize()} bytes hashing to {@code ref.id()}
   */
  public record Verified(ChunkRef ref, ByteBuffer stored, byte[] raw) implements Result {
    public Verified {
      Objects.requireNonNull(ref, "ref");
      Objects.requireNonNull(stored, "stored");
      Objects.requireNonNull(raw, "raw");
    }

    @Override
    public int storedBytes() {
      return stored.remaining();
    }
  }

  /**
   * The bytes are not the chunk: they do not decode within its raw size, or what they decode to
   * does not hash to its id.
   *
   * @param ref the chunk
   * @param storedBytes the number of stored bytes received
   * @param reason what is wrong, for logs
   */
  public record Corrupt(ChunkRef ref, int storedBytes, String reason) implements Result {
    public Corrupt {
      Objects.requireNonNull(ref, "ref");
      Objects.requireNonNull(reason, "reason");
    }
  }

  /**
   * Verifies {@code stored} as the stored form of {@code ref}. Never throws for bad bytes: any
   * problem is a {@link Corrupt}.
   *
   * @param stored the stored form (codec tag + payload) between position and limit; neither is
   *     moved, and a {@link Verified} keeps a reference to the buffer
   */
  public static Result verify(ChunkRef ref, ByteBuffer stored) {
    Objects.requireNonNull(ref, "ref");
    Objects.requireNonNull(stored, "stored");
    int size = stored.remaining();
    byte[] raw;
    try {
      raw = ChunkCodecs.decode(stored, ref.rawSize());
    } catch (CodecException e) {
      return new Corrupt(ref, size, e.getMessage());
    }
    if (raw.length != ref.rawSize() || !ref.id().matches(raw, 0, raw.length)) {
      return new Corrupt(ref, size, "SHA-256 does not match");
    }
    return new Verified(ref, stored, raw);
  }
}
