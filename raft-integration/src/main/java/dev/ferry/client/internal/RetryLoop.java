package dev.ferry.client.internal;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.SocketTimeoutException;
import java.util.HashSet;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * Ferry's one send-until-deadline loop: runs an attempt, and after a transient failure waits
 * (exponential backoff from {@link #FIRST_BACKOFF_NANOS} doubling up to {@link #MAX_BACKOFF_NANOS},
 * never past the deadline) and runs it again, until it succeeds or the deadline passes. Every
 * client of a Ferry cluster sends through it: {@code FerryClient} (and so {@code KvClient}, the
 * chaos workload and the benchmarks) and {@code MembershipAdmin}.
 *
 * <p>It decides nothing about the request: re-sending must be safe, which the caller ensures (a
 * user command carries the same session and sequence number on every attempt, so the replicas apply
 * it at most once; framework commands are idempotent). Following a leader change is the transport's
 * part (a redirect within one attempt) and the loop's (the next attempt after a failure).
 *
 * <p>Failures an attempt throws: {@link Transport.Refused} and {@link Transport.Closed} end the
 * loop at once and are rethrown; every other {@link IOException} or {@link RuntimeException} is
 * transient and retried. {@link Transport.NotHere} ("this node does not host the group") is
 * transient too, except that a call given the set of nodes it may reach ({@link #call(long, Set,
 * Attempt)}) ends at once with {@link NotHereEverywhere} when every one of them answered so within
 * one pass: since the call's last other failure (a node that timed out or could not be reached
 * clears the pass, as the group might be mid-move, some nodes not hosting it yet; so does a {@link
 * Transport.Starting} answer: that node hosts the group and is still adding it). An interrupt of
 * the calling thread ends it with an {@link InterruptedIOException} (the interrupt flag set again).
 *
 * <p>Deadlines: an attempt starts only at or before the deadline; one that is running when the
 * deadline passes is not cut short (the transport bounds it). Time and sleeping are injected, so
 * tests run the loop on a fake clock.
 *
 * <p>Concurrency: stateless between calls; many threads may call {@link #call} at once, each call
 * blocking its own thread.
 */
public final class RetryLoop {
  /** The pause after the first failure of a call. */
  public static final long FIRST_BACKOFF_NANOS = TimeUnit.MILLISECONDS.toNanos(20);

  /** The longest pause between two attempts. */
  public static final long MAX_BACKOFF_NANOS = TimeUnit.MILLISECONDS.toNanos(500);

  /** Pauses the calling thread; {@link Thread#sleep} in production. */
  @FunctionalInterface
  public interface Sleeper {
    /** Blocks for {@code nanos} nanoseconds (or returns when a fake clock has moved on). */
    void sleep(long nanos) throws InterruptedException;
  }

  /** One attempt; see the class comment for what its failures mean. */
  @FunctionalInterface
  public interface Attempt<T> {
    /** Runs the attempt on the calling thread. */
    T run() throws IOException;
  }

  /** No attempt succeeded before the deadline; the cause is the last attempt's failure. */
  public static final class DeadlineExceeded extends IOException {
    private static final long serialVersionUID = 1L;

    private final int attempts;

    DeadlineExceeded(int attempts, Throwable last) {
      super("no reply after " + attempts + (attempts == 1 ? " attempt" : " attempts"), last);
      this.attempts = attempts;
    }

    /** How many attempts were made. */
    public int attempts() {
      return attempts;
    }
  }

  /**
   * Every node the call may reach answered that it does not host the group, within one pass (see
   * the class comment); the cause is the last answer.
   */
  public static final class NotHereEverywhere extends IOException {
    private static final long serialVersionUID = 1L;

    private final boolean reachedNoReplica;

    NotHereEverywhere(Set<String> peers, int attempts, boolean reachedNoReplica, Throwable last) {
      super(
          "no node of "
              + peers
              + " hosts the group (each answered \"not here\"; "
              + attempts
              + (attempts == 1 ? " attempt)" : " attempts)"),
          last);
      this.reachedNoReplica = reachedNoReplica;
    }

    /**
     * Whether every send of every attempt of the call was answered "not here" (no attempt failed
     * any other way, e.g. timed out at a node that did host the group): the request then reached no
     * replica of the group, and a command was not applied.
     */
    public boolean reachedNoReplica() {
      return reachedNoReplica;
    }
  }

  private final LongSupplier nanoTime;
  private final Sleeper sleeper;

  /**
   * A loop timed by {@code nanoTime} (a monotonic reading in nanoseconds, like {@link
   * System#nanoTime}) that pauses with {@code sleeper}.
   */
  public RetryLoop(LongSupplier nanoTime, Sleeper sleeper) {
    this.nanoTime = Objects.requireNonNull(nanoTime, "nanoTime");
    this.sleeper = Objects.requireNonNull(sleeper, "sleeper");
  }

  /** A loop on {@link System#nanoTime} and {@link TimeUnit#sleep}. */
  public static RetryLoop system() {
    return new RetryLoop(System::nanoTime, TimeUnit.NANOSECONDS::sleep);
  }

  /** The current reading of this loop's clock, against which deadlines are given. */
  public long now() {
    return nanoTime.getAsLong();
  }

  /**
   * Runs {@code attempt} until it returns, re-running it after transient failures until {@code
   * deadlineNanos} (a reading of {@link #now()}). At least one attempt is made. Blocks the calling
   * thread.
   *
   * @return what the successful attempt returned
   * @throws DeadlineExceeded if the deadline passed without a successful attempt
   * @throws Transport.Refused if an attempt was refused
   * @throws Transport.Closed if the transport was closed
   * @throws InterruptedIOException if the calling thread was interrupted
   */
  public <T> T call(long deadlineNanos, Attempt<T> attempt) throws IOException {
    return call(deadlineNanos, Set.of(), attempt);
  }

  /**
   * Like {@link #call(long, Attempt)}, for a call that may reach the nodes {@code peers} (ids):
   * ends early with {@link NotHereEverywhere} once each of them answered {@link Transport.NotHere}
   * within one pass (see the class comment). With no peers, a "not here" is retried like any
   * transient failure.
   *
   * @throws NotHereEverywhere if every node in {@code peers} answered "not here" within one pass
   */
  public <T> T call(long deadlineNanos, Set<String> peers, Attempt<T> attempt) throws IOException {
    Objects.requireNonNull(attempt, "attempt");
    Objects.requireNonNull(peers, "peers");
    int failures = 0;
    Set<String> notHere = new HashSet<>();
    boolean onlyNotHere = true;
    while (true) {
      if (Thread.currentThread().isInterrupted()) {
        throw interrupted(failures, null);
      }
      Exception last;
      try {
        return attempt.run();
      } catch (Transport.Refused | Transport.Closed e) {
        throw e;
      } catch (Transport.NotHere e) {
        onlyNotHere &= e.clean();
        if (e.peer() != null && peers.contains(e.peer())) {
          notHere.add(e.peer());
        }
        if (!peers.isEmpty() && notHere.containsAll(peers)) {
          throw new NotHereEverywhere(peers, failures + 1, onlyNotHere, e);
        }
        last = e;
      } catch (IOException | RuntimeException e) {
        if (isInterrupt(e)) {
          Thread.currentThread().interrupt();
          throw interrupted(failures + 1, e);
        }
        notHere.clear();
        onlyNotHere = false;
        last = e;
      }
      failures++;
      long left = deadlineNanos - nanoTime.getAsLong();
      if (left <= 0) {
        throw new DeadlineExceeded(failures, last);
      }
      try {
        sleeper.sleep(Math.min(backoff(failures), left));
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        InterruptedIOException x = interrupted(failures, e);
        x.addSuppressed(last);
        throw x;
      }
    }
  }

  /** The pause after the {@code failures}-th failure in a row (1-based). */
  static long backoff(int failures) {
    int doublings = Math.min(failures - 1, 30);
    return Math.min(MAX_BACKOFF_NANOS, FIRST_BACKOFF_NANOS << doublings);
  }

  private static boolean isInterrupt(Exception e) {
    return Thread.currentThread().isInterrupted()
        || (e instanceof InterruptedIOException && !(e instanceof SocketTimeoutException));
  }

  private static InterruptedIOException interrupted(int attempts, Throwable cause) {
    InterruptedIOException e =
        new InterruptedIOException("interrupted after " + attempts + " attempts");
    e.initCause(cause);
    return e;
  }
}
