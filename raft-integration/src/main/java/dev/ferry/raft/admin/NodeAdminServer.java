package dev.ferry.raft.admin;

import dev.ferry.raft.admin.AdminProtocol.AdminProtocolException;
import dev.ferry.raft.admin.AdminProtocol.Frame;
import dev.ferry.shipping.PeerAddress;
import dev.ferry.shipping.chunks.AdminHandler;
import dev.ferry.shipping.chunks.AdminMessage;
import dev.ferry.shipping.chunks.ChunkServer;
import dev.ferry.shipping.install.TransferPriority;
import java.io.Closeable;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A node's admin requests that concern no one group: host a group it does not host yet (as a
 * listener, the first step of moving a replica to it: {@link ReplicaMover}) and list the groups it
 * hosts. Like {@link AdminServer}, it is an {@link AdminHandler} on the node's service port, behind
 * the same cluster-secret handshake (and TLS); it is registered under the reserved id {@value
 * #NODE_ID}, which no group id can be (group ids are UUIDs, {@link AdminClient#groupId}). Clients
 * reach it with {@link AdminClient#connectNode}.
 *
 * <p>Input from the network is checked by the node ({@link Host#host}: a group name is a folder
 * name of a strict pattern, the peers are parsed addresses); it never picks a file path.
 *
 * <p>Concurrency: requests arrive on the chunk service's event loop and run on the given pool (at
 * most its size at once; more are answered "busy").
 */
public final class NodeAdminServer implements AdminHandler, Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(NodeAdminServer.class);

  /** The id node-level admin requests name instead of a group id. Never a UUID. */
  public static final String NODE_ID = "node";

  /** At most this many peers in a HOST request. */
  static final int MAX_PEERS = 64;

  /** What the service asks of its node. Called on the pool's threads; may block. */
  public interface Host {
    /** The names of the groups the node hosts, sorted. */
    List<String> groups();

    /**
     * Starts hosting group {@code name} as a listener, its peer list {@code peers} (the group's
     * members and this node), its install admitted by the node's transfer scheduler at {@code
     * priority} (recorded with the group). A group already hosted keeps its priority.
     *
     * @return true if it started hosting it now, false if it already hosted it
     * @throws IllegalArgumentException if the name or the peers are not acceptable
     * @throws IOException if the group cannot be started
     */
    boolean host(String name, List<PeerAddress> peers, TransferPriority priority)
        throws IOException;
  }

  private final ChunkServer chunks;
  private final Host host;
  private final ExecutorService pool;

  private NodeAdminServer(ChunkServer chunks, Host host, ExecutorService pool) {
    this.chunks = chunks;
    this.host = host;
    this.pool = pool;
  }

  /** Whether {@code id} has the form of a group id (a UUID), which {@link #NODE_ID} must not. */
  static boolean isUuid(String id) {
    try {
      return UUID.fromString(id).toString().equals(id);
    } catch (IllegalArgumentException e) {
      return false;
    }
  }

  /**
   * Serves the node-level admin requests on {@code chunks} from now on, until {@link #close()}, on
   * {@code pool} (shared; not shut down by {@link #close()}).
   *
   * @throws IllegalStateException if the chunk server already serves them
   */
  public static NodeAdminServer serve(ChunkServer chunks, Host host, ExecutorService pool) {
    NodeAdminServer s =
        new NodeAdminServer(
            Objects.requireNonNull(chunks, "chunks"),
            Objects.requireNonNull(host, "host"),
            Objects.requireNonNull(pool, "pool"));
    chunks.serveAdmin(NODE_ID, s);
    return s;
  }

  /** Called by the chunk service on its event loop; never blocks. See {@link AdminHandler}. */
  @Override
  public CompletableFuture<AdminMessage> handle(
      String peer, AdminMessage request, Consumer<AdminMessage> progress) {
    Frame f;
    try {
      f = AdminProtocol.frame(request);
      if (f.type() != AdminProtocol.HOST && f.type() != AdminProtocol.GROUPS) {
        throw new AdminProtocolException("unknown node admin request type " + f.type());
      }
    } catch (AdminProtocolException e) {
      return CompletableFuture.failedFuture(new IllegalArgumentException(e.getMessage()));
    }
    try {
      return CompletableFuture.supplyAsync(() -> answer(f, peer), pool);
    } catch (RejectedExecutionException e) {
      return CompletableFuture.completedFuture(
          error(new IllegalStateException("node admin service is busy or closed; try again")));
    }
  }

  private AdminMessage answer(Frame f, String peer) {
    try {
      if (f.type() == AdminProtocol.GROUPS) {
        return AdminProtocol.message(
            AdminProtocol.GROUPS_REPLY, Map.of("groups", String.join(",", host.groups())));
      }
      String name = f.get("group");
      List<PeerAddress> peers = PeerAddress.parseList(f.get("peers"));
      if (peers.size() > MAX_PEERS) {
        throw new IllegalArgumentException(
            peers.size() + " peers; at most " + MAX_PEERS + " per group");
      }
      // Optional: requests of clients that predate priorities are ordinary catch-ups.
      String p = f.body().get("priority");
      TransferPriority priority = p == null ? TransferPriority.CATCH_UP : TransferPriority.parse(p);
      LOG.info(
          "node admin: {} asks to host group {} as a listener of {} (install priority {})",
          peer,
          name,
          peers,
          priority.label());
      boolean started = host.host(name, peers, priority);
      return AdminProtocol.message(
          AdminProtocol.HOSTED, Map.of("started", Boolean.toString(started)));
    } catch (AdminProtocolException e) {
      return error(new IllegalArgumentException(e.getMessage()));
    } catch (IOException | RuntimeException e) {
      return error(e);
    }
  }

  private static AdminMessage error(Throwable t) {
    return AdminProtocol.message(AdminProtocol.ERROR, AdminProtocol.error(t));
  }

  /** Stops serving (requests name an unknown id from now on). */
  @Override
  public void close() {
    chunks.stopServingAdmin(NODE_ID, this);
  }
}
