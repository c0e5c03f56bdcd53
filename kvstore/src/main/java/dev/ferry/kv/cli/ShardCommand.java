package dev.ferry.kv.cli;

import dev.ferry.kv.shard.ClusterLayout;
import dev.ferry.kv.shard.ClusterMap;
import dev.ferry.kv.shard.KeyText;
import dev.ferry.kv.shard.Range;
import dev.ferry.kv.shard.ReplicatedClusterMap;
import dev.ferry.kv.shard.StaticClusterMap;
import dev.ferry.raft.TlsFiles;
import dev.ferry.shipping.PeerAddress;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code ferry shard create|print|validate|locate}: the cluster map (descriptor file) of a sharded
 * cluster (docs/scale-out.md). Output goes to picocli's writer (the CLI's stdout); a bad argument
 * or a bad descriptor is a one-line error and exit status 2.
 */
@Command(
    name = "shard",
    description = "Create, print and check the cluster map (descriptor) of a sharded cluster.",
    subcommands = {
      ShardCommand.Create.class,
      ShardCommand.Print.class,
      ShardCommand.Validate.class,
      ShardCommand.Locate.class
    })
final class ShardCommand {

  /**
   * Reads a descriptor for a command.
   *
   * @throws IllegalArgumentException naming the file (and the line) if it is unreadable or bad
   */
  static StaticClusterMap readMap(Path file) {
    try {
      return StaticClusterMap.read(file);
    } catch (NoSuchFileException e) {
      throw new IllegalArgumentException(
          "cannot read the cluster map " + file + ": no such file", e);
    } catch (IOException e) {
      throw new IllegalArgumentException("cannot read the cluster map " + file + ": " + e, e);
    }
  }

  /**
   * Opens the map of a descriptor for a client: replicated if it has a {@code meta} line (the
   * caller closes it), else the file's.
   *
   * @throws IllegalArgumentException naming the file (and the line) if it is unreadable or bad
   */
  static ClusterMap openMap(Path file, TlsFiles tls) {
    ClusterLayout l = readMap(file).current();
    return l.replicated()
        ? ReplicatedClusterMap.connect(l, ReplicatedClusterMap.DEFAULT_READ_DEADLINE, tls)
        : readMap(file);
  }

  static String key(byte[] key) {
    return key.length == 0 ? "-" : KeyText.encode(key);
  }

  /** A subcommand reading {@code --map}. */
  abstract static class MapCommand implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--map", required = true, paramLabel = "FILE", description = "The map.")
    Path map;

    PrintWriter out() {
      return spec.commandLine().getOut();
    }
  }

  /**
   * A subcommand that shows the cluster's current map: the file's, or, for a file with a {@code
   * meta} line, the metadata group's (the file's when the group does not answer, said so).
   */
  abstract static class CurrentMapCommand extends MapCommand {
    @Mixin TlsOptions tls = new TlsOptions();

    /** The layout to show, after printing where it comes from for a replicated map. */
    ClusterLayout layout() {
      ClusterLayout file = readMap(map).current();
      if (!file.replicated()) {
        return file;
      }
      try (ReplicatedClusterMap m =
          ReplicatedClusterMap.connect(
              file, ReplicatedClusterMap.DEFAULT_READ_DEADLINE, tls.files().orElse(null))) {
        ReplicatedClusterMap.Stored s = m.read();
        if (s.layout() == null) {
          out().println("replicated map: the metadata group holds none yet; the file's:");
          return file;
        }
        out().println("replicated map: version " + s.version() + " from the metadata group");
        return s.layout();
      } catch (IOException e) {
        out()
            .println(
                "replicated map: the metadata group did not answer ("
                    + e.getMessage()
                    + "); the file's version "
                    + file.version()
                    + ":");
        return file;
      }
    }
  }

  @Command(
      name = "create",
      description =
          "Create a cluster map: N ranges (from split keys, or evenly over a sample of keys), "
              + "replicas placed evenly over the nodes.")
  static final class Create implements Callable<Integer> {
    @Spec CommandSpec spec;

    @Option(names = "--cluster", defaultValue = "ferry", description = "Cluster name.")
    String cluster;

    @Option(names = "--ranges", required = true, description = "Number of ranges.")
    int ranges;

    @Option(
        names = "--replication",
        defaultValue = "3",
        description = "Replicas per range (default ${DEFAULT-VALUE}).")
    int replication;

    @Option(
        names = "--nodes",
        required = true,
        arity = "1..*",
        split = ",",
        paramLabel = "ID=HOST:RAFTPORT[:SERVICEPORT]",
        description = "The nodes (space- or comma-separated).")
    List<String> nodes;

    @Option(
        names = "--zones",
        arity = "1..*",
        split = ",",
        paramLabel = "ID=ZONE",
        description =
            "Zone labels of nodes (space- or comma-separated): each range's replicas go to"
                + " distinct zones when there are enough; a node without one is a zone of its own.")
    List<String> zones;

    @Option(
        names = "--split-keys",
        split = ",",
        paramLabel = "KEY",
        description = "Where ranges 1..N-1 start (UTF-8 keys, increasing): N-1 of them.")
    List<String> splitKeys;

    @Option(
        names = "--sample",
        paramLabel = "FILE",
        description = "Keys to split evenly over, one UTF-8 key a line (instead of --split-keys).")
    Path sample;

    @Option(
        names = "--out",
        paramLabel = "FILE",
        description = "Write the map there (default: print it).")
    Path outFile;

    @Override
    public Integer call() throws IOException {
      if (ranges < 1) {
        throw new IllegalArgumentException("--ranges must be >= 1: " + ranges);
      }
      List<PeerAddress> peers = new ArrayList<>();
      for (String n : nodes) {
        peers.add(PeerAddress.parse(n));
      }
      ClusterLayout layout =
          ClusterLayout.create(cluster, peers, splitKeys(), replication, zones(peers));
      PrintWriter out = spec.commandLine().getOut();
      if (outFile == null) {
        out.print(layout.format());
      } else {
        layout.write(outFile);
        out.println("wrote " + outFile + ": " + summary(layout));
      }
      out.flush();
      return 0;
    }

    /**
     * The {@code --zones} labels by node id.
     *
     * @throws IllegalArgumentException naming the entry: not {@code ID=ZONE}, a node not in {@code
     *     --nodes}, or a node twice
     */
    private Map<String, String> zones(List<PeerAddress> peers) {
      Map<String, String> out = new LinkedHashMap<>();
      if (zones == null) {
        return out;
      }
      Set<String> ids = new HashSet<>();
      peers.forEach(p -> ids.add(p.id()));
      for (String z : zones) {
        int eq = z.indexOf('=');
        if (eq <= 0) {
          throw new IllegalArgumentException("--zones: '" + z + "' is not ID=ZONE");
        }
        String id = z.substring(0, eq);
        String zone = z.substring(eq + 1);
        if (!ids.contains(id)) {
          throw new IllegalArgumentException("--zones: node " + id + " is not in --nodes");
        }
        if (out.containsKey(id)) {
          throw new IllegalArgumentException("--zones: node " + id + " has two zones");
        }
        out.put(id, zone); // the label itself is checked by ClusterLayout.create
      }
      return out;
    }

    private List<byte[]> splitKeys() {
      if (splitKeys != null && sample != null) {
        throw new IllegalArgumentException("give --split-keys or --sample, not both");
      }
      if (splitKeys != null) {
        if (splitKeys.size() != ranges - 1) {
          throw new IllegalArgumentException(
              "--split-keys gives "
                  + splitKeys.size()
                  + " keys, "
                  + (splitKeys.size() + 1)
                  + " ranges; --ranges says "
                  + ranges);
        }
        return splitKeys.stream().map(KvCommand::utf8).toList();
      }
      if (sample != null) {
        return ClusterLayout.splitKeysFromSample(sampleKeys(), ranges);
      }
      if (ranges > 1) {
        throw new IllegalArgumentException(
            "--ranges " + ranges + " needs --split-keys (N-1 keys) or --sample FILE");
      }
      return List.of();
    }

    private List<byte[]> sampleKeys() {
      try {
        return Files.readAllLines(sample, StandardCharsets.UTF_8).stream()
            .map(KvCommand::utf8)
            .toList();
      } catch (IOException e) {
        throw new IllegalArgumentException("cannot read --sample " + sample + ": " + e, e);
      }
    }
  }

  @Command(name = "print", description = "Print a cluster map as a table, with each node's load.")
  static final class Print extends CurrentMapCommand {
    @Override
    public Integer call() {
      ClusterLayout l = layout();
      PrintWriter out = out();
      out.println(summary(l));
      out.println(
          String.format(
              Locale.ROOT,
              "%-6s %-20s %-20s %-20s %s",
              "RANGE",
              "START",
              "END",
              "GROUP",
              "REPLICAS (first first)"));
      for (Range r : l.ranges()) {
        out.println(
            String.format(
                Locale.ROOT,
                "%-6d %-20s %-20s %-20s %s",
                r.index(),
                key(r.start()),
                r.end() == null ? "-" : key(r.end()),
                r.group(),
                String.join(",", r.replicas())));
      }
      out.println(
          String.format(Locale.ROOT, "%-6s %-24s %-9s %s", "NODE", "ADDRESS", "REPLICAS", "FIRST"));
      for (Map.Entry<String, ClusterLayout.Load> e : l.loadPerNode().entrySet()) {
        out.println(
            String.format(
                Locale.ROOT,
                "%-6s %-24s %-9d %d",
                e.getKey(),
                l.node(e.getKey()).raftAddress(),
                e.getValue().replicas(),
                e.getValue().firstReplicas()));
      }
      out.flush();
      return 0;
    }
  }

  @Command(
      name = "validate",
      description = "Check a cluster map; exit 0 if it is whole, 2 naming the first problem.")
  static final class Validate extends MapCommand {
    @Override
    public Integer call() {
      ClusterLayout l = readMap(map).current();
      out().println("OK " + map + ": " + summary(l));
      out().flush();
      return 0;
    }
  }

  @Command(name = "locate", description = "Print the range, group and replicas of a key.")
  static final class Locate extends CurrentMapCommand {
    @Parameters(index = "0", paramLabel = "KEY", description = "A UTF-8 key.")
    String key;

    @Override
    public Integer call() {
      ClusterLayout l = layout();
      Range r = l.rangeFor(KvCommand.utf8(key));
      out()
          .println(
              "range "
                  + r.index()
                  + " ["
                  + key(r.start())
                  + ", "
                  + (r.end() == null ? "-" : key(r.end()))
                  + ") group "
                  + r.group()
                  + " replicas "
                  + String.join(",", r.replicas()));
      out().flush();
      return 0;
    }
  }

  static String summary(ClusterLayout l) {
    return "cluster "
        + l.cluster()
        + ", map version "
        + l.version()
        + ", "
        + l.ranges().size()
        + " ranges, replication "
        + l.replication()
        + ", "
        + l.nodes().size()
        + " nodes";
  }
}
