package dev.ferry.shipping.install;

import dev.ferry.shipping.chunks.SnapshotPeer;
import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.ChunkRef;
import dev.ferry.snapshot.store.ChunkCorruptException;
import dev.ferry.snapshot.store.ChunkStore;
import dev.ferry.snapshot.transport.ChunkTransport.FetchListener;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Fetches a few chunks this node lost to corruption from its peers, one peer after another, until
 * every chunk is stored or no peer is left. Chunks are content addressed: any peer holding the id
 * holds the same bytes, and {@link ChunkStore#putStored} verifies each against its id before it is
 * stored (a peer that sends bad bytes is simply not believed; the next peer is asked).
 *
 * <p>Concurrency: one fetch from one peer at a time; arrivals are stored on {@code io} (never on
 * the client's I/O thread); the state is guarded by this object.
 */
final class ChunkRefetch {
  private static final Logger LOG = LoggerFactory.getLogger(ChunkRefetch.class);

  private final Map<ChunkId, ChunkRef> left = new LinkedHashMap<>();
  private final ChunkStore store;
  private final Iterator<SnapshotPeer> peers;
  private final Executor io;
  private final CompletableFuture<Void> done = new CompletableFuture<>();

  private ChunkRefetch(
      Collection<ChunkRef> chunks, ChunkStore store, List<SnapshotPeer> peers, Executor io) {
    for (ChunkRef r : chunks) {
      left.putIfAbsent(r.id(), r);
    }
    this.store = store;
    this.peers = List.copyOf(peers).iterator();
    this.io = io;
  }

  /**
   * Starts fetching {@code chunks} from {@code peers} into {@code store}. The future completes when
   * every chunk is stored, or fails with an {@link IOException} naming those no peer supplied.
   */
  static CompletableFuture<Void> start(
      Collection<ChunkRef> chunks, ChunkStore store, List<SnapshotPeer> peers, Executor io) {
    ChunkRefetch r = new ChunkRefetch(chunks, store, peers, io);
    io.execute(r::next);
    return r.done;
  }

  /** Asks the next peer for what is still missing, or ends. */
  private void next() {
    List<ChunkId> ids;
    SnapshotPeer peer;
    synchronized (this) {
      left.keySet().removeIf(store::contains);
      if (left.isEmpty()) {
        done.complete(null);
        return;
      }
      if (!peers.hasNext()) {
        List<String> hex = left.keySet().stream().map(ChunkId::toHex).toList();
        done.completeExceptionally(
            new IOException("no reachable peer supplied chunk(s) " + hex + " intact"));
        return;
      }
      peer = peers.next();
      ids = new ArrayList<>(left.keySet());
    }
    AtomicInteger outstanding = new AtomicInteger(ids.size());
    Runnable oneDone =
        () -> {
          if (outstanding.decrementAndGet() == 0) {
            next();
          }
        };
    try {
      peer.fetch(
          ids,
          new FetchListener() {
            @Override
            public void arrived(ChunkId id, ByteBuffer stored) {
              io.execute(
                  () -> {
                    try {
                      store(peer, id, stored);
                    } finally {
                      oneDone.run();
                    }
                  });
            }

            @Override
            public void failed(ChunkId id, Throwable cause) {
              LOG.debug(
                  "re-fetch of chunk {} from {} failed: {}", id, peer.sourceId(), cause.toString());
              io.execute(oneDone);
            }
          });
    } catch (RuntimeException e) {
      LOG.warn("re-fetch from {} failed: {}", peer.sourceId(), e.toString());
      io.execute(this::next);
    }
  }

  private void store(SnapshotPeer peer, ChunkId id, ByteBuffer stored) {
    ChunkRef ref;
    synchronized (this) {
      ref = left.get(id);
    }
    if (ref == null) {
      return; // not asked for, or stored already
    }
    try {
      store.putStored(ref, stored);
      synchronized (this) {
        left.remove(id);
      }
      LOG.info("chunk {} fetched again from {}, verified and stored", id.toHex(), peer.sourceId());
    } catch (ChunkCorruptException e) {
      LOG.warn(
          "{} sent chunk {} corrupt as well; asking another peer", peer.sourceId(), id.toHex());
    } catch (IOException | RuntimeException e) {
      LOG.warn("storing re-fetched chunk {} failed: {}", id.toHex(), e.toString());
    }
  }
}
