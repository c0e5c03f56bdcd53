package dev.ferry.kv.shard;

/**
 * Where a sharded cluster's key ranges live: hands out the current {@link ClusterLayout}.
 *
 * <p>Two implementations: {@link StaticClusterMap}, read from the descriptor file that every node
 * and client has, and {@link ReplicatedClusterMap}, kept by the cluster's metadata group (versions,
 * compare-and-set). The clients that take a {@code ClusterMap} ({@link RoutingKvClient}) work with
 * either unchanged. The contract both keep:
 *
 * <ul>
 *   <li>{@link #current} returns a whole, validated layout; successive calls return layouts whose
 *       {@link ClusterLayout#version() version} never goes down. A client may cache a layout and
 *       must compare versions rather than layouts to see a change.
 *   <li>{@link #refresh} is what a client calls when a node's answer says the map it used is out of
 *       date (a "not here" answer: the group is not hosted there, or no replica of the group
 *       answered): the map then looks for a newer layout than {@code staleVersion} (a replicated
 *       map asks its metadata group; the static map re-reads its file if it changed) and returns
 *       the current one.
 * </ul>
 *
 * <p>Implementations are thread-safe: any thread may call any method, concurrently.
 */
public interface ClusterMap {

  /** The current layout. Does not block on the network (a changing map keeps the last it saw). */
  ClusterLayout current();

  /**
   * The current layout, after looking for one newer than {@code staleVersion}: call it after an
   * answer said the layout of that version is out of date. May block while it asks the cluster (for
   * at most the implementation's own deadline); returns a layout of version {@code >=} the current
   * one, which may still be {@code staleVersion} if nothing newer exists.
   *
   * @throws java.io.UncheckedIOException if the map's source cannot be read (the caller keeps the
   *     layout it has)
   */
  ClusterLayout refresh(long staleVersion);
}
