package dev.ferry.raft;

import dev.ferry.raft.admin.AdminServer;
import dev.ferry.raft.admin.NodeStatus;
import dev.ferry.raft.chunks.ChunkServerStats;
import dev.ferry.raft.metrics.ServiceMetrics;
import java.util.Optional;

/**
 * A node's counters of bad input, read from its chunk service, admin service and chunk store each
 * time they are asked for: the source of both its metrics and the counters its status reports.
 * Thread-safe; never blocks.
 */
final class NodeCounters implements ServiceMetrics.Sources {
  private final FerryServer server;

  NodeCounters(FerryServer server) {
    this.server = server;
  }

  private Optional<ChunkServerStats> chunks() {
    return server.chunkServer().map(c -> c.stats());
  }

  private Optional<AdminServer> admin() {
    return server.adminService();
  }

  @Override
  public long chunkAccepted() {
    return chunks().map(ChunkServerStats::connectionsAccepted).orElse(0L);
  }

  @Override
  public long chunkAuthenticated() {
    return chunks().map(ChunkServerStats::connectionsAuthenticated).orElse(0L);
  }

  @Override
  public long chunkRefused() {
    return chunks().map(ChunkServerStats::connectionsRefused).orElse(0L);
  }

  @Override
  public long chunkMalformed() {
    return chunks().map(ChunkServerStats::malformedFrames).orElse(0L);
  }

  @Override
  public long chunkOpen() {
    return chunks().map(ChunkServerStats::openConnections).orElse(0);
  }

  @Override
  public long adminRefused() {
    return admin().map(AdminServer::refused).orElse(0L);
  }

  @Override
  public long adminMalformed() {
    return admin().map(AdminServer::malformed).orElse(0L);
  }

  @Override
  public long adminServed() {
    return admin().map(AdminServer::served).orElse(0L);
  }

  @Override
  public long quarantined() {
    try {
      return server.stateMachine().chunkStore().stats().quarantined();
    } catch (IllegalStateException e) {
      return 0; // not initialized yet
    }
  }

  /** The counters as a status reports them. */
  NodeStatus.Counters forStatus() {
    return new NodeStatus.Counters(
        chunkRefused(), chunkMalformed(), adminRefused(), adminMalformed(), quarantined());
  }
}
