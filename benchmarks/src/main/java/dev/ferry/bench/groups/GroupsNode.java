package dev.ferry.bench.groups;

import dev.ferry.kv.KvStateMachine;
import dev.ferry.raft.ClusterSecret;
import dev.ferry.raft.FerryNode;
import dev.ferry.raft.GroupSpec;
import dev.ferry.shipping.PeerAddress;
import dev.ferry.shipping.metrics.NodeMetrics;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.apache.ratis.thirdparty.io.netty.util.internal.PlatformDependent;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One node of the groups-per-node benchmark, as its own process: a {@link FerryNode} hosting groups
 * {@code <cluster>.r0 .. <cluster>.r<G-1>} of the key-value state machine, each replicated on every
 * node of {@code --peers}, with its metrics endpoint on. Started by {@link GroupsPerNodeBenchmark}
 * through a {@code ProcessCluster} whose {@code ferry server} command it replaces: it takes the
 * same arguments ({@code --id --peers --data --cluster --secret-file --metrics-port
 * --metrics-bind}) and {@code --groups G}, {@code --election-ms MIN,MAX} and {@code --raft-property
 * key=value} (repeated; {@link FerryNode.Builder#property}). Runs until killed.
 *
 * <p>Besides the node's own series, its {@code /metrics} carries {@code
 * bench_netty_used_direct_memory_bytes}: the direct memory Ratis's (shaded) Netty counts itself, -1
 * when Netty does not count it (then its buffers come from {@code ByteBuffer.allocateDirect} and
 * are in the JVM's {@code direct} buffer pool, {@code jvm_buffer_pool_used_bytes{pool="direct"}}).
 */
public final class GroupsNode {
  private static final Logger LOG = LoggerFactory.getLogger(GroupsNode.class);

  private GroupsNode() {}

  /**
   * Starts the node and blocks until the process is killed.
   *
   * @throws IllegalArgumentException on a malformed or missing argument
   * @throws IOException if the node cannot start
   */
  public static void main(String[] args) throws Exception {
    String id = null;
    List<PeerAddress> peers = null;
    Path data = null;
    String cluster = null;
    Path secretFile = null;
    int metricsPort = -1;
    String metricsBind = "127.0.0.1";
    int groups = -1;
    Duration[] election = {Duration.ofMillis(1500), Duration.ofMillis(3000)};
    Map<String, String> raftProperties = new LinkedHashMap<>();
    for (int i = 0; i < args.length; i++) {
      String a = args[i];
      if (i + 1 >= args.length) {
        throw new IllegalArgumentException(a + " needs a value");
      }
      String v = args[++i];
      switch (a) {
        case "--id" -> id = v;
        case "--peers" -> peers = PeerAddress.parseList(v);
        case "--data" -> data = Path.of(v);
        case "--cluster" -> cluster = v;
        case "--secret-file" -> secretFile = Path.of(v);
        case "--metrics-port" -> metricsPort = Integer.parseInt(v);
        case "--metrics-bind" -> metricsBind = v;
        case "--groups" -> groups = Integer.parseInt(v);
        case "--election-ms" -> election = electionTimeout(v);
        case "--raft-property" -> {
          String[] kv = property(v);
          raftProperties.put(kv[0], kv[1]);
        }
        default -> throw new IllegalArgumentException("unknown argument: " + a);
      }
    }
    if (id == null
        || peers == null
        || data == null
        || cluster == null
        || secretFile == null
        || metricsPort < 0
        || groups < 1) {
      throw new IllegalArgumentException(
          "--id, --peers, --data, --cluster, --secret-file, --metrics-port and --groups (>= 1)"
              + " are required");
    }
    String self = id;
    PeerAddress me =
        peers.stream()
            .filter(p -> p.id().equals(self))
            .findFirst()
            .orElseThrow(() -> new IllegalArgumentException(self + " is not in --peers"));
    FerryNode.Builder b =
        FerryNode.builder()
            .self(me)
            .dataDir(data)
            .clusterSecret(ClusterSecret.fromFile(secretFile))
            .metricsEndpoint(new InetSocketAddress(metricsBind, metricsPort))
            .electionTimeout(election[0], election[1]);
    raftProperties.forEach(b::property);
    for (int g = 0; g < groups; g++) {
      b.group(GroupSpec.of(groupName(cluster, g), peers, new KvStateMachine()));
    }
    long t0 = System.nanoTime();
    FerryNode node = b.build();
    nettyGauge(node.prometheus());
    node.start();
    LOG.info(
        "groups node {} started with {} groups in {} ms",
        id,
        groups,
        (System.nanoTime() - t0) / 1_000_000);
    new CountDownLatch(1).await();
  }

  /** The name of group {@code index} of cluster {@code cluster}: {@code <cluster>.r<index>}. */
  static String groupName(String cluster, int index) {
    return cluster + ".r" + index;
  }

  /**
   * {@code key=value} of a raw Ratis property.
   *
   * @throws IllegalArgumentException if there is no {@code =} or the key is empty
   */
  static String[] property(String v) {
    String[] kv = v.split("=", 2);
    if (kv.length != 2 || kv[0].isBlank()) {
      throw new IllegalArgumentException("--raft-property needs key=value: " + v);
    }
    return kv;
  }

  /** {@code MIN,MAX} in milliseconds. */
  static Duration[] electionTimeout(String v) {
    String[] mm = v.split(",", -1);
    if (mm.length != 2) {
      throw new IllegalArgumentException("--election-ms needs MIN,MAX milliseconds: " + v);
    }
    return new Duration[] {
      Duration.ofMillis(Long.parseLong(mm[0].strip())),
      Duration.ofMillis(Long.parseLong(mm[1].strip()))
    };
  }

  /** The direct memory Ratis's Netty counts itself, or -1 when it does not. */
  static long nettyUsedDirectMemory() {
    return PlatformDependent.usedDirectMemory();
  }

  private static void nettyGauge(NodeMetrics m) {
    m.gauge(
        "bench_netty_used_direct_memory_bytes",
        "Direct memory Ratis's Netty counts itself; -1 when it does not.",
        GroupsNode::nettyUsedDirectMemory);
  }
}
