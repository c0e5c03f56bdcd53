package dev.ferry.bench;

import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.chunk.Chunker;
import dev.ferry.snapshot.chunk.ChunkerConfig;
import dev.ferry.snapshot.chunk.PipelinedChunker;
import java.io.IOException;
import java.security.MessageDigest;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;
import org.openjdk.jmh.infra.Blackhole;

/**
 * Snapshot capture throughput over one buffer of {@code sizeMiB} MiB of {@link BenchData} text, fed
 * in writes of {@code writeSize} bytes (as a serializer would) with the default chunker config. One
 * operation processes the whole buffer; MB/s = size / (ms/op).
 *
 * <ul>
 *   <li>{@link #sha256} — the floor: one SHA-256 over the buffer, single thread;
 *   <li>{@link #sha256CachedCopies} — SHA-256 of each 256 KiB piece after copying it into a small
 *       buffer: on machines where hashing straight from memory is bandwidth-bound this is faster
 *       than {@link #sha256}, and it is the regime the chunker hashes in (its chunk buffer is hot);
 *   <li>{@link #chunk} — boundary finding alone;
 *   <li>{@link #chunkAndHash} — boundaries and a SHA-256 per chunk on one thread;
 *   <li>{@link #chunkAndHashPipelined} — boundaries on this thread, SHA-256 on a second one.
 * </ul>
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xms2g", "-Xmx2g"})
public class ChunkingBenchmark {
  /** Buffer size in MiB. */
  @Param("256")
  public int sizeMiB;

  /** Bytes per write into the chunker. */
  @Param("65536")
  public int writeSize;

  /** Chunker minimum in KiB. */
  @Param("128")
  public int minKiB;

  /** Chunker average in KiB. */
  @Param("256")
  public int avgKiB;

  /** Chunker maximum in KiB. */
  @Param("1024")
  public int maxKiB;

  private byte[] data;
  private MessageDigest sha;
  private final byte[] piece = new byte[256 << 10];
  private ChunkerConfig config;

  /** Generates the buffer (once per fork). */
  @Setup(Level.Trial)
  public void setUp() {
    data = BenchData.textLike(sizeMiB << 20, BenchData.SEED);
    sha = ChunkId.sha256();
    config = new ChunkerConfig(minKiB << 10, avgKiB << 10, maxKiB << 10);
  }

  /** Raw single-thread SHA-256 of the whole buffer. */
  @Benchmark
  public byte[] sha256() {
    sha.update(data, 0, data.length);
    return sha.digest();
  }

  /** SHA-256 of each 256 KiB piece, copied first into a reused (cache-resident) buffer. */
  @Benchmark
  public void sha256CachedCopies(Blackhole blackhole) {
    for (int off = 0; off < data.length; off += piece.length) {
      int n = Math.min(piece.length, data.length - off);
      System.arraycopy(data, off, piece, 0, n);
      sha.update(piece, 0, n);
      blackhole.consume(sha.digest());
    }
  }

  /** Chunk boundaries only. */
  @Benchmark
  public void chunk(Blackhole blackhole) throws IOException {
    try (Chunker chunker =
        new Chunker(config, (offset, bytes, from, length) -> blackhole.consume(length))) {
      feed(chunker);
    }
  }

  /** Chunk boundaries and SHA-256 ids, one thread. */
  @Benchmark
  public void chunkAndHash(Blackhole blackhole) throws IOException {
    try (Chunker chunker = Chunker.hashing(config, chunk -> blackhole.consume(chunk.id()))) {
      feed(chunker);
    }
  }

  /** Chunk boundaries on this thread, SHA-256 ids on a second thread. */
  @Benchmark
  public void chunkAndHashPipelined(Blackhole blackhole) throws IOException {
    try (PipelinedChunker chunker =
        new PipelinedChunker(config, chunk -> blackhole.consume(chunk.id()))) {
      feed(chunker);
    }
  }

  private void feed(java.io.OutputStream out) throws IOException {
    for (int off = 0; off < data.length; off += writeSize) {
      out.write(data, off, Math.min(writeSize, data.length - off));
    }
  }
}
