package dev.ferry.kv.shard;

import static dev.ferry.kv.shard.ClusterLayoutTest.NODES;
import static dev.ferry.kv.shard.ClusterLayoutTest.assertMessage;
import static dev.ferry.kv.shard.ClusterLayoutTest.b;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DescriptorTest {
  @TempDir Path dir;

  static final String TEXT =
      """
      # a comment
      format ferry-cluster-map 1
      cluster ferry
      version 7
      replication 2

      node n1=10.0.0.1:9000
      node n2=10.0.0.2:9000:9100
      node n3=10.0.0.3:9000
      range 0 - user%20500 ferry.r0 n1,n2
      range 1 user%20500 %FF ferry.r1 n2,n3
      range 2 %FF - ferry.r2 n3,n1
      """;

  @Test
  void aDescriptorParses() {
    ClusterLayout l = ClusterLayout.parse(TEXT, "t");
    assertEquals("ferry", l.cluster());
    assertEquals(7, l.version());
    assertEquals(2, l.replication());
    assertEquals(9100, l.node("n2").chunkPort());
    assertEquals(9001, l.node("n1").chunkPort());
    assertArrayEquals(b("user 500"), l.range(1).start());
    assertArrayEquals(new byte[] {(byte) 0xff}, l.range(2).start());
    assertEquals(List.of("n3", "n1"), l.range(2).replicas());
  }

  @Test
  void formatThenParseGivesTheSameLayout() throws IOException {
    List<byte[]> keys =
        List.of(b("-"), b("100%"), new byte[] {'a', 0, ' ', '\n'}, new byte[] {(byte) 0xc3, 0x7f});
    ClusterLayout l = ClusterLayout.create("ferry", NODES, keys, 3);
    assertEquals(l, ClusterLayout.parse(l.format(), "t"));
    Path file = dir.resolve("map");
    l.write(file);
    assertEquals(l, ClusterLayout.read(file));
    ClusterLayout handWritten = ClusterLayout.parse(TEXT, "t");
    assertEquals(handWritten, ClusterLayout.parse(handWritten.format(), "t"));
  }

  @Property
  void anyKeyRoundTripsThroughItsText(@ForAll byte[] key) {
    String token = KeyText.encode(key);
    assertTrue(token.chars().allMatch(c -> c > 0x20 && c < 0x7f), token);
    assertTrue(!token.equals("-"), token);
    assertArrayEquals(key, KeyText.decode(token));
  }

  @Test
  void errorsNameTheLine() {
    assertMessage("t:7: unknown line 'nodes'", () -> parse(TEXT.replace("node n1", "nodes n1")));
    assertMessage(
        "t:1: not a cluster map (or another version)",
        () -> parse(TEXT.replace("# a comment\nformat ferry-cluster-map 1", "format x 2")));
    assertMessage("t:4: version is not a number: 'seven'", () -> parse(TEXT.replace("7", "seven")));
    assertMessage("t:11: range 1: unknown node n9", () -> parse(TEXT.replace("n2,n3", "n2,n9")));
    assertMessage(
        "t:12: range 2 starts at '%FE' but range 1 ends at '%FF'",
        () -> parse(TEXT.replace("range 2 %FF", "range 2 %FE")));
    assertMessage(
        "t:12: range 3 where range 2 was due", () -> parse(TEXT.replace("range 2", "range 3")));
    assertMessage(
        "t:11: key 'user%2': '%' needs two hex digits",
        () -> parse(TEXT.replace("1 user%20500", "1 user%2")));
    assertMessage(
        "t:10: expected 'range INDEX START END GROUP REPLICAS'",
        () -> parse(TEXT.replace("ferry.r0 n1,n2", "ferry.r0")));
    assertMessage(
        "t:6: a second 'replication' line", () -> parse(TEXT.replace("\n\n", "\nreplication 2\n")));
    assertMessage("t:10: bad peer 'n4'", () -> parse(TEXT.replace("range 0", "node n4\nrange 0")));
    assertMessage(
        "t: the last range (2) must be unbounded above",
        () -> parse(TEXT.replace("range 2 %FF -", "range 2 %FF %FF%01")));
    assertMessage("t: no 'cluster' line", () -> parse(TEXT.replace("cluster ferry\n", "")));
    assertMessage("t: not a cluster map", () -> parse("# nothing\n"));
  }

  private static ClusterLayout parse(String text) {
    return ClusterLayout.parse(text, "t");
  }

  @Test
  void aFileThatIsNotUtf8IsNamed() throws IOException {
    Path file = Files.write(dir.resolve("bad"), new byte[] {'f', (byte) 0xc3, '\n'});
    assertMessage(file + ": not UTF-8 text", () -> ClusterLayout.read(file));
  }
}
