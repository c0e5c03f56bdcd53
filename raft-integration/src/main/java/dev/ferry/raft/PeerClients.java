package dev.ferry.raft;

import dev.ferry.shipping.PeerAddress;
import dev.ferry.shipping.chunks.ChunkAuthException;
import dev.ferry.shipping.chunks.ChunkClient;
import dev.ferry.shipping.chunks.ChunkServer;
import dev.ferry.shipping.chunks.SnapshotPeer;
import io.netty.handler.ssl.SslContext;
import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.server.RaftServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Chunk-service clients of the other members, found in the current Raft configuration (voters and
 * listeners, whose data-stream address is their chunk service), connected on demand and reused. A
 * closed client is replaced on the next call. On a node hosting many groups the clients name their
 * group ({@link ChunkClient.Builder#group}), so that an install fetches that group's chunks; a
 * single-group node's name none. Thread-safe.
 */
final class PeerClients implements AutoCloseable {
  private static final Logger LOG = LoggerFactory.getLogger(PeerClients.class);

  private final String selfId;
  private final ClusterSecret secret;
  private final SslContext tls;
  private final String chunkGroup;
  private final Map<String, ChunkClient> clients = new HashMap<>();
  private final Map<String, PeerAddress> addresses = new HashMap<>();
  private boolean closed;
  private boolean refusedByAllSaid;

  /** Clients that name no group: a single-group node's. */
  PeerClients(String selfId, ClusterSecret secret, SslContext tls) {
    this(selfId, secret, tls, null);
  }

  /**
   * @param tls the chunk-client TLS context, or null for plain TCP
   * @param chunkGroup the id of the group whose chunks the clients fetch ({@code
   *     groupId.getUuid().toString()}), named on every connection, or null to name none
   * @throws IllegalArgumentException if {@code chunkGroup} is not a valid group id
   */
  PeerClients(String selfId, ClusterSecret secret, SslContext tls, String chunkGroup) {
    this.selfId = selfId;
    this.secret = secret;
    this.tls = tls;
    this.chunkGroup = chunkGroup == null ? null : ChunkServer.checkGroupId(chunkGroup);
  }

  /**
   * The reachable peers: members of the current configuration (or {@code fallback} while the server
   * is not running), connected. Peers that cannot be reached now are left out.
   */
  synchronized List<SnapshotPeer> current(
      RaftServer server, RaftGroupId groupId, List<PeerAddress> fallback) {
    if (closed) {
      return List.of();
    }
    Map<String, PeerAddress> wanted = new HashMap<>();
    try {
      if (server == null) {
        throw new IOException("not started");
      }
      for (RaftPeer p : server.getDivision(groupId).getRaftConf().getAllPeers()) {
        String id = p.getId().toString();
        if (!id.equals(selfId) && p.getDataStreamAddress() != null) {
          try {
            wanted.put(id, RaftPeers.fromRaftPeer(p));
          } catch (IllegalArgumentException e) {
            LOG.warn("ignoring a peer with a bad address in the configuration: {}", e.getMessage());
          }
        }
      }
    } catch (IOException e) {
      for (PeerAddress p : fallback) {
        if (!p.id().equals(selfId)) {
          wanted.put(p.id(), p);
        }
      }
    }
    List<SnapshotPeer> out = new ArrayList<>();
    Map<String, String> refused = new TreeMap<>();
    for (Map.Entry<String, PeerAddress> e : wanted.entrySet()) {
      ChunkClient c = clients.get(e.getKey());
      if (c != null && (!c.isOpen() || !e.getValue().equals(addresses.get(e.getKey())))) {
        c.close();
        c = null;
      }
      if (c == null) {
        try {
          c = connect(e.getValue());
        } catch (Exception ex) {
          Throwable cause =
              ex instanceof ExecutionException && ex.getCause() != null ? ex.getCause() : ex;
          if (cause instanceof ChunkAuthException) {
            refused.put(e.getKey(), cause.getMessage());
          }
          // A peer that is down is expected (it restarts, or was removed): the install says so.
          LOG.debug(
              "cannot reach the chunk service of {} at {}: {}",
              e.getKey(),
              e.getValue(),
              cause.toString());
          continue;
        }
        clients.put(e.getKey(), c);
        addresses.put(e.getKey(), e.getValue());
      }
      out.add(c);
    }
    if (!out.isEmpty()) {
      refusedByAllSaid = false;
    } else if (!wanted.isEmpty() && refused.size() == wanted.size() && !refusedByAllSaid) {
      // Said once per episode: installs retry, and the peers log each refusal on their side.
      refusedByAllSaid = true;
      LOG.error(
          "{}: every peer refused this node {}: wrong cluster secret, or TLS certificates they do"
              + " not trust? It cannot install a snapshot until that is fixed. First refusal: {}",
          selfId,
          refused.keySet(),
          refused.values().iterator().next());
    }
    return out;
  }

  private ChunkClient connect(PeerAddress peer) throws Exception {
    return ChunkClient.builder()
        .peer(peer)
        .selfId(selfId)
        .group(chunkGroup)
        .secret(secret.bytes())
        .tls(tls)
        .connect()
        .get(15, TimeUnit.SECONDS);
  }

  @Override
  public synchronized void close() {
    closed = true;
    clients.values().forEach(ChunkClient::close);
    clients.clear();
  }
}
