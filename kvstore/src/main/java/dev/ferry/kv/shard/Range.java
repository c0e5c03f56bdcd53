package dev.ferry.kv.shard;

import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.regex.Pattern;

/**
 * One key range of a sharded cluster and the Raft group that holds it: the keys {@code k} with
 * {@code start <= k < end} in byte-wise unsigned order ({@link Arrays#compareUnsigned}).
 *
 * <p>A value: immutable (the key arrays are copied in and out), compared by content.
 *
 * @param index the range's position in its layout, 0-based
 * @param start the first key of the range (inclusive); the empty key for the first range
 * @param end the first key after the range (exclusive), or {@code null} for the last range
 *     (unbounded)
 * @param group the name of the range's Raft group ({@code <cluster>.r<index>} when created by
 *     {@link ClusterLayout#create}); its group id is {@code FerryServer.groupId(group)}
 * @param replicas the ids of the nodes holding a replica, distinct; the first is the range's first
 *     replica (the one placement spreads evenly, e.g. to spread leaders)
 */
public record Range(int index, byte[] start, byte[] end, String group, List<String> replicas) {
  private static final Pattern GROUP = Pattern.compile("[A-Za-z0-9_.-]{1,128}");

  /**
   * Copies and checks the values.
   *
   * @throws IllegalArgumentException if the index is negative, {@code start >= end}, a key is
   *     longer than the store allows, the group name is not 1-128 characters of {@code
   *     [A-Za-z0-9_.-]}, or the replicas are empty or repeat a node
   */
  public Range {
    Objects.requireNonNull(start, "start");
    Objects.requireNonNull(group, "group");
    if (index < 0) {
      throw new IllegalArgumentException("range index must be >= 0: " + index);
    }
    start = start.clone();
    end = end == null ? null : end.clone();
    if (end != null && Arrays.compareUnsigned(start, end) >= 0) {
      throw new IllegalArgumentException(
          "range "
              + index
              + ": start "
              + KeyText.text(start)
              + " is not below its end "
              + KeyText.text(end));
    }
    KeyText.checkLength(start);
    if (end != null) {
      KeyText.checkLength(end);
    }
    if (!GROUP.matcher(group).matches()) {
      throw new IllegalArgumentException(
          "range "
              + index
              + ": group name must be 1-128 characters of [A-Za-z0-9_.-]: '"
              + group
              + "'");
    }
    replicas = List.copyOf(replicas);
    if (replicas.isEmpty()) {
      throw new IllegalArgumentException("range " + index + " has no replicas");
    }
    if (new HashSet<>(replicas).size() != replicas.size()) {
      throw new IllegalArgumentException("range " + index + " names a node twice: " + replicas);
    }
  }

  /** The first key of the range (a copy). */
  @Override
  public byte[] start() {
    return start.clone();
  }

  /** The first key after the range (a copy), or {@code null} if the range is unbounded above. */
  @Override
  public byte[] end() {
    return end == null ? null : end.clone();
  }

  /** Whether {@code key} falls in this range. */
  public boolean contains(byte[] key) {
    return Arrays.compareUnsigned(start, key) <= 0
        && (end == null || Arrays.compareUnsigned(key, end) < 0);
  }

  /** The node id of the first replica. */
  public String firstReplica() {
    return replicas.get(0);
  }

  /** Compares this range's start with {@code key}, without copying (for the layout's lookups). */
  int compareStartTo(byte[] key) {
    return Arrays.compareUnsigned(start, key);
  }

  boolean endsAt(byte[] key) {
    return end != null && Arrays.equals(end, key);
  }

  boolean unboundedAbove() {
    return end == null;
  }

  boolean startsAtEmptyKey() {
    return start.length == 0;
  }

  @Override
  public boolean equals(Object o) {
    return o instanceof Range r
        && index == r.index
        && Arrays.equals(start, r.start)
        && Arrays.equals(end, r.end)
        && group.equals(r.group)
        && replicas.equals(r.replicas);
  }

  @Override
  public int hashCode() {
    return Objects.hash(index, Arrays.hashCode(start), Arrays.hashCode(end), group, replicas);
  }

  @Override
  public String toString() {
    return "range "
        + index
        + " ["
        + KeyText.text(start)
        + ", "
        + (end == null ? "+inf" : KeyText.text(end))
        + ") "
        + group
        + " "
        + replicas;
  }
}
