package dev.ferry.kv.shard;

import dev.ferry.shipping.PeerAddress;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * One version of a sharded cluster's map: the key ranges (contiguous, together the whole key space
 * in byte-wise unsigned order), each range's Raft group and replica nodes, and every node's
 * addresses. A {@link ClusterMap} hands out the current one.
 *
 * <p>A value: immutable and validated at construction, so a layout in hand is always whole. Its
 * text form is the cluster descriptor (docs/scale-out.md, "The descriptor"): {@link #format},
 * {@link #parse}, {@link #read}, {@link #write}. Create one with {@link #create}.
 *
 * @param cluster the cluster name: 1-64 characters of {@code [A-Za-z0-9_-]}; range {@code i}'s
 *     group is {@code <cluster>.r<i>} when created here
 * @param version the map's version, {@code >= 1}; a changed map has a higher one (step 2's
 *     replicated map; a static map keeps the one it was created with)
 * @param replication the replication factor: every range has exactly this many replicas
 * @param nodes every node's id and addresses ({@link PeerAddress}: Raft port and service port)
 * @param ranges the ranges in key order, range {@code i} at position {@code i}
 * @param meta the nodes that host the cluster's metadata group {@code <cluster>.meta} ({@link
 *     #metaGroupName}), 3 or 5 distinct node ids; empty for a static map (no metadata group)
 * @param zones node labels: a node id's zone (1-64 characters of {@code [A-Za-z0-9_.-]}); a node
 *     without a zone is absent
 */
public record ClusterLayout(
    String cluster,
    long version,
    int replication,
    List<PeerAddress> nodes,
    List<Range> ranges,
    List<String> meta,
    Map<String, String> zones) {
  private static final Pattern CLUSTER = Pattern.compile("[A-Za-z0-9_-]{1,64}");
  private static final Pattern ZONE = Pattern.compile("[A-Za-z0-9_.-]{1,64}");

  /**
   * Copies and checks the layout.
   *
   * @throws IllegalArgumentException naming the first problem: a bad cluster name or version, no
   *     nodes or a node id twice, replication not 1..nodes, ranges that do not start at the empty
   *     key, leave a gap, overlap or stop short of unbounded, a range with another number of
   *     replicas than {@code replication} or on an unknown node, two ranges in one group, a meta
   *     list that is not 3 or 5 distinct nodes of the map, a zone of an unknown node or a bad zone
   */
  public ClusterLayout {
    Objects.requireNonNull(cluster, "cluster");
    if (!CLUSTER.matcher(cluster).matches()) {
      throw new IllegalArgumentException(
          "cluster name must be 1-64 characters of [A-Za-z0-9_-]: '" + cluster + "'");
    }
    if (version < 1) {
      throw new IllegalArgumentException("version must be >= 1: " + version);
    }
    nodes = List.copyOf(nodes);
    ranges = List.copyOf(ranges);
    meta = List.copyOf(meta);
    zones = java.util.Collections.unmodifiableMap(new java.util.TreeMap<>(zones));
    if (nodes.isEmpty()) {
      throw new IllegalArgumentException("a cluster map needs at least one node");
    }
    Set<String> ids = new HashSet<>();
    for (PeerAddress n : nodes) {
      if (!ids.add(n.id())) {
        throw new IllegalArgumentException("node " + n.id() + " appears twice");
      }
    }
    if (replication < 1 || replication > nodes.size()) {
      throw new IllegalArgumentException(
          "replication must be 1.." + nodes.size() + " (the number of nodes): " + replication);
    }
    if (ranges.isEmpty()) {
      throw new IllegalArgumentException("a cluster map needs at least one range");
    }
    Set<String> groups = new HashSet<>();
    for (int i = 0; i < ranges.size(); i++) {
      checkRange(i, ranges, ids, replication, true);
      if (!groups.add(ranges.get(i).group())) {
        throw new IllegalArgumentException(
            "range " + i + ": group " + ranges.get(i).group() + " holds another range too");
      }
    }
    checkMeta(meta, ids);
    zones.forEach((id, zone) -> checkZone(id, zone, ids));
  }

  /** A layout without a metadata group or zones: a static map's (see the canonical constructor). */
  public ClusterLayout(
      String cluster, long version, int replication, List<PeerAddress> nodes, List<Range> ranges) {
    this(cluster, version, replication, nodes, ranges, List.of(), Map.of());
  }

  /** Checks a meta list against the map's node ids (also used by the descriptor parser). */
  static void checkMeta(List<String> meta, Set<String> nodeIds) {
    if (meta.isEmpty()) {
      return;
    }
    if (meta.size() != 3 && meta.size() != 5) {
      throw new IllegalArgumentException(
          "the metadata group needs 3 or 5 nodes, not " + meta.size() + ": " + meta);
    }
    if (new HashSet<>(meta).size() != meta.size()) {
      throw new IllegalArgumentException("a node appears twice in meta " + meta);
    }
    for (String n : meta) {
      if (!nodeIds.contains(n)) {
        throw new IllegalArgumentException("meta: unknown node " + n);
      }
    }
  }

  /** Checks node {@code id}'s zone label (also used by the descriptor parser). */
  static void checkZone(String id, String zone, Set<String> nodeIds) {
    if (!nodeIds.contains(id)) {
      throw new IllegalArgumentException("a zone for unknown node " + id);
    }
    if (zone == null || !ZONE.matcher(zone).matches()) {
      throw new IllegalArgumentException(
          "node " + id + ": zone must be 1-64 characters of [A-Za-z0-9_.-]: '" + zone + "'");
    }
  }

  /** The name of {@code cluster}'s metadata group: {@code <cluster>.meta}. */
  public static String metaGroupName(String cluster) {
    return cluster + ".meta";
  }

  /** Whether this map names a metadata group (a {@code meta} line): a replicated map's layout. */
  public boolean replicated() {
    return !meta.isEmpty();
  }

  /** The addresses of the metadata group's nodes, in {@link #meta} order (empty if none). */
  public List<PeerAddress> metaPeers() {
    return meta.stream().map(this::node).toList();
  }

  /** This layout at another version (everything else the same). */
  public ClusterLayout withVersion(long newVersion) {
    return new ClusterLayout(cluster, newVersion, replication, nodes, ranges, meta, zones);
  }

  /**
   * Checks range {@code i} against its neighbour before it and the layout's nodes (also used by the
   * descriptor parser line by line, so that an error names its line, with {@code whole} false: the
   * range read last need not be the last one).
   */
  static void checkRange(
      int i, List<Range> ranges, Set<String> nodeIds, int replication, boolean whole) {
    Range r = ranges.get(i);
    if (r.index() != i) {
      throw new IllegalArgumentException(
          "range at position " + i + " has index " + r.index() + " (ranges go 0, 1, 2, ...)");
    }
    if (i == 0 && !r.startsAtEmptyKey()) {
      throw new IllegalArgumentException(
          "range 0 must start at the empty key (-), not " + KeyText.text(r.start()));
    }
    if (i > 0 && !ranges.get(i - 1).endsAt(r.start())) {
      Range before = ranges.get(i - 1);
      throw new IllegalArgumentException(
          "range "
              + i
              + " starts at "
              + KeyText.text(r.start())
              + " but range "
              + (i - 1)
              + " ends at "
              + (before.unboundedAbove() ? "- (unbounded)" : KeyText.text(before.end())));
    }
    if (whole && i == ranges.size() - 1 && !r.unboundedAbove()) {
      throw new IllegalArgumentException(
          "the last range ("
              + i
              + ") must be unbounded above (end -), not end at "
              + KeyText.text(r.end()));
    }
    if (r.replicas().size() != replication) {
      throw new IllegalArgumentException(
          "range "
              + i
              + " has "
              + r.replicas().size()
              + " replicas "
              + r.replicas()
              + ", the replication factor is "
              + replication);
    }
    for (String n : r.replicas()) {
      if (!nodeIds.contains(n)) {
        throw new IllegalArgumentException("range " + i + ": unknown node " + n);
      }
    }
  }

  /**
   * A new layout (version 1): {@code splitKeys.size() + 1} ranges, range {@code i} in group {@code
   * <cluster>.r<i>}, replicas placed evenly over {@code nodes} — each node gets ⌊⌋ or ⌈⌉ of the
   * same share of replicas and of first replicas. Without zone labels: {@link #create(String, List,
   * List, int, Map)} with none.
   *
   * @param cluster the cluster name
   * @param nodes the nodes (their order breaks placement ties)
   * @param splitKeys where ranges start, other than the first: non-empty, strictly increasing
   * @param replication replicas per range, 1..nodes
   * @throws IllegalArgumentException on a bad argument, naming it
   */
  public static ClusterLayout create(
      String cluster, List<PeerAddress> nodes, List<byte[]> splitKeys, int replication) {
    return create(cluster, nodes, splitKeys, replication, Map.of());
  }

  /**
   * A new layout (version 1) like {@link #create(String, List, List, int)}, with zone labels: each
   * range's replicas go to distinct zones when there are at least {@code replication} zones, else
   * to every zone, none getting two before each has one (a node without a label is a zone of its
   * own). Every node is still first replica of ⌊⌋ or ⌈⌉ of the same share of ranges; the replica
   * counts stay even within each zone, and over all nodes when the zones are of one size
   * (docs/scale-out.md, "Placement" and "Zones", says exactly what holds). The labels are kept in
   * the layout ({@link #zones}), so a later drain sees them.
   *
   * @param zones node id → zone label, for some or all of {@code nodes}
   * @throws IllegalArgumentException on a bad argument, naming it (a label of an unknown node or a
   *     bad label too)
   */
  public static ClusterLayout create(
      String cluster,
      List<PeerAddress> nodes,
      List<byte[]> splitKeys,
      int replication,
      Map<String, String> zones) {
    checkSplitKeys(splitKeys);
    List<String> ids = nodes.stream().map(PeerAddress::id).toList();
    Set<String> idSet = new HashSet<>(ids);
    zones.forEach((id, zone) -> checkZone(id, zone, idSet));
    List<List<String>> placed = Placement.place(splitKeys.size() + 1, ids, zones, replication);
    List<Range> ranges = new ArrayList<>();
    for (int i = 0; i <= splitKeys.size(); i++) {
      byte[] start = i == 0 ? new byte[0] : splitKeys.get(i - 1);
      byte[] end = i == splitKeys.size() ? null : splitKeys.get(i);
      ranges.add(new Range(i, start, end, groupName(cluster, i), placed.get(i)));
    }
    return new ClusterLayout(cluster, 1, replication, nodes, ranges, List.of(), zones);
  }

  /**
   * The split keys that cut {@code sample} (keys as stored, e.g. read from a running single-group
   * cluster or generated like the real ones) into {@code ranges} ranges holding about as many of
   * its distinct keys each: the distinct keys' quantiles. The empty key is never a split key.
   *
   * @throws IllegalArgumentException if {@code ranges < 1} or the sample has fewer distinct
   *     non-empty keys than {@code ranges}
   */
  public static List<byte[]> splitKeysFromSample(Collection<byte[]> sample, int ranges) {
    if (ranges < 1) {
      throw new IllegalArgumentException("ranges must be >= 1: " + ranges);
    }
    TreeSet<byte[]> distinct = new TreeSet<>(Arrays::compareUnsigned);
    for (byte[] k : sample) {
      if (k.length > 0) {
        distinct.add(k.clone());
      }
    }
    if (distinct.size() < ranges) {
      throw new IllegalArgumentException(
          "the sample has "
              + distinct.size()
              + " distinct non-empty keys; "
              + ranges
              + " ranges need at least as many");
    }
    List<byte[]> sorted = new ArrayList<>(distinct);
    List<byte[]> splits = new ArrayList<>(ranges - 1);
    for (int i = 1; i < ranges; i++) {
      splits.add(sorted.get((int) ((long) i * sorted.size() / ranges)));
    }
    return List.copyOf(splits);
  }

  /**
   * The layout of a cluster that is not sharded: one range (the whole key space) in the group named
   * {@code cluster} itself — the group a plain {@code ferry server --cluster NAME} runs — with a
   * replica on each of {@code nodes}. A {@link RoutingKvClient} over it behaves as a {@link
   * dev.ferry.kv.KvClient} of that cluster.
   *
   * @throws IllegalArgumentException on a bad name or no nodes
   */
  public static ClusterLayout singleGroup(String cluster, List<PeerAddress> nodes) {
    List<String> ids = nodes.stream().map(PeerAddress::id).toList();
    return new ClusterLayout(
        cluster, 1, ids.size(), nodes, List.of(new Range(0, new byte[0], null, cluster, ids)));
  }

  /** The group name of range {@code index} of {@code cluster}: {@code <cluster>.r<index>}. */
  public static String groupName(String cluster, int index) {
    return cluster + ".r" + index;
  }

  /** The range holding {@code key}. */
  public Range rangeFor(byte[] key) {
    Objects.requireNonNull(key, "key");
    int lo = 0;
    int hi = ranges.size() - 1;
    while (lo < hi) {
      int mid = (lo + hi + 1) >>> 1;
      if (ranges.get(mid).compareStartTo(key) <= 0) {
        lo = mid;
      } else {
        hi = mid - 1;
      }
    }
    return ranges.get(lo);
  }

  /**
   * The ranges that hold keys of {@code [from, to)} ({@code null}: unbounded), in key order.
   *
   * @throws IllegalArgumentException if {@code from >= to}
   */
  public List<Range> rangesOverlapping(byte[] from, byte[] to) {
    byte[] lower = from == null ? new byte[0] : from;
    if (to != null && Arrays.compareUnsigned(lower, to) >= 0) {
      return List.of();
    }
    int first = rangeFor(lower).index();
    int last = to == null ? ranges.size() - 1 : rangeBefore(to);
    return ranges.subList(first, last + 1);
  }

  /** The index of the range holding the greatest key below {@code to} (not empty). */
  private int rangeBefore(byte[] to) {
    Range r = rangeFor(to);
    return r.compareStartTo(to) == 0 && r.index() > 0 ? r.index() - 1 : r.index();
  }

  /**
   * The range at {@code index}.
   *
   * @throws IllegalArgumentException if there is none
   */
  public Range range(int index) {
    if (index < 0 || index >= ranges.size()) {
      throw new IllegalArgumentException(
          "no range " + index + ": the map has ranges 0.." + (ranges.size() - 1));
    }
    return ranges.get(index);
  }

  /**
   * The node {@code id}'s addresses.
   *
   * @throws IllegalArgumentException if the map has no such node
   */
  public PeerAddress node(String id) {
    for (PeerAddress n : nodes) {
      if (n.id().equals(id)) {
        return n;
      }
    }
    throw new IllegalArgumentException("no node " + id + " in the cluster map");
  }

  /**
   * This layout after a replica move: range {@code index}'s replica on node {@code from} is on node
   * {@code to} instead (at the same position in its replica order), and the version is one higher.
   *
   * @throws IllegalArgumentException if there is no such range, {@code from} holds none of its
   *     replicas, or {@code to} is not a node of the map or already holds one
   */
  public ClusterLayout withReplicaMoved(int index, String from, String to) {
    Range r = range(index);
    node(to);
    if (!r.replicas().contains(from)) {
      throw new IllegalArgumentException(
          from + " holds no replica of range " + index + " (" + r.replicas() + ")");
    }
    if (r.replicas().contains(to)) {
      throw new IllegalArgumentException(
          to + " already holds a replica of range " + index + " (" + r.replicas() + ")");
    }
    List<String> replicas = new ArrayList<>(r.replicas());
    replicas.set(replicas.indexOf(from), to);
    List<Range> moved = new ArrayList<>(ranges);
    moved.set(index, new Range(index, r.start(), r.end(), r.group(), replicas));
    return new ClusterLayout(cluster, version + 1, replication, nodes, moved, meta, zones);
  }

  /**
   * This layout with the metadata group's replica on {@code from} moved to {@code to} (at the same
   * place of the {@code meta} line), and the version one higher: what a replacement or drain of a
   * meta node records once the metadata group's own membership changed.
   *
   * @throws IllegalArgumentException if this map has no {@code meta} line, {@code from} is not on
   *     it, or {@code to} is not a node of the map or already on it
   */
  public ClusterLayout withMetaMoved(String from, String to) {
    node(to);
    if (!meta.contains(from)) {
      throw new IllegalArgumentException(from + " is not a metadata node (meta " + meta + ")");
    }
    if (meta.contains(to)) {
      throw new IllegalArgumentException(to + " is a metadata node already (meta " + meta + ")");
    }
    List<String> moved = new ArrayList<>(meta);
    moved.set(moved.indexOf(from), to);
    return new ClusterLayout(cluster, version + 1, replication, nodes, ranges, moved, zones);
  }

  /**
   * This layout with the {@code meta} line set to {@code newMeta} (in that order), and the version
   * one higher: what the metadata group's reconciler stores when the group's own configuration
   * disagrees with the line.
   *
   * @throws IllegalArgumentException if this map has no {@code meta} line, or {@code newMeta} is
   *     not 3 or 5 distinct nodes of the map
   */
  public ClusterLayout withMeta(List<String> newMeta) {
    if (meta.isEmpty()) {
      throw new IllegalArgumentException("the map of " + cluster + " has no meta line");
    }
    return new ClusterLayout(cluster, version + 1, replication, nodes, ranges, newMeta, zones);
  }

  /**
   * This layout with range {@code index}'s replicas set to {@code replicas} (in that order), and
   * the version one higher: what the metadata group's reconciler stores when a group's own
   * configuration disagrees with the map.
   *
   * @throws IllegalArgumentException if there is no such range, or the replicas are not {@link
   *     #replication} distinct nodes of the map
   */
  public ClusterLayout withReplicas(int index, List<String> replicas) {
    Range r = range(index);
    if (new HashSet<>(replicas).size() != replicas.size()) {
      throw new IllegalArgumentException("a node appears twice in " + replicas);
    }
    List<Range> changed = new ArrayList<>(ranges);
    changed.set(index, new Range(index, r.start(), r.end(), r.group(), replicas));
    return new ClusterLayout(cluster, version + 1, replication, nodes, changed, meta, zones);
  }

  /** The addresses of {@code range}'s replicas, in its replica order. */
  public List<PeerAddress> peers(Range range) {
    return range.replicas().stream().map(this::node).toList();
  }

  /**
   * How many replicas, and first replicas, a node holds.
   *
   * @param replicas the ranges it holds a replica of
   * @param firstReplicas the ranges whose first replica it holds
   */
  public record Load(int replicas, int firstReplicas) {}

  /**
   * Each node's {@link Load} (every node listed, in node order): the layout's balance, as {@code
   * ferry shard print} shows it.
   */
  public Map<String, Load> loadPerNode() {
    Map<String, int[]> counts = new LinkedHashMap<>();
    for (PeerAddress n : nodes) {
      counts.put(n.id(), new int[2]);
    }
    for (Range r : ranges) {
      for (String n : r.replicas()) {
        counts.get(n)[0]++;
      }
      counts.get(r.firstReplica())[1]++;
    }
    Map<String, Load> out = new LinkedHashMap<>();
    counts.forEach((id, c) -> out.put(id, new Load(c[0], c[1])));
    return java.util.Collections.unmodifiableMap(out);
  }

  /**
   * Parses a descriptor.
   *
   * @param text the descriptor's text
   * @param source what to call it in errors (e.g. the file name)
   * @throws IllegalArgumentException {@code source:line: problem}, or {@code source: problem} for
   *     one of the whole map
   */
  public static ClusterLayout parse(String text, String source) {
    return DescriptorCodec.parse(text, source);
  }

  /**
   * Reads a descriptor file (at most 16 MiB of UTF-8).
   *
   * @throws IOException if it cannot be read
   * @throws IllegalArgumentException as {@link #parse}, naming the file
   */
  public static ClusterLayout read(Path file) throws IOException {
    return DescriptorCodec.read(file);
  }

  /** The descriptor's text: {@link #parse} gives back an equal layout. */
  public String format() {
    return DescriptorCodec.format(this);
  }

  /**
   * Writes the descriptor to {@code file} (replaced whole: written to a temporary file beside it,
   * then moved over it).
   *
   * @throws IOException if it cannot be written
   */
  public void write(Path file) throws IOException {
    DescriptorCodec.write(this, file);
  }

  private static void checkSplitKeys(List<byte[]> splitKeys) {
    for (int i = 0; i < splitKeys.size(); i++) {
      byte[] k = Objects.requireNonNull(splitKeys.get(i), "split key");
      if (k.length == 0) {
        throw new IllegalArgumentException(
            "split key " + (i + 1) + " is empty (the first range starts at the empty key)");
      }
      if (i > 0 && Arrays.compareUnsigned(splitKeys.get(i - 1), k) >= 0) {
        throw new IllegalArgumentException(
            "split keys must be strictly increasing (byte-wise unsigned): "
                + KeyText.text(splitKeys.get(i - 1))
                + " is followed by "
                + KeyText.text(k));
      }
    }
  }
}
