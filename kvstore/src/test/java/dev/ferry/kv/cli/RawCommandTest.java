package dev.ferry.kv.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** {@code ferry call} / {@code ferry query} without a cluster: input, output, bad arguments. */
class RawCommandTest {
  private final StringWriter out = new StringWriter();
  private final StringWriter err = new StringWriter();

  private int run(String... args) {
    return FerryCli.run(new PrintWriter(out), new PrintWriter(err), args);
  }

  @Test
  void inputIsUtf8TextOrHex() {
    assertArrayEquals("héllo".getBytes(StandardCharsets.UTF_8), RawCommand.parse("héllo", false));
    assertArrayEquals(new byte[] {0x01, (byte) 0xff}, RawCommand.parse("01ff", true));
    assertArrayEquals(new byte[] {0x01, (byte) 0xff}, RawCommand.parse("0x01FF", true));
    assertArrayEquals(new byte[0], RawCommand.parse("", true));
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> RawCommand.parse("0g", true));
    assertEquals("--hex input is not hex: '0g'", e.getMessage());
  }

  @Test
  void printableUtf8IsPrintedAsTextAndAnythingElseAsHex() {
    assertEquals(
        "héllo\tworld", RawCommand.format("héllo\tworld".getBytes(StandardCharsets.UTF_8), false));
    assertEquals("0x0141", RawCommand.format(new byte[] {0x01, 0x41}, false), "a control byte");
    assertEquals("0xc328", RawCommand.format(new byte[] {(byte) 0xc3, 0x28}, false), "bad UTF-8");
    assertEquals("", RawCommand.format(new byte[0], false));
    assertEquals("4142", RawCommand.format("AB".getBytes(StandardCharsets.UTF_8), true));
  }

  @Test
  void theReadmesKeyValueExampleSpellsTheStoresCommands() {
    java.util.HexFormat hex = java.util.HexFormat.of();
    byte[] key = "greeting".getBytes(StandardCharsets.UTF_8);
    byte[] value = "hello".getBytes(StandardCharsets.UTF_8);
    assertEquals(
        "01000000086772656574696e670000000568656c6c6f",
        hex.formatHex(dev.ferry.kv.internal.KvCodec.put(key, value)));
    assertEquals(
        "11000000086772656574696e67", hex.formatHex(dev.ferry.kv.internal.KvCodec.get(key)));
    assertEquals(
        "01010000000568656c6c6f",
        hex.formatHex(dev.ferry.kv.internal.KvCodec.valueReply(true, value)));
  }

  @Test
  void badArgumentsExitWithStatus2AndAOneLineError() {
    assertEquals(2, run("call", "--peers", "n1=127.0.0.1:1100", "--hex", "xyz"));
    assertTrue(err.toString().contains("--hex input is not hex: 'xyz'"), err.toString());
    assertEquals(2, run("query", "get"));
    assertTrue(err.toString().contains("--peers"), err.toString());
    assertEquals(2, run("call", "--peers", "nonsense", "x"));
    assertTrue(err.toString().contains("bad peer 'nonsense'"), err.toString());
    assertEquals(2, run("query", "--peers", "n1=127.0.0.1:1100", "--timeout", "0", "x"));
    assertEquals(2, run("call", "--peers", "n1=127.0.0.1:1100"));
    assertEquals("", out.toString());
  }

  @Test
  void aClusterThatDoesNotAnswerExitsWithStatus1() throws Exception {
    int port;
    try (java.net.ServerSocket s = new java.net.ServerSocket(0)) {
      port = s.getLocalPort(); // closed again: nothing listens there
    }
    int status = run("query", "--peers", "n1=127.0.0.1:" + port, "--timeout", "1", "x");
    assertEquals(1, status);
    assertTrue(err.toString().startsWith("ferry: ClusterUnavailableException: "), err.toString());
  }
}
