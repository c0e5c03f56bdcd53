package dev.ferry.kv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.kv.shard.ClusterLayout;
import java.io.IOException;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code ferry shard}, and the {@code --map} option of {@code ferry kv}: outputs and errors. */
class ShardCommandTest {
  private static final String NODES = "n1=127.0.0.1:9000,n2=127.0.0.1:9010,n3=127.0.0.1:9020";

  @TempDir Path dir;

  private record Run(int status, String out, String err) {}

  private static Run run(String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    int status = FerryCli.run(new PrintWriter(out, true), new PrintWriter(err, true), args);
    return new Run(status, out.toString(), err.toString());
  }

  private static void assertFails(Run r, String message) {
    assertEquals(2, r.status(), r.toString());
    assertTrue(r.err().startsWith("ferry: "), r.err());
    assertTrue(r.err().contains(message), r.err());
  }

  @Test
  void printOfAReplicatedMapSaysWhereItsLayoutCameFrom() throws IOException {
    Path map = dir.resolve("replicated.map");
    ClusterLayout l =
        ClusterLayout.create(
            "shop",
            dev.ferry.shipping.PeerAddress.parseList(NODES),
            List.of("h".getBytes(java.nio.charset.StandardCharsets.UTF_8)),
            2);
    Files.writeString(map, l.format().replace("# range INDEX", "meta n1,n2,n3\n# range INDEX"));
    Run print = run("shard", "print", "--map", map.toString());
    assertEquals(0, print.status(), print.toString());
    assertTrue(
        print.out().contains("the metadata group did not answer")
            && print.out().contains("the file's version 1"),
        print.out());
    assertTrue(print.out().contains("shop.r1"), print.out());
  }

  @Test
  void createWritesAMapThatValidatePrintAndLocateRead() throws IOException {
    Path map = dir.resolve("cluster.map");
    Run create =
        run(
            "shard",
            "create",
            "--cluster",
            "shop",
            "--ranges",
            "3",
            "--replication",
            "2",
            "--nodes",
            "n1=127.0.0.1:9000",
            "n2=127.0.0.1:9010,n3=127.0.0.1:9020",
            "--split-keys",
            "h,p",
            "--out",
            map.toString());
    assertEquals(0, create.status(), create.toString());
    assertTrue(create.out().contains("3 ranges, replication 2, 3 nodes"), create.out());
    ClusterLayout l = ClusterLayout.read(map);
    assertEquals(
        "shop.r2", l.rangeFor("q".getBytes(java.nio.charset.StandardCharsets.UTF_8)).group());

    Run validate = run("shard", "validate", "--map", map.toString());
    assertEquals(0, validate.status(), validate.toString());
    assertTrue(validate.out().startsWith("OK " + map), validate.out());

    Run print = run("shard", "print", "--map", map.toString());
    assertEquals(0, print.status(), print.toString());
    assertTrue(print.out().contains("shop.r1"), print.out());
    for (String node : List.of("n1", "n2", "n3")) {
      assertTrue(print.out().lines().anyMatch(x -> x.matches(node + " .* 2 +[01]")), print.out());
    }

    Run locate = run("shard", "locate", "--map", map.toString(), "p");
    assertEquals(0, locate.status(), locate.toString());
    assertTrue(locate.out().startsWith("range 2 [p, -) group shop.r2"), locate.out());
  }

  @Test
  void createWithoutOutPrintsTheDescriptorAndCanSplitOverASample() throws IOException {
    List<String> keys = new ArrayList<>();
    for (int i = 0; i < 400; i++) {
      keys.add(String.format(Locale.ROOT, "key%04d", i));
    }
    Path sample = Files.write(dir.resolve("sample"), keys);
    Run create =
        run("shard", "create", "--ranges", "4", "--nodes", NODES, "--sample", sample.toString());
    assertEquals(0, create.status(), create.toString());
    ClusterLayout l = ClusterLayout.parse(create.out(), "stdout");
    assertEquals(4, l.ranges().size());
    assertEquals(
        "key0100", new String(l.range(1).start(), java.nio.charset.StandardCharsets.UTF_8));
    assertEquals("ferry.r3", l.range(3).group());
  }

  @Test
  void createPlacesReplicasInDistinctZonesAndWritesTheLabels() throws IOException {
    Path map = dir.resolve("zoned.map");
    Run create =
        run(
            "shard",
            "create",
            "--cluster",
            "shop",
            "--ranges",
            "6",
            "--replication",
            "3",
            "--nodes",
            "a1=127.0.0.1:9000,a2=127.0.0.1:9010,b1=127.0.0.1:9020",
            "b2=127.0.0.1:9030,c1=127.0.0.1:9040,c2=127.0.0.1:9050",
            "--zones",
            "a1=zone-a,a2=zone-a,b1=zone-b",
            "b2=zone-b,c1=zone-c,c2=zone-c",
            "--split-keys",
            "b,c,d,e,f",
            "--out",
            map.toString());
    assertEquals(0, create.status(), create.toString());
    ClusterLayout l = ClusterLayout.read(map);
    assertEquals("zone-b", l.zones().get("b2"));
    assertEquals(6, l.zones().size());
    String text = Files.readString(map);
    assertTrue(
        text.lines().anyMatch(x -> x.matches("node c1=127\\.0\\.0\\.1:9040\\S* zone=zone-c")),
        text);
    for (dev.ferry.kv.shard.Range r : l.ranges()) {
      assertEquals(
          3,
          r.replicas().stream().map(x -> l.zones().get(x)).distinct().count(),
          "range " + r.index() + " " + r.replicas());
    }
    l.loadPerNode()
        .values()
        .forEach(x -> assertEquals(3, x.replicas(), l.loadPerNode().toString()));

    // Without --zones the map has no labels; node order alone would put a1 and a2 together.
    Run plain =
        run(
            "shard",
            "create",
            "--ranges",
            "1",
            "--nodes",
            "a1=127.0.0.1:9000,a2=127.0.0.1:9010,b1=127.0.0.1:9020",
            "--replication",
            "2");
    assertEquals(0, plain.status(), plain.toString());
    ClusterLayout p = ClusterLayout.parse(plain.out(), "stdout");
    assertTrue(p.zones().isEmpty(), p.zones().toString());
    assertEquals(List.of("a1", "a2"), p.range(0).replicas());
    Run zoned =
        run(
            "shard",
            "create",
            "--ranges",
            "1",
            "--nodes",
            "a1=127.0.0.1:9000,a2=127.0.0.1:9010,b1=127.0.0.1:9020",
            "--zones",
            "a1=a,a2=a",
            "--replication",
            "2");
    assertEquals(0, zoned.status(), zoned.toString());
    assertEquals(
        List.of("a1", "b1"), ClusterLayout.parse(zoned.out(), "stdout").range(0).replicas());
  }

  @Test
  void badZonesExitWithStatus2() {
    assertFails(
        run("shard", "create", "--ranges", "1", "--nodes", NODES, "--zones", "n9=a"),
        "--zones: node n9 is not in --nodes");
    assertFails(
        run("shard", "create", "--ranges", "1", "--nodes", NODES, "--zones", "n1=a,n1=b"),
        "--zones: node n1 has two zones");
    assertFails(
        run("shard", "create", "--ranges", "1", "--nodes", NODES, "--zones", "n1"),
        "--zones: 'n1' is not ID=ZONE");
    assertFails(
        run("shard", "create", "--ranges", "1", "--nodes", NODES, "--zones", "=a"),
        "--zones: '=a' is not ID=ZONE");
    assertFails(
        run("shard", "create", "--ranges", "1", "--nodes", NODES, "--zones", "n1=a/b"),
        "node n1: zone must be 1-64 characters of [A-Za-z0-9_.-]: 'a/b'");
    assertFails(
        run("shard", "create", "--ranges", "1", "--nodes", NODES, "--zones", "n1="),
        "node n1: zone must be 1-64 characters of [A-Za-z0-9_.-]: ''");
  }

  @Test
  void badArgumentsAndBadMapsExitWithStatus2() throws IOException {
    assertFails(
        run("shard", "create", "--ranges", "4", "--nodes", NODES),
        "--ranges 4 needs --split-keys (N-1 keys) or --sample FILE");
    assertFails(
        run("shard", "create", "--ranges", "4", "--nodes", NODES, "--split-keys", "a,b"),
        "--split-keys gives 2 keys, 3 ranges; --ranges says 4");
    assertFails(
        run("shard", "create", "--ranges", "3", "--nodes", NODES, "--split-keys", "b,a"),
        "split keys must be strictly increasing");
    assertFails(
        run(
            "shard",
            "create",
            "--ranges",
            "2",
            "--replication",
            "4",
            "--nodes",
            NODES,
            "--split-keys",
            "m"),
        "replication must be 1..3");
    assertFails(
        run("shard", "create", "--ranges", "2", "--nodes", "n1=nohost", "--split-keys", "m"),
        "bad peer 'n1=nohost'");
    assertFails(run("shard", "create", "--ranges", "0", "--nodes", NODES), "--ranges must be >= 1");
    Path missing = dir.resolve("missing.map");
    assertFails(
        run("shard", "validate", "--map", missing.toString()), "cannot read the cluster map");
    Path bad = Files.writeString(dir.resolve("bad.map"), "format ferry-cluster-map 1\nclustr x\n");
    assertFails(
        run("shard", "validate", "--map", bad.toString()), bad + ":2: unknown line 'clustr'");
  }

  @Test
  void kvTakesPeersOrAMapNotBoth() throws IOException {
    Path map = dir.resolve("m");
    assertEquals(
        0,
        run("shard", "create", "--ranges", "1", "--nodes", NODES, "--out", map.toString())
            .status());
    assertFails(
        run("kv", "get", "--map", map.toString(), "--peers", NODES, "k"),
        "give --peers or --map, not both");
    assertFails(run("kv", "get", "k"), "--peers is required");
    assertFails(
        run("kv", "get", "--map", dir.resolve("none").toString(), "k"),
        "cannot read the cluster map");
  }
}
