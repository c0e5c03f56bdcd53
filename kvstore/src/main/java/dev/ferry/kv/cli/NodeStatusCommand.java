package dev.ferry.kv.cli;

import dev.ferry.kv.shard.ClusterLayout;
import dev.ferry.kv.shard.ClusterMap;
import dev.ferry.kv.shard.ClusterMaps;
import dev.ferry.kv.shard.Range;
import dev.ferry.kv.shard.ReplicatedClusterMap;
import dev.ferry.raft.ClusterSecret;
import dev.ferry.raft.TlsFiles;
import dev.ferry.raft.admin.AdminClient;
import dev.ferry.raft.admin.NodeStatus;
import dev.ferry.shipping.PeerAddress;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code ferry admin node-status}: where a node's replicas are, range by range — the map's
 * replicas, the group's voters and listeners as its leader reports them, and its pending change (a
 * move of a replace or drain in progress shows as an add replacing the node).
 */
@Command(
    name = "node-status",
    description =
        "The ranges a node holds (in the map, or hosted by the node): each range's replicas in"
            + " the map, its group's voters, listeners and leader, and its pending membership"
            + " change (e.g. a move of `ferry admin replace|drain` in progress).")
final class NodeStatusCommand implements Callable<Integer> {
  private static final String CLIENT_ID = "ferry-cli";

  @Parameters(index = "0", paramLabel = "NODE", description = "The id of the node.")
  String node;

  @Option(names = "--map", required = true, paramLabel = "FILE", description = "The cluster map.")
  Path map;

  @Option(
      names = "--secret-file",
      description = "File holding the cluster secret (or set FERRY_CLUSTER_SECRET).")
  Path secretFile;

  @Mixin TlsOptions tls = new TlsOptions();

  @Override
  public Integer call() throws Exception {
    if (!Files.isRegularFile(map)) {
      throw new IllegalArgumentException("--map: no such file: " + map);
    }
    ClusterLayout.read(map).node(node);
    ClusterSecret secret = AdminCommand.Base.secret(secretFile);
    TlsFiles files = tls.files().orElse(null);
    ClusterLayout layout;
    ClusterMap m = ClusterMaps.open(map, ReplicatedClusterMap.DEFAULT_READ_DEADLINE, files);
    try {
      layout = m.refresh(0);
    } finally {
      if (m instanceof ReplicatedClusterMap r) {
        r.close();
      }
    }
    PrintStream out = System.out;
    List<String> hosted = List.of();
    String hostedText;
    try (AdminClient c = AdminClient.connectNode(layout.node(node), secret, files, CLIENT_ID)) {
      hosted = c.hostedGroups();
      hostedText = node + " hosts " + hosted;
    } catch (IOException e) {
      hostedText = node + " did not answer (" + e.getMessage() + ")";
    }
    out.println("node " + node + " (map version " + layout.version() + "): " + hostedText);
    out.printf(
        Locale.ROOT,
        "%-5s %-16s %-18s %-26s %-12s %s%n",
        "range",
        "group",
        "map replicas",
        "voters (leader)",
        "listeners",
        "pending change");
    for (Range r : layout.ranges()) {
      if (r.replicas().contains(node) || hosted.contains(r.group())) {
        out.println(row(r, leaderStatus(layout, r, secret, files)));
      }
    }
    return 0;
  }

  /** One range's row: the map's replicas, then what its leader reports (or that none answered). */
  static String row(Range r, Optional<NodeStatus> leader) {
    String group =
        leader
            .map(
                s ->
                    String.format(
                        Locale.ROOT,
                        "%-26s %-12s %s",
                        String.join(",", ids(s, true)) + " (" + s.id() + ")",
                        ids(s, false).isEmpty() ? "-" : String.join(",", ids(s, false)),
                        s.pending().map(Object::toString).orElse("none")))
            .orElse("(no leader answered)");
    return String.format(
        Locale.ROOT,
        "%-5d %-16s %-18s %s",
        r.index(),
        r.group(),
        String.join(",", r.replicas()),
        group);
  }

  private static List<String> ids(NodeStatus s, boolean voters) {
    return s.members().stream()
        .filter(x -> x.voter() == voters)
        .map(NodeStatus.Member::id)
        .sorted()
        .toList();
  }

  /** The group's leader's status: the map's replicas asked first, then every other node, once. */
  private static Optional<NodeStatus> leaderStatus(
      ClusterLayout layout, Range r, ClusterSecret secret, TlsFiles files) {
    Set<PeerAddress> ask = new LinkedHashSet<>(layout.peers(r));
    ask.addAll(layout.nodes());
    String gid = AdminClient.groupId(r.group());
    for (PeerAddress p : ask) {
      try (AdminClient c = AdminClient.connect(p, gid, secret, files, CLIENT_ID)) {
        NodeStatus s = c.status();
        if (s.role().equals("LEADER")) {
          return Optional.of(s);
        }
      } catch (IOException | RuntimeException e) {
        // Not hosting it, or down: the next node.
      }
    }
    return Optional.empty();
  }
}
