package dev.ferry.kv.cli;

import dev.ferry.raft.ClusterSecret;
import dev.ferry.raft.admin.AddProgress;
import dev.ferry.raft.admin.AddRequest;
import dev.ferry.raft.admin.AddResult;
import dev.ferry.raft.admin.AdminClient;
import dev.ferry.raft.admin.CancelRequest;
import dev.ferry.raft.admin.CancelResult;
import dev.ferry.raft.admin.MembershipCancelledException;
import dev.ferry.raft.admin.NodeStatus;
import dev.ferry.raft.admin.RemoveRequest;
import dev.ferry.raft.admin.RemoveResult;
import dev.ferry.shipping.PeerAddress;
import dev.ferry.shipping.install.InstallProgress;
import dev.ferry.shipping.install.TransferScheduler;
import dev.ferry.statemachine.MembershipChange;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/** {@code ferry admin add|remove|cancel|status}: membership through the nodes' admin services. */
@Command(
    name = "admin",
    description = "Cluster membership and status, through the nodes' admin services.",
    subcommands = {
      AdminCommand.Add.class,
      AdminCommand.Remove.class,
      AdminCommand.Cancel.class,
      AdminCommand.Status.class,
      MoveCommand.class,
      NodeMoveCommand.Replace.class,
      NodeMoveCommand.Drain.class,
      NodeStatusCommand.class
    })
final class AdminCommand {

  abstract static class Base implements Callable<Integer> {
    @Option(
        names = "--peers",
        required = true,
        description =
            "Members to reach: id=host:raftPort[:chunkPort],... (admin requests go to the chunk"
                + " port; an older id=host:raftPort:chunkPort:adminPort form is accepted, its"
                + " admin port ignored).")
    String peers;

    @Option(
        names = "--cluster",
        defaultValue = "ferry",
        description =
            "Cluster name, as the servers were started with (default ${DEFAULT-VALUE}): admin"
                + " requests name its Raft group, and a node of another cluster refuses them.")
    String cluster;

    @Option(
        names = "--secret-file",
        description = "File holding the cluster secret (or set FERRY_CLUSTER_SECRET).")
    Path secretFile;

    @Mixin TlsOptions tls = new TlsOptions();

    ClusterSecret secret() throws IOException {
      return secret(secretFile);
    }

    /** The secret in {@code file}, or else in the environment. */
    static ClusterSecret secret(Path file) throws IOException {
      if (file != null) {
        return ClusterSecret.fromFile(file);
      }
      return ClusterSecret.fromEnvironment(System.getenv())
          .orElseThrow(
              () ->
                  new IllegalArgumentException(
                      "no cluster secret: give --secret-file or set " + ClusterSecret.ENV));
    }

    AdminClient connect(PeerAddress p) throws IOException {
      return AdminClient.connect(
          p, AdminClient.groupId(cluster), secret(), tls.files().orElse(null), "ferry-cli");
    }

    /** The statuses of the members that answer, and the reasons of those that do not. */
    List<Object> statuses(List<PeerAddress> members) throws IOException {
      List<Object> out = new ArrayList<>();
      for (PeerAddress p : members) {
        try (AdminClient c = connect(p)) {
          out.add(c.status());
        } catch (IOException e) {
          out.add(p.id() + ": " + e.getMessage());
        }
      }
      return out;
    }

    /** A member to send a change to: the leader if one answers, else the first that answers. */
    PeerAddress coordinator(List<PeerAddress> members) throws IOException {
      PeerAddress first = null;
      for (Object o : statuses(members)) {
        if (o instanceof NodeStatus s) {
          PeerAddress p = members.stream().filter(m -> m.id().equals(s.id())).findFirst().get();
          if (s.role().equals("LEADER")) {
            return p;
          }
          if (first == null) {
            first = p;
          }
        }
      }
      if (first == null) {
        throw new IOException("no member's admin service answered: " + members);
      }
      return first;
    }

    static void removeHook(Thread hook) {
      try {
        Runtime.getRuntime().removeShutdownHook(hook);
      } catch (IllegalStateException alreadyShuttingDown) {
        // The hook runs: the JVM is exiting.
      }
    }

    static Duration seconds(long s, String what) {
      if (s < 1) {
        throw new IllegalArgumentException(what + " must be >= 1 second: " + s);
      }
      return Duration.ofSeconds(s);
    }
  }

  @Command(
      name = "add",
      description =
          "Add a node (already started with `ferry server --listener`) as a voter, after it has"
              + " installed a snapshot, caught up and its state digest matched the voters'.")
  static final class Add extends Base {
    @Option(
        names = "--node",
        required = true,
        description = "The node: id=host:raftPort[:chunkPort].")
    String node;

    @Option(
        names = "--deadline",
        defaultValue = "600",
        description = "Seconds the whole change may take (default ${DEFAULT-VALUE}).")
    long deadlineSeconds;

    @Override
    public Integer call() throws Exception {
      PeerAddress target = PeerAddress.parse(node);
      AddRequest request = new AddRequest(target, seconds(deadlineSeconds, "--deadline"));
      List<PeerAddress> members = PeerAddress.parseList(peers);
      PeerAddress via = coordinator(members);
      PrintStream out = System.out;
      out.println("adding " + target + " via " + via.id());
      AddResult r;
      // The add runs on the coordinator: interrupting this command does not stop it.
      Thread interrupted =
          new Thread(
              () ->
                  System.err.printf(
                      Locale.ROOT,
                      "%ninterrupted: the add of %s continues on %s; follow it with"
                          + " `ferry admin status`, or stop it with `ferry admin cancel`%n",
                      target.id(),
                      via.id()));
      Runtime.getRuntime().addShutdownHook(interrupted);
      try (AdminClient c = connect(via)) {
        r = add(c, request, out);
      } catch (MembershipCancelledException e) {
        System.err.println("ferry: " + e.getMessage());
        return 1;
      } finally {
        removeHook(interrupted);
      }
      out.println(summary(r));
      return 0;
    }

    static AddResult add(AdminClient c, AddRequest request, PrintStream out) throws IOException {
      ProgressLines lines = new ProgressLines(out);
      try {
        return c.add(request, lines::show);
      } finally {
        lines.finish();
      }
    }

    /** An add's progress as lines: its phases, and its install as a progress bar. */
    static final class ProgressLines {
      private final PrintStream out;
      private ProgressBar bar;
      private long shown;
      private AddProgress.Phase last;

      ProgressLines(PrintStream out) {
        this.out = out;
      }

      void show(AddProgress p) {
        if (p.install().isPresent()) {
          InstallProgress i = p.install().get();
          if (bar == null) {
            bar = new ProgressBar(out, "  installing", i.bytesWanted());
            shown = 0;
          }
          // A poll answered late must not move the bar back.
          shown = Math.max(shown, i.bytesDone());
          bar.update(
              "  installing", shown, i.bytesWanted(), "  from " + i.bytesPerSource().keySet());
        } else if (p.phase() != last) {
          finish();
          if (p.phase() != AddProgress.Phase.DONE) {
            out.println("  " + phaseLabel(p.phase()) + " ...");
          }
        }
        last = p.phase();
      }

      /** Ends the progress bar if one is shown. */
      void finish() {
        if (bar != null) {
          bar.finish(shown);
          bar = null;
        }
      }
    }

    static String phaseLabel(AddProgress.Phase p) {
      if (p == AddProgress.Phase.REMOVING) {
        return "removing the node it replaces";
      }
      return p.name().toLowerCase(Locale.ROOT).replace('_', ' ');
    }

    static String summary(AddResult r) {
      return String.format(
          Locale.ROOT,
          "%s is a voter: digest %s verified at index %d%n"
              + "  installed %.1f MiB from %s%n"
              + "  listener added and installed %d ms, caught up %d ms, verified %d ms,"
              + " promoted %d ms (total %d ms)",
          r.nodeId(),
          r.verified().digest().toHex().substring(0, 16),
          r.verified().index(),
          r.totalBytesShipped() / 1048576.0,
          r.bytesShipped().isEmpty() ? "(nothing: it needed no install)" : r.bytesShipped(),
          r.listenerAdded().toMillis(),
          r.caughtUp().toMillis(),
          r.verifiedIn().toMillis(),
          r.promoted().toMillis(),
          r.total().toMillis());
    }
  }

  @Command(
      name = "remove",
      description = "Remove a member (leadership moves away first if it leads); it then stops.")
  static final class Remove extends Base {
    @Option(names = "--node", required = true, description = "The id of the node to remove.")
    String node;

    @Option(
        names = "--deadline",
        defaultValue = "120",
        description = "Seconds the change may take (default ${DEFAULT-VALUE}).")
    long deadlineSeconds;

    @Override
    public Integer call() throws Exception {
      RemoveRequest request = new RemoveRequest(node, seconds(deadlineSeconds, "--deadline"));
      List<PeerAddress> members = PeerAddress.parseList(peers);
      List<PeerAddress> others = members.stream().filter(p -> !p.id().equals(node)).toList();
      PeerAddress via = coordinator(others.isEmpty() ? members : others);
      try (AdminClient c = connect(via)) {
        System.out.println(summary(c.remove(request)));
      }
      return 0;
    }

    /** What a removal did, in one line. */
    static String summary(RemoveResult r) {
      return String.format(
          Locale.ROOT,
          "%s: %s%s; leader now %s (%d ms)",
          r.nodeId(),
          r.outcome().name().toLowerCase(Locale.ROOT).replace('_', ' '),
          r.leadershipTransferred() ? " after moving leadership away" : "",
          r.leaderAfter(),
          r.duration().toMillis());
    }
  }

  @Command(
      name = "cancel",
      description =
          "Cancel the pending add (whoever drives it): the add fails, the node is removed and"
              + " stops. Exit 0 when cancelled or nothing was pending; 1 when refused (too late:"
              + " the node was verified; a remove; another node's change) or failed.")
  static final class Cancel extends Base {
    @Option(
        names = "--node",
        description =
            "The id of the node whose add to cancel (default: whichever add is pending); a"
                + " pending change about another node is left alone.")
    String node;

    @Option(
        names = "--deadline",
        defaultValue = "120",
        description =
            "Seconds the cancel may take, waiting for Ratis to drop its staging of the node"
                + " included (default ${DEFAULT-VALUE}).")
    long deadlineSeconds;

    @Override
    public Integer call() throws Exception {
      CancelRequest request =
          new CancelRequest(Optional.ofNullable(node), seconds(deadlineSeconds, "--deadline"));
      PeerAddress via = coordinator(PeerAddress.parseList(peers));
      PrintStream out = System.out;
      out.println(
          "cancelling the pending add"
              + (node == null ? "" : " of " + node)
              + " via "
              + via.id()
              + " (if the leader stages the node, this waits until Ratis drops it: up to its"
              + " staging timeout after the node stopped)");
      try (AdminClient c = connect(via)) {
        out.println(summary(c.cancel(request)));
      }
      return 0;
    }

    /** What {@code ferry admin cancel} prints once it is done. */
    static String summary(CancelResult r) {
      if (r.outcome() == CancelResult.Outcome.NOTHING_PENDING) {
        return "nothing to cancel: no membership change is pending";
      }
      MembershipChange c = r.change().orElseThrow();
      return String.format(
          Locale.ROOT,
          "cancelled: add of %s (change %s) cancelled by %s%s; %s is out of the configuration"
              + " and told to stop (undone in %s)",
          c.nodeId(),
          Long.toHexString(c.id()),
          c.cancelledBy(),
          r.addRan().map(d -> " after it ran " + Status.seconds(d)).orElse(""),
          c.nodeId(),
          Status.seconds(r.took()));
    }
  }

  @Command(
      name = "status",
      description =
          "Members, roles, applied index, digest at the last checkpoint and installs in progress"
              + " (rate, bytes left, ETA); --watch refreshes it.")
  static final class Status extends Base {
    @Option(
        names = "--watch",
        description = "Refresh every --interval seconds until interrupted (Ctrl-C).")
    boolean watch;

    @Option(
        names = "--interval",
        defaultValue = "2",
        description = "Seconds between refreshes with --watch (default ${DEFAULT-VALUE}).")
    long intervalSeconds;

    @Override
    public Integer call() throws Exception {
      List<PeerAddress> members = PeerAddress.parseList(peers);
      PrintStream out = System.out;
      if (!watch) {
        String table = render(statuses(members));
        out.print(table);
        return table.contains("\nleader: ") ? 0 : 1;
      }
      Duration interval = seconds(intervalSeconds, "--interval");
      boolean terminal = System.console() != null;
      while (true) {
        String table = render(statuses(members));
        // On a terminal the table is redrawn in place; piped, each refresh follows the last.
        out.print(terminal ? "\033[H\033[2J" : "\n");
        out.printf(
            Locale.ROOT,
            "%s  (every %d s, Ctrl-C to stop)%n",
            // The operator's wall clock, as a watch display shows it.
            java.time.LocalTime.now(java.time.ZoneId.systemDefault())
                .format(java.time.format.DateTimeFormatter.ofPattern("HH:mm:ss", Locale.ROOT)),
            interval.toSeconds());
        out.print(table);
        out.flush();
        Thread.sleep(interval.toMillis());
      }
    }

    /**
     * The status table: a row per member (or why it did not answer), then the configuration as the
     * leader (or else any member) knows it, the leader, the pending membership change and the nodes
     * the leader stages for a configuration change not yet committed.
     */
    static String render(List<Object> all) {
      StringBuilder b = new StringBuilder();
      b.append(
          String.format(
              Locale.ROOT,
              "%-8s %-9s %-6s %-10s %-10s %-28s %s%n",
              "node",
              "role",
              "term",
              "applied",
              "commit",
              "checkpoint (index digest)",
              "install"));
      Optional<NodeStatus> any = Optional.empty();
      Map<Long, String> digestAt = new TreeMap<>();
      List<String> mismatches = new ArrayList<>();
      for (Object o : all) {
        if (o instanceof NodeStatus s) {
          any = any.isPresent() && !s.role().equals("LEADER") ? any : Optional.of(s);
          String checkpoint =
              s.lastCheckpoint()
                  .map(c -> c.index() + " " + c.digest().toHex().substring(0, 16))
                  .orElse("-");
          s.lastCheckpoint()
              .ifPresent(
                  c -> {
                    String hex = c.digest().toHex();
                    String seen = digestAt.putIfAbsent(c.index(), hex);
                    if (seen != null && !seen.equals(hex)) {
                      mismatches.add(s.id() + " at checkpoint index " + c.index());
                    }
                  });
          b.append(
              String.format(
                  Locale.ROOT,
                  "%-8s %-9s %-6d %-10d %-10d %-28s %s%n",
                  s.id(),
                  s.role().toLowerCase(Locale.ROOT),
                  s.term(),
                  s.appliedIndex(),
                  s.commitIndex(),
                  checkpoint,
                  s.install().map(Status::install).orElse("-")));
        } else {
          b.append(o).append(" (unreachable)\n");
        }
      }
      for (String m : mismatches) {
        b.append("DIGEST MISMATCH: ").append(m).append('\n');
      }
      if (any.isEmpty()) {
        return b.toString();
      }
      b.append(
          "bad input since start (connections refused/closed as malformed; chunks quarantined):\n");
      for (Object o : all) {
        if (o instanceof NodeStatus n) {
          b.append(counters(n)).append('\n');
        }
      }
      b.append(
          "recovery since start (log hold floor; holds placed/expired; rebases; install alerts):\n");
      for (Object o : all) {
        if (o instanceof NodeStatus n) {
          b.append(recovery(n)).append('\n');
        }
      }
      b.append(
          "snapshot installs on the node, all its groups (running/max, queued; chunk bytes in"
              + " flight/budget; decoded chunks kept/pool):\n");
      for (Object o : all) {
        if (o instanceof NodeStatus n) {
          b.append(transfers(n));
        }
      }
      NodeStatus s = any.get();
      b.append("configuration (as ").append(s.id()).append(" knows it):\n");
      for (NodeStatus.Member m : s.members()) {
        b.append("  ").append(m.voter() ? "voter    " : "listener ").append(m.address());
        b.append('\n');
      }
      b.append("leader: ").append(s.leader().orElse("(none known)")).append('\n');
      b.append("pending membership change: ")
          .append(s.pending().map(Object::toString).orElse("none"))
          .append('\n');
      if (!s.staged().isEmpty()) {
        b.append("staged by the leader (a Ratis reconfiguration in progress; other changes wait): ")
            .append(String.join(", ", s.staged()))
            .append('\n');
      }
      return b.toString();
    }

    /** A duration in seconds: one decimal below 10 s, whole seconds above. */
    static String seconds(Duration d) {
      double s = d.toMillis() / 1000.0;
      return String.format(Locale.ROOT, s < 10 ? "%.1f s" : "%.0f s", s);
    }

    /** An install in progress: how far, how fast, what is left and when it should end. */
    static String install(InstallProgress i) {
      return String.format(
          Locale.ROOT,
          "index %d: %.1f/%.1f MiB, %.1f MiB/s, %.1f MiB left, ETA %s from %s",
          i.index(),
          i.bytesDone() / 1048576.0,
          i.bytesWanted() / 1048576.0,
          i.smoothedBytesPerSecond() / 1048576.0,
          i.bytesLeft() / 1048576.0,
          i.eta().map(Status::seconds).orElse("?"),
          i.bytesPerSource().keySet());
    }
  }

  /** One node's line of bad-input counters in {@code admin status}. */
  static String counters(NodeStatus n) {
    return n.counters()
        .map(
            c ->
                String.format(
                    Locale.ROOT,
                    "  %-8s service port %d/%d, quarantined %d",
                    n.id(),
                    c.refused(),
                    c.malformed(),
                    c.quarantined()))
        .orElse(String.format(Locale.ROOT, "  %-8s (not reported)", n.id()));
  }

  /**
   * A node's transfer scheduler in {@code admin status}: a line of figures, then a line per install
   * running (priority, for how long) and per install queued (its place in the queue, priority, how
   * long it has waited), as many as the node listed, and how many more there are.
   */
  static String transfers(NodeStatus n) {
    if (n.transfers().isEmpty()) {
      return String.format(Locale.ROOT, "  %-8s (not reported)%n", n.id());
    }
    NodeStatus.Transfers t = n.transfers().get();
    StringBuilder b = new StringBuilder();
    b.append(
        String.format(
            Locale.ROOT,
            "  %-8s %d/%s running, %d queued; in flight %s/%s; decoded %s/%s%n",
            n.id(),
            t.activeCount(),
            t.maxActiveInstalls() == Integer.MAX_VALUE
                ? "unlimited"
                : Integer.toString(t.maxActiveInstalls()),
            t.queuedCount(),
            mib(t.bytesInFlight()),
            t.bytesBudget() == Long.MAX_VALUE ? "unlimited" : mib(t.bytesBudget()),
            mib(t.decodedBytes()),
            t.decodedBudget() == Long.MAX_VALUE ? "unlimited" : mib(t.decodedBudget())));
    for (TransferScheduler.Install i : t.active()) {
      b.append(
          String.format(
              Locale.ROOT,
              "           running   %s (%s) for %s, %s in flight, %s decoded%n",
              i.who(),
              i.priority().label(),
              Status.seconds(i.since()),
              mib(i.bytesHeld()),
              mib(i.decodedBytes())));
    }
    more(b, t.activeCount() - t.active().size(), "running");
    for (int k = 0; k < t.queued().size(); k++) {
      TransferScheduler.Install i = t.queued().get(k);
      b.append(
          String.format(
              Locale.ROOT,
              "           queued %-3d %s (%s) waiting %s%n",
              k + 1,
              i.who(),
              i.priority().label(),
              Status.seconds(i.since())));
    }
    more(b, t.queuedCount() - t.queued().size(), "queued");
    return b.toString();
  }

  private static void more(StringBuilder b, int more, String what) {
    if (more > 0) {
      b.append(String.format(Locale.ROOT, "           ... and %d more %s%n", more, what));
    }
  }

  private static String mib(long bytes) {
    return String.format(Locale.ROOT, "%.1f MiB", bytes / 1048576.0);
  }

  /** One node's line of retention holds, rebases and install alerts in {@code admin status}. */
  static String recovery(NodeStatus n) {
    return n.recovery()
        .map(
            r ->
                String.format(
                    Locale.ROOT,
                    "  %-8s hold %s; holds %d/%d; rebases %d; alerts %d",
                    n.id(),
                    r.holdFloor() < 0 ? "none" : "after index " + r.holdFloor(),
                    r.holdsPlaced(),
                    r.holdExpiries(),
                    r.rebases(),
                    r.alerts()))
        .orElse(String.format(Locale.ROOT, "  %-8s (not reported)", n.id()));
  }

  private AdminCommand() {}
}
