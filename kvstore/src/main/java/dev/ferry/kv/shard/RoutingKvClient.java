package dev.ferry.kv.shard;

import dev.ferry.kv.KvClient;
import dev.ferry.kv.KvNotHereException;
import dev.ferry.kv.KvOperations;
import dev.ferry.kv.KvTimeoutException;
import dev.ferry.kv.internal.KvCodec;
import dev.ferry.raft.TlsFiles;
import dev.ferry.shipping.PeerAddress;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;

/**
 * A client of a sharded key-value store: routes each key to the Raft group of its range, as the
 * {@link ClusterMap} says, through one {@link KvClient} per group.
 *
 * <p><b>Sessions.</b> The client of a group is made on the first operation on one of its keys and
 * kept; it keeps one at-most-once session with its group ({@link KvClient}), so a write retried
 * after a timeout or a leader change is applied at most once in its range. There is no session
 * across groups.
 *
 * <p><b>Guarantees.</b> An operation on one key ({@link #put}, {@link #get}, {@link #delete},
 * {@link #compareAndSet}, {@link #increment}, {@link #getStale}) has exactly {@link KvClient}'s
 * guarantees in the key's range. Operations that span ranges do not become atomic:
 *
 * <ul>
 *   <li>{@link #scan} reads range after range in key order, each range's part linearizable on its
 *       own; the parts are read at different moments, so a scan is <em>not</em> a snapshot of the
 *       store: it may see a write to a later range and miss an earlier write to a range it read
 *       before.
 *   <li>{@link #putAll} writes one command per range, in key order, each atomic and at most once in
 *       its range; if one fails, the ranges before it are written and the ones after are not tried.
 * </ul>
 *
 * <p><b>A changing map.</b> Every operation reads {@link ClusterMap#current()} and routes by that
 * layout; a group whose replicas changed in a newer layout gets a new client (the old one is kept
 * for the calls still using it and closed with this client). A read that fails for want of the
 * group (no replica answered by the deadline, or every peer answered "not here" at once: {@link
 * KvNotHereException}) asks the map to {@link ClusterMap#refresh refresh} and, if it has a newer
 * layout, is tried once more on it. So is a write that got "not here" from every peer without
 * reaching any replica ({@link KvNotHereException#notApplied()}: it was not applied), as a new
 * command on the newer layout's client. When the map has nothing newer, such a read or not-applied
 * write is tried again on the same layout every 200 ms until the operation's deadline (a group may
 * not be hosted yet; a fallback, as a Ferry node that is adding a group it hosts answers
 * "starting", which the group's client retries itself and never reports as "not here"). Any other
 * write that fails so refreshes the map for later operations but is not retried here (its outcome
 * is unknown: {@link KvTimeoutException}, or a {@code KvNotHereException} that is not {@code
 * notApplied()}).
 *
 * <p>Thread-safe: many threads may share one client. Closing it closes every group's client.
 */
public final class RoutingKvClient implements KvOperations {
  private final ClusterMap map;

  /** The pause before a call every peer answered "not here" is tried again on the same layout. */
  private static final Duration NOT_HERE_PAUSE = Duration.ofMillis(200);

  private final Duration timeout;
  private final TlsFiles tls;
  private final ConcurrentHashMap<String, GroupClient> clients = new ConcurrentHashMap<>();
  private final List<KvClient> retired = new ArrayList<>();
  private volatile boolean closed;

  /** A group's client and the replicas it was made for. */
  private record GroupClient(List<PeerAddress> peers, KvClient client) {}

  @FunctionalInterface
  private interface Call<T> {
    T on(KvClient client) throws IOException;
  }

  @FunctionalInterface
  private interface LayoutCall<T> {
    T on(ClusterLayout layout) throws IOException;
  }

  private RoutingKvClient(ClusterMap map, Duration timeout, TlsFiles tls) {
    this.map = Objects.requireNonNull(map, "map");
    this.timeout = Objects.requireNonNull(timeout, "timeout");
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("timeout must be positive: " + timeout);
    }
    this.tls = tls;
  }

  /**
   * A client of the cluster {@code map} describes. Connects nothing yet: each group's client is
   * made on first use.
   *
   * @param map the cluster map (e.g. {@link StaticClusterMap#read})
   * @param timeout deadline of each operation on one range, retries included
   */
  public static RoutingKvClient connect(ClusterMap map, Duration timeout) {
    return new RoutingKvClient(map, timeout, null);
  }

  /**
   * As {@link #connect(ClusterMap, Duration)}, to servers that run with mutual TLS (see {@link
   * KvClient#connect(String, List, Duration, TlsFiles)}).
   */
  public static RoutingKvClient connect(ClusterMap map, Duration timeout, TlsFiles tls) {
    return new RoutingKvClient(map, timeout, Objects.requireNonNull(tls, "tls"));
  }

  /** The map this client routes by. */
  public ClusterMap map() {
    return map;
  }

  /** The range {@code key} belongs to in the current layout. */
  public Range rangeFor(byte[] key) {
    return map.current().rangeFor(key);
  }

  /**
   * The client of {@code range}'s group in the current layout (made now if it is the first use),
   * e.g. for a group's checkpoints and digests. Owned by this client: do not close it.
   *
   * @throws IllegalArgumentException if the current layout has no such range
   * @throws IllegalStateException if this client is closed
   */
  public KvClient clientOf(Range range) {
    ClusterLayout l = map.current();
    Range current = l.range(range.index());
    if (!current.group().equals(range.group())) {
      throw new IllegalArgumentException(
          "range "
              + range.index()
              + " is in group "
              + current.group()
              + " now, not "
              + range.group());
    }
    return client(l, current);
  }

  @Override
  public boolean put(byte[] key, byte[] value) throws IOException {
    return write(key, c -> c.put(key, value));
  }

  @Override
  public long increment(byte[] key, long delta) throws IOException {
    return write(key, c -> c.increment(key, delta));
  }

  /**
   * Sets every key of {@code entries}: one {@link KvClient#putAll} per range, in key order, each
   * atomic and at most once in its range, not atomic across ranges (see the class comment).
   */
  @Override
  public void putAll(List<byte[][]> entries) throws IOException {
    ClusterLayout l = layout();
    Map<Integer, List<byte[][]>> byRange = new java.util.TreeMap<>();
    for (byte[][] e : entries) {
      byRange.computeIfAbsent(l.rangeFor(e[0]).index(), i -> new ArrayList<>()).add(e);
    }
    for (Map.Entry<Integer, List<byte[][]>> part : byRange.entrySet()) {
      List<byte[][]> rows = part.getValue();
      write(
          l,
          layout -> oneRangeOf(layout, rows),
          c -> {
            c.putAll(rows);
            return null;
          });
    }
  }

  @Override
  public boolean delete(byte[] key) throws IOException {
    return write(key, c -> c.delete(key));
  }

  @Override
  public KvClient.CasResult compareAndSet(byte[] key, byte[] expected, byte[] value)
      throws IOException {
    return write(key, c -> c.compareAndSet(key, expected, value));
  }

  @Override
  public byte[] get(byte[] key) throws IOException {
    return read(l -> client(l, l.rangeFor(key)).get(key));
  }

  /**
   * Stale read of {@code key} from the replica of its range on node {@code replicaId}.
   *
   * @throws IllegalArgumentException if that node holds no replica of the key's range
   */
  @Override
  public byte[] getStale(byte[] key, String replicaId) throws IOException {
    return read(
        l -> {
          Range r = l.rangeFor(key);
          if (!r.replicas().contains(replicaId)) {
            throw new IllegalArgumentException(
                "node " + replicaId + " holds no replica of " + r + " (the range of the key)");
          }
          return client(l, r).getStale(key, replicaId);
        });
  }

  /**
   * Scan of {@code [from, to)} across ranges, in key order, at most {@code limit} entries: each
   * range's part is linearizable, the whole is not atomic across ranges (see the class comment).
   */
  @Override
  public Map<byte[], byte[]> scan(byte[] from, byte[] to, int limit) throws IOException {
    if (limit < 1 || limit > KvCodec.MAX_SCAN) {
      throw new IllegalArgumentException(
          "scan limit must be 1.." + KvCodec.MAX_SCAN + ": " + limit);
    }
    return read(
        l -> {
          Map<byte[], byte[]> out = new LinkedHashMap<>();
          for (Range r : l.rangesOverlapping(from, to)) {
            if (out.size() == limit) {
              break;
            }
            byte[] lo = from != null && r.compareStartTo(from) < 0 ? from : r.start();
            byte[] end = r.end();
            byte[] hi =
                to != null && (end == null || Arrays.compareUnsigned(to, end) < 0) ? to : end;
            out.putAll(client(l, r).scan(lo, hi, limit - out.size()));
          }
          return out;
        });
  }

  private ClusterLayout layout() {
    if (closed) {
      throw new IllegalStateException("the routing client is closed");
    }
    return map.current();
  }

  private <T> T write(byte[] key, Call<T> call) throws IOException {
    return write(layout(), l -> Optional.of(l.rangeFor(key)), call);
  }

  /**
   * Runs write {@code call} on the group of the range {@code rangeIn} finds in layout {@code l};
   * after a failure for want of the group, refreshes the map, and runs it once more on a newer
   * layout if it was not applied ({@link KvNotHereException#notApplied()}) and its keys lie in one
   * range of that layout.
   */
  private <T> T write(
      ClusterLayout l, Function<ClusterLayout, Optional<Range>> rangeIn, Call<T> call)
      throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      try {
        return call.on(client(l, rangeIn.apply(l).orElseThrow()));
      } catch (KvTimeoutException e) {
        ClusterLayout newer = refreshAfter(l, e);
        Optional<Range> range = rangeIn.apply(newer);
        boolean notApplied = e instanceof KvNotHereException n && n.notApplied();
        if (!notApplied || range.isEmpty()) {
          throw e;
        }
        if (newer.version() > l.version()) {
          return call.on(client(newer, range.get()));
        }
        // No newer layout: the group may not be hosted yet (a node adding its groups at its first
        // start). The write was not applied, so it is sent again, as a new command, until the
        // operation's deadline.
        pauseBeforeRetry(deadline, e);
      }
    }
  }

  /**
   * Waits a little before a call that every peer answered "not here" is tried again on the same
   * layout; rethrows {@code e} if the operation's deadline would pass first.
   */
  private static void pauseBeforeRetry(long deadline, KvTimeoutException e) throws IOException {
    long left = deadline - System.nanoTime();
    if (left <= NOT_HERE_PAUSE.toNanos()) {
      throw e;
    }
    try {
      Thread.sleep(NOT_HERE_PAUSE.toMillis());
    } catch (InterruptedException ie) {
      Thread.currentThread().interrupt();
      throw new InterruptedIOException("interrupted while retrying: " + e.getMessage());
    }
  }

  /** The range of {@code layout} that holds every key of {@code rows}, if one does. */
  private static Optional<Range> oneRangeOf(ClusterLayout layout, List<byte[][]> rows) {
    Range r = layout.rangeFor(rows.get(0)[0]);
    for (byte[][] row : rows) {
      if (layout.rangeFor(row[0]).index() != r.index()) {
        return Optional.empty();
      }
    }
    return Optional.of(r);
  }

  private <T> T read(LayoutCall<T> call) throws IOException {
    ClusterLayout l = layout();
    long deadline = System.nanoTime() + timeout.toNanos();
    while (true) {
      try {
        return call.on(l);
      } catch (KvTimeoutException e) {
        ClusterLayout newer = refreshAfter(l, e);
        if (newer.version() > l.version()) {
          return call.on(newer);
        }
        if (!(e instanceof KvNotHereException)) {
          throw e;
        }
        // Not hosted anywhere this layout says, and nothing newer: perhaps not hosted yet.
        pauseBeforeRetry(deadline, e);
      }
    }
  }

  /**
   * Asks the map for a layout newer than {@code used}, after {@code failure} (a call routed by
   * {@code used} timed out); if the map cannot be read, keeps {@code used} and adds why to {@code
   * failure}.
   */
  private ClusterLayout refreshAfter(ClusterLayout used, KvTimeoutException failure) {
    try {
      return map.refresh(used.version());
    } catch (RuntimeException e) {
      failure.addSuppressed(e);
      return used;
    }
  }

  /** The client of {@code range}'s group, for the replicas {@code layout} gives it. */
  private KvClient client(ClusterLayout layout, Range range) {
    List<PeerAddress> peers = layout.peers(range);
    GroupClient g =
        clients.compute(
            range.group(),
            (name, old) -> {
              if (closed) {
                throw new IllegalStateException("the routing client is closed");
              }
              if (old != null && old.peers().equals(peers)) {
                return old;
              }
              if (old != null) {
                synchronized (retired) {
                  retired.add(old.client());
                }
              }
              return new GroupClient(peers, connect(name, peers));
            });
    return g.client();
  }

  private KvClient connect(String group, List<PeerAddress> peers) {
    return tls == null
        ? KvClient.connect(group, peers, timeout)
        : KvClient.connect(group, peers, timeout, tls);
  }

  /**
   * Closes every group's client (their sessions end). Calls in progress on other threads fail;
   * later calls throw {@link IllegalStateException}.
   *
   * @throws IOException the first failure to close a group's client (the others are closed still)
   */
  @Override
  public void close() throws IOException {
    closed = true;
    List<KvClient> all = new ArrayList<>();
    clients.values().forEach(g -> all.add(g.client()));
    clients.clear();
    synchronized (retired) {
      all.addAll(retired);
      retired.clear();
    }
    IOException first = null;
    for (KvClient c : all) {
      try {
        c.close();
      } catch (IOException e) {
        if (first == null) {
          first = e;
        } else {
          first.addSuppressed(e);
        }
      }
    }
    if (first != null) {
      throw first;
    }
  }
}
