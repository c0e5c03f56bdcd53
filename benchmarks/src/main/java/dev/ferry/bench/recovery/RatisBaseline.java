package dev.ferry.bench.recovery;

import dev.ferry.kv.cluster.ProcessCluster;
import java.io.Closeable;
import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
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
 * leader's commit index of the moment the change started.
 */
final class RatisBaseline implements Closeable {
  private static final RaftGroupId GROUP =
      RaftGroupId.valueOf(UUID.nameUUIDFromBytes("ferry-bench-ratis".getBytes()));

  private final Path dir;
  private final Map<String, String> tuning;
  private final List<RaftPeer> peers = new ArrayList<>();
  private final Map<String, RaftServer> servers = new LinkedHashMap<>();
  private final Map<String, RatisKvStateMachine> machines = new LinkedHashMap<>();
  private RaftClient client;

  /**
   * @param tuning extra Ratis properties applied to every server (empty: Ratis's defaults for the
   *     install path)
   */
  RatisBaseline(Path dir, Map<String, String> tuning) {
    this.dir = dir;
    this.tuning = Map.copyOf(tuning);
  }

  /** Starts servers n1..n3 and waits for a leader. */
  void start() throws IOException {
    int[] ports = ProcessCluster.freePorts(4);
    for (int i = 0; i < 4; i++) {
      peers.add(
          RaftPeer.newBuilder().setId("n" + (i + 1)).setAddress("127.0.0.1:" + ports[i]).build());
    }
    RaftGroup group = RaftGroup.valueOf(GROUP, peers.subList(0, 3));
    for (RaftPeer p : peers.subList(0, 3)) {
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

  private void startServer(RaftPeer self, RaftGroup group) throws IOException {
    String id = self.getId().toString();
    RaftProperties p = new RaftProperties();
    RaftServerConfigKeys.setStorageDir(p, List.of(dir.resolve(id).toFile()));
    GrpcConfigKeys.Server.setPort(p, Integer.parseInt(self.getAddress().split(":")[1]));
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
    BatchLoader.load(
        gen,
        BatchLoader.all(gen),
        0,
        BatchLoader.BATCH,
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
    return machines.get(leader).latestSnapshotFile();
  }

  /** Copies the leader's snapshot file to {@code target} (the raw-limit input). */
  void copySnapshot(Path target) throws IOException {
    File f = machines.get(leader(Duration.ofSeconds(30))).latestSnapshotFile();
    Files.copy(f.toPath(), target, StandardCopyOption.REPLACE_EXISTING);
  }

  /**
   * Adds an empty n4 with {@code setConfiguration} and waits until it has applied the leader's
   * commit index of the start.
   */
  Measurement addEmptyNode(String id, String label, long stateBytes, Duration timeout)
      throws IOException {
    String leader = leader(timeout);
    long snapshotBytes = machines.get(leader).latestSnapshotFile().length();
    RaftPeer n4 = peers.get(3);
    startServer(n4, RaftGroup.valueOf(GROUP, peers));
    long commit = commitIndex(leader);
    long t0 = System.nanoTime();
    CompletableFuture<RaftClientReply> change =
        CompletableFuture.supplyAsync(
            () -> {
              try {
                return client.admin().setConfiguration(peers);
              } catch (IOException e) {
                throw new java.io.UncheckedIOException(e);
              }
            });
    RatisKvStateMachine sm = machines.get("n4");
    await(timeout, () -> sm.getLastAppliedTermIndex().getIndex() >= commit, "n4 to catch up");
    double caughtUp = (System.nanoTime() - t0) / 1e9;
    RaftClientReply reply = change.join();
    double committed = (System.nanoTime() - t0) / 1e9;
    if (!reply.isSuccess()) {
      throw new IOException("setConfiguration failed: " + reply.getException());
    }
    String expected = machines.get(leader).digest();
    String actual = sm.digest();
    if (!expected.equals(actual)) {
      throw new IllegalStateException("n4's state differs from the leader's");
    }
    Map<String, Object> extra = new LinkedHashMap<>();
    extra.put("setConfigurationSeconds", committed);
    extra.put("commitIndexAtStart", commit);
    extra.put("keys", sm.size());
    extra.put("digest", actual);
    extra.put("tuning", tuning.toString());
    return new Measurement(
        id, label, caughtUp, snapshotBytes, stateBytes, Map.of(), extra, List.of());
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

  @Override
  public void close() throws IOException {
    if (client != null) {
      client.close();
    }
    for (RaftServer s : servers.values()) {
      s.close();
    }
    servers.clear();
    machines.clear();
  }
}
