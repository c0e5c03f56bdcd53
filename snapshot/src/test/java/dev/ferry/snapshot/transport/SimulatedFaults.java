package dev.ferry.snapshot.transport;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * How a {@link SimulatedTransport} misbehaves. Each probability applies independently to each
 * requested chunk; all randomness comes from the {@link SimulatedNetwork}'s seed.
 *
 * @param dropRate probability that a requested chunk is never answered (the receiver must time it
 *     out)
 * @param duplicateRate probability that a delivered chunk is delivered a second time, later
 * @param corruptRate probability that a delivered chunk has one byte altered
 * @param minLatency least time from a chunk leaving the source's link to its arrival
 * @param maxLatency most such time; each chunk draws its latency uniformly from {@code [min, max]},
 *     so a spread larger than a chunk's transmission time reorders deliveries ("delay")
 * @param reorder when true, each request's chunks are served in a random order
 * @param bytesPerSecond the source's link: chunks are sent one after another at this rate; {@code
 *     0} for unlimited
 * @param partitions time windows (from the network's time zero) in which the source is unreachable
 */
public record SimulatedFaults(
    double dropRate,
    double duplicateRate,
    double corruptRate,
    Duration minLatency,
    Duration maxLatency,
    boolean reorder,
    long bytesPerSecond,
    List<Partition> partitions) {

  /** Latency of a well-behaved link. */
  public static final Duration DEFAULT_LATENCY = Duration.ofMillis(1);

  public SimulatedFaults {
    requireProbability("dropRate", dropRate);
    requireProbability("duplicateRate", duplicateRate);
    requireProbability("corruptRate", corruptRate);
    Objects.requireNonNull(minLatency, "minLatency");
    Objects.requireNonNull(maxLatency, "maxLatency");
    if (minLatency.isNegative() || maxLatency.compareTo(minLatency) < 0) {
      throw new IllegalArgumentException(
          "bad latency range [" + minLatency + ", " + maxLatency + "]");
    }
    if (bytesPerSecond < 0) {
      throw new IllegalArgumentException("bytesPerSecond < 0: " + bytesPerSecond);
    }
    partitions = List.copyOf(partitions);
  }

  /**
   * A source unreachable in {@code [from, until)}. Requests made then fail after the minimum
   * latency when {@code failFast} (connection refused) or are never answered otherwise (packets
   * lost). Chunks that would arrive in the window fail when {@code failFast} (connection reset) and
   * are lost otherwise.
   */
  public record Partition(Duration from, Duration until, boolean failFast) {
    public Partition {
      Objects.requireNonNull(from, "from");
      Objects.requireNonNull(until, "until");
      if (from.isNegative() || until.compareTo(from) <= 0) {
        throw new IllegalArgumentException("bad partition window [" + from + ", " + until + ")");
      }
    }

    boolean covers(long nanos) {
      return nanos >= from.toNanos() && nanos < until.toNanos();
    }
  }

  /** A perfect link: no faults, {@link #DEFAULT_LATENCY}, unlimited bandwidth. */
  public static SimulatedFaults none() {
    return new SimulatedFaults(0, 0, 0, DEFAULT_LATENCY, DEFAULT_LATENCY, false, 0, List.of());
  }

  /** These faults with another drop probability. */
  public SimulatedFaults withDrop(double rate) {
    return new SimulatedFaults(
        rate,
        duplicateRate,
        corruptRate,
        minLatency,
        maxLatency,
        reorder,
        bytesPerSecond,
        partitions);
  }

  /** These faults with another duplicate probability. */
  public SimulatedFaults withDuplicate(double rate) {
    return new SimulatedFaults(
        dropRate, rate, corruptRate, minLatency, maxLatency, reorder, bytesPerSecond, partitions);
  }

  /** These faults with another corruption probability. */
  public SimulatedFaults withCorrupt(double rate) {
    return new SimulatedFaults(
        dropRate, duplicateRate, rate, minLatency, maxLatency, reorder, bytesPerSecond, partitions);
  }

  /** These faults with another latency range. */
  public SimulatedFaults withLatency(Duration min, Duration max) {
    return new SimulatedFaults(
        dropRate, duplicateRate, corruptRate, min, max, reorder, bytesPerSecond, partitions);
  }

  /** These faults with each request served in random order. */
  public SimulatedFaults withReorder() {
    return new SimulatedFaults(
        dropRate,
        duplicateRate,
        corruptRate,
        minLatency,
        maxLatency,
        true,
        bytesPerSecond,
        partitions);
  }

  /** These faults with a link of this many bytes per second ({@code 0}: unlimited). */
  public SimulatedFaults withBandwidth(long rate) {
    return new SimulatedFaults(
        dropRate, duplicateRate, corruptRate, minLatency, maxLatency, reorder, rate, partitions);
  }

  /** These faults with one more partition window. */
  public SimulatedFaults withPartition(Duration from, Duration until, boolean failFast) {
    List<Partition> all = new ArrayList<>(partitions);
    all.add(new Partition(from, until, failFast));
    return new SimulatedFaults(
        dropRate, duplicateRate, corruptRate, minLatency, maxLatency, reorder, bytesPerSecond, all);
  }

  Partition partitionAt(long nanos) {
    for (Partition p : partitions) {
      if (p.covers(nanos)) {
        return p;
      }
    }
    return null;
  }

  private static void requireProbability(String name, double p) {
    if (!(p >= 0 && p <= 1)) {
      throw new IllegalArgumentException(name + " must be in [0, 1]: " + p);
    }
  }
}
