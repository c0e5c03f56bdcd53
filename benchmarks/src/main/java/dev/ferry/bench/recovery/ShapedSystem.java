package dev.ferry.bench.recovery;

import java.io.Closeable;
import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.conf.RaftProperties;
import org.apache.ratis.proto.RaftProtos.RaftPeerRole;
import org.apache.ratis.protocol.GroupInfoReply;
import org.apache.ratis.protocol.RaftGroup;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.protocol.RaftPeerId;
import org.apache.ratis.retry.RetryPolicies;
import org.apache.ratis.util.TimeDuration;

/**
 * One system's process cluster in the shaped benchmark (Ferry or Ratis): three loaded voters, each
 * a process in its own namespace, and a joiner started on demand in a fourth. Not thread-safe.
 */
interface ShapedSystem extends Closeable {
  /** {@code ferry}, {@code ratis} or {@code ratis-tuned}. */
  String name();

  /** The nodes (namespace indexes) that may serve a join: the three voters. */
  List<Integer> sourceNodes();

  /** Loads the state through the cluster, then snapshots and purges every node's log. */
  void load(StateGenerator gen) throws IOException;

  /**
   * Starts an empty joiner with heap {@code xmx} and its GC log in {@code gcLog}; waits until up.
   */
  Joiner startJoiner(String xmx, Path gcLog) throws IOException;

  /**
   * Adds the joiner as a voter; returns once it is one. Calls {@code caughtUp} with the time
   * (nanoTime) it applied the leader's commit index of the start.
   */
  Map<String, Object> join(Joiner j, long t0, java.util.function.LongConsumer caughtUp)
      throws IOException;

  /** Removes the joiner from the configuration (if it got in), kills it, wipes its directory. */
  void remove(Joiner j) throws IOException;

  /** A voter that does not lead now: the follower a delta scenario cuts off. */
  String follower() throws IOException;

  /** The output file of node {@code id} (voter or joiner). */
  Path logOf(String id);

  /** The namespace index voter {@code id} runs in. */
  int nodeOf(String id);

  /** The process id of voter {@code id}. */
  long pid(String id);

  /** Writes keys {@code keys} at {@code version}, {@code batch} entries per command. */
  void putAll(StateGenerator gen, int[] keys, int version, int batch) throws IOException;

  /** Captures and purges on every voter but {@code except} (cut off meanwhile). */
  void snapshotExcept(String except) throws IOException;

  /**
   * Before a cold join, unmeasured: makes every voter's newest snapshot current, so that the join
   * installs the current state plus a short log suffix whatever the scenario before it wrote (a
   * foreground run leaves many small entries after the last snapshot). Ferry's add captures a fresh
   * baseline itself (a measured part of its join), so its default does nothing.
   */
  default void beforeColdJoin() throws IOException {}

  /** The leader's commit index. */
  long leaderCommit() throws IOException;

  /** Kills voter {@code id} (SIGKILL) and waits until it is gone. */
  void killVoter(String id) throws IOException;

  /** Restarts voter {@code id} on its storage (recovering it). */
  void restartVoter(String id) throws IOException;

  /** Voter {@code id}'s applied index, or -1 if it does not answer. */
  long applied(String id);

  /** A figure that grows with each snapshot install voter {@code id} completes. */
  long installMarker(String id) throws IOException;

  /** Whether {@link #installMarker} starts again from 0 when the voter's process restarts. */
  boolean installMarkerResetsOnRestart();

  /** Whether an install runs on voter {@code id} now (false where the system does not say). */
  boolean installing(String id);

  /**
   * Rewrites {@code keys} at {@code version} in small batches (at least ~100 log entries), then 2
   * MiB more of rewrites of the first key with the value it now has (more log, same state): past a
   * 1 MB log segment, so that the next snapshot purges the log past a follower cut off before.
   */
  default void writeDelta(StateGenerator gen, int[] keys, int version) throws IOException {
    putAll(gen, keys, version, Math.max(1, Math.min(BatchLoader.BATCH, keys.length / 100)));
    int[] pad = new int[2048];
    java.util.Arrays.fill(pad, keys[0]);
    putAll(gen, pad, version, 16);
  }

  /**
   * A new client for one foreground writer thread (single puts through the voters, from this JVM);
   * the caller closes it.
   */
  Putter putter() throws IOException;

  /** Single puts through a system's client; used by one thread at a time. */
  interface Putter extends Closeable {
    /**
     * Writes {@code key} = {@code value} through the leader; returns once committed and applied.
     */
    void put(byte[] key, byte[] value) throws IOException;
  }

  /** A started joiner: its id, namespace index, process id and GC log. */
  record Joiner(String id, int node, long pid, Path gcLog) {}

  /** The Ratis group info of server {@code id} through {@code client} (a group naming it). */
  static GroupInfoReply info(RaftClient client, String id, RaftGroupId group) throws IOException {
    try {
      return client.getGroupManagementApi(RaftPeerId.valueOf(id)).info(group);
    } catch (RuntimeException e) {
      // gRPC's StatusRuntimeException while the server is not up yet
      throw new IOException(id + ": " + e, e);
    }
  }

  /** The current leader among {@code ids}, waiting up to {@code timeout}. */
  static String leader(RaftClient client, List<String> ids, RaftGroupId group, Duration timeout)
      throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    IOException last = null;
    while (System.nanoTime() < deadline) {
      for (String id : ids) {
        try {
          if (info(client, id, group).getRoleInfoProto().getRole() == RaftPeerRole.LEADER) {
            return id;
          }
        } catch (IOException e) {
          last = e;
        }
      }
      pause(200);
    }
    throw new IOException("no leader among " + ids + " within " + timeout, last);
  }

  /**
   * Has every server in {@code ids} take a snapshot and purge its log up to it (once a leader is
   * up), so that a joiner needs an install whichever server leads. Repeats a server's snapshot
   * until its index is at least {@code minIndex}.
   *
   * @throws IOException if a server refuses or fails
   */
  static void snapshotEverywhere(
      RaftClient client, List<String> ids, RaftGroupId group, Duration timeout, long minIndex)
      throws IOException {
    leader(client, ids, group, timeout);
    long deadline = System.nanoTime() + timeout.toNanos();
    for (String id : ids) {
      while (true) {
        org.apache.ratis.protocol.RaftClientReply r =
            client
                .getSnapshotManagementApi(RaftPeerId.valueOf(id))
                .create(true, timeout.toMillis());
        if (!r.isSuccess()) {
          throw new IOException("snapshot on " + id + " failed: " + r.getException());
        }
        // Ferry answers with its latest finished capture: ask again until it has the new one.
        if (r.getLogIndex() >= minIndex) {
          break;
        }
        if (System.nanoTime() > deadline) {
          throw new IOException(id + "'s snapshot stayed at " + r.getLogIndex() + " < " + minIndex);
        }
        pause(200);
      }
    }
  }

  /** A client of {@code peers} that fails fast (for info calls and admin). */
  static RaftClient client(RaftGroupId group, List<RaftPeer> peers, Duration requestTimeout) {
    RaftProperties p = new RaftProperties();
    org.apache.ratis.client.RaftClientConfigKeys.Rpc.setRequestTimeout(
        p, TimeDuration.valueOf(requestTimeout.toMillis(), TimeUnit.MILLISECONDS));
    org.apache.ratis.grpc.GrpcConfigKeys.setMessageSizeMax(
        p, org.apache.ratis.util.SizeInBytes.valueOf("64MB"));
    return RaftClient.newBuilder()
        .setRaftGroup(RaftGroup.valueOf(group, peers))
        .setProperties(p)
        .setRetryPolicy(
            RetryPolicies.retryUpToMaximumCountWithFixedSleep(
                50, TimeDuration.valueOf(200, TimeUnit.MILLISECONDS)))
        .build();
  }

  /**
   * Polls server {@code id}'s applied index until it reaches {@code index}; returns the nanoTime it
   * was seen there. Fails after {@code timeout} or when {@code failed} says the change failed.
   */
  static long awaitApplied(
      RaftClient client,
      String id,
      RaftGroupId group,
      long index,
      Duration timeout,
      java.util.function.BooleanSupplier failed)
      throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    long seen = -1;
    while (System.nanoTime() < deadline) {
      try {
        seen = info(client, id, group).getLogInfoProto().getApplied().getIndex();
        if (seen >= index) {
          return System.nanoTime();
        }
      } catch (IOException e) {
        // not up yet, or busy: ask again
      }
      if (failed.getAsBoolean()) {
        throw new IOException("the membership change failed before " + id + " caught up");
      }
      pause(100);
    }
    throw new IOException(
        id + " did not apply " + index + " within " + timeout + " (at " + seen + ")");
  }

  /** The ids of {@code peers}. */
  static List<String> ids(List<RaftPeer> peers) {
    List<String> ids = new ArrayList<>();
    peers.forEach(p -> ids.add(p.getId().toString()));
    return ids;
  }

  /** Closes {@code client} if not null; a failure is said on stdout (at shutdown). */
  static void closeQuietly(RaftClient client) {
    if (client == null) {
      return;
    }
    try {
      client.close();
    } catch (IOException e) {
      System.out.println("[shaped] closing a client: " + e);
    }
  }

  /** Sleeps {@code millis} (a poll interval), keeping the interrupt. */
  static void pause(long millis) {
    try {
      Thread.sleep(millis);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException("interrupted", e);
    }
  }
}
