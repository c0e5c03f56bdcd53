package dev.ferry.statemachine.replica;

import dev.ferry.snapshot.StateDigest;
import dev.ferry.snapshot.format.Manifest;
import dev.ferry.statemachine.ApplyContext;
import dev.ferry.statemachine.ClientId;
import dev.ferry.statemachine.CommandCodec;
import dev.ferry.statemachine.DigestAt;
import dev.ferry.statemachine.MembershipChange;
import dev.ferry.statemachine.Reply;
import dev.ferry.statemachine.ReplyStatus;
import dev.ferry.statemachine.ReportsChanges;
import dev.ferry.statemachine.RetentionHold;
import dev.ferry.statemachine.ShardLayout;
import dev.ferry.statemachine.StateMachine;
import dev.ferry.statemachine.StateMachineConfig;
import dev.ferry.statemachine.StateView;
import dev.ferry.statemachine.internal.ByteKey;
import dev.ferry.statemachine.internal.CaptureJob;
import dev.ferry.statemachine.internal.RecordDigest;
import dev.ferry.statemachine.internal.SessionTable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The replicated part of a replica: applies log entries (user commands under client sessions,
 * capture, checkpoint and membership records) to the user's {@link StateMachine} and keeps the
 * state digest, the session table and the capture counters. No Raft, no I/O: a capture is handed to
 * a sink as a {@link Capture}.
 *
 * <p>Invariants: every entry is applied at most once (the caller filters entries at or below the
 * applied index; a duplicate user command gets its stored reply); the digest after an entry is a
 * function of the log up to it, the same on every replica.
 *
 * <p>Concurrency: {@link #apply} and {@link #reset} run on the apply thread (one at a time); the
 * digest, membership and checkpoint accessors are thread-safe.
 */
final class ApplyCore {
  private static final Logger LOG = LoggerFactory.getLogger(ApplyCore.class);

  /** Sessions are checked for expiry at indices that are multiples of this. */
  static final long EXPIRY_CHECK_INTERVAL = 1024;

  private static final int RECORDED_CHECKPOINTS = 256;

  /** Marks a deleted key in a dirty map (compared by identity). */
  private static final byte[] TOMBSTONE = new byte[0];

  private final StateMachine sm;
  private final ShardLayout layout;
  private final StateMachineConfig config;
  private final boolean reportsChanges;
  private final boolean verifyChanges;
  private final Executor background;
  private final Consumer<Capture> captures;
  private final String name;

  // ---- apply-thread state ----
  private SessionTable sessions = new SessionTable();
  private StateDigest recordsDigest = StateDigest.EMPTY;
  private StateDigest[] shardDigests;
  private StateDigest sessionsDigest = StateDigest.EMPTY;
  private List<Map<ByteKey, byte[]>> dirty;
  private long lastCaptureIndex = -1;
  private long commandsSinceCapture;
  private long bytesSinceCapture;

  /** The view at the last capture or load, for the change check ({@code null}: empty state). */
  private StateView checkedView;

  // ---- shared state ----
  private final Map<Long, DigestAt> checkpoints =
      new LinkedHashMap<>() {
        private static final long serialVersionUID = 1L;

        @Override
        protected boolean removeEldestEntry(Map.Entry<Long, DigestAt> eldest) {
          return size() > RECORDED_CHECKPOINTS;
        }
      };

  private volatile DigestAt currentDigest = new DigestAt(0, -1, StateDigest.EMPTY);
  private volatile MembershipChange pendingChange;

  /**
   * Retention holds by owner (apply thread). Not part of snapshots: a replica that loads one (a
   * restart, an install) forgets the holds and learns them again from their next renewal.
   */
  private final Map<String, RetentionHold> holds = new TreeMap<>();

  private volatile long holdFloor = Long.MAX_VALUE;
  private volatile List<RetentionHold> holdList = List.of();
  private final AtomicLong holdsPlaced = new AtomicLong();
  private final AtomicLong holdsExpired = new AtomicLong();

  /**
   * A capture taken at one log index, to be written off the apply thread.
   *
   * @param job what the snapshot catalog writes
   * @param shardDigests the records digest of each shard at the index (state machines that report
   *     changes), or {@code null}
   * @param check the reported-changes check to run before writing, or {@code null}
   */
  record Capture(CaptureJob job, List<StateDigest> shardDigests, ChangeCheck check) {}

  /**
   * @param sm the user's state machine
   * @param config the server's settings for it
   * @param background where digests of state machines that do not report changes are computed
   * @param captures receives each capture, on the apply thread; must not block
   * @param name how log lines name this replica
   */
  ApplyCore(
      StateMachine sm,
      ShardLayout layout,
      StateMachineConfig config,
      Executor background,
      Consumer<Capture> captures,
      String name) {
    this.sm = Objects.requireNonNull(sm, "sm");
    this.layout = Objects.requireNonNull(layout, "layout");
    this.config = Objects.requireNonNull(config, "config");
    this.reportsChanges = sm instanceof ReportsChanges;
    this.verifyChanges = reportsChanges && config.verifyReportedChanges();
    this.background = Objects.requireNonNull(background, "background");
    this.captures = Objects.requireNonNull(captures, "captures");
    this.name = name;
    this.dirty = newDirty();
    this.shardDigests = new StateDigest[layout.names().size()];
    Arrays.fill(shardDigests, StateDigest.EMPTY);
  }

  /**
   * Applies one log entry, not applied before, and returns its reply: a {@link CommandCodec}
   * envelope. Completes at once except for a checkpoint of a state machine that does not report
   * changes (its digest is computed on the background executor).
   */
  CompletableFuture<byte[]> apply(long term, long index, ByteBuffer data) {
    byte[] reply = null;
    CompletableFuture<byte[]> async = null;
    if (!data.hasRemaining()) {
      reply = CommandCodec.encodeReply(Reply.failed(ReplyStatus.APPLY_FAILED, "empty command"));
    } else {
      byte kind = data.get(data.position());
      switch (kind) {
        case CommandCodec.USER -> reply = applyUser(data, term, index);
        case CommandCodec.CAPTURE -> reply = applyCapture(term, index);
        case CommandCodec.CHECKPOINT -> async = applyCheckpoint(data, term, index);
        case CommandCodec.MEMBERSHIP -> reply = applyMembership(data, term, index);
        case CommandCodec.HOLD -> reply = applyHold(data, index);
        default ->
            reply =
                CommandCodec.encodeReply(
                    Reply.failed(ReplyStatus.APPLY_FAILED, "unknown command kind " + kind));
      }
    }
    if (!holds.isEmpty()) {
      ageHolds(index, data.remaining());
    }
    if (index % EXPIRY_CHECK_INTERVAL == 0) {
      sessionsDigest = sessions.expire(index, config.sessionIdleEntries(), sessionsDigest);
    }
    currentDigest = new DigestAt(term, index, recordsDigest.plus(sessionsDigest));
    return async != null ? async : CompletableFuture.completedFuture(reply);
  }

  /** Commands applied since the last capture. Apply thread. */
  long commandsSinceCapture() {
    return commandsSinceCapture;
  }

  /** Command bytes applied since the last capture. Apply thread. */
  long bytesSinceCapture() {
    return bytesSinceCapture;
  }

  /** Whether the user's state machine reports its changes. */
  boolean reportsChanges() {
    return reportsChanges;
  }

  /** The digest after the last applied entry. Thread-safe. */
  DigestAt currentDigest() {
    return currentDigest;
  }

  /**
   * The digest of the applied state: {@link #currentDigest} for a state machine that reports
   * changes, otherwise computed from a view on the background executor.
   */
  CompletableFuture<DigestAt> digest() {
    if (reportsChanges) {
      return CompletableFuture.completedFuture(currentDigest);
    }
    // Take the view on a consistent point: the digest of the sessions travels with it.
    DigestAt at = currentDigest;
    StateView v = sm.view();
    StateDigest sd = sessionsDigest;
    return CompletableFuture.supplyAsync(
        () -> new DigestAt(at.term(), at.index(), digestOf(v).plus(sd)), background);
  }

  /** The pending membership change, as of the last applied entry. Thread-safe. */
  Optional<MembershipChange> pendingChange() {
    return Optional.ofNullable(pendingChange);
  }

  /**
   * The lowest floor of the retention holds standing after the last applied entry, or {@link
   * Long#MAX_VALUE} if none stands. Thread-safe.
   */
  long holdFloor() {
    return holdFloor;
  }

  /** The retention holds standing after the last applied entry, by owner. Thread-safe. */
  List<RetentionHold> holds() {
    return holdList;
  }

  /** Holds placed (a new owner, or an owner's new floor) since this replica started. */
  long holdsPlaced() {
    return holdsPlaced.get();
  }

  /** Holds that expired, not renewed for {@code holdExpiryEntries} entries. */
  long holdsExpired() {
    return holdsExpired.get();
  }

  /** The digest recorded at checkpoint {@code id}, if remembered. Thread-safe. */
  Optional<DigestAt> checkpoint(long id) {
    synchronized (checkpoints) {
      return Optional.ofNullable(checkpoints.get(id));
    }
  }

  /** The digest recorded at the latest checkpoint, if any is remembered. Thread-safe. */
  Optional<DigestAt> lastCheckpoint() {
    synchronized (checkpoints) {
      DigestAt last = null;
      for (DigestAt d : checkpoints.values()) {
        last = d;
      }
      return Optional.ofNullable(last);
    }
  }

  /**
   * Takes over a loaded snapshot's sessions and digests after its state was committed into the
   * user's state machine. Apply thread (or initialization), nothing applying.
   */
  void reset(StagedState s) {
    Manifest m = s.manifest();
    sessions = s.sessions();
    sessionsDigest = s.sessions().digest();
    pendingChange = decodeMembership(s.sessions().membership());
    recordsDigest = m.digest().minus(sessionsDigest);
    shardDigests = s.shards().toArray(StateDigest[]::new);
    dirty = newDirty();
    lastCaptureIndex = m.index();
    commandsSinceCapture = 0;
    bytesSinceCapture = 0;
    checkedView = verifyChanges ? sm.view() : null;
    currentDigest = new DigestAt(m.term(), m.index(), m.digest());
    holds.clear();
    publishHolds();
  }

  private MembershipChange decodeMembership(byte[] encoded) {
    if (encoded == null) {
      return null;
    }
    try {
      return MembershipChange.decode(encoded);
    } catch (IllegalArgumentException e) {
      // The snapshot's digest covered these bytes: they were written by a newer version.
      LOG.warn("{}: cannot read the pending membership change of the snapshot: {}", name, e);
      return null;
    }
  }

  // ---- user commands ----------------------------------------------------------------------------

  private byte[] applyUser(ByteBuffer data, long term, long index) {
    if (data.remaining() < CommandCodec.USER_HEADER) {
      return CommandCodec.encodeReply(
          Reply.failed(ReplyStatus.APPLY_FAILED, "truncated command header"));
    }
    ByteBuffer b = data.slice();
    b.get();
    ClientId client = new ClientId(b.getLong(), b.getLong());
    long seq = b.getLong();
    long firstUnacked = b.getLong();
    if (seq < 1 || firstUnacked < 1 || firstUnacked > seq) {
      return CommandCodec.encodeReply(
          Reply.failed(ReplyStatus.APPLY_FAILED, "bad sequence " + seq + "/" + firstUnacked));
    }
    SessionTable.Session s = sessions.get(client);
    if (s == null) {
      if (firstUnacked > 1) {
        return CommandCodec.encodeReply(
            Reply.failed(
                ReplyStatus.SESSION_EXPIRED,
                "session " + client + " expired; commands before " + seq + " may have applied"));
      }
      s = sessions.open(client, index);
    } else {
      sessionsDigest = sessionsDigest.minus(SessionTable.elementHash(client, s));
    }
    try {
      sessions.acknowledge(s, firstUnacked, index);
      byte[] stored = s.reply(seq);
      if (stored != null) {
        return stored;
      }
      if (seq < s.firstUnacked()) {
        return CommandCodec.encodeReply(
            Reply.failed(ReplyStatus.STALE_SEQUENCE, "sequence " + seq + " already acknowledged"));
      }
      if (s.outstanding() >= config.maxOutstandingPerSession()) {
        return CommandCodec.encodeReply(
            Reply.failed(
                ReplyStatus.TOO_MANY_OUTSTANDING,
                s.outstanding() + " unacknowledged replies in session " + client));
      }
      byte[] payload = new byte[b.remaining()];
      b.get(payload);
      byte[] reply = CommandCodec.encodeReply(invokeApply(payload, term, index));
      sessions.record(s, seq, reply);
      commandsSinceCapture++;
      bytesSinceCapture += payload.length;
      return reply;
    } finally {
      sessionsDigest = sessionsDigest.plus(SessionTable.elementHash(client, s));
    }
  }

  private Reply invokeApply(byte[] payload, long term, long index) {
    Context ctx = new Context(term, index);
    try {
      return Reply.ok(sm.apply(payload, ctx));
    } catch (RuntimeException e) {
      LOG.error(
          "{}: apply threw at index {}: this is a bug in the state machine; the request fails on"
              + " every replica",
          name,
          index,
          e);
      return Reply.failed(ReplyStatus.APPLY_FAILED, "apply failed: " + e);
    } finally {
      ctx.closed = true;
    }
  }

  private final class Context implements ApplyContext {
    private final long term;
    private final long index;
    boolean closed;

    Context(long term, long index) {
      this.term = term;
      this.index = index;
    }

    @Override
    public long index() {
      return index;
    }

    @Override
    public long term() {
      return term;
    }

    @Override
    public void changed(byte[] key, byte[] oldValue, byte[] newValue) {
      if (closed) {
        throw new IllegalStateException("ApplyContext used after apply returned");
      }
      Objects.requireNonNull(key, "key");
      if (!reportsChanges) {
        return;
      }
      int shard = layout.shardOf(key);
      if (oldValue != null) {
        byte[] h = RecordDigest.hash(key, oldValue);
        recordsDigest = recordsDigest.minus(h);
        shardDigests[shard] = shardDigests[shard].minus(h);
      }
      if (newValue != null) {
        byte[] h = RecordDigest.hash(key, newValue);
        recordsDigest = recordsDigest.plus(h);
        shardDigests[shard] = shardDigests[shard].plus(h);
      }
      dirty.get(shard).put(new ByteKey(key), newValue == null ? TOMBSTONE : newValue);
    }
  }

  // ---- capture, checkpoint -------------------------------------------------------------------

  private byte[] applyCapture(long term, long index) {
    if (commandsSinceCapture == 0 && lastCaptureIndex >= 0) {
      return CommandCodec.encodeReply(Reply.ok(new byte[0]));
    }
    List<Map<ByteKey, byte[]>> changes = reportsChanges ? dirty : null;
    dirty = newDirty();
    lastCaptureIndex = index;
    commandsSinceCapture = 0;
    bytesSinceCapture = 0;
    StateView view = sm.view();
    ChangeCheck check = null;
    if (verifyChanges) {
      check = new ChangeCheck(layout, checkedView, changes, TOMBSTONE, view, index);
      checkedView = view;
    }
    CaptureJob job =
        new CaptureJob(
            term,
            index,
            view,
            changes,
            TOMBSTONE,
            sessions.encode(),
            reportsChanges ? recordsDigest.plus(sessionsDigest) : null,
            sessionsDigest);
    captures.accept(new Capture(job, reportsChanges ? List.of(shardDigests.clone()) : null, check));
    return CommandCodec.encodeReply(Reply.ok(new byte[0]));
  }

  private CompletableFuture<byte[]> applyCheckpoint(ByteBuffer data, long term, long index) {
    if (data.remaining() != 1 + Long.BYTES) {
      return CompletableFuture.completedFuture(
          CommandCodec.encodeReply(Reply.failed(ReplyStatus.APPLY_FAILED, "malformed checkpoint")));
    }
    long id = data.getLong(data.position() + 1);
    CompletableFuture<DigestAt> digest;
    if (reportsChanges) {
      digest =
          CompletableFuture.completedFuture(
              new DigestAt(term, index, recordsDigest.plus(sessionsDigest)));
    } else {
      StateView v = sm.view();
      StateDigest sd = sessionsDigest;
      digest =
          CompletableFuture.supplyAsync(
              () -> new DigestAt(term, index, digestOf(v).plus(sd)), background);
    }
    return digest.thenApply(
        d -> {
          synchronized (checkpoints) {
            checkpoints.put(id, d);
          }
          return CommandCodec.encodeReply(Reply.ok(CommandCodec.encodeDigestReply(d)));
        });
  }

  /** The records digest of a view, read shard by shard. */
  StateDigest digestOf(StateView v) {
    StateDigest[] d = {StateDigest.EMPTY};
    try {
      for (int shard = 0; shard < layout.names().size(); shard++) {
        v.writeShard(shard, (key, value) -> d[0] = d[0].plus(RecordDigest.hash(key, value)));
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return d[0];
  }

  private List<Map<ByteKey, byte[]>> newDirty() {
    List<Map<ByteKey, byte[]>> maps = new ArrayList<>();
    for (int i = 0; i < layout.names().size(); i++) {
      maps.add(new HashMap<>());
    }
    return maps;
  }

  // ---- membership records --------------------------------------------------------------------

  private byte[] applyMembership(ByteBuffer data, long term, long index) {
    MembershipChange now = pendingChange;
    MembershipChange next;
    try {
      ByteBuffer b = data.slice();
      b.get();
      byte op = b.get();
      switch (op) {
        case CommandCodec.MEMBERSHIP_BEGIN, CommandCodec.MEMBERSHIP_BEGIN_IN_TERM -> {
          long inTerm = op == CommandCodec.MEMBERSHIP_BEGIN_IN_TERM ? b.getLong() : -1;
          int kind = b.get() & 0xff;
          long id = b.getLong();
          String node = text(b);
          String address = text(b);
          // Absent from older entries and from a plain add's.
          String replaces = b.hasRemaining() ? text(b) : "";
          requireEnd(b);
          if (kind >= MembershipChange.Kind.values().length) {
            throw new IllegalArgumentException("unknown kind " + kind);
          }
          if (now != null && now.id() == id) {
            next = now;
          } else if (now != null) {
            return membershipConflict("another membership change is pending: " + now);
          } else if (inTerm >= 0 && inTerm != term) {
            return membershipConflict(
                "not begun: its driver began it under the leader of term "
                    + inTerm
                    + ", and it reached the log in term "
                    + term
                    + " (re-sent to a later leader); nothing is recorded");
          } else {
            next =
                new MembershipChange(
                    id,
                    MembershipChange.Kind.values()[kind],
                    node,
                    address,
                    MembershipChange.Phase.STARTED,
                    term,
                    index,
                    "",
                    replaces);
          }
        }
        case CommandCodec.MEMBERSHIP_ADVANCE -> {
          long id = b.getLong();
          int phase = b.get() & 0xff;
          requireEnd(b);
          if (phase >= MembershipChange.Phase.values().length
              || phase == MembershipChange.Phase.CANCELLED.ordinal()) {
            throw new IllegalArgumentException("unknown phase " + phase);
          }
          if (now == null || now.id() != id) {
            return notPending(id, now);
          }
          if (now.phase() == MembershipChange.Phase.CANCELLED) {
            return membershipConflict("membership change cancelled: " + now);
          }
          MembershipChange.Phase to = MembershipChange.Phase.values()[phase];
          if (to == MembershipChange.Phase.PROMOTED && !now.isReplacement()) {
            return membershipConflict("only an add that replaces a node is promoted: " + now);
          }
          if (to == MembershipChange.Phase.PROMOTED
              && now.phase() == MembershipChange.Phase.STARTED) {
            return membershipConflict("not verified, so not promoted: " + now);
          }
          if (now.phase() == MembershipChange.Phase.PROMOTED
              && to != MembershipChange.Phase.PROMOTED) {
            return membershipConflict("promoted; it never goes back to " + to + ": " + now);
          }
          next = now.at(to, term, index);
        }
        case CommandCodec.MEMBERSHIP_CANCEL -> {
          long id = b.getLong();
          String by = text(b);
          requireEnd(b);
          if (now == null || now.id() != id) {
            return notPending(id, now);
          }
          if (now.kind() != MembershipChange.Kind.ADD) {
            return membershipConflict("only an add can be cancelled: " + now);
          }
          if (now.phase() == MembershipChange.Phase.VERIFIED
              || now.phase() == MembershipChange.Phase.PROMOTED) {
            return membershipConflict("too late to cancel: verified, promotion follows: " + now);
          }
          next =
              now.phase() == MembershipChange.Phase.CANCELLED
                  ? now
                  : now.cancelled(by, term, index);
        }
        case CommandCodec.MEMBERSHIP_END -> {
          long id = b.getLong();
          requireEnd(b);
          next = now != null && now.id() == id ? null : now;
        }
        default -> throw new IllegalArgumentException("unknown membership op " + op);
      }
    } catch (RuntimeException e) {
      return CommandCodec.encodeReply(
          Reply.failed(ReplyStatus.APPLY_FAILED, "malformed membership command: " + e));
    }
    if (next != now) {
      sessionsDigest = sessions.membership(next == null ? null : next.encode(), sessionsDigest);
      pendingChange = next;
      if (next != null && (now == null || now.id() != next.id())) {
        LOG.info("{}: membership change pending: {}", name, next);
      } else if (next != null && next.phase() == MembershipChange.Phase.CANCELLED) {
        LOG.info("{}: membership change cancelled: {}", name, next);
      } else if (next != null) {
        // A phase of the same change: the driver logs its steps.
        LOG.debug("{}: membership change pending: {}", name, next);
      } else {
        LOG.info("{}: membership change {} ended", name, now);
      }
    }
    return CommandCodec.encodeReply(Reply.ok(next == null ? new byte[0] : next.encode()));
  }

  // ---- retention holds -----------------------------------------------------------------------

  private byte[] applyHold(ByteBuffer data, long index) {
    RetentionHold now;
    try {
      ByteBuffer b = data.slice();
      b.get();
      byte op = b.get();
      String owner = text(b);
      if (owner.isEmpty()) {
        throw new IllegalArgumentException("empty owner");
      }
      switch (op) {
        case CommandCodec.HOLD_RENEW -> {
          long floor = b.getLong();
          requireEnd(b);
          RetentionHold was = holds.get(owner);
          if (was != null && was.floor() == floor) {
            now = new RetentionHold(owner, floor, was.placedAt(), index, was.logBytes());
          } else {
            now = new RetentionHold(owner, floor, index, index, 0);
            holdsPlaced.incrementAndGet();
            // The installing node logs its hold; every replica logging it too would be noise.
            LOG.debug(
                "{}: retention hold of {} at index {} placed (voters purge no further than it)",
                name,
                owner,
                floor);
          }
          holds.put(owner, now);
        }
        case CommandCodec.HOLD_RELEASE -> {
          requireEnd(b);
          now = holds.remove(owner);
          if (now != null) {
            LOG.debug("{}: retention hold of {} at index {} released", name, owner, now.floor());
          }
        }
        default -> throw new IllegalArgumentException("unknown hold op " + op);
      }
    } catch (RuntimeException e) {
      return CommandCodec.encodeReply(
          Reply.failed(ReplyStatus.APPLY_FAILED, "malformed hold command: " + e));
    }
    publishHolds();
    return CommandCodec.encodeReply(
        Reply.ok(now == null ? new byte[0] : CommandCodec.encodeHoldReply(now)));
  }

  /**
   * Adds an applied entry's bytes to every hold and expires the holds not renewed for {@code
   * holdExpiryEntries} entries. Apply thread; the same on every replica.
   */
  private void ageHolds(long index, int entryBytes) {
    for (var it = holds.entrySet().iterator(); it.hasNext(); ) {
      Map.Entry<String, RetentionHold> e = it.next();
      RetentionHold h = e.getValue();
      if (index - h.renewedAt() > config.holdExpiryEntries()) {
        it.remove();
        holdsExpired.incrementAndGet();
        LOG.info(
            "{}: retention hold of {} at index {} expired: not renewed since index {}",
            name,
            h.owner(),
            h.floor(),
            h.renewedAt());
      } else if (h.renewedAt() != index) {
        e.setValue(
            new RetentionHold(
                h.owner(), h.floor(), h.placedAt(), h.renewedAt(), h.logBytes() + entryBytes));
      }
    }
    publishHolds();
  }

  private void publishHolds() {
    holdList = List.copyOf(holds.values());
    holdFloor =
        holds.values().stream().mapToLong(RetentionHold::floor).min().orElse(Long.MAX_VALUE);
  }

  private static byte[] notPending(long id, MembershipChange now) {
    return membershipConflict(
        "membership change "
            + Long.toHexString(id)
            + " is not pending"
            + (now == null ? " (none is)" : "; pending: " + now));
  }

  private static byte[] membershipConflict(String why) {
    return CommandCodec.encodeReply(Reply.failed(ReplyStatus.CONFLICT, why));
  }

  private static String text(ByteBuffer b) {
    int n = b.getShort() & 0xffff;
    byte[] t = new byte[n];
    b.get(t);
    return new String(t, StandardCharsets.UTF_8);
  }

  private static void requireEnd(ByteBuffer b) {
    if (b.hasRemaining()) {
      throw new IllegalArgumentException(b.remaining() + " trailing bytes");
    }
  }
}
