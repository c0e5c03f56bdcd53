package dev.ferry.kv.cli;

import dev.ferry.kv.shard.ClusterLayout;
import dev.ferry.kv.shard.ClusterMap;
import dev.ferry.kv.shard.ClusterMaps;
import dev.ferry.kv.shard.NodeMoves;
import dev.ferry.kv.shard.NodeMoves.GroupProgress;
import dev.ferry.kv.shard.NodeMoves.Move;
import dev.ferry.kv.shard.NodeMoves.NodeProgress;
import dev.ferry.kv.shard.NodeMoves.State;
import dev.ferry.kv.shard.ReplicatedClusterMap;
import dev.ferry.shipping.PeerAddress;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code ferry admin replace} and {@code ferry admin drain}: every replica of a node moves, many
 * groups at once ({@link NodeMoves}).
 */
final class NodeMoveCommand {
  private NodeMoveCommand() {}

  abstract static class Base implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "NODE", description = "The id of the node.")
    String node;

    @Option(names = "--map", required = true, paramLabel = "FILE", description = "The cluster map.")
    Path map;

    @Option(
        names = "--parallel",
        defaultValue = "4",
        description = "Groups moved at once (default ${DEFAULT-VALUE}).")
    int parallel;

    @Option(
        names = "--deadline",
        defaultValue = "600",
        description = "Seconds each group's move may take (default ${DEFAULT-VALUE}).")
    long deadlineSeconds;

    @Option(
        names = "--secret-file",
        description = "File holding the cluster secret (or set FERRY_CLUSTER_SECRET).")
    Path secretFile;

    @Mixin TlsOptions tls = new TlsOptions();

    /** Runs the moves on {@code map} (the layout {@code file} is the file's). */
    abstract NodeMoves.Result run(
        ClusterMap map, ClusterLayout file, NodeMoves.Options options, NodeMoves.Listener l)
        throws IOException;

    /** What the command does, for its first line. */
    abstract String what();

    @Override
    public Integer call() throws Exception {
      if (!Files.isRegularFile(map)) {
        throw new IllegalArgumentException("--map: no such file: " + map);
      }
      if (parallel < 1) {
        throw new IllegalArgumentException("--parallel must be >= 1: " + parallel);
      }
      ClusterLayout file = ClusterLayout.read(map);
      file.node(node);
      NodeMoves.Options options =
          NodeMoves.Options.of(AdminCommand.Base.secret(secretFile))
              .withParallelism(parallel)
              .withDeadline(AdminCommand.Base.seconds(deadlineSeconds, "--deadline"));
      if (tls.files().isPresent()) {
        options = options.withTls(tls.files().get());
      }
      check(file);
      PrintStream out = System.out;
      out.println(what());
      NodeProgressLines lines = new NodeProgressLines(out, System.console() != null);
      Watched watched = new Watched(lines);
      Thread interrupted = new Thread(() -> System.err.println(watched.interruptedLine()));
      Runtime.getRuntime().addShutdownHook(interrupted);
      NodeMoves.Result result;
      ClusterMap m =
          ClusterMaps.open(
              map, ReplicatedClusterMap.DEFAULT_READ_DEADLINE, tls.files().orElse(null));
      try {
        result = run(m, file, options.excluding(excluded()), watched);
      } finally {
        lines.finish();
        AdminCommand.Base.removeHook(interrupted);
        if (m instanceof ReplicatedClusterMap r) {
          r.close();
        }
      }
      if (!file.replicated() && result.layout().version() > file.version()) {
        result.layout().write(map);
        out.println("map " + map + " is at version " + result.layout().version());
      } else if (file.replicated()) {
        out.println(
            "map "
                + ClusterLayout.metaGroupName(file.cluster())
                + " is at version "
                + result.layout().version());
        Optional<Move> metaMove = metaMoved(result);
        if (metaMove.isPresent()) {
          rewriteMetaLine(result, metaMove.get(), out);
        }
      }
      return report(result, out);
    }

    /** The metadata group's move, if it was planned and done. */
    static Optional<Move> metaMoved(NodeMoves.Result r) {
      return r.groups().stream()
          .filter(g -> g.move().meta() && g.state() == State.DONE)
          .map(GroupProgress::move)
          .findFirst();
    }

    /**
     * After the metadata group's replica moved: the file's {@code meta} line must name the new
     * node, as the nodes and clients that open the file find the group through it (they still do
     * while one node it names is a member, but after a second such move none may be). Writes the
     * metadata group's layout (which records the move) to the file; if the move was not recorded
     * (the group did not answer), says what to change by hand.
     */
    void rewriteMetaLine(NodeMoves.Result r, Move mv, PrintStream out) throws IOException {
      ClusterLayout after = r.layout();
      if (after.meta().contains(mv.to()) && !after.meta().contains(mv.from())) {
        after.write(map);
        out.println(
            "map "
                + map
                + " rewritten at version "
                + after.version()
                + ": meta "
                + String.join(",", after.meta()));
      } else {
        System.err.println(
            "ferry: the metadata group's replica moved from "
                + mv.from()
                + " to "
                + mv.to()
                + " but the map did not record it: write "
                + mv.to()
                + " in place of "
                + mv.from()
                + " on the 'meta' line of "
                + map);
      }
    }

    /** Checks the arguments against the map file before any request (exit 2 on a problem). */
    void check(ClusterLayout file) {}

    /** Nodes a drain does not pick. */
    Set<String> excluded() {
      return Set.of();
    }

    /** The end: every group's outcome; 0 if all are done, else 1 listing the failed ones. */
    static int report(NodeMoves.Result r, PrintStream out) {
      out.println(
          "node "
              + r.node()
              + ": "
              + (r.groups().size() - r.failed().size())
              + " of "
              + r.groups().size()
              + " group(s) moved in "
              + AdminCommand.Status.seconds(r.took()));
      if (r.failed().isEmpty()) {
        return 0;
      }
      for (GroupProgress g : r.failed()) {
        System.err.println(
            "ferry: "
                + g.move().group()
                + " ("
                + g.move().from()
                + " -> "
                + g.move().to()
                + ") failed: "
                + g.failure().orElse("?"));
      }
      System.err.println(
          "ferry: "
              + r.failed().size()
              + " move(s) failed; run the same command again to finish what is left");
      return 1;
    }
  }

  /** The listener the command gives: the progress lines, and what Ctrl-C should say. */
  static final class Watched implements NodeMoves.Listener {
    private final NodeProgressLines lines;
    private volatile NodeProgress last;

    Watched(NodeProgressLines lines) {
      this.lines = lines;
    }

    @Override
    public void planned(List<Move> moves) {
      lines.planned(moves);
    }

    @Override
    public void step(Move move, String line) {
      lines.step(move, line);
    }

    @Override
    public void progress(GroupProgress group, NodeProgress node) {
      last = node;
      lines.progress(group, node);
    }

    String interruptedLine() {
      return interruptedLine(last);
    }

    /**
     * What Ctrl-C prints: the moves that were running go on at their groups' leaders, the queued
     * ones were not started; running the command again finishes them and updates the map.
     */
    static String interruptedLine(NodeProgress n) {
      if (n == null) {
        return System.lineSeparator() + "interrupted: no move was started; nothing changed";
      }
      List<String> running = new ArrayList<>();
      Set<String> notStarted = new TreeSet<>();
      for (GroupProgress g : n.groups()) {
        if (g.state() == State.INSTALLING || g.state() == State.REMOVING) {
          running.add(g.move().group());
        } else if (g.state() == State.QUEUED) {
          notStarted.add(g.move().group());
        }
      }
      return System.lineSeparator()
          + "interrupted: "
          + n.done()
          + " of "
          + n.groups().size()
          + " group(s) moved; "
          + (running.isEmpty()
              ? ""
              : "the moves of "
                  + running
                  + " go on at their groups' leaders (each group's membership record holds its"
                  + " move, a next leader finishes it too); ")
          + (notStarted.isEmpty() ? "" : notStarted + " not started; ")
          + "run this command again to finish what is left and update the map";
    }
  }

  @Command(
      name = "replace",
      description =
          "Replace a node (it may be down): every range with a replica on it gets one on the new"
              + " node instead, many groups at once, each installing from its own replicas at"
              + " priority repair; each move is one membership change run by the group's leader"
              + " (docs/scale-out.md). The map is updated (a replicated map after each move, a"
              + " file once at the end). Exit 1 if any group failed; running it again finishes"
              + " what is left.")
  static final class Replace extends Base {
    @Option(
        names = "--with",
        required = true,
        paramLabel = "ID[=HOST:RAFTPORT:PORT]",
        description =
            "The new node: a node of the map, or id=host:raftPort[:port] to add it to the map.")
    String with;

    @Option(
        names = "--ignore-zones",
        description =
            "Replace even if the new node is in a zone where another replica of a range it takes"
                + " already is (refused by default when the map has zone labels).")
    boolean ignoreZones;

    PeerAddress target(ClusterLayout file) {
      return with.contains("=") ? PeerAddress.parse(with) : file.node(with);
    }

    @Override
    void check(ClusterLayout file) {
      PeerAddress t = target(file);
      if (t.id().equals(node)) {
        throw new IllegalArgumentException("--with: a node cannot replace itself: " + node);
      }
    }

    @Override
    String what() {
      return "replacing " + node + " with " + with + " (--parallel " + parallel + ")";
    }

    @Override
    NodeMoves.Result run(
        ClusterMap m, ClusterLayout file, NodeMoves.Options options, NodeMoves.Listener l)
        throws IOException {
      return NodeMoves.replace(
          m, node, target(file), ignoreZones ? options.allowingSharedZones() : options, l);
    }
  }

  @Command(
      name = "drain",
      description =
          "Drain a node: every range with a replica on it moves it to the least loaded node not"
              + " holding the range (in distinct zones when the map's zone labels allow), many"
              + " groups at once, at priority rebalance. The map is updated as for replace. Exit"
              + " 1 if any group failed; running it again finishes what is left.")
  static final class Drain extends Base {
    @Option(
        names = "--exclude",
        split = ",",
        paramLabel = "ID",
        description = "Nodes never picked as targets (e.g. nodes that are down).")
    List<String> exclude = new ArrayList<>();

    @Override
    void check(ClusterLayout file) {
      exclude.forEach(file::node);
    }

    @Override
    Set<String> excluded() {
      return Set.copyOf(exclude);
    }

    @Override
    String what() {
      return "draining " + node + " (--parallel " + parallel + ")";
    }

    @Override
    NodeMoves.Result run(
        ClusterMap m, ClusterLayout file, NodeMoves.Options options, NodeMoves.Listener l)
        throws IOException {
      return NodeMoves.drain(m, node, options, l);
    }
  }
}
