package dev.ferry.bench.groups;

import dev.ferry.kv.KvClient;
import dev.ferry.kv.KvStateMachine;
import dev.ferry.raft.ClusterSecret;
import dev.ferry.raft.FerryNode;
import dev.ferry.raft.GroupSpec;
import dev.ferry.shipping.FreePorts;
import dev.ferry.shipping.PeerAddress;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.function.Consumer;

/**
 * The create/remove churn of the groups-per-node benchmark: three {@link FerryNode}s in this JVM on
 * loopback; {@code cycles} times a group is added on all three, written to, and removed from all
 * three ({@link FerryNode#removeGroup} with its storage deleted). Every {@value #EVERY} cycles (and
 * before the first) it samples, after two full collections, the JVM's direct buffer pool, what
 * Ratis's Netty counts as direct memory, the live threads and the heap in use. Not thread-safe: one
 * run per instance.
 */
final class GroupChurn {
  /** Cycles between samples. */
  static final int EVERY = 10;

  private final Path dir;
  private final String prefix;
  private final Duration[] election;
  private final Map<String, String> raftProperties;
  private final Duration timeout;
  private final List<FerryNode> nodes = new ArrayList<>();
  private final List<Map<String, Object>> samples = new ArrayList<>();
  private final List<Double> cycleMillis = new ArrayList<>();

  /** Runs a cycle's step on the three nodes at once. */
  private final ExecutorService pool = Executors.newFixedThreadPool(3);

  GroupChurn(
      Path dir,
      String prefix,
      Duration[] election,
      Map<String, String> raftProperties,
      Duration timeout) {
    this.dir = dir;
    this.prefix = prefix;
    this.election = election.clone();
    this.raftProperties = Map.copyOf(raftProperties);
    this.timeout = timeout;
  }

  /**
   * Runs {@code cycles} cycles, handing each new sample to {@code onSample} (so the caller can
   * write results as they come). Closes the nodes at the end, also on failure.
   *
   * @throws IOException if a node cannot start or a cycle fails (samples taken so far stay)
   */
  void run(int cycles, Consumer<List<Map<String, Object>>> onSample) throws Exception {
    try {
      ClusterSecret secret = ClusterSecret.random();
      int[] ports = FreePorts.pick(6);
      List<PeerAddress> peers = new ArrayList<>();
      for (int i = 0; i < 3; i++) {
        peers.add(new PeerAddress("c" + (i + 1), "127.0.0.1", ports[2 * i], ports[2 * i + 1]));
      }
      for (PeerAddress p : peers) {
        FerryNode.Builder b =
            FerryNode.builder()
                .self(p)
                .dataDir(dir.resolve(p.id()))
                .clusterSecret(secret)
                .electionTimeout(election[0], election[1]);
        raftProperties.forEach(b::property);
        nodes.add(b.build().start());
      }
      for (int c = 0; c <= cycles; c++) {
        if (c % EVERY == 0 || c == cycles) {
          samples.add(sample(c));
          onSample.accept(samples());
        }
        if (c < cycles) {
          cycle(GroupsNode.groupName(prefix, c), peers);
        }
      }
    } finally {
      pool.shutdownNow();
      for (FerryNode n : nodes) {
        try {
          n.close();
        } catch (IOException | RuntimeException e) {
          closeFailures.add(n.self().id() + ": " + e);
        }
      }
    }
  }

  private final List<String> closeFailures = new ArrayList<>();

  /** What went wrong closing the nodes (nothing when all closed cleanly). */
  List<String> closeFailures() {
    return List.copyOf(closeFailures);
  }

  /** The samples taken so far. */
  List<Map<String, Object>> samples() {
    return List.copyOf(samples);
  }

  /** Each finished cycle's wall time, milliseconds. */
  List<Double> cycleMillis() {
    return List.copyOf(cycleMillis);
  }

  private void cycle(String name, List<PeerAddress> peers) throws IOException {
    long t0 = System.nanoTime();
    // Added on, and removed from, the three nodes at once, as an operator's tool would.
    onEveryNode("adding " + name, n -> n.addGroup(GroupSpec.of(name, peers, new KvStateMachine())));
    try (KvClient c = KvClient.connect(name, peers, timeout)) {
      for (int k = 0; k < 3; k++) {
        c.put(bytes(name + "-k" + k), bytes("v" + k));
      }
    }
    onEveryNode("removing " + name, n -> n.removeGroup(name, FerryNode.Removal.DELETE));
    cycleMillis.add((System.nanoTime() - t0) / 1e6);
  }

  /** What a cycle does on one node. */
  @FunctionalInterface
  private interface NodeAction {
    void run(FerryNode node) throws IOException;
  }

  /** Runs {@code action} on every node at once; returns when all are done. */
  private void onEveryNode(String what, NodeAction action) throws IOException {
    List<CompletableFuture<Void>> all = new ArrayList<>();
    for (FerryNode n : nodes) {
      all.add(
          CompletableFuture.runAsync(
              () -> {
                try {
                  action.run(n);
                } catch (IOException e) {
                  throw new UncheckedIOException(e);
                }
              },
              pool));
    }
    try {
      CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).join();
    } catch (CompletionException e) {
      throw new IOException(what + " failed", e.getCause());
    }
  }

  private static byte[] bytes(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  /** The figures after two full collections (direct buffers are freed when collected). */
  static Map<String, Object> sample(int cycle) throws InterruptedException {
    for (int i = 0; i < 2; i++) {
      System.gc();
      Thread.sleep(200); // the Cleaner frees collected direct buffers on its own thread
    }
    Map<String, Object> s = new LinkedHashMap<>();
    s.put("cycle", cycle);
    for (BufferPoolMXBean b : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class)) {
      if (b.getName().equals("direct")) {
        s.put("direct_bytes", b.getMemoryUsed());
        s.put("direct_buffers", b.getCount());
      }
    }
    s.put("netty_direct_bytes", GroupsNode.nettyUsedDirectMemory());
    s.put("threads", ManagementFactory.getThreadMXBean().getThreadCount());
    s.put("heap_used_bytes", ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed());
    return s;
  }

  /**
   * The least-squares slope of {@code key} per cycle over the samples from cycle {@code from} on
   * (NaN with fewer than two).
   */
  static double slope(List<Map<String, Object>> samples, String key, int from) {
    List<double[]> xy = new ArrayList<>();
    for (Map<String, Object> s : samples) {
      int c = ((Number) s.get("cycle")).intValue();
      if (c >= from && s.get(key) instanceof Number v) {
        xy.add(new double[] {c, v.doubleValue()});
      }
    }
    int n = xy.size();
    if (n < 2) {
      return Double.NaN;
    }
    double mx = xy.stream().mapToDouble(p -> p[0]).average().orElseThrow();
    double my = xy.stream().mapToDouble(p -> p[1]).average().orElseThrow();
    double num = 0;
    double den = 0;
    for (double[] p : xy) {
      num += (p[0] - mx) * (p[1] - my);
      den += (p[0] - mx) * (p[0] - mx);
    }
    return num / den;
  }
}
