package dev.ferry.kv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.raft.ClusterSecret;
import dev.ferry.raft.FerryNode;
import dev.ferry.raft.FerryServer;
import dev.ferry.raft.GroupSpec;
import dev.ferry.raft.admin.AddRequest;
import dev.ferry.raft.admin.AddResult;
import dev.ferry.raft.admin.AdminClient;
import dev.ferry.raft.admin.MembershipAdmin;
import dev.ferry.raft.admin.NodeStatus;
import dev.ferry.shipping.PeerAddress;
import dev.ferry.shipping.install.TransferPriority;
import dev.ferry.shipping.install.TransferScheduler;
import dev.ferry.testing.LocalCluster;
import dev.ferry.testing.TestNodes;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One node receives the installs of several groups at once through its transfer scheduler: n1 and
 * n2 host three groups with about 2 MiB of state each; n3, allowed 2 installs at once and 1.25 MiB
 * in flight (less than two installs' worth), joins all three at the same time, each group at
 * another priority. At most 2 installs run and the bytes in flight stay within the budget in every
 * sample, every add completes through the digest gate, every group's digests are equal, and the
 * scheduler holds nothing at the end.
 */
class NodeTransfersIT {
  private static final Logger LOG = LoggerFactory.getLogger(NodeTransfersIT.class);
  private static final Duration T = Duration.ofSeconds(60);
  private static final int MAX_ACTIVE = 2;
  private static final long BUDGET = (1L << 20) + (256L << 10);
  private static final List<TransferPriority> PRIORITIES =
      List.of(TransferPriority.CATCH_UP, TransferPriority.REBALANCE, TransferPriority.REPAIR);

  @TempDir Path dir;
  private final ClusterSecret secret = ClusterSecret.random();
  private final Map<String, FerryNode> nodes = new LinkedHashMap<>();
  private final List<KvClient> clients = new ArrayList<>();

  @AfterEach
  void tearDown() throws IOException {
    for (KvClient c : clients) {
      c.close();
    }
    for (FerryNode n : nodes.values()) {
      n.close();
    }
  }

  private FerryNode.Builder node(PeerAddress self) {
    return TestNodes.builder(self, dir.resolve(self.id()), secret);
  }

  private static String group(int g) {
    return "t.r" + g;
  }

  @Test
  void aNodeReceivesSeveralGroupsAtOnceWithinItsBudget() throws Exception {
    List<PeerAddress> voters = List.of(TestNodes.address("n1"), TestNodes.address("n2"));
    for (PeerAddress p : voters) {
      FerryNode.Builder b = node(p);
      for (int g = 0; g < PRIORITIES.size(); g++) {
        b.group(GroupSpec.of(group(g), voters, new KvStateMachine()));
      }
      nodes.put(p.id(), b.build().start());
    }
    SplittableRandom random = new SplittableRandom(19);
    for (int g = 0; g < PRIORITIES.size(); g++) {
      KvClient c = KvClient.connect(group(g), voters, T);
      clients.add(c);
      for (int k = 0; k < 64; k++) {
        byte[] value = new byte[32 << 10];
        random.nextBytes(value);
        c.put(("k" + k).getBytes(StandardCharsets.UTF_8), value);
      }
    }

    PeerAddress n3 = TestNodes.address("n3");
    FerryNode node3 =
        node(n3).maxActiveInstalls(MAX_ACTIVE).installBytesInFlight(BUDGET).build().start();
    nodes.put("n3", node3);
    List<PeerAddress> withN3 = new ArrayList<>(voters);
    withN3.add(n3);
    for (int g = 0; g < PRIORITIES.size(); g++) {
      node3.addGroup(
          GroupSpec.of(group(g), withN3, new KvStateMachine())
              .asListener()
              .withPriority(PRIORITIES.get(g)));
    }

    TransferScheduler scheduler = node3.transferScheduler();
    AtomicBoolean sampling = new AtomicBoolean(true);
    AtomicInteger maxActive = new AtomicInteger();
    AtomicInteger maxQueued = new AtomicInteger();
    AtomicLong maxBytes = new AtomicLong();
    AtomicLong maxDecoded = new AtomicLong();
    AtomicLong maxHeld = new AtomicLong();
    AtomicInteger maxThreads = new AtomicInteger();
    Thread sampler =
        new Thread(
            () -> {
              for (int i = 0; sampling.get(); i++) {
                TransferScheduler.Stats st = scheduler.stats();
                maxActive.accumulateAndGet(st.activeCount(), Math::max);
                maxQueued.accumulateAndGet(st.queuedCount(), Math::max);
                maxBytes.accumulateAndGet(st.bytesInFlight(), Math::max);
                maxDecoded.accumulateAndGet(st.decodedBytes(), Math::max);
                maxHeld.accumulateAndGet(st.bytesInFlight() + st.decodedBytes(), Math::max);
                if (i % 10 == 0) {
                  // Threads of installs: only the node's scheduler's pools, none per install.
                  int threads = 0;
                  for (Thread t : Thread.getAllStackTraces().keySet()) {
                    if (t.getName().startsWith("ferry-transfers-n3-")
                        || t.getName().startsWith("ferry-install-")) {
                      threads++;
                    }
                  }
                  maxThreads.accumulateAndGet(threads, Math::max);
                }
                try {
                  Thread.sleep(2);
                } catch (InterruptedException e) {
                  return;
                }
              }
            },
            "scheduler-sampler");
    sampler.start();
    List<CompletableFuture<AddResult>> adds = new ArrayList<>();
    for (KvClient c : clients) {
      MembershipAdmin admin =
          MembershipAdmin.builder(c.raftClient(), c.group()).secret(secret).build();
      adds.add(admin.addMember(new AddRequest(n3, T)));
    }
    for (CompletableFuture<AddResult> a : adds) {
      assertEquals("n3", a.get(T.toSeconds() + 30, TimeUnit.SECONDS).nodeId());
    }
    sampling.set(false);
    sampler.join(TimeUnit.SECONDS.toMillis(10));
    LOG.info(
        "n3's scheduler: at most {} installs active and {} queued, peak {} bytes in flight"
            + " (budget {}), peak {} decoded bytes kept, peak {} both, at most {} install threads;"
            + " {}",
        maxActive.get(),
        maxQueued.get(),
        maxBytes.get(),
        BUDGET,
        maxDecoded.get(),
        maxHeld.get(),
        maxThreads.get(),
        scheduler.stats());

    assertTrue(maxActive.get() <= MAX_ACTIVE, "at most " + MAX_ACTIVE + ": " + maxActive);
    assertTrue(maxBytes.get() <= BUDGET, "within the budget: " + maxBytes);
    assertTrue(maxBytes.get() > 0, "the installs reserved their bytes");
    long pool = scheduler.stats().decodedBudget();
    assertTrue(maxDecoded.get() <= pool, "decoded within the node's pool: " + maxDecoded);
    assertTrue(maxHeld.get() <= BUDGET + pool, "in flight + decoded: " + maxHeld);
    int cores = Runtime.getRuntime().availableProcessors();
    // A timer, the drivers (at most one per running install), verifiers and loaders (one per core
    // each), two writers: not a thread per install or group.
    int bound = 1 + MAX_ACTIVE + 2 * cores + 2;
    assertTrue(maxThreads.get() <= bound, maxThreads + " install threads, more than " + bound);
    TransferScheduler.Stats end = scheduler.stats();
    assertEquals(0, end.bytesInFlight(), end.toString());
    assertEquals(0, end.decodedBytes(), end.toString());
    assertEquals(0, end.activeCount() + end.queuedCount(), end.toString());
    for (TransferPriority p : PRIORITIES) {
      assertTrue(end.admittedTotal().get(p) >= 1, "an install admitted at " + p + ": " + end);
    }
    for (int g = 0; g < PRIORITIES.size(); g++) {
      FerryServer joined = node3.group(group(g)).orElseThrow();
      LocalCluster.await(T, () -> joined.health().member(), "n3 a voter of " + group(g));
      clients.get(g).put("after".getBytes(StandardCharsets.UTF_8), new byte[] {1});
      assertSameDigest(group(g));
    }
    // Any group's admin status carries its node's scheduler.
    try (AdminClient admin =
        AdminClient.connect(n3, AdminClient.groupId(group(0)), secret, null, "test")) {
      NodeStatus.Transfers t = admin.status().transfers().orElseThrow();
      assertEquals(MAX_ACTIVE, t.maxActiveInstalls(), t.toString());
      assertEquals(BUDGET, t.bytesBudget(), t.toString());
      assertEquals(pool, t.decodedBudget(), t.toString());
      assertEquals(0, t.activeCount() + t.queuedCount(), t.toString());
    }
    List<String> names =
        node3.prometheus().registry().scrape().stream()
            .map(s -> s.getMetadata().getPrometheusName())
            .filter(n -> n.startsWith("ferry_transfer_"))
            .sorted()
            .toList();
    assertTrue(
        names.containsAll(
            List.of(
                "ferry_transfer_admitted",
                "ferry_transfer_bytes_budget",
                "ferry_transfer_bytes_in_flight",
                "ferry_transfer_decoded_bytes",
                "ferry_transfer_decoded_bytes_budget",
                "ferry_transfer_installs")),
        names.toString());
  }

  /** Waits until every replica of {@code group} applied the same index, then checks the digests. */
  private void assertSameDigest(String group) throws Exception {
    List<FerryServer> rs = nodes.values().stream().flatMap(n -> n.group(group).stream()).toList();
    assertEquals(3, rs.size(), group);
    LocalCluster.assertSameDigest(group, rs, T);
  }
}
