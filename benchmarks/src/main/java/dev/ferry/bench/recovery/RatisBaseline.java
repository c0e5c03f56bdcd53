package dev.ferry.bench.recovery;

import dev.ferry.kv.cluster.ProcessCluster;
import java.io.Closeable;
import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.client.RaftClientConfigKeys;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.grpc.GrpcConfigKeys;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.retry.RetryPolicies;
import org.apache.ratis.server.RaftServer;
import org.apache.ratis.server.RaftServerConfigKeys;
import org.apache.ratis.server.storage.RaftStorage;
import org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations;
import org.apache.ratis.util.SizeInBytes;
import org.apache.ratis.util.TimeDuration;

/**
 * Scenario (a): Ratis's built-in, leader-sent snapshot install, on a 3-node in-JVM cluster of
 * {@link RatisKvStateMachine} over gRPC on loopback, configured like Ferry's nodes wherever the two
 * share a setting (1 MB log segments, purge up to the snapshot index, election timeouts 1.5–3 s),
 * with {@code raft.server.log.appender.install.snapshot.enabled=true} and the staging timeout
 * raised (its 900 ms default fails a large install with NOPROGRESS).
 *
 * <p>Loads the state, has the leader take a snapshot (which purges its log), starts an empty fourth
 * server and adds it with {@code setConfiguration}; measures until the new server has applied the
 * leader's commit index of the moment the change started. Each join uses a new server id ({@code
 * r4}, {@code r5}, ...) and can be removed again, so joins repeat on the same loaded cluster. Also
 * (scenario delta1) a follower cut off by a {@link Partition} while keys change and the leader's
 * log is purged past it, then healed: Ratis sends it the whole snapshot.
 *
 * <p>Server ids are {@code r1..}, distinct from the Ferry nodes' {@code n1..}, because the
 * partition hooks are global to the JVM.
 */
final class RatisBaseline implements Closeable {
  private static final RaftGroupId GROUP =
      RaftGroupId.valueOf(
          UUID.nameUUIDFromBytes("ferry-bench-ratis".getBytes(StandardCharsets.UTF_8)));

  private final Path dir;
  private final Map<String, String> tuning;
  private final List<RaftPeer> peers = new ArrayList<>();
  private final Map<String, RaftServer> servers = new LinkedHashMap<>();
  private final Map<String, RatisKvStateMachine> machines = new LinkedHashMap<>();
  private final List<RaftPeer> members = new ArrayList<>();
  private RaftClient client;
  private int joins;
  private int version;

  /**
   * @param tuning extra Ratis properties applied to every server (empty: Ratis's defaults for the
   *     install path)
   */
  RatisBaseline(Path dir, Map<String, String> tuning) {
    this.dir = dir;
    this.tuning = Map.copyOf(tuning);
  }

  /**
   * Starts servers r1..r3 and waits for a leader; tries again on new ports (up to 3 times) if a
   * server cannot start, e.g. because another process took its port meanwhile.
   */
  void start() throws IOException {
    for (int attempt = 1; ; attempt++) {
      try {
        startOnce();
        return;
      } catch (IOException | RuntimeException e) {
        close();
        peers.clear();
        members.clear();
        RecoveryBenchmark.deleteTree(dir);
        if (attempt == 3) {
          throw e;
        }
        System.out.println("[recovery] Ratis cluster did not start (" + e + "); retrying");
      }
    }
  }

  private void startOnce() throws IOException {
    int[] ports = ProcessCluster.freePorts(3);
    for (int i = 0; i < 3; i++) {
      peers.add(
          RaftPeer.newBuilder().setId("r" + (i + 1)).setAddress("127.0.0.1:" + ports[i]).build());
    }
    members.addAll(peers);
    RaftGroup group = RaftGroup.valueOf(GROUP, peers);
    for (RaftPeer p : peers) {
      startServer(p, group);
    }
    RaftProperties cp = new RaftProperties();
    RaftClientConfigKeys.Rpc.setRequestTimeout(cp, TimeDuration.valueOf(30, TimeUnit.SECONDS));
    GrpcConfigKeys.setMessageSizeMax(cp, SizeInBytes.valueOf("64MB"));
    client =
        RaftClient.newBuilder()
            .setRaftGroup(group)
            .setProperties(cp)
            .setRetryPolicy(
                RetryPolicies.retryUpToMaximumCountWithFixedSleep(
                    100, TimeDuration.valueOf(200, TimeUnit.MILLISECONDS)))
            .build();
    leader(Duration.ofSeconds(60));
  }

  /**
   * The baseline's server properties (in-JVM and process nodes alike): storage in {@code storage},
   * gRPC on {@code port}, snapshot installs by the leader, logs purged up to a snapshot in 1 MB
   * segments, no automatic snapshots, a staging timeout long enough for a large install.
   */
  static RaftProperties serverProperties(java.io.File storage, int port) {
    RaftProperties p = new RaftProperties();
    RaftServerConfigKeys.setStorageDir(p, List.of(storage));
    GrpcConfigKeys.Server.setPort(p, port);
    RaftServerConfigKeys.Log.Appender.setInstallSnapshotEnabled(p, true);
    RaftServerConfigKeys.Log.setPurgeUptoSnapshotIndex(p, true);
    RaftServerConfigKeys.Log.setPurgeGap(p, 16);
    RaftServerConfigKeys.Log.setSegmentSizeMax(p, SizeInBytes.valueOf("1MB"));
    RaftServerConfigKeys.Log.setPreallocatedSize(p, SizeInBytes.valueOf("256KB"));
    RaftServerConfigKeys.Snapshot.setAutoTriggerEnabled(p, false);
    RaftServerConfigKeys.setStagingTimeout(p, TimeDuration.valueOf(30, TimeUnit.MINUTES));
    RaftServerConfigKeys.Rpc.setTimeoutMin(p, TimeDuration.valueOf(1500, TimeUnit.MILLISECONDS));
    RaftServerConfigKeys.Rpc.setTimeoutMax(p, TimeDuration.valueOf(3000, TimeUnit.MILLISECONDS));
    RaftServerConfigKeys.Rpc.setRequestTimeout(p, TimeDuration.valueOf(10, TimeUnit.SECONDS));
    RaftServerConfigKeys.Rpc.setSlownessTimeout(p, TimeDuration.valueOf(60, TimeUnit.SECONDS));
    return p;
  }

  private void startServer(RaftPeer self, RaftGroup group) throws IOException {
    String id = self.getId().toString();
    RaftProperties p =
        serverProperties(
            dir.resolve(id).toFile(), Integer.parseInt(self.getAddress().split(":")[1]));
    tuning.forEach(p::set);
    RatisKvStateMachine sm = new RatisKvStateMachine();
    RaftServer s =
        RaftServer.newBuilder()
            .setServerId(self.getId())
            .setGroup(group)
            .setStateMachine(sm)
            .setProperties(p)
            .setOption(RaftStorage.StartupOption.FORMAT)
            .build();
    s.start();
    servers.put(id, s);
    machines.put(id, sm);
  }

  /** Loads the whole state through the leader. */
  void load(StateGenerator gen) throws IOException {
    write(gen, BatchLoader.all(gen), 0, BatchLoader.BATCH);
  }

  private void write(StateGenerator gen, int[] keys, int version, int batchSize)
      throws IOException {
    BatchLoader.load(
        gen,
        keys,
        version,
        batchSize,
        batch -> {
          RaftClientReply r =
              client
                  .io()
                  .send(
                      Message.valueOf(
                          UnsafeByteOperations.unsafeWrap(RatisKvStateMachine.putAll(batch))));
          if (!r.isSuccess()) {
            throw new IOException("put failed: " + r.getException());
          }
        });
  }

  /**
   * Has the leader take a snapshot (Ratis purges its log up to it) and returns the snapshot file.
   */
  File snapshot(Duration timeout) throws IOException {
    String leader = leader(timeout);
    RaftClientReply r =
        client
            .getSnapshotManagementApi(RaftPeerId.valueOf(leader))
            .create(true, timeout.toMillis());
    if (!r.isSuccess()) {
      throw new IOException("snapshot failed: " + r.getException());
    }
    await(timeout, () -> logStart(leader) > 0, "the leader to purge its log");
    File f = machines.get(leader).latestSnapshotFile();
    if (f == null) {
      throw new IOException(leader + " took a snapshot but reports none");
    }
    return f;
  }

  /**
   * The current leader's snapshot file, taking one first if it has none: leadership may have moved
   * (a long GC pause of this JVM, at 1 GiB) to a server that never took one and still holds its
   * whole log, so that a joining server would not need a snapshot at all.
   */
  File leaderSnapshot(Duration timeout) throws IOException {
    File f = machines.get(leader(timeout)).latestSnapshotFile();
    return f != null ? f : snapshot(timeout);
  }

  /** Copies the leader's snapshot file to {@code target} (the raw-limit input). */
  void copySnapshot(Path target) throws IOException {
    File f = leaderSnapshot(Duration.ofSeconds(180));
    Files.copy(f.toPath(), target, StandardCopyOption.REPLACE_EXISTING);
  }

  /**
   * Adds an empty server (a new id each time) with {@code setConfiguration} and waits until it has
   * applied the leader's commit index of the start; then removes it again, stops it and deletes its
   * directory, so the next join starts from the same three-server cluster.
   */
  Measurement addEmptyNode(String id, String label, long stateBytes, Duration timeout)
      throws IOException {
    long snapshotBytes = leaderSnapshot(timeout).length();
    String leader = leader(timeout);
    RaftPeer joiner =
        RaftPeer.newBuilder()
            .setId("r" + (4 + joins++))
            .setAddress("127.0.0.1:" + ProcessCluster.freePorts(1)[0])
            .build();
    String jid = joiner.getId().toString();
    List<RaftPeer> with = new ArrayList<>(members);
    with.add(joiner);
    try {
      // In the group with no configuration: no election timer until the leader adds it (as
      // RatisNode --joining; started inside the configuration, a joiner that waits past its
      // election timeout on a loaded machine asks for votes and is shut down).
      startServer(joiner, RaftGroup.valueOf(GROUP));
      long commit = commitIndex(leader);
      long t0 = System.nanoTime();
      CompletableFuture<RaftClientReply> change =
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  return client.admin().setConfiguration(with);
                } catch (IOException e) {
                  throw new java.io.UncheckedIOException(e);
                }
              });
      RatisKvStateMachine sm = machines.get(jid);
      await(
          timeout,
          () ->
              change.isCompletedExceptionally()
                  || sm.getLastAppliedTermIndex().getIndex() >= commit,
          jid + " to catch up");
      double caughtUp = (System.nanoTime() - t0) / 1e9;
      RaftClientReply reply = change.join();
      double committed = (System.nanoTime() - t0) / 1e9;
      if (!reply.isSuccess()) {
        throw new IOException("setConfiguration failed: " + reply.getException());
      }
      String expected = machines.get(leader).digest();
      String actual = sm.digest();
      if (!expected.equals(actual)) {
        throw new IllegalStateException(jid + "'s state differs from the leader's");
      }
      Map<String, Object> extra = new LinkedHashMap<>();
      extra.put("setConfigurationSeconds", committed);
      extra.put("commitIndexAtStart", commit);
      extra.put("keys", sm.size());
      extra.put("digest", actual);
      extra.put("tuning", tuning.toString());
      return new Measurement(
          id, label, caughtUp, snapshotBytes, stateBytes, Map.of(), extra, List.of());
    } finally {
      removeJoiner(jid, timeout);
    }
  }

  /** Takes {@code jid} out of the configuration (if it got in), stops it and deletes its data. */
  private void removeJoiner(String jid, Duration timeout) throws IOException {
    IOException failed = null;
    try {
      RaftClientReply r = client.admin().setConfiguration(members);
      if (!r.isSuccess()) {
        failed = new IOException("removing " + jid + " failed: " + r.getException());
      }
    } catch (IOException e) {
      failed = e;
    }
    RaftServer s = servers.remove(jid);
    machines.remove(jid);
    if (s != null) {
      s.close();
    }
    RecoveryBenchmark.deleteTree(dir.resolve(jid));
    if (failed != null) {
      throw failed;
    }
  }

  /**
   * Scenario delta1 on Ratis: cuts a follower off ({@link Partition}), rewrites keys {@code keys}
   * (indexes into {@code gen}) with new values, has the leader take a snapshot and purge its log
   * past the follower (padding the log where it is too short to purge), heals, and measures from
   * the heal until the follower has applied the leader's commit index of the heal. Ratis's leader
   * sends the follower its whole snapshot file.
   */
  Measurement partitionDelta(
      String id, String label, StateGenerator gen, int[] keys, Duration timeout)
      throws IOException {
    String leader = leader(timeout);
    String f =
        peers.stream()
            .map(p -> p.getId().toString())
            .filter(n -> !n.equals(leader))
            .findFirst()
            .orElseThrow();
    RatisKvStateMachine fsm = machines.get(f);
    long cutAt = fsm.getLastAppliedTermIndex().getIndex();
    int reloadsBefore = fsm.reloads();
    version++;
    long commit =
        Partition.isolateDuring(
            f,
            () -> {
              int batch = Math.max(1, Math.min(BatchLoader.BATCH, keys.length / 100));
              write(gen, keys, version, batch);
              long deadline = System.nanoTime() + timeout.toNanos();
              snapshot(timeout);
              while (!purgedPast(cutAt)) {
                if (System.nanoTime() > deadline) {
                  throw new IllegalStateException("the Ratis leader did not purge past " + cutAt);
                }
                // 64 entries of 16 KiB (the same key and value again): more log, same state.
                int[] pad = new int[16];
                Arrays.fill(pad, keys[0]);
                for (int i = 0; i < 64; i++) {
                  write(gen, pad, version, 16);
                }
                snapshot(timeout);
              }
              return commitIndex(leader(timeout));
            });
    long t0 = System.nanoTime();
    Partition.heal();
    await(timeout, () -> fsm.getLastAppliedTermIndex().getIndex() >= commit, f + " to catch up");
    double seconds = (System.nanoTime() - t0) / 1e9;
    if (fsm.reloads() == reloadsBefore) {
      throw new IllegalStateException(f + " caught up without a snapshot install");
    }
    String expected = machines.get(leader(timeout)).digest();
    String actual = fsm.digest();
    if (!expected.equals(actual)) {
      throw new IllegalStateException(f + "'s state differs from the leader's");
    }
    File latest = machines.get(leader(timeout)).latestSnapshotFile();
    long snapshotBytes = latest == null ? -1 : latest.length();
    Map<String, Object> extra = new LinkedHashMap<>();
    extra.put("changedKeys", keys.length);
    extra.put("commitIndexAtHeal", commit);
    extra.put("digest", actual);
    return new Measurement(
        id,
        label,
        seconds,
        snapshotBytes,
        (long) keys.length * StateGenerator.ENTRY_BYTES,
        Map.of(),
        extra,
        List.of());
  }

  /** Whether the leader's log starts after {@code index}, waiting up to 1 s for its purge. */
  private boolean purgedPast(long index) {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(1);
    do {
      if (logStart(leader(Duration.ofSeconds(60))) > index + 1) {
        return true;
      }
      try {
        Thread.sleep(20);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return false;
      }
    } while (System.nanoTime() < deadline);
    return false;
  }

  private long commitIndex(String id) throws IOException {
    return servers.get(id).getDivision(GROUP).getRaftLog().getLastCommittedIndex();
  }

  private long logStart(String id) {
    try {
      return servers.get(id).getDivision(GROUP).getRaftLog().getStartIndex();
    } catch (IOException e) {
      return -1;
    }
  }

  private String leader(Duration timeout) {
    String[] found = {null};
    await(
        timeout,
        () -> {
          for (Map.Entry<String, RaftServer> e : servers.entrySet()) {
            try {
              if (e.getValue().getDivision(GROUP).getInfo().isLeader()) {
                found[0] = e.getKey();
                return true;
              }
            } catch (IOException ex) {
              // not ready yet
            }
          }
          return false;
        },
        "a Ratis leader");
    return found[0];
  }

  static void await(Duration timeout, java.util.function.BooleanSupplier ok, String what) {
    long deadline = System.nanoTime() + timeout.toNanos();
    while (!ok.getAsBoolean()) {
      if (System.nanoTime() > deadline) {
        throw new IllegalStateException("timed out after " + timeout + " waiting for " + what);
      }
      try {
        Thread.sleep(5);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IllegalStateException("interrupted waiting for " + what, e);
      }
    }
  }

  /** Closes the client and every server, even if some fail; throws the first failure. */
  @Override
  public void close() throws IOException {
    IOException first = null;
    List<Closeable> all = new ArrayList<>();
    if (client != null) {
      all.add(client);
    }
    all.addAll(servers.values());
    for (Closeable c : all) {
      try {
        c.close();
      } catch (IOException | RuntimeException e) {
        if (first == null) {
          first = e instanceof IOException io ? io : new IOException(e);
        }
      }
    }
    client = null;
    servers.clear();
    machines.clear();
    if (first != null) {
      throw first;
    }
  }
}
