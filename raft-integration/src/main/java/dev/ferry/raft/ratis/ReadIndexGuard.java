package dev.ferry.raft.ratis;

import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.leader.LogAppender;
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
 *
 * <p>A round of its own for every read exposes a second Ratis 3.3.0 problem, which the shortcut
 * used to hide: a read's round triggers a heartbeat to each follower and only then notes the
 * appender's next call id, which the answer must reach ({@code ReadIndexHeartbeats
 * .AppendEntriesListener}). When the appender sends the heartbeat between the two, the answer does
 * not count, and the read waits for the next periodic heartbeat: half the minimum election timeout
 * (750 ms with Ferry's defaults). A heartbeat sent while entries are in flight carries no commit
 * index and does not count either. So while reads wait, the guard triggers the leader's heartbeats
 * again, 5 ms after the read arrived and then at doubling intervals up to 100 ms, on one shared
 * daemon thread ({@code ferry-read-heartbeats}); a triggered heartbeat changes nothing in Raft's
 * safety, it only comes sooner. Measured with {@code ReadLatencyBenchmark}: see
 * docs/ratis-workarounds.md.
 *
 * <p>For that measurement only, the system property {@value #MODE_PROPERTY} turns the guard down:
 * {@code no-retrigger} keeps the rounds but not the re-triggering, {@code off} leaves Ratis's
 * shortcut in place (stale reads on a cut-off leader). Either says so once, at WARN.
 */
public final class ReadIndexGuard {
  private static final Logger LOG = LoggerFactory.getLogger(ReadIndexGuard.class);

  private static final Field ROLE;
  private static final Method LEADER_STATE;
  private static final Field HEARTBEATS;
  private static final Field ACKED;
  private static final Field SENDERS;
  private static final Field LISTENERS;
  private static final Field WAITING;
  private static final String UNAVAILABLE;

  /** First re-trigger after a read arrived, and the longest interval between re-triggers. */
  private static final long FIRST_KICK_MS = 5;

  private static final long MAX_KICK_MS = 100;

  /** How many re-triggers come at the short interval before the long one. */
  private static final int QUICK_KICKS = 10;

  private static final ScheduledThreadPoolExecutor KICKER = kicker();

  /** The system property that turns the guard down for measurements ({@code on} by default). */
  public static final String MODE_PROPERTY = "ferry.readGuard";

  private static final String MODE = mode(System.getProperty(MODE_PROPERTY, "on"));
  private static final boolean GUARD = !"off".equals(MODE);
  private static final boolean RETRIGGER = "on".equals(MODE);

  private static final AtomicBoolean SAID_UNAVAILABLE = new AtomicBoolean();
  private static final AtomicBoolean SAID_MODE = new AtomicBoolean();
  private static final AtomicLong RESETS = new AtomicLong();
  private static final AtomicLong RETRIGGERS = new AtomicLong();

  static {
    Field role = null;
    Method leaderState = null;
    Field heartbeats = null;
    Field acked = null;
    Field senders = null;
    Field listeners = null;
    Field waiting = null;
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
      senders = leader.getDeclaredField("senders");
      if (!Iterable.class.isAssignableFrom(senders.getType())) {
        throw new NoSuchFieldException("senders is a " + senders.getType());
      }
      senders.setAccessible(true);
      listeners = heartbeats.getType().getDeclaredField("appendEntriesListeners");
      listeners.setAccessible(true);
      waiting = listeners.getType().getDeclaredField("sorted");
      if (!Map.class.isAssignableFrom(waiting.getType())) {
        throw new NoSuchFieldException("sorted is a " + waiting.getType());
      }
      waiting.setAccessible(true);
    } catch (ReflectiveOperationException | RuntimeException e) {
      why = e.toString();
      role = null;
      leaderState = null;
      heartbeats = null;
      acked = null;
      senders = null;
      listeners = null;
      waiting = null;
    }
    ROLE = role;
    LEADER_STATE = leaderState;
    HEARTBEATS = heartbeats;
    ACKED = acked;
    SENDERS = senders;
    LISTENERS = listeners;
    WAITING = waiting;
    UNAVAILABLE = why;
  }

  private ReadIndexGuard() {}

  private static String mode(String value) {
    return switch (value) {
      case "no-retrigger", "off" -> value;
      default -> "on";
    };
  }

  private static ScheduledThreadPoolExecutor kicker() {
    ScheduledThreadPoolExecutor e =
        new ScheduledThreadPoolExecutor(
            1,
            r -> {
              Thread t = new Thread(r, "ferry-read-heartbeats");
              t.setDaemon(true);
              return t;
            });
    e.setRemoveOnCancelPolicy(true);
    return e;
  }

  /** Whether this Ratis version has the confirmed read index this class resets. */
  public static boolean available() {
    return UNAVAILABLE == null;
  }

  /** How many leaderships in this JVM had their confirmed read index replaced. */
  public static long resets() {
    return RESETS.get();
  }

  /**
   * How many times in this JVM the guard triggered a leader's heartbeats again because reads were
   * still waiting for their round.
   */
  public static long retriggers() {
    return RETRIGGERS.get();
  }

  /**
   * Makes every later linearizable read on {@code division}, if it leads, confirm its leadership
   * with a heartbeat round of its own; nothing on a follower. Never blocks (a few field reads).
   */
  public static void forgetConfirmedReads(RaftServer.Division division) {
    if (!RETRIGGER && SAID_MODE.compareAndSet(false, true)) {
      LOG.warn(
          "{}={}: {}",
          MODE_PROPERTY,
          MODE,
          GUARD
              ? "reads wait for Ratis's periodic heartbeat when their round's answer does not count"
              : "a leader cut off from its followers may serve stale reads until it steps down");
    }
    if (!GUARD) {
      return;
    }
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
        Object listeners = LISTENERS.get(heartbeats);
        ACKED.set(
            heartbeats,
            new NeverConfirmed(
                (Iterable<?>) SENDERS.get(leader.get()),
                listeners,
                (Map<?, ?>) WAITING.get(listeners)));
        RESETS.incrementAndGet();
      }
    } catch (ReflectiveOperationException | RuntimeException e) {
      LOG.debug(
          "replacing the confirmed read index of {}: {}", division.getMemberId(), e.toString());
    }
  }

  /**
   * A confirmed read index that never holds a value: no read is served without a round. Ratis reads
   * it once for every read that needs a round, just before it starts or joins the round, which is
   * where the re-triggering of heartbeats starts.
   */
  private static final class NeverConfirmed extends RaftLogIndex implements Runnable {
    private final Iterable<?> senders;
    private final Object lock;
    private final Map<?, ?> waiting;
    private final AtomicLong reads = new AtomicLong();
    private final AtomicBoolean scheduled = new AtomicBoolean();
    private long seen;
    private int kicks;

    NeverConfirmed(Iterable<?> senders, Object lock, Map<?, ?> waiting) {
      super("ackedCommitIndex (ferry: never confirmed)", RaftLog.INVALID_LOG_INDEX);
      this.senders = senders;
      this.lock = lock;
      this.waiting = waiting;
    }

    @Override
    public long get() {
      if (!RETRIGGER) {
        return RaftLog.INVALID_LOG_INDEX;
      }
      reads.incrementAndGet();
      if (scheduled.compareAndSet(false, true)) {
        schedule(FIRST_KICK_MS);
      }
      return RaftLog.INVALID_LOG_INDEX;
    }

    /** On the kicker thread: triggers the heartbeats while reads wait for their round. */
    @Override
    public void run() {
      try {
        long now = reads.get();
        boolean fresh = now != seen;
        seen = now;
        boolean readsWait = readsWait();
        if (readsWait) {
          for (Object a : senders) {
            ((LogAppender) a).triggerHeartbeat();
          }
          kicks++;
          RETRIGGERS.incrementAndGet();
        } else {
          kicks = 0;
        }
        // A read that arrived since the last run may not have joined its round yet: look again.
        if (readsWait || fresh) {
          schedule(kicks >= QUICK_KICKS ? MAX_KICK_MS : FIRST_KICK_MS);
          return;
        }
      } catch (RuntimeException e) {
        LOG.debug("triggering heartbeats for waiting reads: {}", e.toString());
      }
      scheduled.set(false);
      if (reads.get() != seen && scheduled.compareAndSet(false, true)) {
        schedule(FIRST_KICK_MS);
      }
    }

    private boolean readsWait() {
      synchronized (lock) {
        return !waiting.isEmpty();
      }
    }

    private void schedule(long ms) {
      KICKER.schedule(this, ms, TimeUnit.MILLISECONDS);
    }

    @Override
    public boolean updateToMax(long newIndex, Consumer<Object> log) {
      return false;
    }
  }
}
