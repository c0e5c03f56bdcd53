package dev.ferry.snapshot.transport;

import dev.ferry.snapshot.ChunkId;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.NoSuchFileException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.SplittableRandom;

/**
 * One source of a {@link SimulatedNetwork}: serves the chunks it holds over a simulated link with
 * the configured {@link SimulatedFaults}.
 *
 * <p>A request's chunks are served one after another over the link ({@code bytesPerSecond}), each
 * then arriving after a latency drawn from the latency range. A chunk the source lacks fails with
 * {@link NoSuchFileException}. Faults deliberately break the {@link ChunkTransport} contract the
 * way a broken peer or network would: a dropped chunk is never answered, a duplicated one is
 * answered twice, a corrupted one arrives with a byte altered. Callbacks never run inside {@link
 * #fetch}; they run later, inside {@link SimulatedNetwork#runNext()}. Delivered buffers are
 * read-only views.
 *
 * <p>Concurrency: owned by the network's thread, like the network.
 */
public final class SimulatedTransport implements ChunkTransport {
  private final SimulatedNetwork network;
  private final String id;
  private final Map<ChunkId, byte[]> chunks;
  private final SimulatedFaults faults;
  private final SplittableRandom random;
  private long linkFreeAt;
  private int epoch;
  private boolean disconnected;
  private long requests;
  private long chunksRequested;
  private long chunksDelivered;

  SimulatedTransport(
      SimulatedNetwork network,
      String id,
      Map<ChunkId, byte[]> chunks,
      SimulatedFaults faults,
      SplittableRandom random) {
    this.network = network;
    this.id = id;
    this.chunks = Objects.requireNonNull(chunks, "chunks");
    this.faults = Objects.requireNonNull(faults, "faults");
    this.random = random;
  }

  @Override
  public String sourceId() {
    return id;
  }

  /** The faults this source was created with. */
  public SimulatedFaults faults() {
    return faults;
  }

  @Override
  public void fetch(List<ChunkId> ids, FetchListener listener) {
    Objects.requireNonNull(listener, "listener");
    List<ChunkId> order = new ArrayList<>(ids);
    if (faults.reorder()) {
      Collections.shuffle(order, new java.util.Random(random.nextLong()));
    }
    long now = network.nanoTime();
    requests++;
    chunksRequested += order.size();
    for (ChunkId chunk : order) {
      Objects.requireNonNull(chunk, "chunk id");
      if (disconnected) {
        network.schedule(now, () -> listener.failed(chunk, new IOException(id + ": disconnected")));
        continue;
      }
      SimulatedFaults.Partition p = faults.partitionAt(now);
      if (p != null) {
        if (p.failFast()) {
          network.schedule(
              now + faults.minLatency().toNanos(),
              () -> listener.failed(chunk, new IOException(id + ": unreachable (partition)")));
        }
        continue;
      }
      long latency = latency();
      byte[] stored = chunks.get(chunk);
      if (stored == null) {
        network.schedule(
            now + latency, () -> listener.failed(chunk, new NoSuchFileException(chunk.toHex())));
        continue;
      }
      if (chance(faults.dropRate())) {
        continue;
      }
      long start = Math.max(now, linkFreeAt);
      linkFreeAt = start + transmitNanos(stored.length);
      long at = linkFreeAt + latency;
      byte[] payload = chance(faults.corruptRate()) ? corrupt(stored) : stored;
      deliver(at, chunk, payload, listener);
      if (chance(faults.duplicateRate())) {
        deliver(at + latency() + 1, chunk, payload, listener);
      }
    }
  }

  /**
   * The source goes away for good: nothing scheduled is delivered any more and later requests fail
   * at once.
   */
  public void disconnect() {
    disconnected = true;
    epoch++;
  }

  /** Number of {@link #fetch} calls so far. */
  public long requests() {
    return requests;
  }

  /** Number of chunks named in those calls. */
  public long chunksRequested() {
    return chunksRequested;
  }

  /** Number of chunk deliveries so far, duplicates and corrupted ones included. */
  public long chunksDelivered() {
    return chunksDelivered;
  }

  private void deliver(long at, ChunkId chunk, byte[] payload, FetchListener listener) {
    int sentEpoch = epoch;
    network.schedule(
        at,
        () -> {
          if (sentEpoch != epoch) {
            return;
          }
          SimulatedFaults.Partition p = faults.partitionAt(network.nanoTime());
          if (p != null) {
            if (p.failFast()) {
              listener.failed(chunk, new IOException(id + ": connection reset (partition)"));
            }
            return;
          }
          chunksDelivered++;
          listener.arrived(chunk, ByteBuffer.wrap(payload).asReadOnlyBuffer());
        });
  }

  private long transmitNanos(int bytes) {
    long bps = faults.bytesPerSecond();
    return bps == 0 ? 0 : (long) Math.ceil(bytes * 1e9 / bps);
  }

  private long latency() {
    long min = faults.minLatency().toNanos();
    long max = faults.maxLatency().toNanos();
    return max == min ? min : min + random.nextLong(max - min + 1);
  }

  private boolean chance(double p) {
    return p > 0 && random.nextDouble() < p;
  }

  private byte[] corrupt(byte[] stored) {
    byte[] copy = stored.clone();
    int i = random.nextInt(copy.length);
    copy[i] ^= (byte) (1 + random.nextInt(255));
    return copy;
  }
}
