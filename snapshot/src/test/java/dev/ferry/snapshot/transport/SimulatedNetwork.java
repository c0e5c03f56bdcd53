package dev.ferry.snapshot.transport;

import dev.ferry.snapshot.ChunkId;
import java.util.Collection;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.PriorityQueue;
import java.util.SplittableRandom;

/**
 * A seeded, single-threaded discrete-event network of chunk sources, for tests and simulations. It
 * owns a simulated clock (nanoseconds from zero) and a queue of timed events; nothing happens until
 * {@link #runNext()} runs the earliest one, so a whole transfer runs in microseconds of real time,
 * never sleeps, and replays exactly from its seed.
 *
 * <p>Concurrency: not thread-safe. One thread calls every method, including {@code fetch} on the
 * {@link SimulatedTransport}s, and receives every listener callback inside {@link #runNext()}.
 */
public final class SimulatedNetwork {

  private record Event(long at, long seq, Runnable action) implements Comparable<Event> {
    @Override
    public int compareTo(Event o) {
      int c = Long.compare(at, o.at);
      return c != 0 ? c : Long.compare(seq, o.seq);
    }
  }

  private final long seed;
  private final SplittableRandom random;
  private final PriorityQueue<Event> events = new PriorityQueue<>();
  private final Map<String, SimulatedTransport> sources = new LinkedHashMap<>();
  private long now;
  private long seq;

  /** An empty network at time zero whose every random choice derives from {@code seed}. */
  public SimulatedNetwork(long seed) {
    this.seed = seed;
    this.random = new SplittableRandom(seed);
  }

  /** The seed, for replaying a failure. */
  public long seed() {
    return seed;
  }

  /** The simulated time in nanoseconds. */
  public long nanoTime() {
    return now;
  }

  /**
   * Adds a source holding these chunks (in stored form: codec tag + payload; the arrays are not
   * copied and must not change) and misbehaving as {@code faults} says.
   *
   * @throws IllegalArgumentException if the id is taken
   */
  public SimulatedTransport addSource(
      String id, Map<ChunkId, byte[]> storedChunks, SimulatedFaults faults) {
    Objects.requireNonNull(id, "id");
    if (sources.containsKey(id)) {
      throw new IllegalArgumentException("source '" + id + "' already exists");
    }
    SimulatedTransport t = new SimulatedTransport(this, id, storedChunks, faults, random.split());
    sources.put(id, t);
    return t;
  }

  /** The sources, in the order added. */
  public Collection<SimulatedTransport> sources() {
    return Collections.unmodifiableCollection(sources.values());
  }

  /**
   * Runs {@code action} at simulated time {@code atNanos} (after every event already scheduled for
   * that time).
   *
   * @throws IllegalArgumentException if {@code atNanos} is in the past
   */
  public void schedule(long atNanos, Runnable action) {
    Objects.requireNonNull(action, "action");
    if (atNanos < now) {
      throw new IllegalArgumentException("cannot schedule in the past: " + atNanos + " < " + now);
    }
    events.add(new Event(atNanos, seq++, action));
  }

  /** The time of the earliest pending event, or {@link Long#MAX_VALUE} if none. */
  public long nextEventNanos() {
    Event e = events.peek();
    return e == null ? Long.MAX_VALUE : e.at;
  }

  /** Advances the clock to the earliest event and runs it; false if no event is pending. */
  public boolean runNext() {
    Event e = events.poll();
    if (e == null) {
      return false;
    }
    now = e.at;
    e.action.run();
    return true;
  }

  /**
   * Moves the clock forward to {@code nanos} without running anything.
   *
   * @throws IllegalStateException if an event is pending before {@code nanos}
   */
  public void advanceTo(long nanos) {
    if (nextEventNanos() < nanos) {
      throw new IllegalStateException("event pending at " + nextEventNanos() + ", before " + nanos);
    }
    now = Math.max(now, nanos);
  }

  /** Runs every event up to and including {@code nanos}, then sets the clock there. */
  public void runUntil(long nanos) {
    while (nextEventNanos() <= nanos) {
      runNext();
    }
    now = Math.max(now, nanos);
  }
}
