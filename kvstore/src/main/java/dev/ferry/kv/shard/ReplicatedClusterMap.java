package dev.ferry.kv.shard;

import dev.ferry.client.FerryClient;
import dev.ferry.client.FerryClientException;
import dev.ferry.raft.TlsFiles;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cluster map kept by the cluster's metadata group ({@code <cluster>.meta}, a {@link
 * MapStateMachine} on the nodes of the layout's {@code meta} line): a client of that group that
 * caches the last layout it saw.
 *
 * <ul>
 *   <li>{@link #current()} returns the cached layout and never blocks; the cache starts as the seed
 *       (the descriptor the map was opened with).
 *   <li>{@link #refresh} asks the metadata group (a linearizable read) for its layout, within the
 *       map's own read deadline; a newer one replaces the cache. When the group does not answer in
 *       time (it lost its quorum, its nodes are unreachable) the cached layout stays: routing by it
 *       goes on, as the data groups do not depend on the metadata group.
 *   <li>{@link #compareAndSet} stores a new layout if the group's version is still the expected
 *       one: every change of the map goes through it, from version {@code v} to {@code v + 1}.
 * </ul>
 *
 * <p>Versions of {@link #current()} never go down. Thread-safe: any thread may call any method;
 * {@link #refresh} and {@link #compareAndSet} block the calling thread on the network.
 */
public final class ReplicatedClusterMap implements ClusterMap, AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(ReplicatedClusterMap.class);

  /** The read deadline {@link #open(Path)} uses. */
  public static final Duration DEFAULT_READ_DEADLINE = Duration.ofSeconds(3);

  private final FerryClient meta;
  private final Duration readDeadline;
  private final AtomicReference<ClusterLayout> cached;

  /**
   * What a {@link #compareAndSet} found.
   *
   * @param applied whether the new layout was stored
   * @param current the group's layout after the call: the new one when applied, else the one the
   *     group holds (its version is not the expected one), or the cached one if the group could not
   *     be read after the conflict
   */
  public record CasResult(boolean applied, ClusterLayout current) {
    /** Checks the fields. */
    public CasResult {
      Objects.requireNonNull(current, "current");
    }
  }

  private ReplicatedClusterMap(ClusterLayout seed, Duration readDeadline, TlsFiles tls) {
    Objects.requireNonNull(seed, "seed");
    if (!seed.replicated()) {
      throw new IllegalArgumentException(
          "the map of " + seed.cluster() + " names no metadata group (no 'meta' line)");
    }
    if (readDeadline.isNegative() || readDeadline.isZero()) {
      throw new IllegalArgumentException("read deadline must be positive: " + readDeadline);
    }
    this.readDeadline = readDeadline;
    this.cached = new AtomicReference<>(seed);
    FerryClient.Builder b =
        FerryClient.builder()
            .clusterName(ClusterLayout.metaGroupName(seed.cluster()))
            .peers(seed.metaPeers())
            .deadline(readDeadline);
    if (tls != null) {
      b.tls(tls);
    }
    this.meta = b.build();
  }

  /**
   * A map of the metadata group {@code seed} names, its cache starting at {@code seed}. Does not
   * block or reach the cluster.
   *
   * @param seed a layout with a {@code meta} line (e.g. the descriptor file the nodes started with)
   * @param readDeadline how long {@link #refresh} and {@link #compareAndSet} wait for the group
   * @param tls this client's TLS files, or null for a cluster without TLS
   * @throws IllegalArgumentException if {@code seed} has no {@code meta} line or the deadline is
   *     not positive
   */
  public static ReplicatedClusterMap connect(
      ClusterLayout seed, Duration readDeadline, TlsFiles tls) {
    return new ReplicatedClusterMap(seed, readDeadline, tls);
  }

  /**
   * A map seeded from the descriptor {@code file} (which must have a {@code meta} line), with the
   * {@link #DEFAULT_READ_DEADLINE}, without TLS. Reads the file; does not reach the cluster.
   *
   * @throws IOException if the file cannot be read
   * @throws IllegalArgumentException naming the file and line of a problem, or if it has no meta
   *     line
   */
  public static ReplicatedClusterMap open(Path file) throws IOException {
    return connect(ClusterLayout.read(file), DEFAULT_READ_DEADLINE, null);
  }

  @Override
  public ClusterLayout current() {
    return cached.get();
  }

  /**
   * Reads the metadata group's layout (linearizable, within the read deadline) and returns the
   * current layout afterwards: the group's if it is newer than the cache, else the cached one, also
   * when the group does not answer or holds no layout yet (version 0). Blocks the calling thread
   * for at most about the read deadline.
   */
  @Override
  public ClusterLayout refresh(long staleVersion) {
    try {
      readGroup();
    } catch (IOException e) {
      LOG.debug("metadata group of {} not read: {}", cached.get().cluster(), e.toString());
    }
    return cached.get();
  }

  /**
   * The metadata group's stored layout, read now (linearizable), also cached if newer; empty
   * version 0 when the group holds none yet.
   *
   * @return the group's version and layout ({@code null} layout at version 0)
   * @throws IOException if the group did not answer within the read deadline
   */
  public Stored read() throws IOException {
    return readGroup();
  }

  /**
   * The metadata group's content as read.
   *
   * @param version the stored version, 0 when the group holds no layout yet
   * @param layout the stored layout, null at version 0
   */
  public record Stored(long version, ClusterLayout layout) {}

  private Stored readGroup() throws IOException {
    MapCodec.ReadReply r = MapCodec.decodeReadReply(bounded(meta.queryAsync(MapCodec.read())));
    if (r.version() == 0) {
      return new Stored(0, null);
    }
    ClusterLayout l = ClusterLayout.parse(r.descriptor(), "metadata group");
    remember(l);
    return new Stored(r.version(), l);
  }

  /**
   * Stores {@code newLayout} in the metadata group if the group's version is {@code
   * expectedVersion} (0: the group holds no layout yet) and {@code newLayout}'s version is {@code
   * expectedVersion + 1}. On success the cache is the new layout. Blocks up to about the read
   * deadline (plus a read after a conflict).
   *
   * @throws IllegalArgumentException if the group refused the layout (its problem named), or it is
   *     another cluster's
   * @throws IOException if the group did not answer in time (the outcome is then unknown: read the
   *     map to see whether it was stored)
   */
  public CasResult compareAndSet(long expectedVersion, ClusterLayout newLayout) throws IOException {
    Objects.requireNonNull(newLayout, "newLayout");
    if (!newLayout.cluster().equals(cached.get().cluster())) {
      throw new IllegalArgumentException(
          "a layout of cluster "
              + newLayout.cluster()
              + " for the map of "
              + cached.get().cluster());
    }
    byte[] command = MapCodec.setIfVersion(expectedVersion, newLayout.format());
    MapCodec.SetReply r = MapCodec.decodeSetReply(bounded(meta.submitAsync(command)));
    switch (r.outcome()) {
      case APPLIED -> {
        remember(newLayout);
        return new CasResult(true, newLayout);
      }
      case CONFLICT -> {
        ClusterLayout now;
        try {
          Stored s = readGroup();
          now = s.layout() == null ? cached.get() : s.layout();
        } catch (IOException e) {
          now = cached.get();
        }
        return new CasResult(false, now);
      }
      default ->
          throw new IllegalArgumentException(
              "the metadata group refused the layout: " + r.problem());
    }
  }

  /** Makes {@code l} the cached layout if it is newer than the cached one. */
  private void remember(ClusterLayout l) {
    cached.accumulateAndGet(l, (old, fresh) -> fresh.version() > old.version() ? fresh : old);
  }

  /** Waits for a call of the metadata group's client at most about the read deadline. */
  private byte[] bounded(CompletableFuture<byte[]> call) throws IOException {
    try {
      return call.get(readDeadline.toMillis() + 500, TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      call.cancel(false);
      throw new IOException(
          "the metadata group of "
              + cached.get().cluster()
              + " did not answer within "
              + readDeadline,
          e);
    } catch (ExecutionException e) {
      if (e.getCause() instanceof FerryClientException f
          && !(f instanceof dev.ferry.client.CommandRejectedException)) {
        throw new IOException("the metadata group did not answer: " + f.getMessage(), f);
      }
      if (e.getCause() instanceof RuntimeException re) {
        throw re;
      }
      throw new IOException(e.getCause());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted waiting for the metadata group", e);
    }
  }

  /** Closes the metadata group's client. Idempotent. */
  @Override
  public void close() {
    meta.close();
  }

  @Override
  public String toString() {
    return "replicated cluster map of "
        + cached.get().cluster()
        + " (cached v"
        + cached.get().version()
        + ", meta "
        + cached.get().meta()
        + ")";
  }
}
