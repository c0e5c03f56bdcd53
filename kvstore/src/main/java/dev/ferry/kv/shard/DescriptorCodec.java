package dev.ferry.kv.shard;

import dev.ferry.shipping.PeerAddress;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.CodingErrorAction;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;

/**
 * The cluster descriptor's text form (docs/scale-out.md, "The descriptor"): one item per line,
 * {@code #} comments and blank lines ignored.
 *
 * <pre>
 * format ferry-cluster-map 1
 * cluster ferry
 * version 1
 * replication 3
 * node n1=10.0.0.1:9000:9001 zone=a
 * ...
 * meta n1,n2,n3
 * range 0 - user5000 ferry.r0 n1,n2,n3
 * range 1 user5000 - ferry.r1 n2,n3,n4
 * </pre>
 *
 * <p>A range line is {@code range INDEX START END GROUP REPLICAS}: keys in {@link KeyText} form,
 * {@code -} for the first range's start (the empty key) and the last range's end (unbounded). The
 * header lines come once each, before the node lines, which come before the range lines. A node
 * line may end with {@code zone=ZONE} (its label); an optional {@code meta ID,ID,ID} line (3 or 5
 * node ids) after the node lines names the nodes of the metadata group (a replicated map). Parsing
 * checks each line as it reads it (an error names the line) and then the whole map ({@link
 * ClusterLayout}'s checks).
 */
final class DescriptorCodec {
  static final String FORMAT = "format ferry-cluster-map 1";
  static final long MAX_BYTES = 16L << 20;
  private static final String UNBOUNDED = "-";
  private static final String ZONE = "zone=";

  private DescriptorCodec() {}

  static String format(ClusterLayout l) {
    StringBuilder b = new StringBuilder();
    b.append("# Ferry cluster map (docs/scale-out.md). Keys: printable ASCII, other bytes %XX.\n");
    b.append(FORMAT).append('\n');
    b.append("cluster ").append(l.cluster()).append('\n');
    b.append("version ").append(l.version()).append('\n');
    b.append("replication ").append(l.replication()).append('\n');
    for (PeerAddress n : l.nodes()) {
      b.append("node ").append(n);
      String zone = l.zones().get(n.id());
      if (zone != null) {
        b.append(' ').append(ZONE).append(zone);
      }
      b.append('\n');
    }
    if (l.replicated()) {
      b.append("meta ").append(String.join(",", l.meta())).append('\n');
    }
    b.append("# range INDEX START END GROUP REPLICAS (first replica first)\n");
    for (Range r : l.ranges()) {
      b.append("range ")
          .append(r.index())
          .append(' ')
          .append(r.index() == 0 ? UNBOUNDED : KeyText.encode(r.start()))
          .append(' ')
          .append(r.end() == null ? UNBOUNDED : KeyText.encode(r.end()))
          .append(' ')
          .append(r.group())
          .append(' ')
          .append(String.join(",", r.replicas()))
          .append('\n');
    }
    return b.toString();
  }

  static ClusterLayout read(Path file) throws IOException {
    long size = Files.size(file);
    if (size > MAX_BYTES) {
      throw new IllegalArgumentException(
          file + ": " + size + " bytes, more than a cluster map may have (" + MAX_BYTES + ")");
    }
    String text;
    try {
      text =
          StandardCharsets.UTF_8
              .newDecoder()
              .onMalformedInput(CodingErrorAction.REPORT)
              .onUnmappableCharacter(CodingErrorAction.REPORT)
              .decode(ByteBuffer.wrap(Files.readAllBytes(file)))
              .toString();
    } catch (CharacterCodingException e) {
      throw new IllegalArgumentException(file + ": not UTF-8 text", e);
    }
    return parse(text, file.toString());
  }

  static void write(ClusterLayout l, Path file) throws IOException {
    Path dir = file.toAbsolutePath().getParent();
    Path tmp = Files.createTempFile(dir, file.getFileName().toString(), ".tmp");
    try {
      Files.writeString(tmp, format(l), StandardCharsets.UTF_8);
      Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    } finally {
      Files.deleteIfExists(tmp);
    }
  }

  static ClusterLayout parse(String text, String source) {
    return new Parser(source).parse(text);
  }

  /** Reads one descriptor, line by line; one use. */
  private static final class Parser {
    private final String source;
    private boolean sawFormat;
    private String cluster;
    private long version = -1;
    private int replication = -1;
    private final List<PeerAddress> nodes = new ArrayList<>();
    private final Set<String> nodeIds = new HashSet<>();
    private final List<Range> ranges = new ArrayList<>();
    private List<String> meta;
    private final Map<String, String> zones = new TreeMap<>();

    Parser(String source) {
      this.source = source;
    }

    ClusterLayout parse(String text) {
      String[] lines = text.split("\r?\n", -1);
      for (int i = 0; i < lines.length; i++) {
        String line = lines[i].strip();
        if (line.isEmpty() || line.startsWith("#")) {
          continue;
        }
        try {
          line(line);
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException(source + ":" + (i + 1) + ": " + e.getMessage(), e);
        }
      }
      try {
        if (!sawFormat) {
          throw new IllegalArgumentException("not a cluster map: no '" + FORMAT + "' line");
        }
        require(cluster != null, "no 'cluster' line");
        require(version >= 0, "no 'version' line");
        require(replication >= 0, "no 'replication' line");
        return new ClusterLayout(
            cluster, version, replication, nodes, ranges, meta == null ? List.of() : meta, zones);
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException(source + ": " + e.getMessage(), e);
      }
    }

    private void line(String line) {
      String[] w = line.split("\\s+");
      if (!sawFormat) {
        require(
            line.equals(FORMAT),
            "not a cluster map (or another version): the first line must be '" + FORMAT + "'");
        sawFormat = true;
        return;
      }
      switch (w[0]) {
        case "cluster" -> {
          words(w, 2, "cluster NAME");
          require(cluster == null, "a second 'cluster' line");
          cluster = w[1];
        }
        case "version" -> {
          words(w, 2, "version N");
          require(version < 0, "a second 'version' line");
          version = number(w[1], "version");
        }
        case "replication" -> {
          words(w, 2, "replication N");
          require(replication < 0, "a second 'replication' line");
          replication = (int) Math.min(Integer.MAX_VALUE, number(w[1], "replication"));
        }
        case "node" -> {
          String form = "node ID=HOST:RAFTPORT:SERVICEPORT [zone=ZONE]";
          require(
              w.length == 2 || (w.length == 3 && w[2].startsWith(ZONE)), "expected '" + form + "'");
          require(
              ranges.isEmpty() && meta == null, "node lines come before the meta and range lines");
          PeerAddress p = PeerAddress.parse(w[1]);
          require(nodeIds.add(p.id()), "node " + p.id() + " appears twice");
          nodes.add(p);
          if (w.length == 3) {
            String zone = w[2].substring(ZONE.length());
            ClusterLayout.checkZone(p.id(), zone, nodeIds);
            zones.put(p.id(), zone);
          }
        }
        case "meta" -> {
          words(w, 2, "meta ID,ID,ID");
          require(meta == null, "a second 'meta' line");
          require(ranges.isEmpty(), "the meta line comes before the range lines");
          List<String> ids = List.of(w[1].split(",", -1));
          ClusterLayout.checkMeta(ids, nodeIds);
          meta = ids;
        }
        case "range" -> range(w);
        default ->
            throw new IllegalArgumentException(
                "unknown line '"
                    + w[0]
                    + "' (expected cluster, version, replication, node, meta or range)");
      }
    }

    private void range(String[] w) {
      words(w, 6, "range INDEX START END GROUP REPLICAS");
      require(replication >= 0, "the 'replication' line comes before the range lines");
      long index = number(w[1], "range index");
      require(
          index == ranges.size(), "range " + index + " where range " + ranges.size() + " was due");
      byte[] start = w[2].equals(UNBOUNDED) ? new byte[0] : KeyText.decode(w[2]);
      byte[] end = w[3].equals(UNBOUNDED) ? null : KeyText.decode(w[3]);
      require(index == 0 || start.length > 0, "only range 0 starts at '-' (the empty key)");
      Range r = new Range((int) index, start, end, w[4], List.of(w[5].split(",", -1)));
      ranges.add(r);
      // Whether the last range is unbounded is checked with the whole map.
      ClusterLayout.checkRange(r.index(), ranges, nodeIds, replication, false);
    }

    private static void words(String[] w, int n, String form) {
      require(w.length == n, "expected '" + form + "'");
    }

    private static long number(String s, String what) {
      try {
        long v = Long.parseLong(s);
        require(v >= 0, what + " must be >= 0: " + s);
        return v;
      } catch (NumberFormatException e) {
        throw new IllegalArgumentException(what + " is not a number: '" + s + "'", e);
      }
    }

    private static void require(boolean ok, String problem) {
      if (!ok) {
        throw new IllegalArgumentException(problem);
      }
    }
  }
}
