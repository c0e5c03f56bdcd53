package dev.ferry.snapshot.transfer;

import dev.ferry.snapshot.ChunkRef;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Objects;

/**
 * What a {@link ChunkTransfer} asks its driver to do. The driver performs the actions of one event
 * in list order; a {@link Done} or {@link GiveUp} is always the last action ever returned.
 */
public sealed interface TransferAction {

  /**
   * Request these chunks from this source (for example with one {@code ChunkTransport.fetch}).
   * Report each chunk's outcome back with {@link ChunkTransfer#onChunkArrived} or {@link
   * ChunkTransfer#onChunkFailed}; a chunk never answered is timed out by {@link
   * ChunkTransfer#onTick}.
   *
   * @param source the source id
   * @param chunks one or more chunks, in manifest order as far as retries allow
   */
  record Fetch(String source, List<ChunkRef> chunks) implements TransferAction {
    public Fetch {
      Objects.requireNonNull(source, "source");
      chunks = List.copyOf(chunks);
      if (chunks.isEmpty()) {
        throw new IllegalArgumentException("empty fetch for " + source);
      }
    }
  }

  /**
   * Persist this chunk: its stored bytes have been verified to decode to exactly {@code
   * ref.rawSize()} bytes whose SHA-256 is {@code ref.id()}. Emitted at most once per chunk. If
   * persisting fails, report it with {@link ChunkTransfer#onStoreFailed}.
   *
   * <p>{@code raw} is the decoded content the transfer verified, handed over so that a driver that
   * needs the content soon (an install loading it) does not decode the chunk again. The transfer
   * keeps no reference to it; whoever uses it must not modify it.
   *
   * @param ref the chunk
   * @param stored its stored form (codec tag + payload) as received; position and limit delimit it
   * @param raw its decoded content, exactly {@code ref.rawSize()} bytes hashing to {@code ref.id()}
   */
  record Store(ChunkRef ref, ByteBuffer stored, byte[] raw) implements TransferAction {
    public Store {
      Objects.requireNonNull(ref, "ref");
      Objects.requireNonNull(stored, "stored");
      Objects.requireNonNull(raw, "raw");
      if (raw.length != ref.rawSize()) {
        throw new IllegalArgumentException(
            "raw content of " + raw.length + " bytes for a chunk of " + ref.rawSize());
      }
    }
  }

  /**
   * The source delivered too many corrupt chunks and gets no further requests; its unanswered
   * chunks have been rescheduled on other sources. Informational (log, metrics, alerts).
   */
  record SourceDemoted(String source, String reason) implements TransferAction {
    public SourceDemoted {
      Objects.requireNonNull(source, "source");
      Objects.requireNonNull(reason, "reason");
    }
  }

  /** The transfer failed and does nothing more. Outstanding requests may be abandoned. */
  record GiveUp(Reason reason, String message) implements TransferAction {
    public GiveUp {
      Objects.requireNonNull(reason, "reason");
      Objects.requireNonNull(message, "message");
    }

    /** Why a transfer gave up. */
    public enum Reason {
      /** Chunks remain and every source offered has been lost or demoted. */
      NO_SOURCES,
      /** Every remaining source answered that it does not hold a wanted chunk. */
      CHUNK_UNAVAILABLE,
      /** A chunk failed {@link TransferConfig#maxAttemptsPerChunk()} times. */
      ATTEMPTS_EXHAUSTED,
      /** The overall {@link TransferConfig#deadline()} passed. */
      DEADLINE,
      /** The driver reported that persisting a verified chunk failed. */
      STORE_FAILED
    }
  }

  /** Every wanted chunk is held locally (held at start or stored by a {@link Store}). */
  record Done() implements TransferAction {}
}
