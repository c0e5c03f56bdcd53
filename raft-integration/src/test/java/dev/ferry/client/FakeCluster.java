package dev.ferry.client;

import dev.ferry.client.internal.Transport;
import dev.ferry.statemachine.CommandCodec;
import dev.ferry.statemachine.Reply;
import dev.ferry.statemachine.ReplyStatus;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * Replicas of a counter behind a fake transport, with the servers' session rules (stored replies,
 * stale sequences, expiry on demand) and scripted faults. Commands: {@code inc} adds one and
 * replies with the new value (8 bytes); {@code boom} makes the state machine throw. Queries: {@code
 * get}; anything else makes {@code query} throw. Thread-safe.
 */
final class FakeCluster implements Transport {
  /** What happens to the next write. */
  enum Fault {
    /** Fails before reaching the replicas: nothing applied. */
    DROP_REQUEST,
    /** Applied, but the reply is lost on its way back. */
    LOSE_REPLY
  }

  private final Deque<Fault> faults = new ArrayDeque<>();
  private final Map<Long, byte[]> stored = new HashMap<>();
  private final List<long[]> entries = new ArrayList<>();
  private long firstUnacked = 1;
  private long counter;
  private int writes;
  private boolean down;
  private List<String> answers = List.of();
  private int answered;
  private boolean expired;
  private boolean closed;

  synchronized void fault(Fault f) {
    faults.add(f);
  }

  synchronized void clearFaults() {
    faults.clear();
  }

  /** While down, every attempt fails (transiently). */
  synchronized void down(boolean down) {
    this.down = down;
  }

  /**
   * While not empty, each attempt is answered by the next node of {@code rotation} (cyclically): a
   * node id answers "not here", {@code "-"} does not answer (a transient failure). Empty: the
   * cluster answers.
   */
  synchronized void answers(List<String> rotation) {
    this.answers = List.copyOf(rotation);
    this.answered = 0;
  }

  /** From now on the replicas have forgotten the session. */
  synchronized void expireSessions() {
    this.expired = true;
  }

  synchronized long counter() {
    return counter;
  }

  synchronized int writes() {
    return writes;
  }

  /** {@code {seq, firstUnacked}} of every entry that reached the replicas, in arrival order. */
  synchronized List<long[]> entries() {
    return List.copyOf(entries);
  }

  @Override
  public synchronized Written write(byte[] entry) throws IOException {
    writes++;
    check();
    Fault f = faults.poll();
    if (f == Fault.DROP_REQUEST) {
      throw new IOException("request dropped");
    }
    byte[] reply = apply(entry);
    if (f == Fault.LOSE_REPLY) {
      throw new IOException("reply lost");
    }
    return new Written(reply, writes);
  }

  private byte[] apply(byte[] entry) {
    ByteBuffer b = ByteBuffer.wrap(entry);
    if (b.get() != 0x01) {
      return CommandCodec.encodeReply(Reply.ok(new byte[0])); // framework commands: no-ops
    }
    b.getLong();
    b.getLong();
    long seq = b.getLong();
    long unacked = b.getLong();
    entries.add(new long[] {seq, unacked});
    if (expired && unacked > 1) {
      return CommandCodec.encodeReply(Reply.failed(ReplyStatus.SESSION_EXPIRED, "expired"));
    }
    firstUnacked = Math.max(firstUnacked, unacked);
    stored.keySet().removeIf(s -> s < firstUnacked);
    byte[] old = stored.get(seq);
    if (old != null) {
      return old;
    }
    if (seq < firstUnacked) {
      return CommandCodec.encodeReply(
          Reply.failed(ReplyStatus.STALE_SEQUENCE, "sequence " + seq + " already acknowledged"));
    }
    byte[] payload = new byte[b.remaining()];
    b.get(payload);
    String command = new String(payload, StandardCharsets.UTF_8);
    byte[] reply =
        command.equals("inc")
            ? CommandCodec.encodeReply(
                Reply.ok(ByteBuffer.allocate(Long.BYTES).putLong(++counter).array()))
            : CommandCodec.encodeReply(
                Reply.failed(ReplyStatus.APPLY_FAILED, "apply failed: " + command));
    stored.put(seq, reply);
    return reply;
  }

  @Override
  public synchronized byte[] read(byte[] query) throws IOException {
    check();
    String q = new String(query, 1, query.length - 1, StandardCharsets.UTF_8);
    if (!q.equals("get")) {
      throw new Transport.Refused("query failed: " + q, null);
    }
    return Long.toString(counter).getBytes(StandardCharsets.UTF_8);
  }

  @Override
  public synchronized byte[] readStale(byte[] query, long minIndex, String nodeId)
      throws IOException {
    return (nodeId + ":" + new String(read(query), StandardCharsets.UTF_8))
        .getBytes(StandardCharsets.UTF_8);
  }

  private void check() throws IOException {
    if (closed) {
      throw new Transport.Closed("closed", null);
    }
    if (down) {
      throw new IOException("no leader");
    }
    if (!answers.isEmpty()) {
      String node = answers.get(answered++ % answers.size());
      if (node.equals("-")) {
        throw new IOException("unreachable");
      }
      throw new Transport.NotHere(node, true, node + ": group-x not found.", null);
    }
  }

  @Override
  public synchronized void close() {
    closed = true;
  }
}
