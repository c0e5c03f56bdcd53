package dev.ferry.kv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.kv.shard.ClusterLayout;
import dev.ferry.shipping.PeerAddress;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code ferry admin move} and {@code ferry server --map}: argument errors exit with status 2. */
class MoveCommandTest {
  @TempDir Path dir;
  private Path map;
  private ClusterLayout layout;

  private record Run(int status, String err) {}

  @BeforeEach
  void writeMap() throws IOException {
    List<PeerAddress> nodes = new ArrayList<>();
    for (int i = 1; i <= 4; i++) {
      nodes.add(new PeerAddress("n" + i, "127.0.0.1", 9000 + 10 * i, 9001 + 10 * i));
    }
    layout = ClusterLayout.create("m", nodes, List.of("k".getBytes(StandardCharsets.UTF_8)), 3);
    map = dir.resolve("cluster.map");
    layout.write(map);
  }

  private static Run run(String... args) {
    StringWriter err = new StringWriter();
    int status =
        FerryCli.run(new PrintWriter(new StringWriter()), new PrintWriter(err, true), args);
    return new Run(status, err.toString());
  }

  private Run move(String range, String from, String to, String... extra) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "admin",
                "move",
                "--map",
                map.toString(),
                "--range",
                range,
                "--from",
                from,
                "--to",
                to));
    args.addAll(List.of(extra));
    return run(args.toArray(String[]::new));
  }

  private void assertBad(Run r, String message) {
    assertEquals(2, r.status(), r.err());
    assertTrue(r.err().contains(message), "'" + message + "' in: " + r.err());
  }

  @Test
  void badMoveArgumentsExitWithStatus2() throws IOException {
    List<String> r0 = layout.range(0).replicas();
    String spare =
        layout.nodes().stream()
            .map(PeerAddress::id)
            .filter(id -> !r0.contains(id))
            .findFirst()
            .orElseThrow();
    assertBad(run("admin", "move", "--range", "0", "--from", "n1", "--to", "n2"), "--map");
    assertBad(move("5", r0.get(0), spare), "no range 5");
    assertBad(move("0", r0.get(0), "n9"), "no node n9");
    assertBad(move("0", "n9", spare), "no node n9");
    assertBad(move("0", r0.get(0), r0.get(1)), "already holds a replica of range 0");
    assertBad(move("0", r0.get(0), r0.get(0)), "already holds a replica of range 0");
    assertBad(move("0", r0.get(0), spare, "--deadline", "0"), "--deadline must be >= 1 second");
    assertBad(move("x", r0.get(0), spare), "--range");
    Files.delete(map);
    assertBad(move("0", r0.get(0), spare), "no such file");
    assertEquals(1, layout.version(), "nothing rewrote the map");
  }

  @Test
  void anInterruptedMoveSaysItGoesOnAtTheLeaderAndHowToFollowIt() {
    var r = layout.range(0);
    PeerAddress spare =
        layout.nodes().stream().filter(n -> !r.replicas().contains(n.id())).findFirst().get();
    String handed = MoveCommand.interruptedLine(r, spare, "n1", layout);
    assertEquals(1, handed.strip().lines().count(), handed);
    assertTrue(handed.contains("goes on at the group's leader (n1"), handed);
    assertTrue(handed.contains("`ferry admin status --cluster " + r.group() + " --peers "), handed);
    for (PeerAddress p : layout.peers(r)) {
      assertTrue(handed.contains(p.toString()), handed);
    }
    assertTrue(handed.contains(spare.toString()), handed);
    String early = MoveCommand.interruptedLine(r, spare, null, layout);
    assertTrue(early.contains("not handed to its leader yet"), early);
  }

  @Test
  void serverWithAMapTakesNoPeers() {
    assertBad(
        run(
            "server",
            "--id",
            "n1",
            "--map",
            map.toString(),
            "--peers",
            "n1=127.0.0.1:9010",
            "--data",
            dir.resolve("d").toString()),
        "not with --peers");
    assertBad(run("server", "--id", "n1", "--data", dir.resolve("d").toString()), "give --peers");
    assertBad(
        run("server", "--id", "n9", "--map", map.toString(), "--data", dir.resolve("d").toString()),
        "no node n9");
  }
}
