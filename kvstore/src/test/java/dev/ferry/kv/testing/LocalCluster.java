package dev.ferry.kv.testing;

import dev.ferry.kv.KvClient;
import dev.ferry.kv.KvStateMachine;
import dev.ferry.shipping.FreePorts;
import dev.ferry.shipping.PeerAddress;
import dev.ferry.statemachine.StateMachineConfig;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import java.util.function.Predicate;
import java.util.stream.Stream;

/**
 * The in-JVM test cluster ({@link dev.ferry.testing.LocalCluster}) running the key-value store,
 * with its clients: starts once the cluster accepts writes (a write through a {@link KvClient}
 * succeeded), and hands out clients to all nodes or to one.
 */
public final class LocalCluster extends dev.ferry.testing.LocalCluster {

  private LocalCluster(Path dir, int n, StateMachineConfig config, long sendRate, Tls tls)
      throws IOException {
    super(dir, n, config, KvStateMachine::new, sendRate, tls);
  }

  private LocalCluster(
      Path dir, List<PeerAddress> peers, String clusterName, StateMachineConfig config) {
    super(dir, peers, clusterName, config, KvStateMachine::new, 0, null);
  }

  /**
   * Starts one cluster per entry of {@code groups} (its name, its node ids), each in {@code
   * dir/<name>}, and waits until each has a leader ready (writing nothing, so that a group holds
   * only what a test writes): the groups of a sharded cluster, each on nodes of its own (e.g.
   * {@code ferry.r2} on nodes {@code r2n1..r2n3}). Every node starts before any election is
   * awaited, so the groups elect at the same time; their ports are picked together. Blocks; the
   * caller closes the clusters.
   *
   * @throws IOException if a node cannot start (every node started is then stopped)
   * @throws AssertionError if a group has no leader within 60 s (likewise)
   */
  public static List<LocalCluster> startGroups(
      Path dir, Map<String, List<String>> groups, StateMachineConfig config) throws IOException {
    int nodes = groups.values().stream().mapToInt(List::size).sum();
    int[] ports = FreePorts.pick(2 * nodes);
    List<LocalCluster> started = new ArrayList<>();
    try {
      int k = 0;
      for (Map.Entry<String, List<String>> g : groups.entrySet()) {
        List<PeerAddress> peers = new ArrayList<>();
        for (String id : g.getValue()) {
          peers.add(new PeerAddress(id, "127.0.0.1", ports[k], ports[k + 1]));
          k += 2;
        }
        LocalCluster c = new LocalCluster(dir.resolve(g.getKey()), peers, g.getKey(), config);
        started.add(c);
        c.startAll(() -> {});
      }
      for (LocalCluster c : started) {
        c.awaitReadyLeader(Duration.ofSeconds(60));
      }
      return started;
    } catch (IOException | RuntimeException | Error e) {
      for (LocalCluster c : started) {
        try {
          c.close();
        } catch (IOException | RuntimeException x) {
          e.addSuppressed(x);
        }
      }
      throw e;
    }
  }

  /** Starts {@code n} nodes and waits until the cluster accepts writes. */
  public static LocalCluster start(Path dir, int n, StateMachineConfig config) throws IOException {
    return start(dir, n, config, 0);
  }

  /**
   * Starts {@code n} nodes whose chunk services send at most {@code sendRate} bytes/s each (0:
   * unlimited) and waits until the cluster accepts writes.
   */
  public static LocalCluster start(Path dir, int n, StateMachineConfig config, long sendRate)
      throws IOException {
    return start(dir, n, config, sendRate, null);
  }

  /**
   * Starts {@code n} nodes (ids {@code n1..nN}) with mutual TLS on every port, when {@code tls} is
   * not null, and waits until the cluster accepts writes (through a TLS client).
   */
  public static LocalCluster start(
      Path dir, int n, StateMachineConfig config, long sendRate, Tls tls) throws IOException {
    return start(dir, n, config, sendRate, tls, c -> {});
  }

  /**
   * As {@link #start(Path, int, StateMachineConfig, long, Tls)}, after {@code setup} configured the
   * cluster (its setters apply to the nodes' first start).
   */
  public static LocalCluster start(
      Path dir,
      int n,
      StateMachineConfig config,
      long sendRate,
      Tls tls,
      java.util.function.Consumer<LocalCluster> setup)
      throws IOException {
    LocalCluster c = new LocalCluster(dir, n, config, sendRate, tls);
    setup.accept(c);
    c.startAll(c::awaitWritable);
    return c;
  }

  /** Returns once a write through a client succeeded (within 60 s). */
  private void awaitWritable() throws IOException {
    try (KvClient client = client(Duration.ofSeconds(60))) {
      client.put(new byte[] {0}, new byte[0]);
    }
  }

  /** The running node's state machine. */
  @Override
  public KvStateMachine stateMachine(String id) {
    return (KvStateMachine) super.stateMachine(id);
  }

  /** A client that talks only to node {@code id} (caller closes). */
  public KvClient clientOf(String id, Duration timeout) {
    return connect(peers().stream().filter(p -> p.id().equals(id)).toList(), timeout);
  }

  /** A client, over TLS if the cluster runs it (caller closes). */
  public KvClient client(Duration timeout) {
    return connect(peers(), timeout);
  }

  /** A plain-text client, even if the cluster runs TLS (caller closes). */
  public KvClient plainClient(Duration timeout) {
    return KvClient.connect(clusterName(), peers(), timeout);
  }

  private KvClient connect(List<PeerAddress> to, Duration timeout) {
    return tls() == null
        ? KvClient.connect(clusterName(), to, timeout)
        : KvClient.connect(clusterName(), to, timeout, tls().client());
  }

  /**
   * Writes {@code keys} keys named {@code prefix} + a 6-digit number, with random 1 KiB values from
   * {@code seed}, {@code perCommand} to a command: the state the cluster ITs load.
   */
  public static void putRandom(KvClient c, String prefix, int keys, int perCommand, long seed)
      throws IOException {
    Random rnd = new Random(seed);
    List<byte[][]> batch = new ArrayList<>();
    for (int i = 0; i < keys; i++) {
      byte[] v = new byte[1024];
      rnd.nextBytes(v);
      batch.add(
          new byte[][] {
            String.format(Locale.ROOT, "%s%06d", prefix, i).getBytes(StandardCharsets.UTF_8), v
          });
      if (batch.size() == perCommand || i == keys - 1) {
        c.putAll(batch);
        batch = new ArrayList<>();
      }
    }
  }

  /**
   * Writes batches of {@code filler-N} keys until the leader's log starts after {@code index} (it
   * purged past it), failing after {@code timeout}.
   */
  public void writeUntilPurgedPast(KvClient c, long index, Duration timeout) throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    int i = 0;
    while (logStart(leader(timeout)) <= index + 1) {
      if (System.nanoTime() > deadline) {
        throw new AssertionError("the leader did not purge past " + index);
      }
      List<byte[][]> fillers = new ArrayList<>();
      for (int k = 0; k < 8; k++) {
        fillers.add(
            new byte[][] {("filler-" + i++).getBytes(StandardCharsets.UTF_8), new byte[1024]});
      }
      c.putAll(fillers);
    }
  }

  /**
   * Makes {@code id} a node that can only catch up by installing a snapshot: waits until its peers
   * know its storage identity (so that, restarted, it finds it was wiped, is demoted and is
   * re-added through the digest gate, whose install it then runs), records what {@code leader} has
   * applied, stops {@code id}, wipes its storage and writes until the leader's log is purged past
   * that index. {@code id} stays stopped.
   */
  public void wipeAndLeaveBehind(String id, String leader, KvClient c, Duration timeout)
      throws IOException {
    awaitStorageIdentityKnown(id, timeout);
    long stoppedAt = applied(leader);
    stop(id);
    wipe(id);
    writeUntilPurgedPast(c, stoppedAt, timeout);
  }

  /**
   * Flips a byte in the middle of every chunk file in {@code node}'s store that {@code which}
   * accepts (a corrupt chunk, as a failing disk leaves it); returns how many.
   */
  public int corruptChunkFiles(String node, Predicate<Path> which) throws IOException {
    int done = 0;
    try (Stream<Path> files = Files.walk(dataDir(node))) {
      for (Path p : files.filter(Files::isRegularFile).toList()) {
        if (p.toString().contains("/chunks/chunks/") && which.test(p)) {
          byte[] b;
          try {
            b = Files.readAllBytes(p);
          } catch (NoSuchFileException gone) {
            // The running node's store dropped it (a chunk no snapshot it keeps refers to).
            continue;
          }
          b[b.length / 2] ^= 0x5a;
          // Only a chunk that is still there: never re-creates one the store deleted meanwhile.
          try {
            Files.write(p, b, StandardOpenOption.WRITE, StandardOpenOption.TRUNCATE_EXISTING);
          } catch (NoSuchFileException gone) {
            continue;
          }
          done++;
        }
      }
    }
    return done;
  }
}
