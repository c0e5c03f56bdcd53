package dev.ferry.kv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.kv.shard.ClusterLayout;
import dev.ferry.kv.shard.NodeMoves;
import dev.ferry.kv.shard.NodeMoves.GroupProgress;
import dev.ferry.kv.shard.NodeMoves.Move;
import dev.ferry.kv.shard.NodeMoves.NodeProgress;
import dev.ferry.kv.shard.NodeMoves.State;
import dev.ferry.raft.ClusterSecret;
import dev.ferry.shipping.PeerAddress;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code ferry admin replace|drain}: argument errors exit with status 2 before any request (the
 * map's nodes listen nowhere: a request would fail otherwise), the Ctrl-C line and the progress
 * lines.
 */
class NodeMoveCommandTest {
  @TempDir Path dir;
  private Path map;
  private Path secret;

  private record Run(int status, String err) {}

  @BeforeEach
  void writeMap() throws IOException {
    List<PeerAddress> nodes = new ArrayList<>();
    for (int i = 1; i <= 4; i++) {
      nodes.add(new PeerAddress("n" + i, "127.0.0.1", 9000 + 10 * i, 9001 + 10 * i));
    }
    // Two ranges at replication 3 on n1..n3; n4 holds nothing.
    ClusterLayout onThree =
        ClusterLayout.create(
            "m", nodes.subList(0, 3), List.of("k".getBytes(StandardCharsets.UTF_8)), 3);
    map = dir.resolve("cluster.map");
    new ClusterLayout("m", 1, 3, nodes, onThree.ranges()).write(map);
    secret = dir.resolve("secret");
    ClusterSecret.random().writeTo(secret);
  }

  private Run admin(String... args) {
    List<String> all = new ArrayList<>(List.of("admin"));
    all.addAll(List.of(args));
    if (all.contains("--map")) {
      all.addAll(List.of("--secret-file", secret.toString()));
    }
    StringWriter err = new StringWriter();
    int status =
        FerryCli.run(
            new PrintWriter(new StringWriter()),
            new PrintWriter(err, true),
            all.toArray(String[]::new));
    return new Run(status, err.toString());
  }

  private void assertBad(Run r, String message) throws IOException {
    assertEquals(2, r.status(), r.err());
    assertTrue(r.err().contains(message), "'" + message + "' in: " + r.err());
    assertEquals(1, ClusterLayout.read(map).version(), "nothing rewrote the map");
  }

  @Test
  void badReplaceAndDrainArgumentsExitWithStatus2() throws IOException {
    String m = map.toString();
    assertBad(admin("replace", "n1", "--with", "n4"), "--map");
    assertBad(admin("replace", "n1", "--map", m), "--with");
    assertBad(admin("replace", "--with", "n4", "--map", m), "NODE");
    assertBad(admin("replace", "n9", "--with", "n4", "--map", m), "no node n9");
    assertBad(admin("replace", "n1", "--with", "n9", "--map", m), "no node n9");
    assertBad(admin("replace", "n1", "--with", "n1", "--map", m), "cannot replace itself");
    assertBad(
        admin("replace", "n1", "--with", "n2", "--map", m),
        "n2 already holds a replica of range 0");
    assertBad(
        admin("replace", "n1", "--with", "n2=127.0.0.1:1:2", "--map", m),
        "the map has node n2=127.0.0.1:9020:9021");
    assertBad(admin("replace", "n1", "--with", "n7=nohost", "--map", m), "n7=nohost");
    assertBad(
        admin("replace", "n1", "--with", "n4", "--map", m, "--parallel", "0"),
        "--parallel must be >= 1");
    assertBad(
        admin("replace", "n1", "--with", "n4", "--map", m, "--deadline", "0"),
        "--deadline must be >= 1 second");
    assertBad(admin("drain", "n9", "--map", m), "no node n9");
    assertBad(admin("drain", "n1", "--map", m, "--exclude", "n8"), "no node n8");
    assertBad(admin("drain", "n1", "--map", m, "--exclude", "n4"), "has no node left");
    assertBad(admin("drain", "n1", "--map", m, "--parallel", "x"), "--parallel");
    assertBad(admin("node-status", "n9", "--map", m), "no node n9");
    assertBad(admin("node-status", "n1"), "--map");
    Files.delete(map);
    writeMapAgainIsNotNeeded();
  }

  private void writeMapAgainIsNotNeeded() {
    Run r = admin("drain", "n1", "--map", map.toString());
    assertEquals(2, r.status(), r.err());
    assertTrue(r.err().contains("no such file"), r.err());
  }

  @Test
  void aNodeStatusRowShowsTheMapsReplicasAndARangeWithoutAnAnsweringLeader() throws IOException {
    ClusterLayout l = ClusterLayout.read(map);
    String row = NodeStatusCommand.row(l.range(0), Optional.empty());
    assertTrue(row.startsWith("0     m.r0"), row);
    assertTrue(row.contains(String.join(",", l.range(0).replicas())), row);
    assertTrue(row.endsWith("(no leader answered)"), row);
  }

  @Test
  void aDoneMetaMoveRewritesTheMetaLineAndItsNewNodeRunsTheMetadataService() throws IOException {
    ClusterLayout plain = ClusterLayout.read(map);
    ClusterLayout file =
        new ClusterLayout(
            "m", 1, 3, plain.nodes(), plain.ranges(), List.of("n1", "n2", "n3"), Map.of());
    file.write(map);
    Move metaMove = new Move(Move.META_RANGE, "m.meta", "n3", "n4");
    ClusterLayout recorded = file.withVersion(6).withMetaMoved("n3", "n4");
    NodeMoves.Result result =
        new NodeMoves.Result(
            "n3",
            List.of(new GroupProgress(metaMove, State.DONE, 0, 0, Optional.empty())),
            recorded,
            Duration.ofSeconds(1));
    assertEquals(Optional.of(metaMove), NodeMoveCommand.Base.metaMoved(result));
    NodeMoveCommand.Replace cmd = new NodeMoveCommand.Replace();
    cmd.map = map;
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    cmd.rewriteMetaLine(result, metaMove, new PrintStream(bytes, true, StandardCharsets.UTF_8));
    assertEquals(List.of("n1", "n2", "n4"), ClusterLayout.read(map).meta());
    assertEquals(7, ClusterLayout.read(map).version());
    String printed = bytes.toString(StandardCharsets.UTF_8);
    assertTrue(printed.contains("meta n1,n2,n4"), printed);
    // A failed meta move is no reason to rewrite the file.
    NodeMoves.Result failed =
        new NodeMoves.Result(
            "n3",
            List.of(new GroupProgress(metaMove, State.FAILED, 0, 0, Optional.of("deadline"))),
            file,
            Duration.ofSeconds(1));
    assertEquals(Optional.empty(), NodeMoveCommand.Base.metaMoved(failed));

    // n4, not on the file's meta line, runs the metadata service once it hosts m.meta (moved
    // there, back from its storage after a restart); a node on the meta line always does; a
    // static map has no metadata group.
    assertTrue(ShardedServer.runsMetadataService(file, "n4", Set.of("m.meta", "m.r0")));
    assertFalse(ShardedServer.runsMetadataService(file, "n4", Set.of("m.r0")));
    assertTrue(ShardedServer.runsMetadataService(file, "n3", Set.of()));
    assertFalse(ShardedServer.runsMetadataService(plain, "n4", Set.of("m.meta")));
  }

  @Test
  void anInterruptedRunSaysWhichMovesGoOnAndThatARunAgainFinishesTheRest() {
    Move a = new Move(0, "m.r0", "n1", "n4");
    Move b = new Move(1, "m.r1", "n1", "n4");
    Move c = new Move(2, "m.r2", "n1", "n4");
    NodeProgress n =
        new NodeProgress(
            "n1",
            List.of(
                new GroupProgress(a, State.DONE, 10, 10, Optional.empty()),
                new GroupProgress(b, State.INSTALLING, 5, 10, Optional.empty()),
                GroupProgress.queued(c)),
            Duration.ofSeconds(4));
    String line = NodeMoveCommand.Watched.interruptedLine(n);
    assertEquals(1, line.strip().lines().count(), line);
    assertTrue(line.contains("1 of 3 group(s) moved"), line);
    assertTrue(line.contains("the moves of [m.r1] go on at their groups' leaders"), line);
    assertTrue(line.contains("[m.r2] not started"), line);
    assertTrue(line.contains("run this command again"), line);
    assertTrue(NodeMoveCommand.Watched.interruptedLine(null).contains("nothing changed"));
  }

  @Test
  void pipedProgressPrintsAGroupAtEachStateAndQuarterAndTheNodeWhenAMoveEnds() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
    NodeProgressLines lines = new NodeProgressLines(out, false);
    Move a = new Move(0, "m.r0", "n1", "n4");
    Move b = new Move(1, "m.r1", "n1", "n4");
    List<GroupProgress> gs =
        new ArrayList<>(List.of(GroupProgress.queued(a), GroupProgress.queued(b)));
    lines.planned(List.of(a, b));
    long mib = 1 << 20;
    long[] done = {0, mib, 2 * mib, 3 * mib, 4 * mib};
    for (long d : done) {
      GroupProgress g = new GroupProgress(a, State.INSTALLING, d, 8 * mib, Optional.empty());
      gs.set(0, g);
      lines.progress(g, new NodeProgress("n1", gs, Duration.ofSeconds(2)));
    }
    GroupProgress end = new GroupProgress(a, State.DONE, 8 * mib, 8 * mib, Optional.empty());
    gs.set(0, end);
    lines.progress(end, new NodeProgress("n1", gs, Duration.ofSeconds(4)));
    List<String> printed = bytes.toString(StandardCharsets.UTF_8).lines().toList();
    assertTrue(
        printed.get(0).contains("2 group(s) to move: m.r0 n1->n4, m.r1 n1->n4"), printed.get(0));
    // 0 % (new state), 25 % and 50 %: three bars for five updates.
    assertEquals(
        3,
        printed.stream().filter(l -> l.contains("installing -> n4")).count(),
        printed.toString());
    assertTrue(
        printed.stream().anyMatch(l -> l.contains("m.r0: done (n1 -> n4)")), printed.toString());
    String node = printed.get(printed.size() - 1);
    assertTrue(node.startsWith("node n1"), node);
    // One of two groups done: 50 % in 4 s, 4 s more.
    assertTrue(node.contains("groups 1/2 done, ETA 4.0 s"), node);
    assertTrue(node.contains("8.0/8.0 MiB"), node);
  }
}
