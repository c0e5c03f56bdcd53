package dev.ferry.raft.admin;

import dev.ferry.raft.admin.AdminProtocol.AdminProtocolException;
import dev.ferry.raft.admin.AdminProtocol.Frame;
import dev.ferry.shipping.PeerAddress;
import dev.ferry.shipping.chunks.AdminHandler;
import dev.ferry.shipping.chunks.AdminMessage;
import dev.ferry.shipping.chunks.ChunkServer;
import java.io.Closeable;
import java.io.IOException;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.SynchronousQueue;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A node's admin service for one Raft group: status, membership changes and their cancellation (run
 * by the node through {@link MembershipAdmin}) and retirement, for {@link AdminClient}s. It has no
 * port of its own: it is an {@link AdminHandler} on the node's {@link ChunkServer}, which owns the
 * one service port, the TLS setup and the cluster-secret handshake, and which routes to it the
 * {@code ADMIN} frames that name its group. The chunk service also provides the protections against
 * strangers (the handshake deadline, the limits on unauthenticated connections in all and per
 * source address, the counting and rate-limited logging of malformed frames and refused
 * connections); a malformed admin request counts there too. The messages are in {@link
 * AdminProtocol}.
 *
 * <p>Concurrency: requests arrive on the chunk service's event loop; status and retirement (which
 * may block) run on this service's threads, at most {@value #MAX_BLOCKING} at once (more are
 * answered "busy"); adds, removes and cancels run on the node's membership admin. {@link #close()}
 * may be called from any thread.
 */
public final class AdminServer implements AdminHandler, Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(AdminServer.class);
  static final int MAX_BLOCKING = 8;

  /** What the service asks of its node. Called on the service's threads; may block. */
  public interface Node {
    /** The node's status. */
    NodeStatus status() throws IOException;

    /** Runs an add through the node's membership admin. */
    CompletableFuture<AddResult> add(AddRequest request, Consumer<AddProgress> p);

    /** Runs a remove through the node's membership admin. */
    CompletableFuture<RemoveResult> remove(RemoveRequest request);

    /**
     * Cancels the pending add through the node's membership admin ({@link MembershipAdmin#cancel})
     * on behalf of {@code by} (the requesting client's id). The default refuses: for a node without
     * a membership admin.
     */
    default CompletableFuture<CancelResult> cancel(CancelRequest request, String by) {
      return CompletableFuture.failedFuture(
          new IllegalStateException("this node cannot cancel membership changes"));
    }

    /**
     * Checks, before {@link #retire}, that the node really is out of the configuration: a RETIRE
     * request alone proves only that its sender knows the cluster secret. Throws an {@link
     * IllegalStateException} naming why the node stays (the sender gets it as an error). The
     * default accepts: for a node with no configuration to ask.
     */
    default void confirmRemoved(String reason) {}

    /** The node is no longer a member: stop (and wipe its state if asked), after answering. */
    void retire(String reason, boolean wipe);

    /**
     * The node's storage identity and what it knows of node {@code about} (its recorded storage
     * identity, its role), for a peer starting on a fresh disk. Answered before the node's Raft
     * server runs too. The default refuses: a node without storage identities.
     */
    default PeerIdentity identity(String about) {
      throw new UnsupportedOperationException("this node keeps no storage identities");
    }
  }

  private final String nodeId;
  private final ChunkServer chunks;
  private final String groupId;
  private final Node node;
  private final ExecutorService pool;
  private final boolean ownsPool;
  private final LongAdder served = new LongAdder();

  private AdminServer(ChunkServer chunks, String groupId, Node node, ExecutorService shared) {
    this.nodeId = chunks.nodeId();
    this.chunks = chunks;
    this.groupId = groupId;
    this.node = node;
    this.ownsPool = shared == null;
    this.pool = shared != null ? shared : newBlockingPool(nodeId);
  }

  /**
   * A pool for the blocking requests (status, retirement, identity) of admin services: at most
   * {@value #MAX_BLOCKING} run at once (more are answered "busy"), and idle threads end after 30 s.
   * One per service by default; a node hosting many groups shares one among their services ({@link
   * #serve(ChunkServer, String, Node, ExecutorService)}). Shut it down when done.
   */
  public static ExecutorService newBlockingPool(String nodeId) {
    AtomicInteger n = new AtomicInteger();
    return new ThreadPoolExecutor(
        0,
        MAX_BLOCKING,
        30,
        TimeUnit.SECONDS,
        new SynchronousQueue<>(),
        r -> {
          Thread t = new Thread(r, "ferry-admin-" + nodeId + "-" + n.incrementAndGet());
          t.setDaemon(true);
          return t;
        });
  }

  /**
   * Serves the admin requests of {@code groupId} on {@code chunks} (started or not) from now on,
   * until {@link #close()}.
   *
   * @param groupId the Raft group's id as {@link AdminClient} sends it ({@link
   *     AdminClient#groupId})
   * @throws IllegalArgumentException if the group id is malformed or the reserved {@link
   *     NodeAdminServer#NODE_ID}
   * @throws IllegalStateException if the chunk server already serves that group
   */
  public static AdminServer serve(ChunkServer chunks, String groupId, Node node) {
    return serve(chunks, groupId, node, null);
  }

  /**
   * As {@link #serve(ChunkServer, String, Node)}, running the blocking requests on {@code pool}
   * (shared with other services, e.g. {@link #newBlockingPool}; not shut down by {@link #close()}),
   * or on a pool of the service's own if null.
   */
  public static AdminServer serve(
      ChunkServer chunks, String groupId, Node node, ExecutorService pool) {
    Objects.requireNonNull(chunks, "chunks");
    Objects.requireNonNull(node, "node");
    ChunkServer.checkGroupId(groupId);
    if (groupId.equals(NodeAdminServer.NODE_ID)) {
      throw new IllegalArgumentException(
          "'" + groupId + "' is reserved for the node's own admin requests (NodeAdminServer)");
    }
    AdminServer s = new AdminServer(chunks, groupId, node, pool);
    chunks.serveAdmin(groupId, s);
    LOG.info("admin service {}: serving group {} on the chunk service", s.nodeId, groupId);
    return s;
  }

  /** The group this service serves. */
  public String groupId() {
    return groupId;
  }

  /** Requests answered. */
  public long served() {
    return served.sum();
  }

  /** Called by the chunk service on its event loop; never blocks. See {@link AdminHandler}. */
  @Override
  public CompletableFuture<AdminMessage> handle(
      String peer, AdminMessage request, Consumer<AdminMessage> progress) {
    Frame f;
    try {
      f = AdminProtocol.frame(request);
    } catch (AdminProtocolException e) {
      return CompletableFuture.failedFuture(new IllegalArgumentException(e.getMessage()));
    }
    CompletableFuture<AdminMessage> answer;
    try {
      answer = answer(f, peer, progress);
    } catch (AdminProtocolException e) {
      return CompletableFuture.failedFuture(new IllegalArgumentException(e.getMessage()));
    } catch (RejectedExecutionException e) {
      answer =
          CompletableFuture.completedFuture(
              error(
                  new IllegalStateException(
                      "admin service of " + nodeId + " is busy or closed; try again")));
    }
    return answer.whenComplete((m, e) -> served.increment());
  }

  private CompletableFuture<AdminMessage> answer(
      Frame f, String peer, Consumer<AdminMessage> progress) throws AdminProtocolException {
    switch (f.type()) {
      case AdminProtocol.STATUS:
        return CompletableFuture.supplyAsync(
            () -> {
              try {
                return AdminProtocol.message(
                    AdminProtocol.STATUS_REPLY, AdminProtocol.status(node.status()));
              } catch (IOException | RuntimeException e) {
                return error(e);
              }
            },
            pool);
      case AdminProtocol.ADD:
        {
          AddRequest request;
          try {
            request =
                new AddRequest(
                    PeerAddress.parse(f.get("node")),
                    Duration.ofMillis(f.number("deadlineMs")),
                    f.body().getOrDefault("replaces", ""));
          } catch (IllegalArgumentException e) {
            return CompletableFuture.completedFuture(error(e));
          }
          LOG.info(
              "admin service {}: {} asks to add {}{}",
              nodeId,
              peer,
              request.node(),
              request.isReplacement() ? " in place of " + request.replaces() : "");
          return outcome(
              node.add(
                  request,
                  p ->
                      progress.accept(
                          AdminProtocol.message(
                              AdminProtocol.PROGRESS, AdminProtocol.progress(p)))),
              r -> AdminProtocol.message(AdminProtocol.ADD_DONE, AdminProtocol.addResult(r)));
        }
      case AdminProtocol.REMOVE:
        {
          RemoveRequest request;
          try {
            request = new RemoveRequest(f.get("node"), Duration.ofMillis(f.number("deadlineMs")));
          } catch (IllegalArgumentException e) {
            return CompletableFuture.completedFuture(error(e));
          }
          LOG.info("admin service {}: {} asks to remove {}", nodeId, peer, request.nodeId());
          return outcome(
              node.remove(request),
              r -> AdminProtocol.message(AdminProtocol.REMOVE_DONE, AdminProtocol.removeResult(r)));
        }
      case AdminProtocol.CANCEL:
        {
          CancelRequest request = AdminProtocol.cancelRequest(f);
          LOG.info(
              "admin service {}: {} asks to cancel the pending add{}",
              nodeId,
              peer,
              request.nodeId().map(n -> " of " + n).orElse(""));
          return outcome(
              node.cancel(request, peer + " via " + nodeId),
              r -> AdminProtocol.message(AdminProtocol.CANCEL_DONE, AdminProtocol.cancelResult(r)));
        }
      case AdminProtocol.RETIRE:
        {
          String reason = f.get("reason");
          boolean wipe = Boolean.parseBoolean(f.get("wipe"));
          // The node logs its retirement once (MemberService); who asked is detail.
          LOG.debug("admin service {}: {} says this node was removed: {}", nodeId, peer, reason);
          CompletableFuture<AdminMessage> answer =
              CompletableFuture.supplyAsync(
                  () -> {
                    try {
                      node.confirmRemoved(reason);
                    } catch (RuntimeException e) {
                      return error(e);
                    }
                    return AdminProtocol.message(AdminProtocol.RETIRED, Map.of());
                  },
                  pool);
          // Stop after the answer is on its way.
          answer.thenAccept(
              m -> {
                if (m.kind() == AdminProtocol.RETIRED) {
                  node.retire(reason, wipe);
                }
              });
          return answer;
        }
      case AdminProtocol.IDENTITY:
        {
          String about = f.get("node");
          return CompletableFuture.supplyAsync(
              () -> {
                try {
                  return AdminProtocol.message(
                      AdminProtocol.IDENTITY_REPLY, AdminProtocol.identity(node.identity(about)));
                } catch (RuntimeException e) {
                  return error(e);
                }
              },
              pool);
        }
      default:
        throw new AdminProtocolException("unknown admin request type " + f.type());
    }
  }

  /** The answer a membership future turns into: its result, or its failure as an ERROR. */
  private static <T> CompletableFuture<AdminMessage> outcome(
      CompletableFuture<T> f, java.util.function.Function<T, AdminMessage> done) {
    return f.handle(
        (r, e) -> {
          if (e == null) {
            return done.apply(r);
          }
          Throwable c = e instanceof CompletionException && e.getCause() != null ? e.getCause() : e;
          return error(c);
        });
  }

  private static AdminMessage error(Throwable t) {
    return AdminProtocol.message(AdminProtocol.ERROR, AdminProtocol.error(t));
  }

  /** Stops serving (the chunk service answers the group as unknown) and ends the threads. */
  @Override
  public void close() {
    chunks.stopServingAdmin(groupId, this);
    if (ownsPool) {
      pool.shutdownNow();
    }
  }
}
