package dev.ferry.kv.cli;

import dev.ferry.kv.KvClient;
import dev.ferry.kv.cluster.ProcessCluster;
import dev.ferry.kv.cluster.ShardStatus;
import dev.ferry.kv.cluster.ShardStatus.GroupView;
import dev.ferry.kv.shard.ClusterLayout;
import dev.ferry.kv.shard.Range;
import dev.ferry.kv.shard.RoutingKvClient;
import dev.ferry.raft.ClusterSecret;
import dev.ferry.raft.admin.AdminClient;
import dev.ferry.raft.admin.NodeStatus;
import dev.ferry.shipping.PeerAddress;
import dev.ferry.shipping.install.InstallProgress;
import dev.ferry.statemachine.DigestAt;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * {@code ferry demo --groups N}: a sharded cluster of four {@code ferry server --map} processes on
 * loopback — N ranges at replication 3 over n1..n3, n4 holding none — loaded through a {@link
 * RoutingKvClient}; the replica layout as the nodes report it; one range's replica moved from a
 * follower to n4 exactly as {@code ferry admin move} does it (its steps and install progress bar);
 * the layout afterwards and the moved range's digests on its replicas; then every node stopped with
 * SIGTERM (all at once). Every figure printed is measured or reported by the nodes.
 *
 * <p>Runs on the calling thread (the loader uses a pool of its own); not reusable.
 */
final class ShardedDemo {
  /** The data loaded by default: small, so the demo takes well under a minute. */
  static final int DEFAULT_SIZE_MIB = 16;

  /** The most ranges the demo runs (the nodes share one machine). */
  static final int MAX_GROUPS = 64;

  private static final Duration T = Duration.ofSeconds(120);
  private static final int REPLICATION = 3;
  private static final String TARGET = "n4";

  private final PrintStream out;
  private final Path root;
  private final int groups;
  private final int sizeMiB;

  ShardedDemo(PrintStream out, Path root, int groups, int sizeMiB) {
    if (groups < 2 || groups > MAX_GROUPS) {
      throw new IllegalArgumentException("--groups must be 2.." + MAX_GROUPS + ": " + groups);
    }
    this.out = out;
    this.root = root;
    this.groups = groups;
    this.sizeMiB = sizeMiB;
  }

  /** Runs the demo; 0 if the move ended with 3 voters including n4 and equal digests, else 1. */
  int run() throws Exception {
    Map<String, String> summary = new LinkedHashMap<>();
    int keys = DemoCommand.keys(sizeMiB);
    long t0 = System.nanoTime();
    Path mapFile = root.resolve("cluster.map");
    ClusterLayout layout = layout(keys);
    layout.write(mapFile);
    out.printf(
        Locale.ROOT,
        "Ferry sharded demo: %d ranges at replication %d on n1..n3 (n4 holds none), 4 nodes on"
            + " loopback, data in %s%n",
        groups,
        REPLICATION,
        root);
    try (ProcessCluster cluster =
        ProcessCluster.builder(root, 4)
            .map(mapFile)
            .heap("-Xmx" + Math.max(512, 3 * sizeMiB + 256) + "m")
            .start(T)) {
      summary.put("cluster up", DemoCommand.seconds(t0));
      for (PeerAddress p : cluster.peers()) {
        out.printf(Locale.ROOT, "  %s  %s  (log %s)%n", p.id(), p, cluster.logFile(p.id()));
      }
      out.printf(Locale.ROOT, "  map %s (cluster %s)%n", mapFile, layout.cluster());
      ClusterSecret secret = cluster.secret();

      long t1 = System.nanoTime();
      try (RoutingKvClient client = cluster.routingClient(Duration.ofSeconds(60))) {
        // A batch is cut into one command per range: as many keys per command as the plain demo.
        DemoCommand.write(out, client, keys, keys, "loading", 1, DemoCommand.LOAD_BATCH * groups);
      }
      double loadSeconds = (System.nanoTime() - t1) / 1e9;
      summary.put(
          "data loaded",
          String.format(
              Locale.ROOT,
              "%d keys, %d MiB over %d ranges in %.1f s (%.1f MiB/s)",
              keys,
              sizeMiB,
              groups,
              loadSeconds,
              sizeMiB / loadSeconds));

      List<GroupView> before = ShardStatus.groups(layout, secret, T);
      printLayout("replica layout (as each range's leader reports it)", layout, before, secret);

      // The move: range 0's replica on a follower goes to n4, as `ferry admin move` does it.
      Range moved = layout.range(0);
      GroupView was = before.get(0);
      String from =
          was.voters().stream().filter(id -> !id.equals(was.leader())).findFirst().orElseThrow();
      out.printf(
          Locale.ROOT,
          "%n$ ferry admin move --map %s --range %d --from %s --to %s%n",
          mapFile.getFileName(),
          moved.index(),
          from,
          TARGET);
      MoveCommand move = new MoveCommand();
      move.map = mapFile;
      move.range = moved.index();
      move.from = from;
      move.to = TARGET;
      move.deadlineSeconds = T.toSeconds();
      move.secretFile = cluster.secretFile();
      long t2 = System.nanoTime();
      int moveExit = move.call();
      String took = DemoCommand.seconds(t2);
      ClusterLayout after = ClusterLayout.read(mapFile);
      String installed = installed(after, moved.group(), secret);
      summary.put("replica moved", String.format(Locale.ROOT, "%s: %s", took, installed));

      // The source drops the group once told it was retired.
      PeerAddress source = after.node(from);
      awaitDropped(source, moved.group(), secret);
      List<GroupView> now = ShardStatus.groups(after, secret, T);
      printLayout(
          "replica layout after the move (map version " + after.version() + ")",
          after,
          now,
          secret);

      GroupView m = now.get(moved.index());
      boolean movedRight =
          moveExit == 0
              && m.voters().size() == REPLICATION
              && m.voters().contains(TARGET)
              && !m.voters().contains(from)
              && m.listeners().isEmpty();
      boolean allEqual = printDigests(cluster, after, m);
      summary.put(
          "range " + moved.index() + " voters",
          m.voters() + (movedRight ? "" : " (NOT the expected move)"));
      summary.put(
          "digests",
          allEqual
              ? "all " + m.voters().size() + " replicas of " + moved.group() + " equal"
              : "MISMATCH");

      long t3 = System.nanoTime();
      cluster.stopAll();
      summary.put("nodes stopped", DemoCommand.seconds(t3) + " (SIGTERM)");
      summary.put("total", DemoCommand.seconds(t0));
      out.printf(Locale.ROOT, "%nSummary%n");
      summary.forEach((k, v) -> out.printf(Locale.ROOT, "  %-18s %s%n", k, v));
      return movedRight && allEqual ? 0 : 1;
    }
  }

  /** The map: {@link #groups} ranges cut from a sample of the demo's keys, placed on n1..n3. */
  private ClusterLayout layout(int keys) throws IOException {
    List<PeerAddress> nodes = ProcessCluster.loopbackPeers(4);
    List<byte[]> sample = new ArrayList<>();
    int step = Math.max(1, keys / 4096);
    for (int k = 0; k < keys; k += step) {
      sample.add(DemoCommand.key(k));
    }
    String cluster =
        "demo-" + Long.toHexString(java.util.concurrent.ThreadLocalRandom.current().nextLong());
    ClusterLayout onThree =
        ClusterLayout.create(
            cluster,
            nodes.subList(0, 3),
            ClusterLayout.splitKeysFromSample(sample, groups),
            REPLICATION);
    return new ClusterLayout(cluster, 1, REPLICATION, nodes, onThree.ranges());
  }

  /**
   * Prints one line per range ({@code L} leader, {@code F} other voter, {@code l} listener, {@code
   * .} none) and the groups each node reports hosting.
   */
  private void printLayout(
      String title, ClusterLayout layout, List<GroupView> views, ClusterSecret secret)
      throws IOException {
    out.printf(Locale.ROOT, "%n%s; L leader, F follower:%n", title);
    StringBuilder head = new StringBuilder(String.format(Locale.ROOT, "  %-38s", "range"));
    for (PeerAddress n : layout.nodes()) {
      head.append(String.format(Locale.ROOT, " %3s", n.id()));
    }
    out.println(head.append("   applied index"));
    for (GroupView v : views) {
      StringBuilder line =
          new StringBuilder(String.format(Locale.ROOT, "  %-38s", keys(v.range())));
      for (PeerAddress n : layout.nodes()) {
        String cell =
            n.id().equals(v.leader())
                ? "L"
                : v.voters().contains(n.id()) ? "F" : v.listeners().contains(n.id()) ? "l" : ".";
        line.append(String.format(Locale.ROOT, " %3s", cell));
      }
      out.println(
          line.append(String.format(Locale.ROOT, "   %d", v.leaderStatus().appliedIndex())));
    }
    StringBuilder hosted =
        new StringBuilder(String.format(Locale.ROOT, "  %-38s", "groups hosted"));
    for (PeerAddress n : layout.nodes()) {
      hosted.append(String.format(Locale.ROOT, " %3d", ShardStatus.hostedGroups(n, secret).size()));
    }
    out.println(hosted);
  }

  /** {@code r0 [-, 4-key-000012345)}: the range's index and bounds (the demo's keys are text). */
  private static String keys(Range r) {
    return String.format(
        Locale.ROOT,
        "r%d [%s, %s)",
        r.index(),
        r.start().length == 0 ? "-" : new String(r.start(), StandardCharsets.UTF_8),
        r.end() == null ? "-" : new String(r.end(), StandardCharsets.UTF_8));
  }

  /** What n4 reports of its install of {@code group}: bytes fetched per source. */
  private static String installed(ClusterLayout layout, String group, ClusterSecret secret)
      throws IOException {
    NodeStatus s;
    try (AdminClient c =
        AdminClient.connect(
            layout.node(TARGET), AdminClient.groupId(group), secret, null, "ferry-demo")) {
      s = c.status();
    }
    Optional<InstallProgress> last = s.lastInstall();
    if (last.isEmpty()) {
      return TARGET + " reports no install (it caught up from the log)";
    }
    InstallProgress i = last.get();
    return String.format(
        Locale.ROOT,
        "%s installed baseline %d: %.1f MiB fetched (%s), digest-verified, then promoted",
        TARGET,
        i.index(),
        i.bytesFetched() / 1048576.0,
        DemoCommand.perSource(i.bytesPerSource()));
  }

  /** Waits (up to {@link #T}) for {@code node} to stop hosting {@code group}. */
  private static void awaitDropped(PeerAddress node, String group, ClusterSecret secret)
      throws IOException, InterruptedException {
    long deadline = System.nanoTime() + T.toNanos();
    while (ShardStatus.hostedGroups(node, secret).contains(group)) {
      if (System.nanoTime() > deadline) {
        throw new IOException(node.id() + " still hosts " + group + " " + T + " after the move");
      }
      Thread.sleep(100);
    }
  }

  /** Prints the moved range's digest on each voter at one checkpoint; true if all are equal. */
  private boolean printDigests(ProcessCluster cluster, ClusterLayout after, GroupView moved)
      throws IOException {
    try (RoutingKvClient client = cluster.routingClient(Duration.ofSeconds(60))) {
      KvClient group = client.clientOf(after.range(moved.range().index()));
      DigestAt expected = group.checkpoint(1);
      out.printf(
          Locale.ROOT,
          "%n%s: state digests at checkpoint index %d:%n",
          moved.range().group(),
          expected.index());
      boolean allEqual = true;
      for (String id : moved.voters()) {
        DigestAt d = group.checkpointOn(id, 1, expected.index());
        boolean equal = d.digest().equals(expected.digest());
        allEqual &= equal;
        out.printf(
            Locale.ROOT, "  %s  %s  %s%n", id, d.digest().toHex(), equal ? "equal" : "DIFFERENT");
      }
      return allEqual;
    }
  }
}
