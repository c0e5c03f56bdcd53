package dev.ferry.bench;

import com.github.luben.zstd.Zstd;
import com.github.luben.zstd.ZstdCompressCtx;
import dev.ferry.snapshot.chunk.ChunkerConfig;
import dev.ferry.snapshot.codec.ChunkCodecs;
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
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Chunk encoding as capture stores it: {@link ChunkCodecs#encode} (zstd at {@code level}, raw when
 * that saves under 5 %) of every chunk of the {@link BenchData} buffer, chunked with the default
 * config; one thread. One operation encodes the whole buffer; MB/s = size / (ms/op). {@link
 * #storedBytes} gives the compression ratio. {@link #compressReusedContext} compresses the same
 * chunks with one reused zstd context into one reused buffer, the cost floor for comparison.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Warmup(iterations = 2, time = 2)
@Measurement(iterations = 4, time = 2)
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xms2g", "-Xmx2g"})
public class ZstdBenchmark {
  /** Buffer size in MiB. */
  @Param("256")
  public int sizeMiB;

  /** zstd level. */
  @Param({"-5", "1", "3"})
  public int level;

  private byte[] data;
  private int[] bounds;
  private byte[] scratch;
  private ZstdCompressCtx context;
  private byte[][] encoded;

  /** Generates the buffer and its chunk boundaries (once per fork). */
  @Setup(Level.Trial)
  public void setUp() {
    data = BenchData.textLike(sizeMiB << 20, BenchData.SEED);
    bounds = BenchData.chunkBounds(data, ChunkerConfig.DEFAULT);
    scratch = new byte[Math.toIntExact(Zstd.compressBound(ChunkerConfig.DEFAULT.max()))];
    context = new ZstdCompressCtx();
    context.setLevel(level);
    encoded = new byte[bounds.length / 2][];
    for (int i = 0; i < bounds.length; i += 2) {
      encoded[i / 2] = ChunkCodecs.encode(data, bounds[i], bounds[i + 1], level);
    }
  }

  /** Frees the zstd context. */
  @TearDown(Level.Trial)
  public void tearDown() {
    context.close();
  }

  /** Compresses every chunk with a reused context and buffer; returns the total compressed size. */
  @Benchmark
  public long compressReusedContext() {
    long compressed = 0;
    for (int i = 0; i < bounds.length; i += 2) {
      compressed +=
          context.compressByteArray(scratch, 0, scratch.length, data, bounds[i], bounds[i + 1]);
    }
    return compressed;
  }

  /**
   * Decodes every stored chunk with {@link ChunkCodecs#decode} (bounded, as a receiver does before
   * hashing); MB/s = raw size / (ms/op). Returns the total decoded size.
   */
  @Benchmark
  public long decodeChunks() throws java.io.IOException {
    long decoded = 0;
    for (int i = 0; i < encoded.length; i++) {
      decoded += ChunkCodecs.decode(java.nio.ByteBuffer.wrap(encoded[i]), bounds[2 * i + 1]).length;
    }
    return decoded;
  }

  /** Encodes every chunk; returns the total stored size. */
  @Benchmark
  public long encodeChunks() {
    return storedBytes(data, bounds, level);
  }

  /**
   * The total stored size (codec tag included) of the chunks {@code bounds} (offset, length pairs)
   * of {@code data} encoded at {@code level}.
   */
  public static long storedBytes(byte[] data, int[] bounds, int level) {
    long stored = 0;
    for (int i = 0; i < bounds.length; i += 2) {
      stored += ChunkCodecs.encode(data, bounds[i], bounds[i + 1], level).length;
    }
    return stored;
  }
}
