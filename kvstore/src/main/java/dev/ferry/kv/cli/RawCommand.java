package dev.ferry.kv.cli;

import dev.ferry.client.CommandRejectedException;
import dev.ferry.client.FerryClient;
import dev.ferry.client.FerryClientException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;

/**
 * {@code ferry call} and {@code ferry query}: one raw request to any Ferry state machine through
 * {@link FerryClient}, its input as UTF-8 text or hex, its reply printed as text when it is
 * printable UTF-8 and as {@code 0x}-prefixed hex otherwise (or as plain hex with {@code --hex}).
 * Exit status: 0 on a reply, 1 when the cluster refused the request or did not answer in time, 2
 * for bad arguments.
 */
abstract class RawCommand extends ClientCommand {
  @Parameters(
      index = "0",
      paramLabel = "INPUT",
      description = "The bytes to send: UTF-8 text, or hex with --hex.")
  String input;

  @Option(
      names = "--hex",
      description = "INPUT is hex (an optional 0x prefix), and the reply is printed as hex.")
  boolean hex;

  @Spec CommandSpec spec;

  /** Sends {@code bytes} through {@code client}; returns the reply. */
  abstract byte[] send(FerryClient client, byte[] bytes);

  @Override
  public Integer call() {
    byte[] bytes = parse(input, hex);
    Target t = target();
    PrintWriter out = spec.commandLine().getOut();
    PrintWriter err = spec.commandLine().getErr();
    try (FerryClient c = t.client()) {
      out.println(format(send(c, bytes), hex));
      out.flush();
      return 0;
    } catch (CommandRejectedException e) {
      err.println("ferry: rejected, " + e.status() + ": " + e.reason());
    } catch (FerryClientException e) {
      err.println("ferry: " + e.getClass().getSimpleName() + ": " + e.getMessage());
    }
    err.flush();
    return 1;
  }

  /**
   * The bytes {@code text} stands for: its UTF-8 encoding, or the bytes it spells in hex.
   *
   * @throws IllegalArgumentException if {@code hex} and the text is not hex
   */
  static byte[] parse(String text, boolean hex) {
    if (!hex) {
      return text.getBytes(StandardCharsets.UTF_8);
    }
    String digits = text.startsWith("0x") || text.startsWith("0X") ? text.substring(2) : text;
    try {
      return HexFormat.of().parseHex(digits);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("--hex input is not hex: '" + text + "'", e);
    }
  }

  /**
   * A reply for the terminal: plain hex if {@code hex}; else the text, if it is valid UTF-8 without
   * control characters (tabs and line breaks allowed); else {@code 0x} and its hex.
   */
  static String format(byte[] reply, boolean hex) {
    if (hex) {
      return HexFormat.of().formatHex(reply);
    }
    String text = new String(reply, StandardCharsets.UTF_8);
    // Malformed UTF-8 decodes to replacement characters, which do not encode back to the reply.
    boolean utf8 = java.util.Arrays.equals(text.getBytes(StandardCharsets.UTF_8), reply);
    boolean printable =
        text.chars()
            .allMatch(c -> c == '\t' || c == '\n' || c == '\r' || !Character.isISOControl(c));
    return utf8 && printable ? text : "0x" + HexFormat.of().formatHex(reply);
  }
}
