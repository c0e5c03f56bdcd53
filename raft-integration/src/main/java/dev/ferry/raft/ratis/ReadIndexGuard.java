package dev.ferry.raft.ratis;

import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.raftlog.RaftLog;
import org.apache.ratis.server.raftlog.RaftLogIndex;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Keeps Ratis's linearizable reads linearizable on a leader that lost its followers
 * (docs/ratis-workarounds.md). A leader serves a read at its commit index once a round of
 * heartbeats sent after the read arrived is answered by a majority ({@code ReadIndexHeartbeats}),
 * which proves that nobody else leads. Ratis 3.3.0 remembers the highest commit index such a round
 * confirmed ({@code ackedCommitIndex}) and serves every later read at that index or below at once,
 * without a round. A leader cut off from its followers cannot commit, so its commit index stays
 * where it was confirmed: it serves every read from its old state, while the other side elects a
 * leader and commits writes, until it notices and steps down (seconds). The multi-raft chaos run
 * (seed 3002) saw reads return a value two acknowledged writes had replaced.
 *
 * <p>{@link #forgetConfirmedReads} replaces that index, on the leader, with one that never holds a
 * confirmed value, so that every read runs a heartbeat round of its own; the state machine calls it
 * on every linearizable read it answers (a new leadership starts with a fresh index). Resetting the
 * value instead would not do: Ratis records it after the round's waiting reads ran, so a read
 * cannot clear it. The first reads of a leadership, before the state machine answered one, may
 * still share a confirmation a few milliseconds old, far inside the election timeout during which
 * the followers that answered vote for nobody else. It reads and writes Ratis's private fields: on
 * a Ratis version without them it does nothing (and says so once).
 */
public final class ReadIndexGuard {
  private static final Logger LOG = LoggerFactory.getLogger(ReadIndexGuard.class);

  private static final Field ROLE;
  private static final Method LEADER_STATE;
  private static final Field HEARTBEATS;
  private static final Field ACKED;
  private static final String UNAVAILABLE;

  private static final AtomicBoolean SAID_UNAVAILABLE = new AtomicBoolean();
  private static final AtomicLong RESETS = new AtomicLong();

  static {
    Field role = null;
    Method leaderState = null;
    Field heartbeats = null;
    Field acked = null;
    String why = null;
    try {
      Class<?> impl = Class.forName("org.apache.ratis.server.impl.RaftServerImpl");
      role = impl.getDeclaredField("role");
      role.setAccessible(true);
      leaderState = role.getType().getDeclaredMethod("getLeaderState");
      leaderState.setAccessible(true);
      Class<?> leader = Class.forName("org.apache.ratis.server.impl.LeaderStateImpl");
      heartbeats = leader.getDeclaredField("readIndexHeartbeats");
      heartbeats.setAccessible(true);
      acked = heartbeats.getType().getDeclaredField("ackedCommitIndex");
      if (!RaftLogIndex.class.equals(acked.getType())) {
        throw new NoSuchFieldException("ackedCommitIndex is a " + acked.getType());
      }
      acked.setAccessible(true);
    } catch (ReflectiveOperationException | RuntimeException e) {
      why = e.toString();
      role = null;
      leaderState = null;
      heartbeats = null;
      acked = null;
    }
    ROLE = role;
    LEADER_STATE = leaderState;
    HEARTBEATS = heartbeats;
    ACKED = acked;
    UNAVAILABLE = why;
  }

  private ReadIndexGuard() {}

  /** Whether this Ratis version has the confirmed read index this class resets. */
  public static boolean available() {
    return UNAVAILABLE == null;
  }

  /** How many leaderships in this JVM had their confirmed read index replaced. */
  public static long resets() {
    return RESETS.get();
  }

  /**
   * Makes every later linearizable read on {@code division}, if it leads, confirm its leadership
   * with a heartbeat round of its own; nothing on a follower. Never blocks (a few field reads).
   */
  public static void forgetConfirmedReads(RaftServer.Division division) {
    if (!available()) {
      if (SAID_UNAVAILABLE.compareAndSet(false, true)) {
        LOG.warn(
            "this Ratis version has no confirmed read index to replace ({}); a leader cut off"
                + " from its followers may serve stale reads until it steps down",
            UNAVAILABLE);
      }
      return;
    }
    try {
      Object role = ROLE.get(division);
      Optional<?> leader = (Optional<?>) LEADER_STATE.invoke(role);
      if (leader.isEmpty()) {
        return;
      }
      Object heartbeats = HEARTBEATS.get(leader.get());
      if (!(ACKED.get(heartbeats) instanceof NeverConfirmed)) {
        ACKED.set(heartbeats, new NeverConfirmed());
        RESETS.incrementAndGet();
      }
    } catch (ReflectiveOperationException | RuntimeException e) {
      LOG.debug(
          "replacing the confirmed read index of {}: {}", division.getMemberId(), e.toString());
    }
  }

  /** A confirmed read index that never holds a value: no read is served without a round. */
  private static final class NeverConfirmed extends RaftLogIndex {
    NeverConfirmed() {
      super("ackedCommitIndex (ferry: never confirmed)", RaftLog.INVALID_LOG_INDEX);
    }

    @Override
    public long get() {
      return RaftLog.INVALID_LOG_INDEX;
    }

    @Override
    public boolean updateToMax(long newIndex, Consumer<Object> log) {
      return false;
    }
  }
}
