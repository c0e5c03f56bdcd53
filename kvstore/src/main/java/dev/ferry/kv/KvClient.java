package dev.ferry.kv;

import dev.ferry.client.ClusterUnavailableException;
import dev.ferry.client.CommandRejectedException;
import dev.ferry.client.FerryClient;
import dev.ferry.client.NotHereException;
import dev.ferry.client.OutcomeUnknownException;
import dev.ferry.kv.internal.KvCodec;
import dev.ferry.raft.TlsFiles;
import dev.ferry.shipping.PeerAddress;
import dev.ferry.statemachine.DigestAt;
import dev.ferry.statemachine.ReplyStatus;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.function.Supplier;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.protocol.RaftGroup;

/**
 * A client of the replicated key-value store: a typed layer over {@link FerryClient}, which does
 * the sessions, retries and leader-following.
 *
 * <p>Writes go through a client session: each write gets the next sequence number, and a write that
 * is retried (after a timeout or a leader change) is applied at most once — the replicas return the
 * stored reply to a duplicate. The client finds the leader by itself and retries until the
 * operation's deadline; a write whose outcome is still unknown at the deadline fails with {@link
 * KvTimeoutException} ("unknown": it may or may not have been applied), as does a read no replica
 * answered in time. An operation every peer answered "not here" (they do not host the group: the
 * client's peers are out of date) fails at once with {@link KvNotHereException} (its {@code
 * notApplied()} says whether a write is known not to have been applied); one still unanswered at
 * the deadline whose last node asked answered "not here" fails with it too, its outcome unknown. A
 * write the replicas refused fails with {@link KvException} and its {@link ReplyStatus}.
 *
 * <p>Reads are linearizable by default (Raft read index on the leader); {@link #getStale} reads
 * from one replica's current state without any coordination.
 *
 * <p>Thread-safe: many threads may issue operations concurrently through one client (one session).
 */
public final class KvClient implements KvOperations {
  private final FerryClient ferry;

  private KvClient(FerryClient ferry) {
    this.ferry = ferry;
  }

  /**
   * Connects to a cluster.
   *
   * @param clusterName the cluster name the servers were started with
   * @param peers the servers (any subset that includes a live one works)
   * @param timeout deadline of each operation, retries included
   */
  public static KvClient connect(String clusterName, List<PeerAddress> peers, Duration timeout) {
    return new KvClient(
        FerryClient.builder().clusterName(clusterName).peers(peers).deadline(timeout).build());
  }

  /**
   * Connects to a cluster whose servers run with mutual TLS ({@code FerryServer.Builder.tls}): the
   * client presents {@code tls}'s certificate and accepts only servers whose certificates chain to
   * its trusted certificates and name the host they are dialled at. The files are read on the first
   * operation; a bad file fails every operation until its deadline.
   *
   * @param clusterName the cluster name the servers were started with
   * @param peers the servers (any subset that includes a live one works)
   * @param timeout deadline of each operation, retries included
   * @param tls this client's certificate, key and trusted certificates
   */
  public static KvClient connect(
      String clusterName, List<PeerAddress> peers, Duration timeout, TlsFiles tls) {
    return new KvClient(
        FerryClient.builder()
            .clusterName(clusterName)
            .peers(peers)
            .deadline(timeout)
            .tls(Objects.requireNonNull(tls, "tls"))
            .build());
  }

  /** Sets {@code key} to {@code value}; returns whether the key existed before. */
  @Override
  public boolean put(byte[] key, byte[] value) throws IOException {
    return write(KvCodec.put(key, value))[0] != 0;
  }

  /**
   * Adds {@code delta} to a 64-bit counter stored at {@code key} (absent counts as 0) and returns
   * the new value.
   */
  @Override
  public long increment(byte[] key, long delta) throws IOException {
    return java.nio.ByteBuffer.wrap(write(KvCodec.increment(key, delta))).getLong();
  }

  /**
   * Sets every key of {@code entries} ({@code {key, value}} pairs) in one command: applied
   * atomically and at most once. Far faster than one {@link #put} per key for bulk loads.
   */
  @Override
  public void putAll(List<byte[][]> entries) throws IOException {
    write(KvCodec.putAll(entries));
  }

  /** Deletes {@code key}; returns whether it existed. */
  @Override
  public boolean delete(byte[] key) throws IOException {
    return write(KvCodec.delete(key))[0] != 0;
  }

  /**
   * Sets {@code key} to {@code value} if its current value equals {@code expected} ({@code null}:
   * absent). {@code value == null} deletes.
   *
   * @return whether it was set; when not, {@link CasResult#current()} is the value found
   */
  @Override
  public CasResult compareAndSet(byte[] key, byte[] expected, byte[] value) throws IOException {
    KvCodec.ValueReply r = KvCodec.decodeValueReply(write(KvCodec.cas(key, expected, value)));
    return new CasResult(r.success(), r.value());
  }

  /**
   * The outcome of a compare-and-set.
   *
   * @param success whether the value was set
   * @param current the value after the operation (the new value on success; the value found, or
   *     {@code null} for absent, on failure)
   */
  public record CasResult(boolean success, byte[] current) {}

  /** Linearizable read: {@code key}'s value, or {@code null}. */
  @Override
  public byte[] get(byte[] key) throws IOException {
    KvCodec.ValueReply r = KvCodec.decodeValueReply(call(() -> ferry.query(KvCodec.get(key))));
    return r.success() ? r.value() : null;
  }

  /**
   * Stale read from one replica's current state (no coordination; may miss recent writes).
   *
   * @param replicaId the replica to read from
   */
  @Override
  public byte[] getStale(byte[] key, String replicaId) throws IOException {
    KvCodec.ValueReply r =
        KvCodec.decodeValueReply(call(() -> ferry.queryStale(KvCodec.get(key), replicaId)));
    return r.success() ? r.value() : null;
  }

  /**
   * Linearizable range scan of {@code [from, to)} ({@code null}: unbounded), at most {@code limit}
   * entries in key order.
   */
  @Override
  public Map<byte[], byte[]> scan(byte[] from, byte[] to, int limit) throws IOException {
    byte[] reply = call(() -> ferry.query(KvCodec.scan(from, to, limit)));
    Map<byte[], byte[]> out = new LinkedHashMap<>();
    for (byte[][] e : KvCodec.decodeScanReply(reply)) {
      out.put(e[0], e[1]);
    }
    return out;
  }

  /**
   * Writes a digest checkpoint through the log: every replica records its state digest at the
   * checkpoint's log index. Returns the digest the replica that applied it for this call recorded.
   */
  public DigestAt checkpoint(long id) throws IOException {
    return call(() -> ferry.checkpoint(id));
  }

  /**
   * The digest replica {@code replicaId} recorded at checkpoint {@code id}, waiting until it has
   * applied {@code index} (the checkpoint's log index).
   */
  public DigestAt checkpointOn(String replicaId, long id, long index) throws IOException {
    return call(() -> ferry.checkpointOn(replicaId, id, index));
  }

  /**
   * The applied log index and state digest replica {@code replicaId} reports now (no coordination:
   * a replica behind reports where it is), e.g. to watch it catch up.
   */
  public DigestAt digestOn(String replicaId) throws IOException {
    return call(() -> ferry.digestOn(replicaId));
  }

  /** The Raft group this client talks to. */
  public RaftGroup group() {
    return ferry.unwrap(RaftGroup.class);
  }

  /** The underlying Ratis client (for admin calls; owned by this client, do not close it). */
  public RaftClient raftClient() {
    return ferry.unwrap(RaftClient.class);
  }

  /**
   * The generic client under this one (its session is this client's), e.g. to write a capture
   * command ({@link FerryClient#captureSnapshot}).
   */
  public FerryClient ferryClient() {
    return ferry;
  }

  private byte[] write(byte[] command) throws IOException {
    return call(() -> ferry.submit(command));
  }

  /** Runs a call of the generic client, mapping its exceptions onto this client's. */
  private static <T> T call(Supplier<T> call) throws IOException {
    try {
      return call.get();
    } catch (CommandRejectedException e) {
      KvException k = new KvException(e.status(), e.reason());
      k.initCause(e);
      throw k;
    } catch (NotHereException e) {
      throw new KvNotHereException(e.getMessage(), e, e.reachedNoReplica());
    } catch (OutcomeUnknownException | ClusterUnavailableException e) {
      if (KvNotHereException.notHere(e)) {
        throw new KvNotHereException(e.getMessage(), e);
      }
      throw new KvTimeoutException(e.getMessage(), e);
    } catch (UncheckedIOException e) {
      throw e.getCause();
    }
  }

  @Override
  public void close() throws IOException {
    try {
      ferry.close();
    } catch (UncheckedIOException e) {
      throw e.getCause();
    }
  }
}
