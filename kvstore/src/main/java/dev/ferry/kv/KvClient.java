package dev.ferry.kv;

import dev.ferry.kv.internal.KvCodec;
import dev.ferry.raft.FerryServer;
import dev.ferry.raft.RaftPeers;
import dev.ferry.raft.TlsFiles;
import dev.ferry.shipping.PeerAddress;
import dev.ferry.statemachine.ClientId;
import dev.ferry.statemachine.CommandCodec;
import dev.ferry.statemachine.DigestAt;
import dev.ferry.statemachine.Reply;
import dev.ferry.statemachine.ReplyStatus;
import java.io.Closeable;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.client.RaftClientConfigKeys;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.proto.RaftProtos.RaftPeerRole;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.retry.RetryPolicies;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;
import org.apache.ratis.util.TimeDuration;

/**
 * A client of the replicated key-value store.
 *
 * <p>Writes go through a client session: each write gets the next sequence number, and a write that
 * is retried (after a timeout or a leader change) is applied at most once — the replicas return the
 * stored reply to a duplicate. The client finds the leader by itself (Ratis's client follows {@code
 * NotLeader} redirects) and retries until the operation's deadline; a write whose outcome is still
 * unknown at the deadline fails with {@link KvTimeoutException} ("unknown": it may or may not have
 * been applied).
 *
 * <p>Reads are linearizable by default (Raft read index on the leader); {@link #getStale} reads
 * from one replica's current state without any coordination.
 *
 * <p>Thread-safe: many threads may issue operations concurrently through one client (one session).
 */
public final class KvClient implements Closeable {
  private final RaftClient raft;
  private final RaftGroup group;
  private final Duration timeout;
  private final ClientId session = ClientId.random();
  private final AtomicLong nextSeq = new AtomicLong(1);
  private final ConcurrentSkipListSet<Long> unacked = new ConcurrentSkipListSet<>();

  private KvClient(RaftClient raft, RaftGroup group, Duration timeout) {
    this.raft = raft;
    this.group = group;
    this.timeout = timeout;
  }

  /**
   * Connects to a cluster.
   *
   * @param clusterName the cluster name the servers were started with
   * @param peers the servers (any subset that includes a live one works)
   * @param timeout deadline of each operation, retries included
   */
  public static KvClient connect(String clusterName, List<PeerAddress> peers, Duration timeout) {
    return open(clusterName, peers, timeout, null);
  }

  /**
   * Connects to a cluster whose servers run with mutual TLS ({@code FerryServer.Builder.tls}): the
   * client presents {@code tls}'s certificate and accepts only servers whose certificates chain to
   * its trusted certificates and name the host they are dialled at. The files are read on the first
   * operation; a bad file fails it with an {@link IOException} or {@link IllegalArgumentException}.
   *
   * @param clusterName the cluster name the servers were started with
   * @param peers the servers (any subset that includes a live one works)
   * @param timeout deadline of each operation, retries included
   * @param tls this client's certificate, key and trusted certificates
   */
  public static KvClient connect(
      String clusterName, List<PeerAddress> peers, Duration timeout, TlsFiles tls) {
    return open(clusterName, peers, timeout, Objects.requireNonNull(tls, "tls"));
  }

  private static KvClient open(
      String clusterName, List<PeerAddress> peers, Duration timeout, TlsFiles tls) {
    Objects.requireNonNull(timeout, "timeout");
    if (timeout.isNegative() || timeout.isZero()) {
      throw new IllegalArgumentException("timeout must be positive: " + timeout);
    }
    List<RaftPeer> raftPeers = new ArrayList<>();
    for (PeerAddress p : peers) {
      raftPeers.add(RaftPeers.toRaftPeer(p, RaftPeerRole.FOLLOWER));
    }
    RaftGroup group = RaftGroup.valueOf(FerryServer.groupId(clusterName), raftPeers);
    RaftProperties p = new RaftProperties();
    RaftClientConfigKeys.Rpc.setRequestTimeout(p, TimeDuration.valueOf(3, TimeUnit.SECONDS));
    RaftClient.Builder builder = RaftClient.newBuilder();
    if (tls != null) {
      builder.setParameters(tls.ratisParameters());
    }
    RaftClient raft =
        builder
            .setRaftGroup(group)
            .setProperties(p)
            .setRetryPolicy(
                RetryPolicies.retryUpToMaximumCountWithFixedSleep(
                    5, TimeDuration.valueOf(200, TimeUnit.MILLISECONDS)))
            .build();
    return new KvClient(raft, group, timeout);
  }

  /** Sets {@code key} to {@code value}; returns whether the key existed before. */
  public boolean put(byte[] key, byte[] value) throws IOException {
    return write(KvCodec.put(key, value))[0] != 0;
  }

  /**
   * Adds {@code delta} to a 64-bit counter stored at {@code key} (absent counts as 0) and returns
   * the new value.
   */
  public long increment(byte[] key, long delta) throws IOException {
    return java.nio.ByteBuffer.wrap(write(KvCodec.increment(key, delta))).getLong();
  }

  /**
   * Sets every key of {@code entries} ({@code {key, value}} pairs) in one command: applied
   * atomically and at most once. Far faster than one {@link #put} per key for bulk loads.
   */
  public void putAll(List<byte[][]> entries) throws IOException {
    write(KvCodec.putAll(entries));
  }

  /** Deletes {@code key}; returns whether it existed. */
  public boolean delete(byte[] key) throws IOException {
    return write(KvCodec.delete(key))[0] != 0;
  }

  /**
   * Sets {@code key} to {@code value} if its current value equals {@code expected} ({@code null}:
   * absent). {@code value == null} deletes.
   *
   * @return whether it was set; when not, {@link CasResult#current()} is the value found
   */
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
  public byte[] get(byte[] key) throws IOException {
    KvCodec.ValueReply r =
        KvCodec.decodeValueReply(
            call(() -> raft.io().sendReadOnly(message(CommandCodec.userQuery(KvCodec.get(key))))));
    return r.success() ? r.value() : null;
  }

  /**
   * Stale read from one replica's current state (no coordination; may miss recent writes).
   *
   * @param replicaId the replica to read from
   */
  public byte[] getStale(byte[] key, String replicaId) throws IOException {
    Message m = message(CommandCodec.userQuery(KvCodec.get(key)));
    KvCodec.ValueReply r =
        KvCodec.decodeValueReply(
            call(() -> raft.io().sendStaleRead(m, 0, RaftPeerId.valueOf(replicaId))));
    return r.success() ? r.value() : null;
  }

  /**
   * Linearizable range scan of {@code [from, to)} ({@code null}: unbounded), at most {@code limit}
   * entries in key order.
   */
  public Map<byte[], byte[]> scan(byte[] from, byte[] to, int limit) throws IOException {
    byte[] reply =
        call(
            () ->
                raft.io()
                    .sendReadOnly(message(CommandCodec.userQuery(KvCodec.scan(from, to, limit)))));
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
    Message m = message(CommandCodec.digestCheckpoint(id));
    Reply reply = CommandCodec.decodeReply(call(() -> raft.io().send(m)));
    if (reply.status() != ReplyStatus.OK) {
      throw new KvException(reply.status(), reply.message());
    }
    return CommandCodec.decodeDigestReply(reply.payload());
  }

  /**
   * The digest replica {@code replicaId} recorded at checkpoint {@code id}, waiting until it has
   * applied {@code index} (the checkpoint's log index).
   */
  public DigestAt checkpointOn(String replicaId, long id, long index) throws IOException {
    Message m = message(CommandCodec.checkpointQuery(id));
    return CommandCodec.decodeDigestReply(
        call(() -> raft.io().sendStaleRead(m, index, RaftPeerId.valueOf(replicaId))));
  }

  /**
   * The applied log index and state digest replica {@code replicaId} reports now (no coordination:
   * a replica behind reports where it is), e.g. to watch it catch up.
   */
  public DigestAt digestOn(String replicaId) throws IOException {
    Message m = message(CommandCodec.digestQuery());
    return CommandCodec.decodeDigestReply(
        call(() -> raft.io().sendStaleRead(m, 0, RaftPeerId.valueOf(replicaId))));
  }

  /** The Raft group this client talks to. */
  public RaftGroup group() {
    return group;
  }

  /** The underlying Ratis client (for admin calls). */
  public RaftClient raftClient() {
    return raft;
  }

  private byte[] write(byte[] command) throws IOException {
    long seq = nextSeq.getAndIncrement();
    unacked.add(seq);
    try {
      long firstUnacked = unacked.first();
      Message m = message(CommandCodec.userCommand(session, seq, firstUnacked, command));
      Reply reply = CommandCodec.decodeReply(call(() -> raft.io().send(m)));
      unacked.remove(seq);
      if (reply.status() != ReplyStatus.OK) {
        throw new KvException(reply.status(), reply.message());
      }
      return reply.payload();
    } catch (KvTimeoutException e) {
      // Outcome unknown: keep the sequence unacknowledged so the replicas keep its reply.
      throw e;
    } catch (IOException | RuntimeException e) {
      unacked.remove(seq);
      throw e;
    }
  }

  /** One attempt (with Ratis's own short retries for leader changes). */
  @FunctionalInterface
  private interface Attempt {
    RaftClientReply send() throws IOException;
  }

  /**
   * Sends, and re-sends on failure, until a reply or the deadline. Re-sending a write is safe: it
   * carries the same session and sequence number, so the replicas apply it at most once.
   */
  private byte[] call(Attempt attempt) throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    Throwable last = null;
    while (System.nanoTime() < deadline) {
      try {
        RaftClientReply r = attempt.send();
        if (r.isSuccess()) {
          return r.getMessage().getContent().toByteArray();
        }
        if (r.getStateMachineException() != null) {
          throw new KvException(
              ReplyStatus.APPLY_FAILED, r.getStateMachineException().getMessage());
        }
        last = r.getException();
      } catch (KvException e) {
        throw e;
      } catch (IOException e) {
        last = e;
      }
    }
    throw new KvTimeoutException("no reply within " + timeout, last);
  }

  private static Message message(byte[] bytes) {
    return Message.valueOf(ByteString.copyFrom(bytes));
  }

  @Override
  public void close() throws IOException {
    raft.close();
  }
}
