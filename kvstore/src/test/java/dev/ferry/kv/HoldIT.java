package dev.ferry.kv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.kv.testing.LocalCluster;
import dev.ferry.shipping.install.InstallReport;
import dev.ferry.shipping.metrics.InstallMetrics;
import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.ChunkRef;
import dev.ferry.snapshot.format.Manifest;
import dev.ferry.statemachine.DigestAt;
import dev.ferry.statemachine.StateMachineConfig;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Installs that never loop: the log-retention hold, rebasing past its budget, and widening a slow
 * install. Small states behind rate-limited chunk services, so each test runs in seconds.
 */
class HoldIT {
  private static final Duration W = Duration.ofSeconds(90);

  /** The period of the load that makes the cluster capture and purge while a node installs. */
  private static final Duration TICK = Duration.ofSeconds(1);

  private static final int KEYS = 8_000;

  /**
   * A capture every 20 entries; snapshots kept long enough that the test can read the baseline and
   * the installed manifest afterwards.
   */
  private static final StateMachineConfig MOVING_ON =
      StateMachineConfig.defaults().toBuilder()
          .captureEveryEntries(20)
          .captureEveryBytes(1L << 40)
          .retainSnapshots(100)
          .build();

  @TempDir Path dir;
  @AutoClose private LocalCluster cluster;

  /** What one install while the cluster moves on cost. */
  record Figures(
      long installs,
      long fetched,
      long baselineBytes,
      long changedBytes,
      int ticksDuringInstall,
      Duration took,
      long holds,
      long rebases) {
    double ratio() {
      return (double) fetched / (baselineBytes + changedBytes);
    }
  }

  private static byte[] key(int i) {
    return String.format(Locale.ROOT, "key-%08d", i).getBytes(StandardCharsets.UTF_8);
  }

  private static byte[] value(Random rnd) {
    byte[] v = new byte[1024];
    rnd.nextBytes(v);
    return v;
  }

  /** Writes {@code n} keys from {@code first} in batches of {@code batch}, one entry each. */
  private static void write(KvClient c, Random rnd, int first, int n, int batch, int range)
      throws Exception {
    List<byte[][]> b = new ArrayList<>();
    for (int i = 0; i < n; i++) {
      b.add(new byte[][] {key(range > 0 ? rnd.nextInt(range) : first + i), value(rnd)});
      if (b.size() == batch || i == n - 1) {
        c.putAll(b);
        b = new ArrayList<>();
      }
    }
  }

  /** Distinct chunks of {@code m} by id. */
  private static Map<ChunkId, ChunkRef> chunks(Manifest m) {
    Map<ChunkId, ChunkRef> out = new HashMap<>();
    m.allChunks().forEach(r -> out.putIfAbsent(r.id(), r));
    return out;
  }

  private static long storedBytes(Iterable<ChunkRef> refs) {
    long n = 0;
    for (ChunkRef r : refs) {
      n += r.storedSize();
    }
    return n;
  }

  /** The manifest at {@code index} from any running node but {@code except}, if one holds it. */
  private Optional<Manifest> manifestAt(long index, String except) {
    for (String id : cluster.running()) {
      if (!id.equals(except)) {
        Optional<Manifest> m =
            cluster.replica(id).manifests().stream().filter(x -> x.index() == index).findFirst();
        if (m.isPresent()) {
          return m;
        }
      }
    }
    return Optional.empty();
  }

  private long counter(String node, String name) {
    return cluster.server(node).metrics().counter(name).getCount();
  }

  /**
   * Wipes follower {@code f}, purges the log past it, restarts it, and while it installs writes
   * (every {@link #TICK}) 25 entries of 5 random 1 KiB updates, so the cluster captures (every 20
   * entries) and would purge past the install's baseline within a few ticks. Returns once {@code f}
   * installed and applied what the leader had applied by then.
   */
  private Figures installWhileTheClusterMovesOn(String f) throws Exception {
    String leader = cluster.leader(W);
    try (KvClient c = cluster.client(W)) {
      Random rnd = new Random(5);
      write(c, rnd, 0, KEYS, 100, 0);
      cluster.wipeAndLeaveBehind(f, leader, c, W);
      long started = System.nanoTime();
      cluster.start(f);
      Manifest baseline = null;
      int ticks = 0;
      long deadline = started + W.toNanos();
      while (cluster.installer(f).lastReport() == null
          || !cluster.installer(f).lastReport().success()) {
        assertTrue(System.nanoTime() < deadline, f + " did not install within " + W);
        long tickStart = System.nanoTime();
        var current = cluster.installer(f).currentInstall();
        if (current.isPresent()) {
          ticks++;
          if (baseline == null) {
            baseline = manifestAt(current.get().index(), f).orElse(null);
          }
        }
        write(c, rnd, 0, 125, 5, KEYS);
        // Paces the load (one tick per period); no verdict depends on it.
        long left = TICK.toNanos() - (System.nanoTime() - tickStart);
        if (left > 0) {
          Thread.sleep(left / 1_000_000);
        }
      }
      Duration took = Duration.ofNanos(System.nanoTime() - started);
      long caughtUp = cluster.applied(leader);
      LocalCluster.await(W, () -> cluster.applied(f) >= caughtUp, f + " to replay the log");
      // The last install (a second one, if the log was purged past the first).
      InstallReport r = cluster.installer(f).lastReport();
      Manifest installed =
          cluster.replica(f).manifests().stream()
              .filter(m -> m.index() == r.index())
              .findFirst()
              .orElseThrow(() -> new AssertionError("installed manifest gone: " + r));
      assertNotNull(baseline, "the first baseline was seen while " + f + " installed it");
      Map<ChunkId, ChunkRef> base = chunks(baseline);
      Map<ChunkId, ChunkRef> changed = chunks(installed);
      changed.keySet().removeAll(base.keySet());
      InstallMetrics im = cluster.installer(f).metrics();
      return new Figures(
          counter(f, "ferry.install.outcome.success") + counter(f, "ferry.install.outcome.failure"),
          cluster.server(f).metrics().meter("ferry.install.bytes.fetched").getCount(),
          storedBytes(base.values()),
          storedBytes(changed.values()),
          ticks,
          took,
          im.holdsPlaced(),
          im.rebases());
    }
  }

  private void assertConverged() throws Exception {
    try (KvClient c = cluster.client(W)) {
      DigestAt expected = c.checkpoint(1);
      for (String r : cluster.running()) {
        assertEquals(expected, c.checkpointOn(r, 1, expected.index()), r + " digest");
      }
    }
  }

  private static void print(String what, Figures x) {
    System.out.printf(
        Locale.ROOT,
        "%s: %d install(s), fetched %d bytes = %.3f x (baseline %d + changed %d), %d ticks of %d"
            + " ms during the install, %d ms in all, %d hold(s) placed, %d rebase(s)%n",
        what,
        x.installs(),
        x.fetched(),
        x.ratio(),
        x.baselineBytes(),
        x.changedBytes(),
        x.ticksDuringInstall(),
        TICK.toMillis(),
        x.took().toMillis(),
        x.holds(),
        x.rebases());
  }

  @Test
  void aSlowInstallWhileTheClusterCapturesAndPurgesFinishesInAtMostTwoInstalls() throws Exception {
    cluster = LocalCluster.start(dir, 3, MOVING_ON, 1_000_000);
    String f = cluster.follower(W);
    Figures x = installWhileTheClusterMovesOn(f);
    print("hold", x);
    assertTrue(x.ticksDuringInstall() >= 3, "the install spanned at least 3 capture periods: " + x);
    assertTrue(x.holds() >= 1, "the install held the log: " + x);
    assertTrue(x.installs() <= 2, "caught up in at most 2 installs: " + x);
    assertTrue(x.ratio() <= 1.1, "fetched at most 1.1 x (baseline + changed): " + x);
    assertConverged();
  }

  @Test
  void aSmallHoldBudgetRebasesOntoANewerBaselineAndCompletes() throws Exception {
    cluster = LocalCluster.start(dir, 3, MOVING_ON, 1_000_000);
    String f = cluster.follower(W);
    cluster.setInstallHoldBudget(64 << 10);
    Figures x = installWhileTheClusterMovesOn(f);
    print("rebase", x);
    assertTrue(x.rebases() >= 1, "the install rebased past its 64 KiB budget: " + x);
    assertTrue(x.installs() <= 2, "caught up in at most 2 installs: " + x);
    assertTrue(x.ratio() <= 1.1, "fetched at most 1.1 x (baseline + changed): " + x);
    assertConverged();
  }

  @Test
  void aSlowInstallWidensToTheLeaderHeldInReserve() throws Exception {
    cluster =
        LocalCluster.start(
            dir, 3, StateMachineConfig.defaults().withCaptureEvery(200, 1L << 40), 0);
    String f = cluster.follower(W);
    String leader = cluster.leader(W);
    String slow =
        cluster.running().stream()
            .filter(id -> !id.equals(leader) && !id.equals(f))
            .findFirst()
            .orElseThrow();
    // The other follower serves slowly; the leader, held in reserve by the source cap, does not.
    cluster.setSendRate(slow, 150_000);
    cluster.stop(slow);
    cluster.start(slow);
    cluster.setInstallSources(1);
    cluster.setSlowInstallAfter(Duration.ofSeconds(2));
    try (KvClient c = cluster.client(W)) {
      write(c, new Random(9), 0, 3_000, 100, 0);
      cluster.wipeAndLeaveBehind(f, cluster.leader(W), c, W);
    }
    long started = System.nanoTime();
    cluster.start(f);
    LocalCluster.await(
        W,
        () ->
            cluster.installer(f).lastReport() != null
                && cluster.installer(f).lastReport().success(),
        f + " to install");
    InstallReport r = cluster.installer(f).lastReport();
    long alerts = cluster.installer(f).metrics().alerts().get(InstallMetrics.Alert.SLOW);
    System.out.printf(
        Locale.ROOT,
        "widen: %d slow alert(s), %d ms, bytes per source %s (slow source %s at 150 kB/s, leader"
            + " %s)%n",
        alerts,
        Duration.ofNanos(System.nanoTime() - started).toMillis(),
        r.bytesPerSource(),
        slow,
        leader);
    assertEquals(1, alerts, "the slow alert fired once: " + r);
    assertTrue(r.bytesPerSource().getOrDefault(leader, 0L) > 0, "the leader served bytes: " + r);
    assertTrue(Set.of(slow, leader).containsAll(r.bytesPerSource().keySet()), "sources: " + r);
    assertConverged();
  }
}
