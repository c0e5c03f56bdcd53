package dev.ferry.chaos.harness;

import dev.ferry.shipping.PeerAddress;
import java.io.Closeable;
import java.util.List;
import java.util.Map;

/**
 * A {@link Network} as the cluster builds on it: where each node listens, how clients dial it, and
 * how its process is launched to sit on the network. Made before the first node starts; {@link
 * #close()} removes everything it made.
 */
interface Fabric extends Network, Closeable {
  /** The mode this fabric implements. */
  NetworkMode mode();

  /** Node {@code id}'s address as the other nodes dial it (what goes in the Raft configuration). */
  PeerAddress nodeAddress(String id);

  /** Node {@code id}'s address as the test's clients dial it. */
  PeerAddress clientAddress(String id);

  /** Places node {@code id}'s process on this network (see {@code ProcessCluster.Launcher}). */
  void prepare(String id, List<String> command, Map<String, String> environment);

  /** Removes every network object this fabric made. Idempotent; never throws. */
  @Override
  void close();
}
