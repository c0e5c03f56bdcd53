package dev.ferry.shipping.chunks;

import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.ChunkRef;
import dev.ferry.snapshot.StateDigest;
import dev.ferry.snapshot.codec.ChunkCodecs;
import dev.ferry.snapshot.format.Manifest;
import dev.ferry.snapshot.format.Shard;
import dev.ferry.snapshot.store.FileChunkStore;
import dev.ferry.snapshot.transport.ChunkTransport.FetchListener;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/** A chunk store with some chunks and manifests, and helpers for chunk-service tests. */
final class ChunkFixture implements Closeable {
  static final byte[] SECRET = "ferry-test-cluster-secret".getBytes(StandardCharsets.UTF_8);
  static final Duration WAIT = Duration.ofSeconds(10);

  final FileChunkStore store;
  final List<Manifest> manifests = new CopyOnWriteArrayList<>();
  final SnapshotSource source;
  final EventLoopGroup clientLoops = new NioEventLoopGroup(1);
  private final Random random = new Random(42);
  private final List<Closeable> closeables = new ArrayList<>();

  ChunkFixture(Path dir) throws IOException {
    store = FileChunkStore.open(dir, FileChunkStore.Options.defaults().withFsync(false));
    source = SnapshotSource.of(() -> List.copyOf(manifests), () -> store);
  }

  /** Stores {@code count} chunks of {@code size} bytes; every third one compressible. */
  List<ChunkRef> putChunks(int count, int size) throws IOException {
    List<ChunkRef> refs = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      byte[] raw = new byte[size];
      if (i % 3 == 0) {
        // Compressible: a repeated random 16-byte pattern (distinct per chunk).
        byte[] pattern = new byte[16];
        random.nextBytes(pattern);
        for (int j = 0; j < size; j++) {
          raw[j] = pattern[j % 16];
        }
      } else {
        random.nextBytes(raw);
      }
      refs.add(store.put(raw, 0, raw.length));
    }
    return refs;
  }

  /** A manifest of one shard holding {@code refs}, retained in the store and served. */
  Manifest addManifest(long term, long index, List<ChunkRef> refs) throws IOException {
    Manifest m =
        new Manifest(
            term, index, List.of(Shard.ofChunks("shard-0", refs)), List.of(), StateDigest.EMPTY);
    store.retain(m);
    manifests.add(m);
    return m;
  }

  /** Ids that no store holds. */
  List<ChunkId> unknownIds(int count) {
    List<ChunkId> ids = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      byte[] b = new byte[32];
      random.nextBytes(b);
      ids.add(ChunkId.fromBytes(b));
    }
    return ids;
  }

  ChunkServer.Builder serverBuilder(String nodeId) {
    return ChunkServer.builder()
        .nodeId(nodeId)
        .bind("127.0.0.1", 0)
        .source(source)
        .secret(SECRET)
        .handshakeTimeout(Duration.ofSeconds(5));
  }

  /** Starts a server, closed with the fixture. */
  ChunkServer start(ChunkServer.Builder builder) throws IOException {
    ChunkServer s = builder.build().start();
    closeables.add(s);
    return s;
  }

  ChunkClient.Builder clientBuilder(ChunkServer server, String selfId) {
    return ChunkClient.builder()
        .peer(server.nodeId(), "127.0.0.1", server.localAddress().getPort())
        .selfId(selfId)
        .secret(SECRET)
        .eventLoopGroup(clientLoops);
  }

  /** Connects a client, closed with the fixture. */
  ChunkClient connect(ChunkClient.Builder builder) {
    ChunkClient c = join(builder.connect());
    closeables.add(c);
    return c;
  }

  static <T> T join(CompletableFuture<T> f) {
    try {
      return f.get(WAIT.toSeconds(), TimeUnit.SECONDS);
    } catch (Exception e) {
      throw new AssertionError("future did not complete normally: " + e, e);
    }
  }

  /** The exception a future fails with, unwrapped. */
  static Throwable failure(CompletableFuture<?> f) {
    try {
      f.get(WAIT.toSeconds(), TimeUnit.SECONDS);
    } catch (java.util.concurrent.ExecutionException e) {
      Throwable c = e.getCause();
      while (c instanceof java.util.concurrent.CompletionException && c.getCause() != null) {
        c = c.getCause();
      }
      return c;
    } catch (Exception e) {
      throw new AssertionError("future did not fail in time: " + e, e);
    }
    throw new AssertionError("future completed normally; expected a failure");
  }

  /** Polls {@code condition} until true or the deadline, then fails naming {@code what}. */
  static void await(BooleanSupplier condition, String what) {
    long deadline = System.nanoTime() + WAIT.toNanos();
    while (!condition.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("timed out after " + WAIT + " waiting for " + what);
      }
      LockSupport.parkNanos(1_000_000);
    }
  }

  /**
   * Waits until {@code value} has not changed for 200 ms (for "the sender has stopped"), within the
   * test deadline, and returns it.
   */
  static long awaitStable(LongSupplier value) {
    long deadline = System.nanoTime() + WAIT.toNanos();
    long last = value.getAsLong();
    long since = System.nanoTime();
    while (System.nanoTime() - since < 200_000_000L) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("value kept changing for " + WAIT + ": " + last);
      }
      LockSupport.parkNanos(5_000_000);
      long now = value.getAsLong();
      if (now != last) {
        last = now;
        since = System.nanoTime();
      }
    }
    return last;
  }

  /** Verifies stored bytes against a reference: decodes within its raw size and checks the hash. */
  static void verify(ChunkRef ref, ByteBuffer stored) {
    try {
      byte[] raw = ChunkCodecs.decode(stored, ref.rawSize());
      assertTrue(ref.id().matches(raw, 0, raw.length), "chunk " + ref.id() + " hash mismatch");
    } catch (IOException e) {
      throw new AssertionError("chunk " + ref.id() + " does not decode: " + e, e);
    }
  }

  /** Collects the outcome of every chunk of a fetch. */
  static final class Outcomes implements FetchListener {
    final Map<ChunkId, ByteBuffer> arrived = new ConcurrentHashMap<>();
    final Map<ChunkId, Throwable> failed = new ConcurrentHashMap<>();
    final List<ChunkId> duplicates = new CopyOnWriteArrayList<>();
    private final Consumer<ChunkId> onArrival;

    Outcomes() {
      this(id -> {});
    }

    Outcomes(Consumer<ChunkId> onArrival) {
      this.onArrival = onArrival;
    }

    @Override
    public void arrived(ChunkId id, ByteBuffer stored) {
      if (arrived.put(id, stored) != null || failed.containsKey(id)) {
        duplicates.add(id);
      }
      onArrival.accept(id);
    }

    @Override
    public void failed(ChunkId id, Throwable cause) {
      if (failed.put(id, cause) != null || arrived.containsKey(id)) {
        duplicates.add(id);
      }
    }

    int reported() {
      return arrived.size() + failed.size();
    }
  }

  @Override
  public void close() throws IOException {
    for (int i = closeables.size() - 1; i >= 0; i--) {
      closeables.get(i).close();
    }
    clientLoops.shutdownGracefully(0, 1, TimeUnit.SECONDS).awaitUninterruptibly(5_000);
    store.close();
  }
}
