package dev.ferry.kv;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.kv.cluster.NodeMeasures;
import dev.ferry.kv.cluster.ProcessCluster;
import dev.ferry.kv.cluster.Progress;
import dev.ferry.kv.testing.NodeLogsOnFailure;
import dev.ferry.raft.admin.AdminClient;
import dev.ferry.raft.admin.NodeStatus;
import dev.ferry.shipping.PeerAddress;
import dev.ferry.statemachine.CommandCodec;
import dev.ferry.statemachine.DigestAt;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.ratis.protocol.Message;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.ExtendWith;
import org.junit.jupiter.api.io.TempDir;

/**
 * A receiver killed with SIGKILL in the middle of an install resumes where it stopped. The receiver
 * is a voter whose disk is wiped in place: it finds it was (its peers remember another storage
 * identity for it), has the leader demote it, and is re-added through the digest gate, which
 * installs a snapshot (docs/membership.md, "A voter that lost its disk").
 */
@ExtendWith(NodeLogsOnFailure.class)
class InstallProcessIT {
  private static final Duration T = Duration.ofSeconds(120);
  private static final Pattern DONE =
      Pattern.compile(
          "install: index (\\d+) done in \\d+ ms: fetched (\\d+) bytes from .*, (\\d+) bytes already held");

  @TempDir Path dir;

  @Test
  void aReceiverKilledHalfwayFetchesOnlyWhatWasMissing() throws Exception {
    try (ProcessCluster cluster =
        ProcessCluster.builder(dir, 3)
            .serverArgs(
                "--capture-every",
                "200",
                "--log-preserve",
                "20",
                "--chunk-send-rate",
                "1000000",
                // Small log segments: Ratis purges only closed ones (Ferry rolls them at 8 MB).
                "--raft-property",
                "raft.server.log.segment.size.max=256KB",
                "--raft-property",
                "raft.server.log.purge.gap=16")
            .start(T)) {
      String f;
      try (KvClient c = cluster.client(Duration.ofSeconds(30))) {
        Random rnd = new Random(5);
        List<byte[][]> batch = new ArrayList<>();
        for (int i = 0; i < 12_000; i++) {
          byte[] v = new byte[1024];
          rnd.nextBytes(v);
          batch.add(new byte[][] {("key-" + i).getBytes(StandardCharsets.UTF_8), v});
          if (batch.size() == 100) {
            c.putAll(batch);
            batch = new ArrayList<>();
          }
        }
        String leader = String.valueOf(c.raftClient().getLeaderId());
        f =
            cluster.peers().stream()
                .map(PeerAddress::id)
                .filter(id -> !id.equals(leader))
                .findFirst()
                .orElseThrow();
        PeerAddress leaderAddress =
            cluster.peers().stream().filter(p -> p.id().equals(leader)).findFirst().orElseThrow();
        // The leader must remember f's storage identity for the wipe to be noticed.
        Progress.await(
            leader + " to record the storage identity of " + f,
            () -> recorded(cluster, leaderAddress, f),
            r -> r,
            Progress.STALL,
            Progress.CAP);
        cluster.kill(f);
        wipe(cluster.dataDir(f));
        // The wiped node held at most what the leader had committed when it died.
        long stoppedAt = status(cluster, leaderAddress).commitIndex();
        // Move the log on past what the stopped node had, with captures so the leader purges.
        for (int round = 0; round < 3; round++) {
          c.raftClient()
              .io()
              .send(Message.valueOf(ByteString.copyFrom(CommandCodec.captureCommand())));
          for (int i = 0; i < 300; i++) {
            c.put(("filler-" + round + "-" + i).getBytes(StandardCharsets.UTF_8), new byte[1024]);
          }
        }
        // The node restarts empty under its old id; demoted to listener, it keeps its place in the
        // leader's replication, whose next index for it stays above its old match index: only a
        // log purged past that makes the leader send it an install notification. Without it, the
        // node was stuck for good whenever the leader sent it only heartbeats (seen under load:
        // "INCONSISTENCY reply with nextIndex 0" for minutes).
        Progress.await(
            "leader " + leader + " to purge its log past index " + stoppedAt,
            () -> {
              try {
                c.raftClient().getSnapshotManagementApi().create(1, 10_000);
                return status(cluster, leaderAddress).logStartIndex();
              } catch (IOException e) {
                return -1L;
              }
            },
            start -> start > stoppedAt + 1,
            Progress.STALL,
            Progress.CAP);
      }
      cluster.start(f);
      long before;
      try (KvClient c = cluster.client(Duration.ofSeconds(30));
          KvClient probe = cluster.client(Duration.ofSeconds(5))) {
        // Kill it once a third or so of the chunks have arrived. On a busy machine the node may
        // take long to start and fetch: wait as long as what it stores grows. (Files only: asking
        // the node would slow the polling, and the kill could come too late.)
        Progress.await(
            f + " to store a third of the chunks",
            () -> Node.stored(cluster, f),
            n -> n.chunks() >= 15,
            Progress.STALL,
            Progress.CAP);
        before = chunkFiles(cluster.dataDir(f));
        cluster.kill(f);
        cluster.start(f);
        DigestAt expected = c.checkpoint(1);
        Progress.await(
            f + " to finish its install and apply index " + expected.index(),
            () -> Node.of(cluster, f, probe),
            n -> n.applied() >= expected.index(),
            Progress.STALL,
            Progress.CAP);
        for (PeerAddress p : cluster.peers()) {
          assertEquals(expected, c.checkpointOn(p.id(), 1, expected.index()), p.id() + " digest");
        }
        PeerAddress leaderAddress =
            cluster.peers().stream()
                .filter(p -> p.id().equals(String.valueOf(c.raftClient().getLeaderId())))
                .findFirst()
                .orElseThrow();
        Progress.await(
            f + " to be a voter again (re-added through the digest gate)",
            () -> {
              try {
                return status(cluster, leaderAddress).members().stream()
                    .anyMatch(m -> m.id().equals(f) && m.voter());
              } catch (IOException e) {
                return false;
              }
            },
            voter -> voter,
            Progress.STALL,
            Progress.CAP);
      }
      String log = Files.readString(cluster.logFile(f), StandardCharsets.UTF_8);
      assertTrue(
          log.contains(
              f + "'s storage was wiped but the cluster still counts " + f + " as a voter"),
          "the wiped node said so:\n" + cluster.tail(f, 30));
      Matcher last = null;
      for (String line : Files.readAllLines(cluster.logFile(f), StandardCharsets.UTF_8)) {
        Matcher m = DONE.matcher(line);
        if (m.find()) {
          last = m;
        }
      }
      assertTrue(
          last != null, "the restarted node logged a finished install:\n" + cluster.tail(f, 30));
      long fetched = Long.parseLong(last.group(2));
      long held = Long.parseLong(last.group(3));
      assertTrue(
          held > 0,
          "chunks stored before the kill (" + before + " files) were reused: " + last.group());
      assertTrue(fetched > 0, "the rest was fetched: " + last.group());
    }
  }

  /** What a node has stored (chunk files, bytes in all) and applied: its progress. */
  private record Node(long chunks, long bytes, long applied) {
    static Node stored(ProcessCluster cluster, String id) {
      return new Node(chunkFiles(cluster.dataDir(id)), NodeMeasures.bytes(cluster.dataDir(id)), -1);
    }

    static Node of(ProcessCluster cluster, String id, KvClient probe) {
      return new Node(
          chunkFiles(cluster.dataDir(id)),
          NodeMeasures.bytes(cluster.dataDir(id)),
          NodeMeasures.applied(probe, id));
    }
  }

  private static long chunkFiles(Path nodeDir) {
    return NodeMeasures.count(nodeDir, "/chunks/chunks/");
  }

  private static NodeStatus status(ProcessCluster cluster, PeerAddress node) throws IOException {
    try (AdminClient a = admin(cluster, node)) {
      return a.status();
    }
  }

  private static AdminClient admin(ProcessCluster cluster, PeerAddress node) throws IOException {
    return AdminClient.connect(
        node, AdminClient.groupId(cluster.clusterName()), cluster.secret(), null, "install-it");
  }

  private static boolean recorded(ProcessCluster cluster, PeerAddress node, String about) {
    try (AdminClient a = admin(cluster, node)) {
      return a.identity(about).recorded().isPresent();
    } catch (IOException e) {
      return false;
    }
  }

  private static void wipe(Path d) throws IOException {
    try (Stream<Path> paths = Files.walk(d)) {
      for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.delete(p);
      }
    }
  }
}
