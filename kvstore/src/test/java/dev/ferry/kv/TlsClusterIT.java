package dev.ferry.kv;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.kv.testing.LocalCluster;
import dev.ferry.raft.ClusterSecret;
import dev.ferry.raft.TlsFiles;
import dev.ferry.raft.admin.AdminAuthException;
import dev.ferry.raft.admin.AdminClient;
import dev.ferry.raft.admin.NodeStatus;
import dev.ferry.shipping.PeerAddress;
import dev.ferry.shipping.install.InstallReport;
import dev.ferry.shipping.testing.TestCerts;
import dev.ferry.shipping.testing.TestCerts.Identity;
import dev.ferry.statemachine.StateMachineConfig;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

/**
 * A cluster running mutual TLS on both ports: TLS clients read and write, clients without a trusted
 * certificate get nothing, and a snapshot install between nodes runs over the TLS chunk service.
 * One cluster for all tests (started once: the certificates and the start dominate the run time).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class TlsClusterIT {
  private static final Duration T = Duration.ofSeconds(60);
  private static final Duration SHORT = Duration.ofSeconds(4);

  private LocalCluster cluster;
  private TlsFiles stranger;
  private TlsFiles clientTls;

  @BeforeAll
  void setUp(@TempDir Path dir) throws Exception {
    Path certs = Files.createDirectories(dir.resolve("certs"));
    List<Identity> ids = new ArrayList<>();
    for (String name : List.of("n1", "n2", "n3", "client")) {
      ids.add(TestCerts.generate(certs, name));
    }
    Path trusted = TestCerts.trust(certs.resolve("cluster.pem"), ids.toArray(new Identity[0]));
    // A certificate the cluster does not trust, though it trusts the cluster's.
    Identity other = TestCerts.generate(certs, "stranger");
    stranger = files(other, trusted);
    LocalCluster.Tls tls =
        new LocalCluster.Tls(
            Map.of(
                "n1", files(ids.get(0), trusted),
                "n2", files(ids.get(1), trusted),
                "n3", files(ids.get(2), trusted)),
            files(ids.get(3), trusted));
    clientTls = files(ids.get(3), trusted);
    cluster =
        LocalCluster.start(
            dir.resolve("nodes"),
            3,
            StateMachineConfig.defaults().withCaptureEvery(200, 1L << 40),
            0,
            tls);
  }

  @AfterAll
  void tearDown() throws IOException {
    if (cluster != null) {
      cluster.close();
    }
  }

  private static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  @Order(1)
  void aTlsClientWritesAndReads() throws IOException {
    try (KvClient c = cluster.client(T)) {
      assertEquals(false, c.put(utf8("greeting"), utf8("hello")));
      assertArrayEquals(utf8("hello"), c.get(utf8("greeting")));
      assertTrue(c.compareAndSet(utf8("greeting"), utf8("hello"), utf8("bonjour")).success());
      assertEquals(5, c.increment(utf8("counter"), 5));
    }
    // Every replica applied the writes (the leader's appendEntries went over TLS).
    try (KvClient c = cluster.client(T)) {
      for (String id : cluster.running()) {
        LocalCluster.await(
            T, () -> Arrays.equals(utf8("bonjour"), stale(c, id)), id + " to apply the writes");
      }
    }
  }

  private static byte[] stale(KvClient c, String id) {
    try {
      return c.getStale(utf8("greeting"), id);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  @Test
  @Order(2)
  void aPlainTextClientGetsNothing() throws IOException {
    try (KvClient c = cluster.plainClient(SHORT)) {
      assertThrows(IOException.class, () -> c.put(utf8("plain"), utf8("x")));
      assertThrows(IOException.class, () -> c.get(utf8("greeting")));
    }
    try (KvClient c = cluster.client(T)) {
      assertNull(c.get(utf8("plain")), "the plain-text write was not applied");
    }
  }

  @Test
  @Order(3)
  void theAdminServiceSpeaksOnlyMutualTls() throws IOException {
    PeerAddress n1 = cluster.server("n1").self();
    TlsFiles client = clientTls;
    try (AdminClient a =
        AdminClient.connect(
            n1, AdminClient.groupId(cluster.clusterName()), cluster.secret(), client, "operator")) {
      NodeStatus s = a.status();
      assertEquals("n1", s.id());
      assertEquals(3, s.members().size());
    }
    // Plain TCP, or an untrusted certificate: no admin conversation.
    assertThrows(
        IOException.class,
        () ->
            AdminClient.connect(
                n1, AdminClient.groupId(cluster.clusterName()), cluster.secret(), null, "plain"));
    assertThrows(
        IOException.class,
        () ->
            AdminClient.connect(
                n1,
                AdminClient.groupId(cluster.clusterName()),
                cluster.secret(),
                stranger,
                "stranger"));
    // The right certificate but the wrong secret: refused by the HMAC handshake.
    assertThrows(
        AdminAuthException.class,
        () ->
            AdminClient.connect(
                n1,
                AdminClient.groupId(cluster.clusterName()),
                ClusterSecret.random(),
                client,
                "guesser"));
  }

  @Test
  @Order(4)
  void aClientWithAnUntrustedCertificateGetsNothing() throws IOException {
    try (KvClient c = KvClient.connect("local", cluster.peers(), SHORT, stranger)) {
      assertThrows(IOException.class, () -> c.put(utf8("stranger"), utf8("x")));
    }
    try (KvClient c = cluster.client(T)) {
      assertNull(c.get(utf8("stranger")), "the stranger's write was not applied");
    }
  }

  @Test
  @Order(5)
  void anEmptiedFollowerInstallsASnapshotOverTls() throws Exception {
    String f = cluster.follower(T);
    try (KvClient c = cluster.client(T)) {
      Random rnd = new Random(1);
      List<byte[][]> batch = new ArrayList<>();
      for (int i = 0; i < 2_000; i++) {
        byte[] v = new byte[1024];
        rnd.nextBytes(v);
        batch.add(new byte[][] {utf8(String.format(Locale.ROOT, "key-%08d", i)), v});
        if (batch.size() == 100) {
          c.putAll(batch);
          batch = new ArrayList<>();
        }
      }
      cluster.wipeAndLeaveBehind(f, cluster.leader(T), c, T);
    }
    cluster.start(f);
    LocalCluster.await(
        T,
        () ->
            cluster.installer(f).lastReport() != null
                && cluster.installer(f).lastReport().success(),
        f + " to install a snapshot");
    InstallReport r = cluster.installer(f).lastReport();
    assertTrue(r.bytesPerSource().values().stream().mapToLong(Long::longValue).sum() > 0, "" + r);
    String leader = cluster.leader(T);
    LocalCluster.await(
        T,
        () -> cluster.applied(f) >= cluster.applied(leader),
        f + " to catch up with the leader's log");
    try (KvClient c = cluster.clientOf(f, T)) {
      assertArrayEquals(
          utf8("bonjour"), c.getStale(utf8("greeting"), f), "installed state holds old writes");
    }
    assertEquals(
        cluster.stateMachine(leader).size(), cluster.stateMachine(f).size(), "same key count");
  }

  /** The TLS files of {@code id}, trusting {@code trusted}. */
  private static TlsFiles files(Identity id, Path trusted) {
    return new TlsFiles(id.cert(), id.key(), trusted);
  }
}
