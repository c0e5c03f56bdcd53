package dev.ferry.kv.cli;

import dev.ferry.kv.shard.ClusterLayout;
import dev.ferry.kv.shard.ClusterMaps;
import dev.ferry.kv.shard.Range;
import dev.ferry.kv.shard.ReplicatedClusterMap;
import dev.ferry.raft.admin.AddProgress;
import dev.ferry.raft.admin.ReplicaMover;
import dev.ferry.raft.admin.ReplicaMover.MoveRequest;
import dev.ferry.raft.admin.ReplicaMover.MoveResult;
import dev.ferry.shipping.PeerAddress;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code ferry admin move}: moves one replica of a range to another node (ReplicaMover). */
@Command(
    name = "move",
    description =
        "Move a range's replica from one node to another: the target hosts the range's group as a"
            + " listener, is added through the digest gate (verified install, digest checkpoint,"
            + " promotion), then the source is removed; the range keeps its replication factor"
            + " throughout. The move is one membership change run by the group's leader and"
            + " recorded in the group: once handed over it goes on there if this command is"
            + " interrupted (Ctrl-C), and a next leader finishes it. Safe to run again: it waits"
            + " for, or finishes, the move. Updates the map file (version + 1) once done.")
final class MoveCommand implements Callable<Integer> {
  @Option(names = "--map", required = true, paramLabel = "FILE", description = "The cluster map.")
  Path map;

  @Option(names = "--range", required = true, description = "The range's index.")
  int range;

  @Option(names = "--from", required = true, description = "The id of the node giving it up.")
  String from;

  @Option(names = "--to", required = true, description = "The id of the node taking it.")
  String to;

  @Option(
      names = "--deadline",
      defaultValue = "600",
      description = "Seconds the whole move may take (default ${DEFAULT-VALUE}).")
  long deadlineSeconds;

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
    ClusterLayout layout = layoutToCheck(ClusterLayout.read(map), System.out);
    Range r = layout.range(range);
    PeerAddress target = layout.node(to);
    layout.node(from);
    boolean mapDone = !r.replicas().contains(from) && r.replicas().contains(to);
    if (!mapDone) {
      // Checks the move against the map (from holds a replica, to holds none) before any request.
      layout.withReplicaMoved(range, from, to);
    }
    MoveRequest request =
        new MoveRequest(
            r.group(),
            layout.peers(r),
            from,
            target,
            AdminCommand.Base.seconds(deadlineSeconds, "--deadline"));
    ReplicaMover.Builder b = ReplicaMover.builder(AdminCommand.Base.secret(secretFile));
    tls.files().ifPresent(b::tls);
    PrintStream out = System.out;
    out.println("moving range " + range + " (" + r.group() + ") from " + from + " to " + to);
    AdminCommand.Add.ProgressLines lines = new AdminCommand.Add.ProgressLines(out);
    AtomicReference<String> leader = new AtomicReference<>();
    // The move runs at the group's leader once handed over: interrupting this command does not
    // stop it. One line says so (the JVM then exits with the signal's status, as `admin add`).
    Thread interrupted =
        new Thread(() -> System.err.println(interruptedLine(r, target, leader.get(), layout)));
    Runtime.getRuntime().addShutdownHook(interrupted);
    MoveResult result;
    try {
      result =
          b.build()
              .move(
                  request,
                  new ReplicaMover.Listener() {
                    @Override
                    public void step(String line) {
                      lines.finish();
                      out.println("  " + line);
                    }

                    @Override
                    public void handedOver(String via) {
                      leader.set(via);
                    }

                    @Override
                    public void progress(AddProgress p) {
                      lines.show(p);
                    }
                  });
    } finally {
      lines.finish();
      AdminCommand.Base.removeHook(interrupted);
    }
    result.added().ifPresent(a -> out.println(AdminCommand.Add.summary(a)));
    result.removed().ifPresent(x -> out.println(AdminCommand.Remove.summary(x)));
    out.println(
        r.group()
            + ": voters "
            + result.voters()
            + " (moved in "
            + result.took().toMillis()
            + " ms)");
    recordInMap(out);
    return 0;
  }

  /**
   * The layout the move is checked against: the file's for a static map; for a replicated map (the
   * file has a {@code meta} line) the metadata group's current one, or the file's if the group does
   * not answer (said on {@code out}).
   */
  private ClusterLayout layoutToCheck(ClusterLayout file, PrintStream out) {
    if (!file.replicated()) {
      return file;
    }
    try (ReplicatedClusterMap m =
        ReplicatedClusterMap.connect(
            file, ReplicatedClusterMap.DEFAULT_READ_DEADLINE, tls.files().orElse(null))) {
      ReplicatedClusterMap.Stored s = m.read();
      if (s.layout() != null) {
        return s.layout();
      }
    } catch (IOException e) {
      out.println(
          "the metadata group "
              + ClusterLayout.metaGroupName(file.cluster())
              + " did not answer ("
              + e.getMessage()
              + "); checking against "
              + map
              + " (version "
              + file.version()
              + ")");
    }
    return file;
  }

  /**
   * Records the finished move: in the metadata group for a replicated map (its reconciler records
   * it later if the group does not answer now), else in the map file (version + 1, replaced whole).
   */
  private void recordInMap(PrintStream out) throws IOException {
    Optional<ClusterLayout> recorded;
    try {
      recorded = ClusterMaps.recordMove(map, range, from, to, tls.files().orElse(null));
    } catch (IOException e) {
      out.println(
          "the move is done but the metadata group did not record it ("
              + e.getMessage()
              + "); its reconciler will, from the group's configuration");
      return;
    }
    if (recorded.isPresent()) {
      out.println(
          "map "
              + ClusterLayout.metaGroupName(recorded.get().cluster())
              + " is at version "
              + recorded.get().version());
      return;
    }
    ClusterLayout now = ClusterLayout.read(map);
    Range r = now.range(range);
    if (!r.replicas().contains(from) && r.replicas().contains(to)) {
      return;
    }
    ClusterLayout moved = now.withReplicaMoved(range, from, to);
    moved.write(map);
    out.println("map " + map + " is at version " + moved.version());
  }

  /**
   * What an interrupted move prints: whether it goes on at the group's leader (its change was
   * handed over: {@code leader} is set) and how to follow it, or that nothing was started.
   */
  static String interruptedLine(Range r, PeerAddress target, String leader, ClusterLayout layout) {
    if (leader == null) {
      return System.lineSeparator()
          + "interrupted: the move of "
          + r.group()
          + " was not handed to its leader yet; nothing changed that a new run does not pick up";
    }
    List<PeerAddress> peers = new ArrayList<>(layout.peers(r));
    peers.add(target);
    return System.lineSeparator()
        + "interrupted: the move of "
        + r.group()
        + " to "
        + target.id()
        + " goes on at the group's leader ("
        + leader
        + "; the group's membership record holds it, a next leader finishes it too); follow it"
        + " with `ferry admin status --cluster "
        + r.group()
        + " --peers "
        + String.join(",", peers.stream().map(PeerAddress::toString).toList())
        + "`, then run this move again to update the map";
  }
}
