package dev.ferry.bench.recovery;

import dev.ferry.kv.cluster.ProcessCluster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.LongConsumer;
import java.util.stream.Collectors;
import org.apache.ratis.client.RaftClient;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.protocol.RaftClientReply;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.thirdparty.com.google.protobuf.UnsafeByteOperations;

/**
 * The Ratis baseline as processes: {@link RatisNode} servers r1..r3 in namespaces {@code first} ..
 * {@code first + 2}, joiners r4, r5, … in {@code first + 3}. A join is Ratis's own {@code
 * setConfiguration} with the leader sending its snapshot file. {@link #restart} restarts the voters
 * with other Ratis properties (their state recovered from snapshot and log), for the tuned runs.
 */
final class ShapedRatis implements ShapedSystem {
  private static final int PORT = 7100;

  private final ShapedNet net;
  private final Path dir;
  private final int first;
  private final String voterHeap;
  private final Duration timeout;
  private final List<RaftPeer> members = new ArrayList<>();
  private final Map<String, Process> processes = new LinkedHashMap<>();
  private final Map<String, Integer> joinerPorts = new LinkedHashMap<>();
  private Map<String, String> props = Map.of();
  private String name = "ratis";
  private int joins;
  private RaftClient infoClient; // polls applied indexes; made on first use

  ShapedRatis(ShapedNet net, Path dir, int first, String voterHeap, Duration timeout)
      throws IOException {
    this.net = net;
    this.dir = dir;
    this.first = first;
    this.voterHeap = voterHeap;
    this.timeout = timeout;
    int[] ports = net.namespaces() ? null : ProcessCluster.freePorts(3);
    for (int i = 0; i < 3; i++) {
      int port = ports == null ? PORT : ports[i];
      members.add(
          RaftPeer.newBuilder()
              .setId("r" + (i + 1))
              .setAddress(net.host(first + i) + ":" + port)
              .build());
    }
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public List<Integer> sourceNodes() {
    return List.of(first, first + 1, first + 2);
  }

  /** Starts the three voters (formatting their storage) and waits for a leader. */
  void start() throws IOException {
    for (int i = 0; i < 3; i++) {
      launch(members.get(i), first + i, members, voterHeap, null, false);
    }
    try (RaftClient c = client(members)) {
      ShapedSystem.leader(c, ShapedSystem.ids(members), RatisNode.GROUP, timeout);
    }
  }

  /**
   * Restarts the voters with {@code properties} (recovering their storage) under the name {@code
   * newName}, and waits for a leader.
   */
  void restart(String newName, Map<String, String> properties) throws IOException {
    for (int i = 0; i < 3; i++) {
      kill(members.get(i).getId().toString());
    }
    this.props = Map.copyOf(properties);
    this.name = newName;
    for (int i = 0; i < 3; i++) {
      launch(members.get(i), first + i, members, voterHeap, null, true);
    }
    try (RaftClient c = client(members)) {
      snapshot(c);
    }
  }

  private Process launch(
      RaftPeer self, int node, List<RaftPeer> group, String heap, Path gcLog, boolean recover)
      throws IOException {
    String id = self.getId().toString();
    List<String> cmd = ShapedRecoveryBenchmark.javaCommand(heap, gcLog);
    cmd.add(RatisNode.class.getName());
    cmd.addAll(List.of("--id", id, "--dir", dir.resolve(id).toString(), "--peers"));
    cmd.add(
        group.stream().map(p -> p.getId() + "=" + p.getAddress()).collect(Collectors.joining(",")));
    if (recover) {
      cmd.add("--recover");
    }
    if (!members.contains(self)) {
      cmd.add("--joining");
    }
    props.forEach((k, v) -> cmd.addAll(List.of("--prop", k + "=" + v)));
    net.place(node, cmd);
    Files.createDirectories(dir);
    Process p =
        new ProcessBuilder(cmd)
            .redirectErrorStream(true)
            .redirectOutput(ProcessBuilder.Redirect.appendTo(dir.resolve(id + ".log").toFile()))
            .start();
    processes.put(id, p);
    return p;
  }

  private RaftClient client(List<RaftPeer> peers) {
    return ShapedSystem.client(RatisNode.GROUP, peers, Duration.ofSeconds(30));
  }

  @Override
  public void load(StateGenerator gen) throws IOException {
    putAll(gen, BatchLoader.all(gen), 0, BatchLoader.BATCH);
    try (RaftClient c = client(members)) {
      snapshot(c);
    }
  }

  @Override
  public void putAll(StateGenerator gen, int[] keys, int version, int batchSize)
      throws IOException {
    try (RaftClient c = client(members)) {
      BatchLoader.load(gen, keys, version, batchSize, batch -> send(c, batch));
    }
  }

  /** Sends the baseline state machine's put command of {@code entries}; fails unless applied. */
  private static void send(RaftClient c, List<byte[][]> entries) throws IOException {
    RaftClientReply r =
        c.io()
            .send(
                Message.valueOf(
                    UnsafeByteOperations.unsafeWrap(RatisKvStateMachine.putAll(entries))));
    if (!r.isSuccess()) {
      throw new IOException("put failed: " + r.getException());
    }
  }

  @Override
  public Putter putter() {
    RaftClient c = client(members);
    return new Putter() {
      @Override
      public void put(byte[] key, byte[] value) throws IOException {
        send(c, List.<byte[][]>of(new byte[][] {key, value}));
      }

      @Override
      public void close() throws IOException {
        c.close();
      }
    };
  }

  @Override
  public String follower() throws IOException {
    try (RaftClient c = client(members)) {
      String leader = ShapedSystem.leader(c, ShapedSystem.ids(members), RatisNode.GROUP, timeout);
      return ShapedSystem.ids(members).stream()
          .filter(id -> !id.equals(leader))
          .findFirst()
          .orElseThrow();
    }
  }

  @Override
  public Path logOf(String id) {
    return dir.resolve(id + ".log");
  }

  @Override
  public int nodeOf(String id) {
    return first + Integer.parseInt(id.substring(1)) - 1;
  }

  @Override
  public void snapshotExcept(String except) throws IOException {
    try (RaftClient c = client(members)) {
      List<String> ids = new ArrayList<>(ShapedSystem.ids(members));
      ids.remove(except);
      ShapedSystem.snapshotEverywhere(c, ids, RatisNode.GROUP, timeout, 0);
    }
  }

  /** Every voter snapshots (and purges its log): Ratis's install ships that snapshot. */
  @Override
  public void beforeColdJoin() throws IOException {
    try (RaftClient c = client(members)) {
      snapshot(c);
    }
  }

  @Override
  public long leaderCommit() throws IOException {
    try (RaftClient c = client(members)) {
      String leader = ShapedSystem.leader(c, ShapedSystem.ids(members), RatisNode.GROUP, timeout);
      return ShapedSystem.info(c, leader, RatisNode.GROUP)
          .getLogInfoProto()
          .getCommitted()
          .getIndex();
    }
  }

  @Override
  public long applied(String id) {
    if (infoClient == null) {
      infoClient = ShapedSystem.client(RatisNode.GROUP, members, Duration.ofSeconds(3));
    }
    try {
      return ShapedSystem.info(infoClient, id, RatisNode.GROUP)
          .getLogInfoProto()
          .getApplied()
          .getIndex();
    } catch (IOException e) {
      return -1;
    }
  }

  @Override
  public long installMarker(String id) throws IOException {
    try (RaftClient c = client(members)) {
      return ShapedSystem.info(c, id, RatisNode.GROUP)
          .getLogInfoProto()
          .getLastSnapshot()
          .getIndex();
    }
  }

  @Override
  public void killVoter(String id) {
    kill(id);
  }

  @Override
  public void restartVoter(String id) throws IOException {
    int i = Integer.parseInt(id.substring(1)) - 1;
    launch(members.get(i), first + i, members, voterHeap, null, true);
  }

  @Override
  public boolean installMarkerResetsOnRestart() {
    return false; // its last snapshot index, kept in its storage
  }

  @Override
  public boolean installing(String id) {
    return false;
  }

  /**
   * Has every voter take a snapshot (each then purges its log up to it), so that whichever leads
   * later, a joiner needs the leader's snapshot file.
   */
  private void snapshot(RaftClient c) throws IOException {
    ShapedSystem.snapshotEverywhere(c, ShapedSystem.ids(members), RatisNode.GROUP, timeout, 0);
  }

  @Override
  public Joiner startJoiner(String xmx, Path gcLog) throws IOException {
    int port = net.namespaces() ? PORT : ProcessCluster.freePorts(1)[0];
    RaftPeer j =
        RaftPeer.newBuilder()
            .setId("r" + (4 + joins++))
            .setAddress(net.host(first + 3) + ":" + port)
            .build();
    List<RaftPeer> with = new ArrayList<>(members);
    with.add(j);
    joinerPorts.put(j.getId().toString(), port);
    Process p = launch(j, first + 3, with, xmx, gcLog, false);
    Joiner joiner = new Joiner(j.getId().toString(), first + 3, p.pid(), gcLog);
    try (RaftClient c = client(with)) {
      long deadline = System.nanoTime() + timeout.toNanos();
      while (true) {
        try {
          ShapedSystem.info(c, joiner.id(), RatisNode.GROUP);
          return joiner;
        } catch (IOException e) {
          if (!p.isAlive() || System.nanoTime() > deadline) {
            throw new IOException(joiner.id() + " did not come up", e);
          }
          ShapedSystem.pause(200);
        }
      }
    }
  }

  @Override
  public Map<String, Object> join(Joiner j, long t0, LongConsumer caughtUp) throws IOException {
    List<RaftPeer> with = new ArrayList<>(members);
    with.add(joinerPeer(j));
    // The change's reply comes when the leader has sent its whole snapshot (Ratis's staging): over
    // 100 Mbit/s a 1 GiB state takes about 100 s. With the 30 s request timeout the first attempt
    // timed out and the retries were refused as a reconfiguration in progress until the retry
    // policy gave up (every 1 GiB cold join at 100 Mbit/s failed so); wait as long as the join may.
    try (RaftClient c = ShapedSystem.client(RatisNode.GROUP, with, timeout)) {
      String leader = ShapedSystem.leader(c, ShapedSystem.ids(members), RatisNode.GROUP, timeout);
      long commit =
          ShapedSystem.info(c, leader, RatisNode.GROUP).getLogInfoProto().getCommitted().getIndex();
      CompletableFuture<RaftClientReply> change =
          CompletableFuture.supplyAsync(
              () -> {
                try {
                  return c.admin().setConfiguration(with);
                } catch (IOException e) {
                  throw new java.io.UncheckedIOException(e);
                }
              });
      caughtUp.accept(
          ShapedSystem.awaitApplied(
              c, j.id(), RatisNode.GROUP, commit, timeout, change::isCompletedExceptionally));
      RaftClientReply reply;
      try {
        reply = change.get(timeout.toMillis(), TimeUnit.MILLISECONDS);
      } catch (Exception e) {
        throw new IOException("setConfiguration did not complete", e);
      }
      if (!reply.isSuccess()) {
        throw new IOException("setConfiguration failed: " + reply.getException());
      }
      long installed =
          ShapedSystem.info(c, j.id(), RatisNode.GROUP)
              .getLogInfoProto()
              .getLastSnapshot()
              .getIndex();
      if (installed <= 0) {
        throw new IllegalStateException(j.id() + " caught up without a snapshot install");
      }
      Map<String, Object> extra = new LinkedHashMap<>();
      extra.put("commit_index_at_start", commit);
      extra.put("installed_snapshot_index", installed);
      extra.put("ratis_properties", props.toString());
      return extra;
    }
  }

  private RaftPeer joinerPeer(Joiner j) {
    String host = net.host(j.node());
    return RaftPeer.newBuilder().setId(j.id()).setAddress(host + ":" + joinerPort(j)).build();
  }

  private int joinerPort(Joiner j) {
    return joinerPorts.getOrDefault(j.id(), PORT);
  }

  @Override
  public void remove(Joiner j) throws IOException {
    IOException failed = null;
    try (RaftClient c = client(members)) {
      RaftClientReply r = c.admin().setConfiguration(members);
      if (!r.isSuccess()) {
        failed = new IOException("removing " + j.id() + " failed: " + r.getException());
      }
    } catch (IOException e) {
      failed = e;
    }
    kill(j.id());
    RecoveryBenchmark.deleteTree(dir.resolve(j.id()));
    if (failed != null) {
      throw failed;
    }
  }

  private void kill(String id) {
    Process p = processes.remove(id);
    if (p != null) {
      p.destroyForcibly();
      try {
        p.waitFor(30, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  @Override
  public long pid(String id) {
    return processes.get(id).pid();
  }

  @Override
  public void close() {
    ShapedSystem.closeQuietly(infoClient);
    for (String id : List.copyOf(processes.keySet())) {
      kill(id);
    }
  }
}
