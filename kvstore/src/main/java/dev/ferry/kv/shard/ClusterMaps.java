package dev.ferry.kv.shard;

import dev.ferry.raft.TlsFiles;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.function.Function;
import java.util.function.UnaryOperator;

/**
 * Opening a cluster map from its descriptor file, and the changes of a replicated map that moves
 * make. Static methods; they block only where they say so.
 */
public final class ClusterMaps {
  /** How often {@link #recordMove} reads and tries again after losing a compare-and-set race. */
  static final int CAS_ATTEMPTS = 5;

  private ClusterMaps() {}

  /**
   * The map a descriptor file describes: a {@link ReplicatedClusterMap} seeded from it when it has
   * a {@code meta} line (close it when done), else a {@link StaticClusterMap} of the file. Reads
   * the file; does not reach the cluster.
   *
   * @param readDeadline the replicated map's read deadline
   * @param tls the client's TLS files, or null for a cluster without TLS
   * @throws IOException if the file cannot be read
   * @throws IllegalArgumentException naming the file and line of a problem in it
   */
  public static ClusterMap open(Path file, Duration readDeadline, TlsFiles tls) throws IOException {
    StaticClusterMap fromFile = StaticClusterMap.read(file);
    ClusterLayout l = fromFile.current();
    return l.replicated() ? ReplicatedClusterMap.connect(l, readDeadline, tls) : fromFile;
  }

  /**
   * Writes {@code layout} (at version 1) as the metadata group's first layout, unless the group
   * holds one already: {@code SET_IF_VERSION(0, …)}, so of the nodes that all try it at their first
   * start exactly one wins and the others find version {@code >= 1}. Blocks up to the map's read
   * deadline, twice.
   *
   * @return the group's layout afterwards
   * @throws IOException if the group did not answer
   */
  public static ClusterLayout seed(ReplicatedClusterMap map, ClusterLayout layout)
      throws IOException {
    ReplicatedClusterMap.Stored s = map.read();
    if (s.layout() != null) {
      return s.layout();
    }
    return map.compareAndSet(0, layout.withVersion(1)).current();
  }

  /**
   * Records a finished replica move in the replicated map of the descriptor {@code file}, as {@link
   * #recordMove(ReplicatedClusterMap, int, String, String)} does, for a command that moved a
   * replica ({@code ferry admin move}). Blocks on the metadata group (up to the default read
   * deadline per call).
   *
   * @param tls the client's TLS files, or null for a cluster without TLS
   * @return the replicated map's layout afterwards, or empty if the file has no {@code meta} line
   *     (a static map: the caller rewrites the file)
   * @throws IOException if the file cannot be read, or the metadata group did not answer (the
   *     reconciler records the move once the group is back)
   * @throws IllegalArgumentException as the other form, or for a bad file
   * @throws IllegalStateException as the other form
   */
  public static Optional<ClusterLayout> recordMove(
      Path file, int range, String from, String to, TlsFiles tls) throws IOException {
    ClusterLayout l = ClusterLayout.read(file);
    if (!l.replicated()) {
      return Optional.empty();
    }
    try (ReplicatedClusterMap map =
        ReplicatedClusterMap.connect(l, ReplicatedClusterMap.DEFAULT_READ_DEADLINE, tls)) {
      return Optional.of(recordMove(map, range, from, to));
    }
  }

  /**
   * Records a finished replica move in the replicated map: range {@code range}'s replica on {@code
   * from} is on {@code to} now (at the same position), version + 1, by compare-and-set on the
   * version read just before (read and tried again after losing a race, up to a few times). If the
   * map already shows the move, nothing changes. Call it after the group's own configuration
   * changed (the group is the authority; the map follows it). Blocks on the metadata group.
   *
   * @return the map's layout afterwards
   * @throws IOException if the metadata group did not answer (it may have lost its quorum: the
   *     reconciler records the move later, from the group's configuration)
   * @throws IllegalArgumentException if the map has no such range, {@code from} holds none of its
   *     replicas, or {@code to} is no node of the map
   * @throws IllegalStateException if the group holds no layout yet, or other writers won every race
   */
  public static ClusterLayout recordMove(
      ReplicatedClusterMap map, int range, String from, String to) throws IOException {
    return recordMoved(
        map,
        l -> l.range(range).replicas(),
        from,
        to,
        l -> l.withReplicaMoved(range, from, to),
        "the move of range " + range);
  }

  /**
   * Records a finished move of the metadata group's own replica: the {@code meta} line names {@code
   * to} where it named {@code from}, version + 1, by compare-and-set as {@link
   * #recordMove(ReplicatedClusterMap, int, String, String)} does. If the map already shows the
   * move, nothing changes. Call it after the metadata group's configuration changed. Blocks on the
   * metadata group (reached through any of the map's known meta nodes that is still a member).
   *
   * @return the map's layout afterwards
   * @throws IOException if the metadata group did not answer
   * @throws IllegalArgumentException if {@code from} is not on the map's {@code meta} line, or
   *     {@code to} is no node of the map
   * @throws IllegalStateException if the group holds no layout yet, or other writers won every race
   */
  public static ClusterLayout recordMetaMove(ReplicatedClusterMap map, String from, String to)
      throws IOException {
    return recordMoved(
        map,
        ClusterLayout::meta,
        from,
        to,
        l -> l.withMetaMoved(from, to),
        "the move of the metadata replica from " + from + " to " + to);
  }

  /**
   * The compare-and-set loop of both moves: done when {@code members} of the stored layout hold
   * {@code to} and not {@code from}; otherwise stores {@code moved} of it at version + 1.
   */
  private static ClusterLayout recordMoved(
      ReplicatedClusterMap map,
      Function<ClusterLayout, List<String>> members,
      String from,
      String to,
      UnaryOperator<ClusterLayout> moved,
      String what)
      throws IOException {
    for (int i = 0; i < CAS_ATTEMPTS; i++) {
      ReplicatedClusterMap.Stored s = map.read();
      if (s.layout() == null) {
        throw new IllegalStateException(
            "the metadata group holds no map yet (its nodes seed it at their first start)");
      }
      List<String> m = members.apply(s.layout());
      if (m.contains(to) && !m.contains(from)) {
        return s.layout();
      }
      ReplicatedClusterMap.CasResult c = map.compareAndSet(s.version(), moved.apply(s.layout()));
      if (c.applied()) {
        return c.current();
      }
    }
    throw new IllegalStateException(
        what + " was not recorded: the map changed under each of " + CAS_ATTEMPTS + " attempts");
  }
}
