package dev.ferry.statemachine;

/**
 * A Ferry state machine: what a user implements to have a replicated service. Hand an instance to
 * {@code FerryServer.builder().stateMachine(...)}; the server runs it on every replica. Everything
 * else — the Raft log, idempotent apply, client sessions, snapshot capture through the log, layered
 * snapshots, the state digest, snapshot install, stale reads — is the server's.
 *
 * <p><b>Determinism.</b> {@link #apply} must be a pure function of the state and the command: every
 * replica applies the same log and must reach the same state, the same snapshot bytes and the same
 * digest. No clocks, no randomness, no iteration over hash-ordered collections whose order depends
 * on the JVM. Snapshots are captured at the same log index on every replica (the leader proposes a
 * capture command), so every replica's snapshot at that index is byte-identical.
 *
 * <p><b>Idempotence.</b> {@link #apply} is called exactly once per command: entries at or below the
 * applied index are skipped, and every command carries a client session, so a duplicate (a client
 * retrying after a leader change) gets the stored reply without being applied again. Sessions
 * expire by log index, never by a replica's clock.
 *
 * <p><b>Threads.</b> {@link #apply} and {@link #view} are called on one apply thread, in log order.
 * {@link #query} may be called on any thread, concurrently with apply: read a published immutable
 * state (for example through a {@code volatile} field). A {@link StateView} is read on a capture
 * thread while apply goes on, and {@link StateLoader}s load on several threads (see there).
 *
 * <p><b>Snapshots.</b> The state is written and loaded as key/value records, split into the shards
 * of {@link #layout()}. A state machine without keys (a counter) writes one record: {@link
 * StateView#singleRecord} and {@link StateLoader#singleRecord}.
 *
 * <p><b>Optional capabilities.</b> A state machine that also implements {@link ReportsChanges}
 * reports every change through {@link ApplyContext#changed}; the digest is then incremental and
 * snapshots are layered.
 */
public interface StateMachine {

  /**
   * Applies one command to the live state and returns the reply (sent to the client that submitted
   * the command). Called on the apply thread, in log order, exactly once per command. Must be
   * deterministic. A state machine implementing {@link ReportsChanges} reports every change through
   * {@code ctx}.
   *
   * <p>Throwing is a bug in the state machine: the request fails with {@link
   * ReplyStatus#APPLY_FAILED} on every replica alike, and it is logged at error level. The state
   * must be unchanged when it throws.
   *
   * @param command the bytes the client submitted
   * @param ctx the command's log position; valid only during this call
   */
  byte[] apply(byte[] command, ApplyContext ctx);

  /**
   * A point-in-time, immutable view of the live state, taken in (near) constant time: apply goes on
   * while the view is written to a snapshot on another thread. Called on the apply thread.
   */
  StateView view();

  /**
   * Starts building a new, empty state beside the live one, for a restart or an install. Called on
   * any thread; the live state must stay untouched until {@link StateLoader#commit}.
   */
  StateLoader newLoader();

  /**
   * Answers a read-only query from the live state. May be called on any thread, concurrently with
   * {@link #apply}; must not change the state. Throwing fails the query with the exception's
   * message.
   */
  byte[] query(byte[] request);

  /**
   * How keys map to shards: the same on every replica for the life of the data. Called once, when
   * the server is built. The default is one shard ({@link ShardLayout#single()}).
   */
  default ShardLayout layout() {
    return ShardLayout.single();
  }
}
