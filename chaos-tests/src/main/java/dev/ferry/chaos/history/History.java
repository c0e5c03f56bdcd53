package dev.ferry.chaos.history;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongSupplier;

/**
 * The operations a workload's clients performed, in the order they were recorded.
 *
 * <p>Concurrency: every method may be called from any thread at any time; none blocks beyond a
 * short internal lock. Clients take a stamp with {@link #invoke()} before sending a request and
 * another with {@link #complete()} when they see its reply, failure or timeout, then {@link
 * #record(Op) record} the operation. Stamps handed out by one {@code History} are strictly
 * increasing across all threads, so no two operations share a stamp and the order of stamps is the
 * real-time order the checkers rely on.
 *
 * <p>Persistence: {@link #save(Path)} writes the text format described on {@link HistoryFormat}
 * (one operation per line); {@link #load(Path)} reads it back strictly.
 */
public final class History {
  private final LongSupplier clock;
  private final AtomicLong lastStamp = new AtomicLong(Long.MIN_VALUE);
  private final Object lock = new Object();
  private final List<Op> ops = new ArrayList<>(); // guarded by lock

  /** An empty history stamped from {@link System#nanoTime()}. */
  public History() {
    this(System::nanoTime);
  }

  /**
   * An empty history stamped from {@code clock}, which must be safe to call from any thread (tests
   * pass a fake clock).
   */
  public History(LongSupplier clock) {
    this.clock = Objects.requireNonNull(clock, "clock");
  }

  /**
   * A history holding {@code ops} in iteration order, for replaying and checking; its clock is
   * {@link System#nanoTime()}.
   *
   * @throws NullPointerException if {@code ops} or one of its elements is null
   */
  public static History of(Collection<Op> ops) {
    History history = new History();
    for (Op op : ops) {
      history.record(op);
    }
    return history;
  }

  /**
   * A stamp for the invocation of an operation: the clock's reading, or one more than the last
   * stamp this history handed out if the clock has not advanced past it.
   */
  public long invoke() {
    return stamp();
  }

  /** A stamp for the completion of an operation; same contract as {@link #invoke()}. */
  public long complete() {
    return stamp();
  }

  private long stamp() {
    long now = clock.getAsLong();
    return lastStamp.updateAndGet(last -> Math.max(last + 1, now));
  }

  /**
   * Appends a completed operation.
   *
   * @throws NullPointerException if {@code op} is null
   */
  public void record(Op op) {
    Objects.requireNonNull(op, "op");
    synchronized (lock) {
      ops.add(op);
    }
  }

  /** A snapshot of the operations recorded so far, in recording order. */
  public List<Op> ops() {
    synchronized (lock) {
      return List.copyOf(ops);
    }
  }

  /** The number of operations recorded so far. */
  public int size() {
    synchronized (lock) {
      return ops.size();
    }
  }

  /**
   * Writes a snapshot of the operations to {@code file} in the format of {@link HistoryFormat},
   * replacing the file atomically where the file system allows (a temporary sibling is written
   * first, then moved over it). Blocks on file I/O.
   *
   * @throws IOException if the file cannot be written
   */
  public void save(Path file) throws IOException {
    HistoryFormat.write(ops(), file);
  }

  /**
   * Reads a history written by {@link #save(Path)}. Strict: the header, the field count and every
   * field must be exactly as {@link #save(Path)} writes them, and every line must make a valid
   * {@link Op}.
   *
   * @throws IOException if the file cannot be read, or (with the line number in the message) is
   *     malformed
   */
  public static History load(Path file) throws IOException {
    return of(HistoryFormat.read(file));
  }

  @Override
  public String toString() {
    return "History[" + size() + " ops]";
  }
}
