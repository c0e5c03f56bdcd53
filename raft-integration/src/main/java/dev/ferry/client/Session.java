package dev.ferry.client;

import dev.ferry.statemachine.ClientId;
import dev.ferry.statemachine.CommandCodec;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The client side of Ferry's at-most-once session protocol: each command gets the next sequence
 * number and carries the lowest one whose reply the client has not received ({@code firstUnacked}),
 * so the replicas forget replies below it. A command stays unacknowledged until its reply arrives;
 * one whose outcome is unknown stays so for good (the replicas keep its reply).
 *
 * <p>Concurrency: thread-safe; commands may be in flight from many threads. Numbering a command and
 * registering it as unacknowledged happen under the session's lock, so no command can announce a
 * {@code firstUnacked} above a lower number that is about to be sent (the replicas would refuse
 * that one as a stale sequence).
 */
final class Session {
  private final ClientId id;
  private final AtomicLong nextSeq = new AtomicLong(1);
  private final ConcurrentSkipListSet<Long> unacked = new ConcurrentSkipListSet<>();

  Session(ClientId id) {
    this.id = id;
  }

  ClientId id() {
    return id;
  }

  /** A command of this session: its sequence number and the log entry that carries it. */
  record Command(long seq, byte[] entry) {}

  /**
   * Numbers {@code payload} with the next sequence number, now unacknowledged, and wraps it in the
   * session envelope. The same entry is sent on every attempt.
   */
  Command next(byte[] payload) {
    long seq;
    // The sequence is registered before anyone can read firstUnacked past it.
    synchronized (this) {
      seq = nextSeq.getAndIncrement();
      unacked.add(seq);
    }
    return new Command(seq, CommandCodec.userCommand(id, seq, unacked.first(), payload));
  }

  /** The reply to {@code seq} arrived (whatever it said): the replicas may forget it. */
  void acknowledged(long seq) {
    unacked.remove(seq);
  }

  /** The lowest unacknowledged sequence number, or the next one if none is. */
  synchronized long firstUnacked() {
    return unacked.isEmpty() ? nextSeq.get() : unacked.first();
  }
}
