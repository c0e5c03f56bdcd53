package dev.ferry.raft.ratis;

import java.io.IOException;
import java.lang.reflect.Field;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ScheduledThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.server.RaftServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Repairs a Ratis follower whose chain of log appends failed, which otherwise stops it for good
 * (docs/ratis-workarounds.md). In Ratis 3.3.0 a follower runs each accepted {@code appendEntries}
 * batch after the previous one by composing futures ({@code RaftServerImpl.appendLogTermIndices},
 * {@code raft.server.log.append-entries.compose.enabled}, on by default). When one batch fails — it
 * passed the follower's checks, and before it was written a snapshot install reset the log past it,
 * so the log refuses it ("Difference between entry index and RaftLog's latest snapshot index") —
 * the composed future stays failed, every later batch fails with the same exception without being
 * tried, and the follower never applies another entry. Turning composition off is no way out in
 * 3.3.0: appends then run unordered on Ratis's server pool and collide in the log's single-runner
 * check.
 *
 * <p>{@link #watch} checks a division's chain every {@link #PERIOD_MS} ms and, when it failed,
 * replaces it with a completed one: the leader's next batch is then validated and written as usual.
 * It reads Ratis's private fields: on a Ratis version without them it does nothing (and says so
 * once).
 */
public final class AppendChainRepair {
  private static final Logger LOG = LoggerFactory.getLogger(AppendChainRepair.class);

  /** How often a watched division's append chain is checked. */
  public static final long PERIOD_MS = 1_000;

  private static final Field INDICES;
  private static final Field FUTURE;
  private static final String UNAVAILABLE;

  private static final AtomicLong REPAIRS = new AtomicLong();

  /** Whether the "not watched" line was logged (once per JVM, not once per group). */
  private static final AtomicBoolean SAID_UNAVAILABLE = new AtomicBoolean();

  /**
   * The watched divisions. One daemon thread sweeps them all every {@link #PERIOD_MS} ms (a check
   * is a few field reads): one wake-up a second for a node of many groups, not one per group.
   */
  private static final Set<Watched> WATCHED = ConcurrentHashMap.newKeySet();

  /**
   * One watched division: how to find it, and the name its repair is logged under. Identity, not
   * value, equality: the same division watched twice is two watches.
   */
  private static final class Watched {
    private final Supplier<Optional<RaftServer.Division>> division;
    private final String name;

    Watched(Supplier<Optional<RaftServer.Division>> division, String name) {
      this.division = division;
      this.name = name;
    }
  }

  /** The sweeping thread (none on a Ratis without the append chain). */
  private static final ScheduledThreadPoolExecutor TIMER;

  static {
    Field indices = null;
    Field future = null;
    String why = null;
    try {
      Class<?> impl = Class.forName("org.apache.ratis.server.impl.RaftServerImpl");
      indices = impl.getDeclaredField("appendLogTermIndices");
      indices.setAccessible(true);
      future = indices.getType().getDeclaredField("future");
      if (!AtomicReference.class.equals(future.getType())) {
        throw new NoSuchFieldException("future is a " + future.getType());
      }
      future.setAccessible(true);
    } catch (ReflectiveOperationException | RuntimeException e) {
      why = e.toString();
      indices = null;
      future = null;
    }
    INDICES = indices;
    FUTURE = future;
    UNAVAILABLE = why;
    TIMER = why == null ? timer() : null;
  }

  private AppendChainRepair() {}

  /** How many failed chains this JVM restarted. */
  public static long repairs() {
    return REPAIRS.get();
  }

  /** A watch of one division's append chain; closing it stops the checks. */
  @FunctionalInterface
  public interface Watch extends AutoCloseable {
    /** Stops the checks; idempotent, never blocks. */
    @Override
    void close();
  }

  /** A watch that checks nothing (before a state machine starts). */
  public static Watch none() {
    return () -> {};
  }

  /** Whether this Ratis version has the append chain this class repairs. */
  public static boolean available() {
    return UNAVAILABLE == null;
  }

  /**
   * Checks the append chain of {@code server}'s division of {@code group} every {@link #PERIOD_MS}
   * ms until the returned handle is closed (a state machine watches its own from {@code
   * initialize}); a division not there (not added yet, or removed) is skipped. {@code name} names
   * the replica in the warning logged at a repair.
   */
  public static Watch watch(RaftServer server, RaftGroupId group, String name) {
    return watch(
        () -> {
          try {
            return Optional.of(server.getDivision(group));
          } catch (IOException e) {
            return Optional.empty();
          }
        },
        name);
  }

  private static Watch watch(Supplier<Optional<RaftServer.Division>> division, String name) {
    if (!available()) {
      if (SAID_UNAVAILABLE.compareAndSet(false, true)) {
        LOG.info(
            "{}: Ratis's append chain is not where expected ({}); not watched", name, UNAVAILABLE);
      }
      return none();
    }
    Watched w = new Watched(division, name);
    WATCHED.add(w);
    return () -> WATCHED.remove(w);
  }

  /** One sweep: every watched division that is up is checked (and repaired). */
  private static void sweep() {
    for (Watched w : WATCHED) {
      try {
        w.division.get().ifPresent(d -> repair(d, w.name));
      } catch (RuntimeException e) {
        // One division's failure must not end the sweeps (the timer would stop for good).
        LOG.debug("{}: checking the append chain: {}", w.name, e.toString());
      }
    }
  }

  /**
   * If {@code division}'s append chain failed, replaces it with a completed one, logs a warning and
   * returns the failure; otherwise returns empty.
   */
  public static Optional<Throwable> repair(RaftServer.Division division, String name) {
    AtomicReference<CompletableFuture<Void>> chain = chainOf(division);
    if (chain == null) {
      return Optional.empty();
    }
    CompletableFuture<Void> current = chain.get();
    if (current == null || !current.isCompletedExceptionally()) {
      return Optional.empty();
    }
    if (!chain.compareAndSet(current, CompletableFuture.completedFuture(null))) {
      return Optional.empty(); // a batch was just chained on: the next check looks again
    }
    REPAIRS.incrementAndGet();
    Throwable cause = current.handle((v, e) -> unwrap(e)).join();
    LOG.warn(
        "{}: Ratis's chain of log appends had failed ({}); restarted it so that appends resume"
            + " (Ratis 3.3.0 bug, docs/ratis-workarounds.md)",
        name,
        firstLine(cause));
    return Optional.of(cause);
  }

  /**
   * The division's composed append future, or null (another Ratis, or composition off): for tests
   * and diagnostics.
   */
  @SuppressWarnings("unchecked")
  public static AtomicReference<CompletableFuture<Void>> chainOf(RaftServer.Division division) {
    if (!available() || !INDICES.getDeclaringClass().isInstance(division)) {
      return null;
    }
    try {
      Object indices = INDICES.get(division);
      return indices == null
          ? null
          : (AtomicReference<CompletableFuture<Void>>) FUTURE.get(indices);
    } catch (IllegalAccessException e) {
      return null;
    }
  }

  /** The exception's class and the first line of its message, at most 200 characters. */
  static String firstLine(Throwable t) {
    String m = String.valueOf(t.getMessage()).lines().findFirst().orElse("");
    String s = t.getClass().getSimpleName() + ": " + m;
    return s.length() <= 200 ? s : s.substring(0, 200) + "…";
  }

  private static Throwable unwrap(Throwable e) {
    Throwable t = e;
    while (t instanceof CompletionException && t.getCause() != null) {
      t = t.getCause();
    }
    return t;
  }

  private static ScheduledThreadPoolExecutor timer() {
    ScheduledThreadPoolExecutor t =
        new ScheduledThreadPoolExecutor(
            1,
            r -> {
              Thread thread = new Thread(r, "ratis-append-repair");
              thread.setDaemon(true);
              return thread;
            });
    t.scheduleWithFixedDelay(AppendChainRepair::sweep, PERIOD_MS, PERIOD_MS, TimeUnit.MILLISECONDS);
    return t;
  }
}
