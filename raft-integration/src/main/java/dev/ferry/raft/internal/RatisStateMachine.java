package dev.ferry.raft.internal;

import dev.ferry.raft.ratis.AppendChainRepair;
import dev.ferry.raft.ratis.PausableLifeCycle;
import dev.ferry.raft.ratis.ReadIndexGuard;
import dev.ferry.snapshot.format.Manifest;
import dev.ferry.statemachine.replica.Replica;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.ratis.proto.RaftProtos;
import org.apache.ratis.protocol.ClientId;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientRequest;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftGroupMemberId;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.protocol.TermIndex;
import org.apache.ratis.server.storage.FileInfo;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.statemachine.SnapshotInfo;
import org.apache.ratis.statemachine.SnapshotRetentionPolicy;
import org.apache.ratis.statemachine.StateMachineStorage;
import org.apache.ratis.statemachine.TransactionContext;
import org.apache.ratis.statemachine.impl.BaseStateMachine;
import org.apache.ratis.statemachine.impl.FileListSnapshotInfo;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;
import org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Ratis state machine of a Ferry node: maps Ratis's callbacks onto a {@link Replica} and
 * nothing more. Life cycle (initialize, pause, reinitialize, close), log entries ({@code
 * applyTransaction} and Ratis's own entries through the applied index), queries (linearizable and
 * stale), snapshot reporting ({@code takeSnapshot}, {@code getLatestSnapshot}: Ferry captures
 * through its own log command, so these report the newest durable snapshot for Ratis to purge its
 * log to), install notifications (notification mode: the replica's installer ships the snapshot)
 * and the Ratis reload workaround ({@link #watchReload}), leader changes and log failures.
 *
 * <p>Concurrency: Ratis calls {@code applyTransaction} on its state machine updater thread, queries
 * on RPC threads; futures complete on the replica's background pool.
 */
public final class RatisStateMachine extends BaseStateMachine {
  private static final Logger LOG = LoggerFactory.getLogger(RatisStateMachine.class);

  /** The highest snapshot index Ratis was told of (takeSnapshot results, snapshots it loaded). */
  private final java.util.concurrent.atomic.AtomicLong reportedSnapshot =
      new java.util.concurrent.atomic.AtomicLong(-1);

  /**
   * When, after an install finished, this replica asks its own Ratis server to swap the installed
   * state in (milliseconds after the install; then every {@link #RELOAD_RETRY_MS}).
   */
  private static final long[] RELOAD_DELAYS_MS = {0, 50, 250, 1_000};

  private static final long RELOAD_RETRY_MS = 3_000;

  private final Replica replica;
  private final CompletableFuture<Throwable> logFailure = new CompletableFuture<>();

  /** This replica's Ratis division, once a read looked it up. */
  private volatile RaftServer.Division division;

  /** Stops the check of this division's append chain ({@link AppendChainRepair}); set at start. */
  private volatile AppendChainRepair.Watch appendRepair = AppendChainRepair.none();

  /** An adapter for {@code replica}, which it opens at Ratis's initialize and closes at close. */
  public RatisStateMachine(Replica replica) {
    this.replica = Objects.requireNonNull(replica, "replica");
  }

  /** The replica this adapter drives. */
  public Replica replica() {
    return replica;
  }

  /**
   * Completes, on a Ratis thread, with the cause when Ratis reports that this node's Raft log could
   * not be written (a full disk, an I/O error). Ratis then fails every later write of the log until
   * the server restarts, while the server keeps answering its peers: the node must stop, so that it
   * is restarted and recovers its log ({@code FerryServer} closes itself).
   */
  public CompletableFuture<Throwable> logFailure() {
    return logFailure;
  }

  @Override
  public String toString() {
    return replica.toString();
  }

  // ---- life cycle ------------------------------------------------------------------------------

  @Override
  public void initialize(RaftServer server, RaftGroupId groupId, RaftStorage storage)
      throws IOException {
    getLifeCycle()
        .startAndTransition(
            () -> {
              super.initialize(server, groupId, storage);
              Path dir = storage.getStorageDir().getStateMachineDir().toPath();
              Optional<Manifest> loaded = replica.open(dir, new Host());
              loaded.ifPresent(this::appliedSnapshot);
            });
    appendRepair = AppendChainRepair.watch(server, groupId, replica.toString());
  }

  /** Idempotent: Ratis 3.x may call it more than once per install. */
  @Override
  public void pause() {
    PausableLifeCycle.pause(getLifeCycle());
  }

  @Override
  public void reinitialize() throws IOException {
    PausableLifeCycle.reload(
        getLifeCycle(), () -> replica.swapInStaged().ifPresent(this::appliedSnapshot));
  }

  /**
   * Ratis's applied index follows a snapshot that was loaded or swapped in; so does the snapshot
   * index Ratis holds (it reads {@link #getLatestSnapshot} then), which {@link #takeSnapshot} must
   * never report below.
   */
  private void appliedSnapshot(Manifest m) {
    reportedSnapshot.accumulateAndGet(m.index(), Math::max);
    TermIndex ti = TermIndex.valueOf(m.term(), m.index());
    if (ti.compareTo(getLastAppliedTermIndex()) > 0) {
      updateLastAppliedTermIndex(ti);
    } else {
      setLastAppliedTermIndex(ti);
    }
  }

  @Override
  public void close() throws IOException {
    appendRepair.close();
    replica.close();
    getLifeCycle().checkStateAndClose();
  }

  @Override
  public void notifyLogFailed(Throwable cause, RaftProtos.LogEntryProto failedEntry) {
    LOG.error(
        "{}: the Raft log could not be written{}: this node stops",
        this,
        failedEntry == null ? "" : " (entry " + failedEntry.getIndex() + ")",
        cause);
    logFailure.complete(cause);
  }

  @Override
  public void notifyLeaderChanged(RaftGroupMemberId groupMemberId, RaftPeerId newLeaderId) {
    if (newLeaderId != null) {
      replica.leaderContact();
    }
    super.notifyLeaderChanged(groupMemberId, newLeaderId);
  }

  // ---- snapshots as Ratis sees them
  // --------------------------------------------------------------

  @Override
  public SnapshotInfo getLatestSnapshot() {
    Optional<Manifest> m = replica.latestManifest();
    if (m.isEmpty()) {
      return null;
    }
    Manifest manifest = m.get();
    FileInfo file = new FileInfo(replica.manifestPath(manifest.index()), null);
    return new FileListSnapshotInfo(
        List.of(file), TermIndex.valueOf(manifest.term(), manifest.index()));
  }

  @Override
  public StateMachineStorage getStateMachineStorage() {
    return new StateMachineStorage() {
      @Override
      public void init(RaftStorage raftStorage) {}

      @Override
      public SnapshotInfo getLatestSnapshot() {
        return RatisStateMachine.this.getLatestSnapshot();
      }

      @Override
      public void format() {}

      @Override
      public void cleanupOldSnapshots(SnapshotRetentionPolicy policy) {}
    };
  }

  /**
   * Ratis asks for a snapshot to purge its log up to. Snapshots are captured through the log by
   * Ferry's own command, so this reports the newest durable one, or a retention hold's floor if
   * that is lower ({@link Replica#purgeIndex}), and returns at once. Never less than it reported
   * before or than the snapshot Ratis last loaded: Ratis requires its snapshot index to increase
   * (it fails the state machine updater otherwise), so a hold placed below it does not lower it.
   * While a hold stands Ratis asks again at every applied entry past its threshold: those calls log
   * only at DEBUG.
   */
  @Override
  public long takeSnapshot() {
    long latest = replica.latestManifest().map(Manifest::index).orElse(-1L);
    long purge = reportedSnapshot.accumulateAndGet(replica.purgeIndex(), Math::max);
    if (purge < latest) {
      LOG.debug(
          "{}: snapshot {} durable; a retention hold keeps the log after {}", this, latest, purge);
    }
    return purge;
  }

  // ---- apply and query -------------------------------------------------------------------------

  @Override
  public CompletableFuture<Message> applyTransaction(TransactionContext trx) {
    RaftProtos.LogEntryProto entry = trx.getLogEntry();
    long index = entry.getIndex();
    if (index <= getLastAppliedTermIndex().getIndex()) {
      LOG.debug("{}: skipping entry {} at or below the applied index", this, index);
      return CompletableFuture.completedFuture(Message.EMPTY);
    }
    ByteString data = entry.getStateMachineLogEntry().getLogData();
    CompletableFuture<byte[]> reply =
        replica.apply(entry.getTerm(), index, data.asReadOnlyByteBuffer());
    updateLastAppliedTermIndex(entry.getTerm(), index);
    return reply.thenApply(r -> Message.valueOf(UnsafeByteOperations.unsafeWrap(r)));
  }

  /** Every applied index (Ratis's own entries too) reaches the replica's waiters. */
  @Override
  protected boolean updateLastAppliedTermIndex(TermIndex newTI) {
    boolean changed = super.updateLastAppliedTermIndex(newTI);
    replica.appliedUpTo(newTI.getIndex());
    return changed;
  }

  /**
   * A linearizable read, once Ratis confirmed this replica leads and it applied the read index. The
   * leader's next read confirms its leadership anew ({@link ReadIndexGuard}): Ratis would otherwise
   * serve later reads at the same commit index without asking, stale on a leader cut off from its
   * followers.
   */
  @Override
  public CompletableFuture<Message> query(Message request) {
    forgetConfirmedReads();
    return replica.query(request.getContent().toByteArray()).thenApply(RatisStateMachine::message);
  }

  private void forgetConfirmedReads() {
    RaftServer.Division d = division;
    if (d == null) {
      try {
        RaftServer server = getServer().getNow(null);
        if (server == null) {
          return;
        }
        d = server.getDivision(getGroupId());
        division = d;
      } catch (IOException e) {
        return;
      }
    }
    ReadIndexGuard.forgetConfirmedReads(d);
  }

  /**
   * A read that waits until this replica applied {@code minIndex}, then answers from its state.
   * (Ratis's own implementation only wakes waiters on a repeated index.)
   */
  @Override
  public CompletableFuture<Message> queryStale(Message request, long minIndex) {
    return replica
        .queryStale(request.getContent().toByteArray(), minIndex)
        .thenApply(RatisStateMachine::message);
  }

  private static Message message(byte[] reply) {
    return Message.valueOf(UnsafeByteOperations.unsafeWrap(reply));
  }

  // ---- install (notification mode) --------------------------------------------------------------

  @Override
  public CompletableFuture<TermIndex> notifyInstallSnapshotFromLeader(
      RaftProtos.RoleInfoProto roleInfo, TermIndex firstTermIndexInLog) {
    String leader =
        roleInfo.hasFollowerInfo() && roleInfo.getFollowerInfo().hasLeaderInfo()
            ? roleInfo.getFollowerInfo().getLeaderInfo().getId().getId().toStringUtf8()
            : "";
    return replica
        .install(firstTermIndexInLog.getIndex(), firstTermIndexInLog.getTerm(), leader)
        .thenApply(
            m -> {
              watchReload(firstTermIndexInLog, m.index(), 0);
              return TermIndex.valueOf(m.term(), m.index());
            });
  }

  /**
   * Has Ratis swap a finished install in at once. Ratis itself swaps it in (pause, reload, {@link
   * #reinitialize}) only when a leader sends the next install notification, and until then rejects
   * every append: a wait of a heartbeat or more, and forever when a new leader whose log still
   * holds the entries this follower lacks never sends one (a liveness bug,
   * docs/ratis-workarounds.md). So right after the install (and again after {@link
   * #RELOAD_DELAYS_MS}, then every {@link #RELOAD_RETRY_MS}, until it is swapped in or a newer
   * install replaced it) this sends Ratis, locally, the notification the current leader would have
   * sent; Ratis then reloads. A notification that arrives before Ratis recorded the finished
   * install is answered "in progress" and changes nothing; one that arrives after the reload is
   * answered "already installed".
   */
  private void watchReload(TermIndex asked, long installedIndex, int attempt) {
    long delay = attempt < RELOAD_DELAYS_MS.length ? RELOAD_DELAYS_MS[attempt] : RELOAD_RETRY_MS;
    CompletableFuture.delayedExecutor(delay, TimeUnit.MILLISECONDS, replica.background())
        .execute(
            () -> {
              OptionalLong staged = replica.stagedIndex();
              if (staged.isEmpty() || staged.getAsLong() != installedIndex || attempt > 200) {
                return;
              }
              try {
                askRatisToReload(asked, installedIndex, attempt);
              } catch (IOException | RuntimeException e) {
                LOG.warn("{}: could not ask Ratis to reload: {}", this, e.toString());
              }
              watchReload(asked, installedIndex, attempt + 1);
            });
  }

  private void askRatisToReload(TermIndex asked, long installedIndex, int attempt)
      throws IOException {
    RaftServer server = getServer().getNow(null);
    if (server == null) {
      return;
    }
    RaftServer.Division division = server.getDivision(getGroupId());
    RaftPeerId leader = division.getInfo().getLeaderId();
    if (leader == null || leader.equals(division.getId())) {
      return; // no leader to act for yet
    }
    long term = division.getInfo().getCurrentTerm();
    if (attempt >= RELOAD_DELAYS_MS.length) {
      LOG.warn(
          "{}: the install of index {} is still not swapped in (no leader asked again);"
              + " notifying Ratis locally on behalf of leader {} (term {})",
          this,
          installedIndex,
          leader,
          term);
    }
    RaftProtos.InstallSnapshotReplyProto reply =
        server.installSnapshot(localNotification(leader, division.getId(), term, asked));
    LOG.debug("{}: local install notification: {}", this, reply.getResult());
  }

  /** The install notification {@code leader} sends, addressed to this follower. */
  private RaftProtos.InstallSnapshotRequestProto localNotification(
      RaftPeerId leader, RaftPeerId self, long term, TermIndex firstAvailable) {
    RaftProtos.RaftRpcRequestProto rpc =
        RaftProtos.RaftRpcRequestProto.newBuilder()
            .setRequestorId(leader.toByteString())
            .setReplyId(self.toByteString())
            .setRaftGroupId(
                RaftProtos.RaftGroupIdProto.newBuilder().setId(getGroupId().toByteString()))
            .build();
    return RaftProtos.InstallSnapshotRequestProto.newBuilder()
        .setServerRequest(rpc)
        .setLeaderTerm(term)
        .setNotification(
            RaftProtos.InstallSnapshotRequestProto.NotificationProto.newBuilder()
                .setFirstAvailableTermIndex(firstAvailable.toProto()))
        .build();
  }

  /** What the replica asks of Ratis: whether this node leads, and proposing a capture. */
  private final class Host implements Replica.Host {
    @Override
    public boolean isLeader() {
      try {
        return getServer().join().getDivision(getGroupId()).getInfo().isLeader();
      } catch (IOException e) {
        return false;
      }
    }

    @Override
    public CompletableFuture<?> submit(byte[] command) {
      RaftServer server = getServer().join();
      RaftClientRequest request =
          RaftClientRequest.newBuilder()
              .setClientId(ClientId.randomId())
              .setServerId(server.getId())
              .setGroupId(getGroupId())
              .setCallId(0)
              .setMessage(Message.valueOf(ByteString.copyFrom(command)))
              .setType(RaftClientRequest.writeRequestType())
              .build();
      try {
        return server
            .submitClientRequestAsync(request)
            .thenApply(
                r -> {
                  if (!r.isSuccess()) {
                    throw new IllegalStateException("not accepted: " + r);
                  }
                  return r;
                });
      } catch (IOException e) {
        return CompletableFuture.failedFuture(e);
      }
    }
  }
}
