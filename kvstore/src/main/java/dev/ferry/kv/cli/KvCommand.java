package dev.ferry.kv.cli;

import dev.ferry.kv.KvClient;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/** {@code ferry kv put|get|delete|cas|scan}: one operation against a running cluster. */
@Command(
    name = "kv",
    description = "Key-value operations. Keys and values are UTF-8 text.",
    subcommands = {
      KvCommand.Put.class,
      KvCommand.Get.class,
      KvCommand.Delete.class,
      KvCommand.Cas.class,
      KvCommand.Scan.class
    })
final class KvCommand {

  abstract static class Base extends ClientCommand {
    @Override
    public Integer call() throws Exception {
      Target t = target();
      try (KvClient c =
          t.tls().isPresent()
              ? KvClient.connect(t.cluster(), t.peers(), t.timeout(), t.tls().get())
              : KvClient.connect(t.cluster(), t.peers(), t.timeout())) {
        return run(c);
      }
    }

    abstract int run(KvClient c) throws Exception;
  }

  static byte[] utf8(String s) {
    return s.getBytes(StandardCharsets.UTF_8);
  }

  static String text(byte[] b) {
    return b == null ? "(absent)" : new String(b, StandardCharsets.UTF_8);
  }

  @Command(name = "put", description = "Set a key.")
  static final class Put extends Base {
    @Parameters(index = "0")
    String key;

    @Parameters(index = "1")
    String value;

    @Override
    int run(KvClient c) throws Exception {
      c.put(utf8(key), utf8(value));
      System.out.println("OK");
      return 0;
    }
  }

  @Command(name = "get", description = "Read a key (linearizable).")
  static final class Get extends Base {
    @Parameters(index = "0")
    String key;

    @Override
    int run(KvClient c) throws Exception {
      byte[] v = c.get(utf8(key));
      System.out.println(text(v));
      return v == null ? 1 : 0;
    }
  }

  @Command(name = "delete", description = "Delete a key.")
  static final class Delete extends Base {
    @Parameters(index = "0")
    String key;

    @Override
    int run(KvClient c) throws Exception {
      System.out.println(c.delete(utf8(key)) ? "deleted" : "absent");
      return 0;
    }
  }

  @Command(
      name = "cas",
      description = "Compare and set: cas KEY EXPECTED NEW (use --absent for no value).")
  static final class Cas extends Base {
    @Parameters(index = "0")
    String key;

    @Parameters(index = "1", arity = "0..1")
    String expected;

    @Parameters(index = "2", arity = "0..1")
    String value;

    @Option(names = "--expect-absent", description = "Expect the key to be absent.")
    boolean expectAbsent;

    @Override
    int run(KvClient c) throws Exception {
      if (expectAbsent == (expected != null && value != null)) {
        if (expectAbsent && expected != null && value == null) {
          value = expected;
          expected = null;
        } else {
          throw new IllegalArgumentException(
              "usage: kv cas KEY EXPECTED NEW, or kv cas --expect-absent KEY NEW");
        }
      }
      KvClient.CasResult r =
          c.compareAndSet(utf8(key), expected == null ? null : utf8(expected), utf8(value));
      System.out.println(r.success() ? "OK" : "FAILED (current: " + text(r.current()) + ")");
      return r.success() ? 0 : 1;
    }
  }

  @Command(name = "scan", description = "List keys in [FROM, TO).")
  static final class Scan extends Base {
    @Option(names = "--from")
    String from;

    @Option(names = "--to")
    String to;

    @Option(names = "--limit", defaultValue = "100")
    int limit;

    @Override
    int run(KvClient c) throws Exception {
      Map<byte[], byte[]> rows =
          c.scan(from == null ? null : utf8(from), to == null ? null : utf8(to), limit);
      rows.forEach((k, v) -> System.out.println(text(k) + "\t" + text(v)));
      return 0;
    }
  }
}
