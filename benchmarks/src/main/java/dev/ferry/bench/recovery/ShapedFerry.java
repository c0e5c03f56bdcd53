package dev.ferry.bench.recovery;

import dev.ferry.kv.KvClient;
import dev.ferry.kv.cluster.ProcessCluster;
import dev.ferry.raft.admin.AddRequest;
import dev.ferry.raft.admin.AddResult;
import dev.ferry.raft.admin.MembershipAdmin;
import dev.ferry.raft.admin.RemoveRequest;
import dev.ferry.shipping.PeerAddress;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.LongConsumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.protocol.RaftGroupId;
import org.apache.ratis.protocol.RaftPeer;

/**
 * Ferry as processes: {@code ferry server} nodes n1..n3 ({@link ProcessCluster}, its {@code
 * Launcher} placing each in its namespace, {@code first} .. {@code first + 2}), joiners j1, j2, …
 * in {@code first + 3}, added with {@link MembershipAdmin#addMember} (listener, multi-source
 * install from the voters, digest checkpoint, promotion).
 */
final class ShapedFerry implements ShapedSystem {
  private static final int PORT = 7000;
  private static final Pattern IN_PROGRESS =
      Pattern.compile("(?m)^ferry_install_in_progress(?:\\{[^}]*})? ([0-9.eE+]+)");
  private static final Pattern INSTALLED =
      Pattern.compile(
          "(?m)^ferry_install_outcomes_total\\{[^}]*reason=\"installed\"[^}]*} ([0-9.eE+]+)");

  private final ShapedNet net;
  private final int first;
  private final Duration timeout;
  private final ProcessCluster cluster;
  private final Map<String, String> joinerHeaps = new LinkedHashMap<>();
  private final Map<String, Path> gcLogs = new LinkedHashMap<>();
  private int joins;
  private RaftClient infoClient; // for info calls; made on first use
  private RaftGroupId groupId;

  ShapedFerry(ShapedNet net, Path dir, int first, String voterHeap, Duration timeout)
      throws IOException {
    this.net = net;
    this.first = first;
    this.timeout = timeout;
    ProcessCluster.Builder b =
        ProcessCluster.builder(dir, 3)
            .clusterName("shaped-bench")
            .heap(voterHeap)
            .launcher(this::prepare)
            .serverArgs(
                // Every voter serves the join, the leader as an equal source (by default the
                // leader is asked last, and a 3-voter cluster's join fetches from 2 sources).
                "--no-install-leader-last",
                "--capture-every",
                "1000000000000",
                "--log-preserve",
                "16",
                "--staging-timeout",
                "600",
                "--raft-property",
                "raft.server.log.segment.size.max=1MB",
                "--raft-property",
                "raft.server.log.purge.gap=16");
    if (net.namespaces()) {
      List<PeerAddress> peers = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        peers.add(new PeerAddress("n" + (i + 1), net.host(first + i), PORT, PORT + 1));
      }
      b.peers(peers);
    }
    this.cluster = b.start(timeout);
  }

  private void prepare(String id, List<String> command, Map<String, String> environment) {
    // Full JIT (ProcessCluster's default stops at C1, for short tests), and the joiner's own heap
    // and GC log.
    command.remove("-XX:TieredStopAtLevel=1");
    command.addAll(1, ShapedRecoveryBenchmark.HEAP_SHRINK);
    String heap = joinerHeaps.get(id);
    if (heap != null) {
      command.replaceAll(a -> a.startsWith("-Xmx") ? heap : a);
      command.add(1, "-Xlog:gc:file=" + gcLogs.get(id));
      command.addAll(1, ShapedRecoveryBenchmark.joinerProfile());
      ShapedRecoveryBenchmark.applyJoinerGc(command);
    }
    net.place(nodeOf(id), command);
  }

  @Override
  public Path logOf(String id) {
    return cluster.logFile(id);
  }

  @Override
  public int nodeOf(String id) {
    return id.startsWith("j") ? first + 3 : first + Integer.parseInt(id.substring(1)) - 1;
  }

  @Override
  public String name() {
    return "ferry";
  }

  @Override
  public List<Integer> sourceNodes() {
    return List.of(first, first + 1, first + 2);
  }

  @Override
  public void load(StateGenerator gen) throws IOException {
    putAll(gen, BatchLoader.all(gen), 0, BatchLoader.BATCH);
    try (KvClient c = cluster.client(timeout)) {
      long captured = c.ferryClient().captureSnapshot();
      // Ratis's own snapshot call on every node: Ferry answers with its latest capture, and each
      // purges its log to it, so a joiner needs an install whichever node leads.
      RaftGroupId group = c.group().getGroupId();
      try (RaftClient rc =
          ShapedSystem.client(group, c.group().getPeers().stream().toList(), timeout)) {
        ShapedSystem.snapshotEverywhere(rc, ids(), group, timeout, captured);
      }
    }
  }

  @Override
  public void putAll(StateGenerator gen, int[] keys, int version, int batch) throws IOException {
    try (KvClient c = cluster.client(timeout)) {
      BatchLoader.load(gen, keys, version, batch, c::putAll);
    }
  }

  @Override
  public Putter putter() {
    KvClient c = cluster.client(timeout);
    return new Putter() {
      @Override
      public void put(byte[] key, byte[] value) throws IOException {
        c.put(key, value);
      }

      @Override
      public void close() throws IOException {
        c.close();
      }
    };
  }

  /** Runs {@code action} with a Raft client of the voters (kept open) and the group id. */
  private <T> T withRaft(RaftAction<T> action) throws IOException {
    if (infoClient == null) {
      try (KvClient c = cluster.client(timeout)) {
        groupId = c.group().getGroupId();
        infoClient =
            ShapedSystem.client(groupId, List.copyOf(c.group().getPeers()), Duration.ofSeconds(10));
      }
    }
    return action.run(infoClient, groupId);
  }

  @FunctionalInterface
  private interface RaftAction<T> {
    T run(RaftClient client, RaftGroupId group) throws IOException;
  }

  @Override
  public String follower() throws IOException {
    return withRaft(
        (rc, g) -> {
          String leader = ShapedSystem.leader(rc, ids(), g, timeout);
          return ids().stream().filter(id -> !id.equals(leader)).findFirst().orElseThrow();
        });
  }

  @Override
  public void snapshotExcept(String except) throws IOException {
    long captured;
    try (KvClient c = cluster.client(timeout)) {
      captured = c.ferryClient().captureSnapshot();
    }
    List<String> ids = new ArrayList<>(ids());
    ids.remove(except);
    withRaft(
        (rc, g) -> {
          ShapedSystem.snapshotEverywhere(rc, ids, g, timeout, captured);
          return null;
        });
  }

  @Override
  public long leaderCommit() throws IOException {
    return withRaft(
        (rc, g) ->
            ShapedSystem.info(rc, ShapedSystem.leader(rc, ids(), g, timeout), g)
                .getLogInfoProto()
                .getCommitted()
                .getIndex());
  }

  @Override
  public long applied(String id) {
    try {
      return withRaft(
          (rc, g) -> ShapedSystem.info(rc, id, g).getLogInfoProto().getApplied().getIndex());
    } catch (IOException e) {
      return -1;
    }
  }

  @Override
  public long installMarker(String id) throws IOException {
    return (long) metric(INSTALLED, id);
  }

  @Override
  public void killVoter(String id) throws IOException {
    try {
      cluster.kill(id);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("interrupted killing " + id);
    }
  }

  @Override
  public void restartVoter(String id) throws IOException {
    cluster.start(id);
  }

  @Override
  public boolean installMarkerResetsOnRestart() {
    return true; // a counter of the process (its metrics)
  }

  @Override
  public boolean installing(String id) {
    try {
      return metric(IN_PROGRESS, id) > 0;
    } catch (IOException e) {
      return false;
    }
  }

  private double metric(Pattern p, String id) throws IOException {
    Matcher m =
        p.matcher(
            metrics(HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build(), id));
    return m.find() ? Double.parseDouble(m.group(1)) : 0;
  }

  private List<String> ids() {
    return cluster.peers().stream().map(PeerAddress::id).toList();
  }

  @Override
  public Joiner startJoiner(String xmx, Path gcLog) throws IOException {
    String id = "j" + (++joins);
    joinerHeaps.put(id, xmx);
    gcLogs.put(id, gcLog);
    int port = net.namespaces() ? PORT : ProcessCluster.freePorts(2)[0];
    PeerAddress self = new PeerAddress(id, net.host(first + 3), port, port + 1);
    joinerAddresses.put(id, self);
    cluster.startListener(self);
    long deadline = System.nanoTime() + timeout.toNanos();
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    while (true) {
      try {
        metrics(http, id);
        return new Joiner(id, first + 3, cluster.pid(id), gcLog);
      } catch (IOException e) {
        if (!cluster.isAlive(id) || System.nanoTime() > deadline) {
          throw new IOException(id + " did not come up; log:\n" + cluster.tail(id, 30), e);
        }
        ShapedSystem.pause(200);
      }
    }
  }

  private final Map<String, PeerAddress> joinerAddresses = new LinkedHashMap<>();

  @Override
  public long pid(String id) {
    return cluster.pid(id);
  }

  private String metrics(HttpClient http, String id) throws IOException {
    URI uri = URI.create("http://" + hostPort(cluster.metricsAddress(id)) + "/metrics");
    try {
      HttpResponse<String> r =
          http.send(
              HttpRequest.newBuilder(uri).timeout(Duration.ofSeconds(5)).build(),
              HttpResponse.BodyHandlers.ofString());
      if (r.statusCode() != 200) {
        throw new IOException(uri + ": HTTP " + r.statusCode());
      }
      return r.body();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("interrupted");
    }
  }

  private static String hostPort(java.net.InetSocketAddress a) {
    return a.getHostString() + ":" + a.getPort();
  }

  @Override
  public Map<String, Object> join(Joiner j, long t0, LongConsumer caughtUp) throws IOException {
    PeerAddress self = joinerAddresses.get(j.id());
    try (KvClient c = cluster.client(timeout)) {
      RaftGroupId group = c.group().getGroupId();
      List<RaftPeer> with = new ArrayList<>(c.group().getPeers());
      with.add(
          RaftPeer.newBuilder()
              .setId(j.id())
              .setAddress(self.host() + ":" + self.raftPort())
              .build());
      try (RaftClient rc = ShapedSystem.client(group, with, Duration.ofSeconds(10))) {
        String leader = ShapedSystem.leader(rc, ids(), group, timeout);
        long commit =
            ShapedSystem.info(rc, leader, group).getLogInfoProto().getCommitted().getIndex();
        MembershipAdmin admin = MembershipAdmin.create(c.raftClient(), c.group());
        CompletableFuture<AddResult> add = admin.addMember(new AddRequest(self, timeout));
        caughtUp.accept(
            ShapedSystem.awaitApplied(
                rc, j.id(), group, commit, timeout, add::isCompletedExceptionally));
        AddResult result;
        try {
          result = add.get(timeout.toMillis() + 10_000, TimeUnit.MILLISECONDS);
        } catch (Exception e) {
          throw new IOException("addMember did not complete", e);
        }
        if (metric(INSTALLED, j.id()) < 1) {
          throw new IllegalStateException(j.id() + " became a voter without an install");
        }
        Map<String, Object> extra = new LinkedHashMap<>();
        extra.put("commit_index_at_start", commit);
        extra.put("listener_added_s", result.listenerAdded().toNanos() / 1e9);
        extra.put("verify_s", result.verifiedIn().toNanos() / 1e9);
        extra.put("promote_s", result.promoted().toNanos() / 1e9);
        extra.put("digest", result.verified().digest().toString());
        return extra;
      }
    }
  }

  @Override
  public void remove(Joiner j) throws IOException {
    IOException failed = null;
    try (KvClient c = cluster.client(timeout)) {
      MembershipAdmin admin = MembershipAdmin.create(c.raftClient(), c.group());
      admin
          .removeMember(new RemoveRequest(j.id(), timeout))
          .get(timeout.toMillis() + 10_000, TimeUnit.MILLISECONDS);
    } catch (Exception e) {
      failed = new IOException("removing " + j.id() + " failed", e);
    }
    try {
      cluster.kill(j.id());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    RecoveryBenchmark.deleteTree(cluster.dataDir(j.id()));
    if (failed != null) {
      throw failed;
    }
  }

  @Override
  public void close() {
    ShapedSystem.closeQuietly(infoClient);
    cluster.close();
  }
}
