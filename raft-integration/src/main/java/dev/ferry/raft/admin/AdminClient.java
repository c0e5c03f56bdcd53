package dev.ferry.raft.admin;

import dev.ferry.raft.ClusterSecret;
import dev.ferry.raft.TlsFiles;
import dev.ferry.raft.admin.AdminProtocol.Frame;
import dev.ferry.shipping.PeerAddress;
import dev.ferry.shipping.chunks.AdminMessage;
import dev.ferry.shipping.chunks.ChunkAuthException;
import dev.ferry.shipping.chunks.ChunkClient;
import dev.ferry.shipping.chunks.ChunkRequestException;
import dev.ferry.shipping.chunks.ChunkServer;
import dev.ferry.shipping.install.TransferPriority;
import java.io.Closeable;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.UUID;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Consumer;

/**
 * A client of one node's admin service for one Raft group: status, add, remove, cancel (which the
 * node runs through its own {@link MembershipAdmin}), and retire. It speaks to the node's one
 * service port (the chunk service's, {@link PeerAddress#chunkPort()}): the cluster-secret handshake
 * (mutual HMAC) and, when given TLS files, mutual TLS, then {@code ADMIN} frames naming the group;
 * a node that does not serve the group answers with an error naming the groups it does serve (an
 * {@link AdminException}; an {@link IOException} while it serves none yet, still starting).
 *
 * <p>Blocking; one request at a time (calls are serialized). Thread-safe.
 */
public final class AdminClient implements Closeable {
  private static final Duration CONNECT_TIMEOUT = Duration.ofSeconds(5);
  private static final Duration READ_TIMEOUT = Duration.ofSeconds(30);

  /** The connection's own inactivity bound: far beyond any request's; each call has its own. */
  private static final Duration IDLE_BOUND = Duration.ofDays(1);

  private final String serverId;
  private final String groupId;
  private final ChunkClient client;

  private AdminClient(String serverId, String groupId, ChunkClient client) {
    this.serverId = serverId;
    this.groupId = groupId;
    this.client = client;
  }

  /**
   * The group id admin requests carry for the cluster named {@code clusterName}: the UUID of its
   * Raft group ({@code FerryServer.groupId(clusterName)}).
   */
  public static String groupId(String clusterName) {
    Objects.requireNonNull(clusterName, "clusterName");
    return UUID.nameUUIDFromBytes(("ferry:" + clusterName).getBytes(StandardCharsets.UTF_8))
        .toString();
  }

  /**
   * Connects to {@code node}'s service port and authenticates, for requests about the group {@code
   * groupId} (see {@link #groupId(String)}). May block up to a few seconds.
   *
   * @param secret the cluster secret
   * @param tls this client's TLS files, or null if the cluster runs without TLS
   * @param clientId the id this client presents (logged by the server; 1-64 of {@code
   *     [A-Za-z0-9_-]})
   * @throws AdminAuthException if either side's proof is refused, or the node refused the
   *     connection (over a limit, TLS failed)
   * @throws IOException if the node cannot be reached or speaks something else
   * @throws IllegalArgumentException if the group id or client id is malformed
   */
  public static AdminClient connect(
      PeerAddress node, String groupId, ClusterSecret secret, TlsFiles tls, String clientId)
      throws IOException {
    Objects.requireNonNull(node, "node");
    Objects.requireNonNull(secret, "secret");
    Objects.requireNonNull(clientId, "clientId");
    ChunkServer.checkGroupId(groupId);
    ChunkClient.Builder b =
        ChunkClient.builder()
            .peer(node)
            .selfId(clientId)
            .secret(secret.bytes())
            .connectTimeout(CONNECT_TIMEOUT)
            .requestTimeout(IDLE_BOUND);
    if (tls != null) {
      b.tls(tls.chunkClientContext());
    }
    try {
      return new AdminClient(node.id(), groupId, b.connect().get());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted connecting to " + node, e);
    } catch (ExecutionException e) {
      Throwable c = e.getCause();
      String where =
          "admin service of " + node.id() + " at " + node.host() + ":" + node.chunkPort();
      if (c instanceof ChunkAuthException) {
        throw new AdminAuthException(where + ": " + c.getMessage());
      }
      throw new IOException(where + ": " + c, c);
    }
  }

  /**
   * Connects to {@code node}'s service port for its node-level requests ({@link #hostGroup}, {@link
   * #hostedGroups}; served by {@link NodeAdminServer}). As {@link #connect}.
   */
  public static AdminClient connectNode(
      PeerAddress node, ClusterSecret secret, TlsFiles tls, String clientId) throws IOException {
    return connect(node, NodeAdminServer.NODE_ID, secret, tls, clientId);
  }

  /**
   * Asks the node (connected with {@link #connectNode}) to host group {@code name} as a listener
   * whose peers are {@code peers} (the group's members and the node itself). Blocks while the node
   * starts the group (up to 30 s).
   *
   * @return true if the node started hosting it now, false if it already hosted it
   * @throws IllegalArgumentException if the node refuses the name or the peers
   * @throws AdminException if the node does not serve node-level requests
   * @throws IOException if the connection fails or the node cannot start the group
   */
  public boolean hostGroup(String name, List<PeerAddress> peers) throws IOException {
    return hostGroup(name, peers, TransferPriority.CATCH_UP);
  }

  /**
   * As {@link #hostGroup(String, List)}, the group's install admitted by the node's transfer
   * scheduler at {@code priority}: {@code REPAIR} for a replacement of a lost replica, {@code
   * REBALANCE} for a move, {@code CATCH_UP} for an ordinary add. A node that predates priorities
   * ignores it (its installs are not scheduled).
   */
  public synchronized boolean hostGroup(
      String name, List<PeerAddress> peers, TransferPriority priority) throws IOException {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("group", name);
    m.put("peers", String.join(",", peers.stream().map(PeerAddress::toString).toList()));
    m.put("priority", priority.label());
    Frame f = call(AdminProtocol.HOST, m, READ_TIMEOUT, p -> {});
    return Boolean.parseBoolean(expect(f, AdminProtocol.HOSTED, "host").get("started"));
  }

  /** The names of the groups the node (connected with {@link #connectNode}) hosts, sorted. */
  public synchronized List<String> hostedGroups() throws IOException {
    Frame f = call(AdminProtocol.GROUPS, Map.of(), READ_TIMEOUT, p -> {});
    String groups = expect(f, AdminProtocol.GROUPS_REPLY, "groups").get("groups");
    return groups.isEmpty() ? List.of() : List.of(groups.split(","));
  }

  /** The node's status. */
  public synchronized NodeStatus status() throws IOException {
    Frame f = call(AdminProtocol.STATUS, Map.of(), READ_TIMEOUT, p -> {});
    return AdminProtocol.status(expect(f, AdminProtocol.STATUS_REPLY, "status"));
  }

  /**
   * Asks the node to add {@code request.node()} through the digest gate ({@link
   * MembershipAdmin#addMember}), and waits for the outcome, passing progress reports to {@code
   * progress} on this thread.
   *
   * @throws MembershipException (or a subclass) as {@link MembershipAdmin#addMember} fails
   * @throws IOException if the connection fails
   */
  public synchronized AddResult add(AddRequest request, Consumer<AddProgress> progress)
      throws IOException {
    return add(request, request.deadline().plus(READ_TIMEOUT), progress);
  }

  /**
   * Like {@link #add(AddRequest, Consumer)}, waiting at most {@code wait}. The add runs on the node
   * whatever this client does: at the end of the wait this client closes its connection and throws,
   * and the add goes on (follow it in the node's {@link #status}).
   *
   * @throws MembershipTimeoutException if no outcome came within {@code wait}; the add goes on
   * @throws MembershipException (or a subclass) as {@link MembershipAdmin#addMember} fails
   * @throws IOException if the connection fails
   */
  public synchronized AddResult add(
      AddRequest request, Duration wait, Consumer<AddProgress> progress) throws IOException {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("node", request.node().toString());
    m.put("deadlineMs", Long.toString(request.deadline().toMillis()));
    if (request.isReplacement()) {
      m.put("replaces", request.replaces());
    }
    Frame f;
    try {
      f = call(AdminProtocol.ADD, m, wait, p -> progress.accept(AdminProtocol.progress(p)));
    } catch (IOException e) {
      if (e.getCause() instanceof TimeoutException) {
        throw new MembershipTimeoutException(
            "stopped waiting for the add of "
                + request.node().id()
                + " after "
                + wait
                + "; it goes on at "
                + serverId,
            e);
      }
      throw e;
    }
    return AdminProtocol.addResult(expect(f, AdminProtocol.ADD_DONE, "add"));
  }

  /**
   * Asks the node to remove a member ({@link MembershipAdmin#removeMember}) and waits.
   *
   * @throws MembershipException (or a subclass) as {@link MembershipAdmin#removeMember} fails
   */
  public synchronized RemoveResult remove(RemoveRequest request) throws IOException {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("node", request.nodeId());
    m.put("deadlineMs", Long.toString(request.deadline().toMillis()));
    Frame f = call(AdminProtocol.REMOVE, m, request.deadline().plus(READ_TIMEOUT), p -> {});
    return AdminProtocol.removeResult(expect(f, AdminProtocol.REMOVE_DONE, "remove"));
  }

  /**
   * Asks the node to cancel the pending add ({@link MembershipAdmin#cancel}) and waits: the
   * cancelled add's undo included, which waits for Ratis to drop a staging of the node (up to the
   * leader's staging timeout after the node stopped). Any member can be asked: the pending change
   * is recorded in the replicated state, whoever drives it.
   *
   * @throws IllegalStateException if it is too late (the node was verified), the pending change is
   *     a remove, or it is about another node than {@code request.nodeId()}
   * @throws MembershipException (or a subclass) as {@link MembershipAdmin#cancel} fails
   * @throws IOException if the connection fails
   */
  public synchronized CancelResult cancel(CancelRequest request) throws IOException {
    Frame f =
        call(
            AdminProtocol.CANCEL,
            AdminProtocol.cancelRequest(request),
            request.deadline().plus(READ_TIMEOUT),
            p -> {});
    return AdminProtocol.cancelResult(expect(f, AdminProtocol.CANCEL_DONE, "cancel"));
  }

  /**
   * Tells the node it is no longer a member: it stops, after wiping its state if {@code wipe}. Sent
   * by {@link MembershipAdmin} after it removed the node.
   *
   * @throws IllegalStateException if the node finds it is still a member
   */
  public synchronized void retire(String reason, boolean wipe) throws IOException {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("reason", reason);
    m.put("wipe", Boolean.toString(wipe));
    expect(call(AdminProtocol.RETIRE, m, READ_TIMEOUT, p -> {}), AdminProtocol.RETIRED, "retire");
  }

  /**
   * The node's storage identity and what it knows of node {@code about}: the storage identity it
   * recorded for it and its role in the node's Raft configuration. Asked by a node starting on a
   * fresh disk before it may vote ({@code docs/membership.md}). Blocks up to 30 s.
   *
   * @throws AdminException if the node keeps no storage identities
   * @throws IOException if the connection fails
   */
  public synchronized PeerIdentity identity(String about) throws IOException {
    Frame f = call(AdminProtocol.IDENTITY, Map.of("node", about), READ_TIMEOUT, p -> {});
    return AdminProtocol.identity(expect(f, AdminProtocol.IDENTITY_REPLY, "identity"));
  }

  /** Progress reported during a call: a frame to decode on the caller's thread. */
  private interface ProgressSink {
    void accept(Frame f) throws IOException;
  }

  /** The end of a call: its answer or its failure. */
  private record Outcome(AdminMessage answer, Throwable failure) {}

  /**
   * Sends one request and waits up to {@code wait} for its answer, passing progress frames to
   * {@code progress} on this thread first.
   */
  private Frame call(int type, Map<String, String> body, Duration wait, ProgressSink progress)
      throws IOException {
    BlockingQueue<Object> events = new LinkedBlockingQueue<>();
    client
        .admin(groupId, AdminProtocol.message(type, body), events::add)
        .whenComplete((m, e) -> events.add(new Outcome(m, e)));
    long end = System.nanoTime() + wait.toNanos();
    while (true) {
      Object event;
      try {
        event = events.poll(Math.max(0, end - System.nanoTime()), TimeUnit.NANOSECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        close();
        throw new IOException("interrupted waiting for " + serverId, e);
      }
      if (event == null) {
        close();
        throw new IOException(
            "no answer from " + serverId + " within " + wait, new TimeoutException());
      }
      if (event instanceof AdminMessage p) {
        progress.accept(AdminProtocol.frame(p));
        continue;
      }
      Outcome o = (Outcome) event;
      if (o.failure() == null) {
        return AdminProtocol.frame(o.answer());
      }
      Throwable c =
          o.failure() instanceof CompletionException && o.failure().getCause() != null
              ? o.failure().getCause()
              : o.failure();
      if (c instanceof IOException io) {
        throw io;
      }
      if (c instanceof ChunkRequestException r
          && r.code() == ChunkRequestException.Code.UNAVAILABLE) {
        // A node still starting: it serves no group yet. Worth trying again, like a closed port.
        throw new IOException(r.getMessage(), r);
      }
      if (c instanceof ChunkRequestException r) {
        throw new AdminException(
            r.code() == ChunkRequestException.Code.UNKNOWN_GROUP
                ? r.getMessage() + " (wrong cluster name?)"
                : r.getMessage());
      }
      throw new IOException("admin request to " + serverId + " failed: " + c, c);
    }
  }

  /** {@code f} if of {@code type}; its exception if an ERROR. */
  private static Frame expect(Frame f, int type, String what) throws IOException {
    if (f.type() == AdminProtocol.ERROR) {
      throw AdminProtocol.error(f);
    }
    if (f.type() != type) {
      throw new IOException("unexpected admin message " + f.type() + " in answer to " + what);
    }
    return f;
  }

  /** Closes the connection. Idempotent; never throws. */
  @Override
  public void close() {
    client.close();
  }
}
