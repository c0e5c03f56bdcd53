package dev.ferry.snapshot.transfer;

import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.ChunkRef;
import dev.ferry.snapshot.codec.ChunkCodecs;
import dev.ferry.snapshot.codec.CodecException;
import dev.ferry.snapshot.transfer.TransferAction.Done;
import dev.ferry.snapshot.transfer.TransferAction.Fetch;
import dev.ferry.snapshot.transfer.TransferAction.GiveUp;
import dev.ferry.snapshot.transfer.TransferAction.SourceDemoted;
import dev.ferry.snapshot.transfer.TransferAction.Store;
import dev.ferry.snapshot.transport.ChunkTransport;
import dev.ferry.snapshot.transport.SimulatedNetwork;
import dev.ferry.snapshot.transport.SimulatedTransport;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/**
 * Drives a {@link ChunkTransfer} over a {@link SimulatedNetwork} into a {@link InMemoryChunkStore},
 * on one thread, in simulated time. Records every chunk request and its first answer, and checks
 * the protocol's invariants after every event, failing with the network's seed in the message:
 *
 * <ul>
 *   <li>no request goes to a source after it was demoted or lost;
 *   <li>no chunk is stored twice, and every stored chunk verifies (the store re-checks);
 *   <li>in-flight bytes per source stay within the cap (one oversized chunk excepted), both as the
 *       protocol reports them and as recomputed here from the request log.
 * </ul>
 */
final class SimulatedTransfer {
  /** How a request's first answer went. */
  enum Answer {
    NONE,
    GOOD,
    CORRUPT,
    FAILED
  }

  /** One chunk requested from one source. */
  static final class Request {
    final String source;
    final ChunkRef ref;
    final long sentAt;
    Answer answer = Answer.NONE;
    long answeredAt = Long.MAX_VALUE;

    Request(String source, ChunkRef ref, long sentAt) {
      this.source = source;
      this.ref = ref;
      this.sentAt = sentAt;
    }

    @Override
    public String toString() {
      return source + ":" + ref.id() + "@" + sentAt + "=" + answer + "@" + answeredAt;
    }
  }

  /** An action with the simulated time it was returned at. */
  record Timed(long at, TransferAction action) {}

  private final SimulatedNetwork network;
  private final ChunkTransfer transfer;
  private final InMemoryChunkStore store;
  private final List<TransferSource> offered;
  private final Map<String, ChunkTransport> transports = new LinkedHashMap<>();
  private final long timeoutNanos;
  private final long cap;

  private final List<Request> requests = new ArrayList<>();
  private final List<Timed> actions = new ArrayList<>();
  private final Map<String, Long> endedAt = new HashMap<>();
  private final Set<String> demoted = new HashSet<>();
  private final Set<ChunkId> stored = new HashSet<>();

  /** Mirror of the protocol's outstanding requests, keyed by source then chunk. */
  private final Map<String, Map<ChunkId, Request>> outstanding = new HashMap<>();

  private long outOfOrderArrivals;
  private boolean started;
  private TransferAction outcome;
  private long steps;

  SimulatedTransfer(
      SimulatedNetwork network,
      List<ChunkRef> wanted,
      InMemoryChunkStore store,
      TransferConfig config,
      List<TransferSource> offered) {
    this.network = network;
    this.store = store;
    this.offered = List.copyOf(offered);
    this.transfer = new ChunkTransfer(wanted, store::contains, config);
    this.timeoutNanos = config.chunkTimeout().toNanos();
    this.cap = config.maxInFlightBytesPerSource();
    for (SimulatedTransport t : network.sources()) {
      transports.put(t.sourceId(), t);
    }
  }

  /** Offers every source of the network, tier 0, throughput unknown. */
  SimulatedTransfer(
      SimulatedNetwork network,
      List<ChunkRef> wanted,
      InMemoryChunkStore store,
      TransferConfig config) {
    this(
        network,
        wanted,
        store,
        config,
        network.sources().stream().map(t -> TransferSource.of(t.sourceId())).toList());
  }

  /** At simulated time {@code at}, the source disconnects and the protocol is told it is lost. */
  void loseSourceAt(long at, String source) {
    network.schedule(
        at,
        () -> {
          ((SimulatedTransport) transports.get(source)).disconnect();
          endedAt.putIfAbsent(source, network.nanoTime());
          handle(transfer.onSourceLost(network.nanoTime(), source));
        });
  }

  /** Runs to {@link Done} or {@link GiveUp} and returns it. */
  TransferAction run() {
    TransferAction a = run(h -> false);
    if (a == null) {
      throw fail("stopped without an outcome");
    }
    return a;
  }

  /** Runs until the outcome, or until {@code stop} holds (then returns null). */
  TransferAction run(Predicate<SimulatedTransfer> stop) {
    if (!started) {
      started = true;
      handle(transfer.start(network.nanoTime()));
      handle(transfer.onSourcesAvailable(network.nanoTime(), offered));
    }
    while (outcome == null) {
      if (stop.test(this)) {
        return null;
      }
      long tNet = network.nextEventNanos();
      long tTimer = transfer.nextTimerNanos();
      if (tNet == Long.MAX_VALUE && tTimer == Long.MAX_VALUE) {
        throw fail("stuck: no event and no timer");
      }
      if (tNet <= tTimer) {
        network.runNext();
      } else {
        network.advanceTo(tTimer);
        handle(transfer.onTick(tTimer));
      }
      if (++steps > 5_000_000) {
        throw fail("no outcome after " + steps + " steps");
      }
    }
    return outcome;
  }

  private void handle(List<TransferAction> list) {
    long now = network.nanoTime();
    for (TransferAction a : list) {
      actions.add(new Timed(now, a));
      if (outcome != null) {
        throw fail("action after the outcome " + outcome + ": " + a);
      }
      if (a instanceof Fetch f) {
        fetch(f, now);
      } else if (a instanceof Store s) {
        if (!stored.add(s.ref().id())) {
          throw fail("chunk stored twice: " + s.ref());
        }
        try {
          store.putStored(s.ref(), s.stored());
        } catch (IOException e) {
          throw fail("protocol handed out a chunk the store rejects: " + e);
        }
      } else if (a instanceof SourceDemoted d) {
        demoted.add(d.source());
        endedAt.putIfAbsent(d.source(), now);
        outstanding.remove(d.source());
      } else if (a instanceof Done || a instanceof GiveUp) {
        outcome = a;
      }
    }
    checkInFlight(now);
  }

  private void fetch(Fetch f, long now) {
    if (endedAt.containsKey(f.source())) {
      throw fail("fetch from " + f.source() + " after it ended at " + endedAt.get(f.source()));
    }
    ChunkTransport t = transports.get(f.source());
    if (t == null) {
      throw fail("fetch from unknown source " + f.source());
    }
    Map<ChunkId, Request> mine = new HashMap<>();
    Map<ChunkId, Integer> position = new HashMap<>();
    int[] lastPosition = {-1};
    List<ChunkId> ids = new ArrayList<>();
    Map<ChunkId, Request> out = outstanding.computeIfAbsent(f.source(), k -> new HashMap<>());
    for (ChunkRef ref : f.chunks()) {
      Request r = new Request(f.source(), ref, now);
      requests.add(r);
      mine.put(ref.id(), r);
      position.put(ref.id(), position.size());
      out.put(ref.id(), r);
      ids.add(ref.id());
    }
    t.fetch(
        ids,
        new ChunkTransport.FetchListener() {
          @Override
          public void arrived(ChunkId id, ByteBuffer bytes) {
            int at = position.getOrDefault(id, -1);
            if (at < lastPosition[0]) {
              outOfOrderArrivals++;
            }
            lastPosition[0] = Math.max(lastPosition[0], at);
            answered(mine.get(id), f.source(), id, verifies(mine.get(id).ref, bytes));
            handle(transfer.onChunkArrived(network.nanoTime(), f.source(), id, bytes));
          }

          @Override
          public void failed(ChunkId id, Throwable cause) {
            answered(mine.get(id), f.source(), id, Answer.FAILED);
            handle(transfer.onChunkFailed(network.nanoTime(), f.source(), id, cause));
          }
        });
  }

  private void answered(Request r, String source, ChunkId id, Answer answer) {
    if (r == null) {
      throw fail("answer for a chunk not in the request: " + id);
    }
    if (r.answer == Answer.NONE) {
      r.answer = answer;
      r.answeredAt = network.nanoTime();
    }
    Map<ChunkId, Request> out = outstanding.get(source);
    if (out != null) {
      out.remove(id);
    }
  }

  private static Answer verifies(ChunkRef ref, ByteBuffer bytes) {
    try {
      byte[] raw = ChunkCodecs.decode(bytes, ref.rawSize());
      return ref.id().matches(raw, 0, raw.length) ? Answer.GOOD : Answer.CORRUPT;
    } catch (CodecException e) {
      return Answer.CORRUPT;
    }
  }

  private void checkInFlight(long now) {
    for (TransferProgress.SourceProgress sp : transfer.progress().sources()) {
      if (sp.bytesInFlight() > cap && sp.chunksInFlight() > 1) {
        throw fail("protocol reports " + sp.bytesInFlight() + " bytes in flight on " + sp.id());
      }
    }
    for (Map.Entry<String, Map<ChunkId, Request>> e : outstanding.entrySet()) {
      if (endedAt.containsKey(e.getKey())) {
        continue;
      }
      long bytes = 0;
      int n = 0;
      for (Request r : e.getValue().values()) {
        if (now < r.sentAt + timeoutNanos) {
          bytes += r.ref.storedSize();
          n++;
        }
      }
      if (bytes > cap && n > 1) {
        throw fail(bytes + " bytes in flight on " + e.getKey() + " (cap " + cap + ")");
      }
    }
  }

  AssertionError fail(String message) {
    return new AssertionError(
        "seed=" + network.seed() + " t=" + network.nanoTime() + "ns: " + message);
  }

  // ---------------------------------------------------------------------------------------------
  // What happened

  ChunkTransfer transfer() {
    return transfer;
  }

  SimulatedNetwork network() {
    return network;
  }

  List<Request> requests() {
    return requests;
  }

  List<Timed> actions() {
    return actions;
  }

  Set<String> demoted() {
    return demoted;
  }

  /** Arrivals that came before a chunk requested earlier in the same fetch. */
  long outOfOrderArrivals() {
    return outOfOrderArrivals;
  }

  int storedCount() {
    return stored.size();
  }

  /** Requests grouped by chunk, in the order made. */
  Map<ChunkId, List<Request>> requestsByChunk() {
    Map<ChunkId, List<Request>> by = new LinkedHashMap<>();
    for (Request r : requests) {
      by.computeIfAbsent(r.ref.id(), k -> new ArrayList<>()).add(r);
    }
    return by;
  }

  /**
   * True when the request went wrong in a way that justifies fetching its chunk again: no timely
   * good answer, or its source ended before answering.
   */
  boolean impaired(Request r) {
    if (r.answer != Answer.GOOD) {
      return true;
    }
    if (r.answeredAt >= r.sentAt + timeoutNanos) {
      return true;
    }
    Long ended = endedAt.get(r.source);
    return ended != null && ended <= r.answeredAt;
  }

  /** When the source was demoted or lost, if it was. */
  Long endedAt(String source) {
    return endedAt.get(source);
  }
}
