package dev.ferry.kv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.kv.internal.KvCodec;
import dev.ferry.kv.testing.LocalCluster;
import dev.ferry.shipping.PeerAddress;
import dev.ferry.statemachine.StateMachineConfig;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HexFormat;
import java.util.stream.Collectors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** {@code ferry call} and {@code ferry query} against a 3-node key-value cluster in this JVM. */
class CallQueryIT {
  private static final HexFormat HEX = HexFormat.of();
  private static final byte[] KEY = "greeting".getBytes(StandardCharsets.UTF_8);
  private static final byte[] VALUE = "hello".getBytes(StandardCharsets.UTF_8);

  @TempDir Path dir;
  private LocalCluster cluster;
  private String peers;

  @BeforeEach
  void start() throws Exception {
    cluster = LocalCluster.start(dir, 3, StateMachineConfig.defaults());
    peers = cluster.peers().stream().map(PeerAddress::toString).collect(Collectors.joining(","));
  }

  @AfterEach
  void tearDown() throws Exception {
    cluster.close();
  }

  /** Exit status, standard output and standard error of one command. */
  private record Run(int status, String out, String err) {}

  private Run ferry(String command, String... args) {
    StringWriter out = new StringWriter();
    StringWriter err = new StringWriter();
    String[] all = new String[args.length + 5];
    all[0] = command;
    all[1] = "--peers";
    all[2] = peers;
    all[3] = "--cluster";
    all[4] = cluster.clusterName();
    System.arraycopy(args, 0, all, 5, args.length);
    int status = FerryCli.run(new PrintWriter(out), new PrintWriter(err), all);
    return new Run(status, out.toString().strip(), err.toString().strip());
  }

  @Test
  void callAppliesRawCommandsAndQueryReadsThem() {
    Run put = ferry("call", "--hex", HEX.formatHex(KvCodec.put(KEY, VALUE)));
    assertEquals(new Run(0, "00", ""), put, "the store's reply: the key did not exist");
    String get = HEX.formatHex(KvCodec.get(KEY));
    assertEquals(
        new Run(0, HEX.formatHex(KvCodec.valueReply(true, VALUE)), ""),
        ferry("query", "--hex", get));
    // Without --hex the input is text (here all ASCII, so its UTF-8 bytes are the command's), and
    // a binary reply is printed as 0x-prefixed hex.
    byte[] raw = KvCodec.get(KEY);
    for (byte b : raw) {
      assertTrue(b >= 0, "ASCII");
    }
    assertEquals(
        new Run(0, "0x" + HEX.formatHex(KvCodec.valueReply(true, VALUE)), ""),
        ferry("query", new String(raw, StandardCharsets.US_ASCII)));
    String follower = cluster.follower(Duration.ofSeconds(60));
    LocalCluster.await(
        Duration.ofSeconds(60),
        () ->
            ferry("query", "--hex", "--stale", follower, get).out().endsWith(HEX.formatHex(VALUE)),
        follower + " to have applied the put");
  }

  @Test
  void aCommandTheStateMachineRefusesExitsWithStatus1AndItsStatus() {
    Run r = ferry("call", "hello"); // text: not a key-value command
    assertEquals(1, r.status());
    assertEquals("", r.out());
    assertTrue(r.err().startsWith("ferry: rejected, APPLY_FAILED: "), r.err());
    Run q = ferry("query", "hello");
    assertEquals(1, q.status());
    assertTrue(q.err().startsWith("ferry: rejected, APPLY_FAILED: "), q.err());
  }
}
