package dev.ferry.raft;

import dev.ferry.raft.admin.AdminServer;
import dev.ferry.raft.admin.NodeStatus;
import dev.ferry.raft.metrics.ServiceCounters;
import dev.ferry.shipping.chunks.ChunkServerStats;
import java.util.Optional;

/**
 * Reads a node's counters of bad input from its service port (chunk and admin requests), its admin
 * service and its chunk store: the source of both its metrics and the counters its status reports.
 * Thread-safe; never blocks.
 */
final class NodeCounters {
  private static final ChunkServerStats NO_CHUNK_SERVICE =
      new ChunkServerStats(0, 0, 0, 0, 0, 0, 0, 0);

  private NodeCounters() {}

  /** {@code server}'s counters now. */
  static ServiceCounters read(FerryServer server) {
    ChunkServerStats c = server.chunkServer().map(s -> s.stats()).orElse(NO_CHUNK_SERVICE);
    Optional<AdminServer> admin = server.adminService();
    long quarantined;
    try {
      quarantined = server.replica().chunkStore().stats().quarantined();
    } catch (IllegalStateException e) {
      quarantined = 0; // the state machine is not initialized yet
    }
    return new ServiceCounters(
        c.connectionsAccepted(),
        c.connectionsAuthenticated(),
        c.connectionsRefused(),
        c.malformedFrames(),
        c.openConnections(),
        admin.map(AdminServer::served).orElse(0L),
        quarantined);
  }

  /** {@code server}'s counters as its status reports them. */
  static NodeStatus.Counters forStatus(FerryServer server) {
    ServiceCounters c = read(server);
    return new NodeStatus.Counters(c.chunkRefused(), c.chunkMalformed(), c.quarantined());
  }
}
