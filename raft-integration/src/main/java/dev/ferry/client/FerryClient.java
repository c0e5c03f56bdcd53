package dev.ferry.client;

import dev.ferry.client.internal.RaftTransport;
import dev.ferry.client.internal.RetryLoop;
import dev.ferry.client.internal.Transport;
import dev.ferry.raft.RaftPeers;
import dev.ferry.raft.TlsFiles;
import dev.ferry.shipping.PeerAddress;
import dev.ferry.statemachine.ClientId;
import dev.ferry.statemachine.CommandCodec;
import dev.ferry.statemachine.DigestAt;
import dev.ferry.statemachine.Reply;
import dev.ferry.statemachine.ReplyStatus;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.io.UncheckedIOException;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * A client of any Ferry state machine: sends commands through the replicated log and queries to the
 * replicas, as bytes the state machine defines.
 *
 * <pre>{@code
 * try (FerryClient c = FerryClient.connect("counters", PeerAddress.parseList(peers))) {
 *   byte[] reply = c.submit(command);  // applied at most once, even when retried
 *   byte[] value = c.query(request);   // linearizable
 * }
 * }</pre>
 *
 * <p>Commands run in the client's session (one per client, opened with the first command): each
 * gets the next sequence number, and every attempt sends the same one, so the replicas apply it at
 * most once however often it is retried (after a timeout, a lost reply, a leader change) and answer
 * a retry with the reply they stored. A call retries with backoff, following leader changes, until
 * its deadline (the client's {@link Builder#deadline default}, or one given per call); then it
 * fails, for a command with {@link OutcomeUnknownException} (it may or may not have been applied),
 * for a read with {@link ClusterUnavailableException}. A refusal recorded by the replicas fails it
 * at once with {@link CommandRejectedException} (its {@link ReplyStatus}); an expired session with
 * {@link SessionExpiredException}. A call to which every peer the client knows answered that it
 * does not host the group ("not here", within one pass over the peers) fails at once with {@link
 * NotHereException}: the peers are out of date (the group moved); a mix of "not here" and peers
 * that do not answer is retried until the deadline, as the group may be moving to them. These
 * exceptions are unchecked; the asynchronous variants fail their futures with them.
 *
 * <p>Deadlines are checked between attempts: an attempt that is under way at the deadline finishes
 * first (one attempt lasts at most a few seconds: a 3 s request timeout, with short retries inside
 * it).
 *
 * <p>Concurrency: thread-safe; any number of threads may call at once (their commands share the
 * session). The blocking methods block the calling thread until the outcome is known or the
 * deadline passed. The {@code *Async} methods run the same call on the client's executor (by
 * default a pool of daemon threads the client owns) and never block; their futures complete on that
 * executor.
 */
public final class FerryClient implements AutoCloseable {
  /** The deadline of a call when the builder sets none. */
  public static final Duration DEFAULT_DEADLINE = Duration.ofSeconds(15);

  private static final AtomicInteger THREADS = new AtomicInteger();

  private final Transport transport;
  private final Set<String> peerIds;
  private final RetryLoop loop;
  private final Session session;
  private final Duration deadline;
  private final Executor executor;
  private final ExecutorService ownedExecutor;
  private final AtomicBoolean closed = new AtomicBoolean();

  FerryClient(
      Transport transport,
      RetryLoop loop,
      ClientId clientId,
      Duration deadline,
      Executor executor) {
    this(transport, Set.of(), loop, clientId, deadline, executor);
  }

  /**
   * A client over {@code transport}, whose attempts may reach the nodes {@code peerIds} (a call
   * ends with {@link NotHereException} once all of them answered "not here"; none: never).
   */
  FerryClient(
      Transport transport,
      Set<String> peerIds,
      RetryLoop loop,
      ClientId clientId,
      Duration deadline,
      Executor executor) {
    this.transport = transport;
    this.peerIds = Set.copyOf(peerIds);
    this.loop = loop;
    this.session = new Session(clientId);
    this.deadline = deadline;
    if (executor == null) {
      this.ownedExecutor =
          Executors.newCachedThreadPool(
              r -> {
                Thread t = new Thread(r, "ferry-client-" + THREADS.incrementAndGet());
                t.setDaemon(true);
                return t;
              });
      this.executor = ownedExecutor;
    } else {
      this.ownedExecutor = null;
      this.executor = executor;
    }
  }

  /**
   * Connects to cluster {@code clusterName} at {@code peers} in plain text, with the {@link
   * #DEFAULT_DEADLINE}. Does not block: the first call reaches the cluster.
   *
   * @throws IllegalArgumentException if the name is blank, or the peers are empty or repeat an id
   */
  public static FerryClient connect(String clusterName, List<PeerAddress> peers) {
    return builder().clusterName(clusterName).peers(peers).build();
  }

  /** A builder; {@link Builder#clusterName} and {@link Builder#peers} are required. */
  public static Builder builder() {
    return new Builder();
  }

  /** Configures a {@link FerryClient}; validated at {@link #build()}. Not thread-safe. */
  public static final class Builder {
    private String clusterName;
    private List<PeerAddress> peers;
    private TlsFiles tls;
    private Duration deadline = DEFAULT_DEADLINE;
    private Executor executor;

    private Builder() {}

    /** The cluster name the servers were started with. Required. */
    public Builder clusterName(String clusterName) {
      this.clusterName = Objects.requireNonNull(clusterName, "clusterName");
      return this;
    }

    /** The servers: any subset that includes a live one works. Required. */
    public Builder peers(List<PeerAddress> peers) {
      this.peers = List.copyOf(Objects.requireNonNull(peers, "peers"));
      return this;
    }

    /**
     * Mutual TLS, for servers that run it: the client presents {@code tls}'s certificate and
     * accepts only servers whose certificates chain to its trusted certificates and name the host
     * they are dialled at. The files are read on the first call; a malformed one fails every call
     * until its deadline. Default: plain text.
     */
    public Builder tls(TlsFiles tls) {
      this.tls = Objects.requireNonNull(tls, "tls");
      return this;
    }

    /**
     * The deadline of each call that does not give its own, retries included. Default {@link
     * #DEFAULT_DEADLINE}.
     */
    public Builder deadline(Duration deadline) {
      this.deadline = Objects.requireNonNull(deadline, "deadline");
      return this;
    }

    /**
     * Runs the asynchronous calls (each blocks one of its threads while it waits). Default: a pool
     * of daemon threads the client owns and shuts down on {@link #close}; an executor given here is
     * the caller's to shut down.
     */
    public Builder executor(Executor executor) {
      this.executor = Objects.requireNonNull(executor, "executor");
      return this;
    }

    /**
     * The client, with a new session. Does not block or reach the cluster.
     *
     * @throws IllegalStateException if the cluster name or the peers are not set
     * @throws IllegalArgumentException if the cluster name is blank, the peers are empty or repeat
     *     an id, or the deadline is not positive
     */
    public FerryClient build() {
      if (clusterName == null || peers == null) {
        throw new IllegalStateException(
            "clusterName and peers are required" + (clusterName == null ? "" : ": no peers"));
      }
      if (clusterName.isBlank()) {
        throw new IllegalArgumentException("cluster name is blank");
      }
      if (peers.isEmpty()) {
        throw new IllegalArgumentException("no peers given");
      }
      Set<String> ids = new HashSet<>();
      for (PeerAddress p : peers) {
        if (!ids.add(p.id())) {
          throw new IllegalArgumentException("peer id '" + p.id() + "' appears twice");
        }
      }
      requirePositive(deadline);
      Set<String> peerIds = new HashSet<>();
      peers.forEach(p -> peerIds.add(p.id()));
      return new FerryClient(
          RaftTransport.connect(
              RaftPeers.group(clusterName, peers), tls == null ? null : tls.ratisParameters()),
          peerIds,
          RetryLoop.system(),
          ClientId.random(),
          deadline,
          executor);
    }
  }

  // ---------------------------------------------------------------------------------------------
  // commands
  // ---------------------------------------------------------------------------------------------

  /**
   * Applies {@code command} through the replicated log, at most once, and returns the state
   * machine's reply; within the client's default deadline. Blocks.
   *
   * @throws OutcomeUnknownException if no reply came before the deadline
   * @throws NotHereException if every peer answered that it does not host the group (see {@link
   *     NotHereException#reachedNoReplica()} for whether the command may have been applied)
   * @throws CommandRejectedException if the replicas refused it (e.g. the state machine threw)
   * @throws SessionExpiredException if the session expired
   * @throws IllegalStateException if the client is closed
   */
  public byte[] submit(byte[] command) {
    return submit(command, deadline);
  }

  /**
   * Like {@link #submit(byte[])}, with this call's own deadline (retries included).
   *
   * @throws IllegalArgumentException if the deadline is not positive
   */
  public byte[] submit(byte[] command, Duration deadline) {
    return submitBy(command, deadlineOf(deadline));
  }

  /**
   * Like {@link #submit(byte[])}, without blocking: the future completes with the reply, or fails
   * with the exceptions {@link #submit(byte[])} throws. The deadline starts now. Commands submitted
   * concurrently may be applied in any order.
   *
   * @throws IllegalStateException if the client is closed
   */
  public CompletableFuture<byte[]> submitAsync(byte[] command) {
    return submitAsync(command, deadline);
  }

  /** Like {@link #submitAsync(byte[])}, with this call's own deadline. */
  public CompletableFuture<byte[]> submitAsync(byte[] command, Duration deadline) {
    Objects.requireNonNull(command, "command");
    long by = deadlineOf(deadline);
    return async(() -> submitBy(command, by));
  }

  private byte[] submitBy(byte[] command, long by) {
    Objects.requireNonNull(command, "command");
    requireOpen();
    Session.Command c = session.next(command);
    Reply reply;
    try {
      reply =
          CommandCodec.decodeReply(loop.call(by, peerIds, () -> open().write(c.entry()).reply()));
    } catch (RetryLoop.NotHereEverywhere e) {
      if (e.reachedNoReplica()) {
        // No replica saw this sequence number: nothing to keep a reply for.
        session.acknowledged(c.seq());
      }
      throw new NotHereException(
          "command " + c.seq() + " of session " + session.id() + ": " + e.getMessage(),
          e,
          e.reachedNoReplica());
    } catch (RetryLoop.DeadlineExceeded | InterruptedIOException | Transport.Closed e) {
      // Outcome unknown: the sequence stays unacknowledged, so the replicas keep its reply.
      throw new OutcomeUnknownException(
          "command " + c.seq() + " of session " + session.id() + ": " + what(e), e);
    } catch (IOException | RuntimeException e) {
      session.acknowledged(c.seq());
      throw refusal(e);
    }
    session.acknowledged(c.seq());
    return payloadOf(reply);
  }

  // ---------------------------------------------------------------------------------------------
  // queries
  // ---------------------------------------------------------------------------------------------

  /**
   * A linearizable read: the state machine's {@code query} answers {@code request} on the leader,
   * after it confirmed its leadership (it reflects every command acknowledged before the call);
   * within the client's default deadline. Blocks.
   *
   * @throws ClusterUnavailableException if no answer came before the deadline
   * @throws NotHereException if every peer answered that it does not host the group
   * @throws CommandRejectedException with {@link ReplyStatus#APPLY_FAILED} if {@code query} threw
   * @throws IllegalStateException if the client is closed
   */
  public byte[] query(byte[] request) {
    return query(request, deadline);
  }

  /** Like {@link #query(byte[])}, with this call's own deadline. */
  public byte[] query(byte[] request, Duration deadline) {
    return queryBy(request, deadlineOf(deadline));
  }

  /** Like {@link #query(byte[])}, without blocking; the deadline starts now. */
  public CompletableFuture<byte[]> queryAsync(byte[] request) {
    return queryAsync(request, deadline);
  }

  /** Like {@link #queryAsync(byte[])}, with this call's own deadline. */
  public CompletableFuture<byte[]> queryAsync(byte[] request, Duration deadline) {
    Objects.requireNonNull(request, "request");
    long by = deadlineOf(deadline);
    return async(() -> queryBy(request, by));
  }

  private byte[] queryBy(byte[] request, long by) {
    Objects.requireNonNull(request, "request");
    byte[] q = CommandCodec.userQuery(request);
    return read("query", by, peerIds, () -> open().read(q));
  }

  /**
   * A read from node {@code nodeId}'s current state, without coordination: it may miss recent
   * commands (even this client's own). Within the client's default deadline; blocks.
   *
   * @throws ClusterUnavailableException if the node did not answer before the deadline
   * @throws NotHereException if the node answered that it does not host the group
   * @throws CommandRejectedException with {@link ReplyStatus#APPLY_FAILED} if {@code query} threw
   * @throws IllegalStateException if the client is closed
   */
  public byte[] queryStale(byte[] request, String nodeId) {
    return queryStale(request, nodeId, deadline);
  }

  /** Like {@link #queryStale(byte[], String)}, with this call's own deadline. */
  public byte[] queryStale(byte[] request, String nodeId, Duration deadline) {
    Objects.requireNonNull(request, "request");
    Objects.requireNonNull(nodeId, "nodeId");
    long by = deadlineOf(deadline);
    byte[] q = CommandCodec.userQuery(request);
    return read(
        "stale query on " + nodeId, by, Set.of(nodeId), () -> open().readStale(q, 0, nodeId));
  }

  // ---------------------------------------------------------------------------------------------
  // framework operations
  // ---------------------------------------------------------------------------------------------

  /**
   * Writes a digest checkpoint through the log: every replica records its state digest at the
   * checkpoint's log index. Returns the digest the replica that answered recorded. Idempotent per
   * {@code id} in effect (a repeat records again at a later index). Blocks, within the default
   * deadline.
   *
   * @throws OutcomeUnknownException if no reply came before the deadline
   * @throws CommandRejectedException if the replicas refused it
   */
  public DigestAt checkpoint(long id) {
    requireOpen();
    byte[] entry = CommandCodec.digestCheckpoint(id);
    long by = deadlineOf(deadline);
    return CommandCodec.decodeDigestReply(
        payloadOf(CommandCodec.decodeReply(write("digest checkpoint " + id, by, entry).reply())));
  }

  /**
   * The digest node {@code nodeId} recorded at checkpoint {@code id}, once it has applied {@code
   * index} (the checkpoint's log index). Blocks, within the default deadline.
   *
   * @throws ClusterUnavailableException if the node did not answer before the deadline
   * @throws CommandRejectedException if the node has no such checkpoint
   */
  public DigestAt checkpointOn(String nodeId, long id, long index) {
    Objects.requireNonNull(nodeId, "nodeId");
    byte[] q = CommandCodec.checkpointQuery(id);
    return CommandCodec.decodeDigestReply(
        read(
            "checkpoint " + id + " on " + nodeId,
            deadlineOf(deadline),
            Set.of(nodeId),
            () -> open().readStale(q, index, nodeId)));
  }

  /**
   * The applied log index and state digest node {@code nodeId} reports now (no coordination: a node
   * behind reports where it is). Blocks, within the default deadline.
   *
   * @throws ClusterUnavailableException if the node did not answer before the deadline
   */
  public DigestAt digestOn(String nodeId) {
    Objects.requireNonNull(nodeId, "nodeId");
    byte[] q = CommandCodec.digestQuery();
    return CommandCodec.decodeDigestReply(
        read(
            "digest of " + nodeId,
            deadlineOf(deadline),
            Set.of(nodeId),
            () -> open().readStale(q, 0, nodeId)));
  }

  /**
   * Writes a capture command through the log: every replica captures a snapshot at its log index
   * (replicas with nothing new since their last capture skip it). Returns that log index. Blocks,
   * within the default deadline.
   *
   * @throws OutcomeUnknownException if no reply came before the deadline
   */
  public long captureSnapshot() {
    requireOpen();
    Transport.Written w = write("capture", deadlineOf(deadline), CommandCodec.captureCommand());
    payloadOf(CommandCodec.decodeReply(w.reply()));
    return w.logIndex();
  }

  // ---------------------------------------------------------------------------------------------

  /** This client's session id. */
  public ClientId clientId() {
    return session.id();
  }

  /** The deadline of calls that give none. */
  public Duration deadline() {
    return deadline;
  }

  /**
   * The Ratis object of type {@code type} under this client, for tools that need Ratis directly
   * (admin calls): {@code org.apache.ratis.client.RaftClient} (owned by this client: do not close
   * it) or {@code org.apache.ratis.protocol.RaftGroup}. Requests sent through it bypass the session
   * and the retries.
   *
   * @throws IllegalArgumentException for any other type
   */
  public <T> T unwrap(Class<T> type) {
    Objects.requireNonNull(type, "type");
    if (transport instanceof RaftTransport r) {
      if (type.isInstance(r.raftClient())) {
        return type.cast(r.raftClient());
      }
      if (type.isInstance(r.group())) {
        return type.cast(r.group());
      }
    }
    throw new IllegalArgumentException("this client has no " + type.getName() + " to unwrap");
  }

  /**
   * Closes the connections and, if the client owns it, its executor. Calls in flight fail (with
   * {@link OutcomeUnknownException} or {@link ClusterUnavailableException}); later calls throw
   * {@link IllegalStateException}. Idempotent.
   */
  @Override
  public void close() {
    if (!closed.compareAndSet(false, true)) {
      return;
    }
    try {
      transport.close();
    } catch (IOException e) {
      throw new UncheckedIOException("closing the client's connections", e);
    } finally {
      if (ownedExecutor != null) {
        ownedExecutor.shutdown();
      }
    }
  }

  // ---------------------------------------------------------------------------------------------

  private Transport.Written write(String what, long by, byte[] entry) {
    try {
      return loop.call(by, peerIds, () -> open().write(entry));
    } catch (RetryLoop.NotHereEverywhere e) {
      throw new NotHereException(what + ": " + e.getMessage(), e, e.reachedNoReplica());
    } catch (RetryLoop.DeadlineExceeded | InterruptedIOException | Transport.Closed e) {
      throw new OutcomeUnknownException(what + ": " + what(e), e);
    } catch (IOException | RuntimeException e) {
      throw refusal(e);
    }
  }

  private byte[] read(String what, long by, Set<String> peers, RetryLoop.Attempt<byte[]> attempt) {
    requireOpen();
    try {
      return loop.call(by, peers, attempt);
    } catch (RetryLoop.NotHereEverywhere e) {
      throw new NotHereException(what + ": " + e.getMessage(), e, e.reachedNoReplica());
    } catch (RetryLoop.DeadlineExceeded | InterruptedIOException | Transport.Closed e) {
      throw new ClusterUnavailableException(what + ": " + what(e), e);
    } catch (IOException | RuntimeException e) {
      throw refusal(e);
    }
  }

  /** The payload of an OK reply; a refusal as its exception. */
  private static byte[] payloadOf(Reply reply) {
    return switch (reply.status()) {
      case OK -> reply.payload();
      case SESSION_EXPIRED -> throw new SessionExpiredException(reply.message());
      default -> throw new CommandRejectedException(reply.status(), reply.message(), null);
    };
  }

  /** What a call that failed with {@code e} (not a transient failure) throws. */
  private static RuntimeException refusal(Exception e) {
    if (e instanceof Transport.Refused r) {
      return new CommandRejectedException(ReplyStatus.APPLY_FAILED, r.getMessage(), r);
    }
    if (e instanceof RuntimeException r) {
      return r; // e.g. a malformed reply
    }
    return new UncheckedIOException(e.getMessage(), (IOException) e);
  }

  private String what(IOException e) {
    if (e instanceof InterruptedIOException) {
      return "interrupted while waiting for the reply";
    }
    if (e instanceof Transport.Closed) {
      return "the client was closed while waiting for the reply";
    }
    return e.getMessage() + " within the deadline";
  }

  private long deadlineOf(Duration d) {
    requirePositive(d);
    return loop.now() + d.toNanos();
  }

  private static void requirePositive(Duration d) {
    Objects.requireNonNull(d, "deadline");
    if (d.isNegative() || d.isZero()) {
      throw new IllegalArgumentException("deadline must be positive: " + d);
    }
  }

  /** The transport, for an attempt; {@link Transport.Closed} once the client is closed. */
  private Transport open() throws Transport.Closed {
    if (closed.get()) {
      throw new Transport.Closed("the client is closed", null);
    }
    return transport;
  }

  private void requireOpen() {
    if (closed.get()) {
      throw new IllegalStateException("the client is closed");
    }
  }

  private <T> CompletableFuture<T> async(Supplier<T> call) {
    requireOpen();
    try {
      return CompletableFuture.supplyAsync(call, executor);
    } catch (RejectedExecutionException e) {
      throw new IllegalStateException("the client's executor refused the call", e);
    }
  }
}
