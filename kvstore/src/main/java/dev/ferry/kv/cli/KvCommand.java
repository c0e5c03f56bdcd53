package dev.ferry.kv.cli;

import dev.ferry.kv.KvClient;
import dev.ferry.kv.KvOperations;
import dev.ferry.kv.shard.ClusterMap;
import dev.ferry.kv.shard.RoutingKvClient;
import dev.ferry.raft.TlsFiles;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code ferry kv put|get|delete|cas|scan}: one operation against a running cluster, a single group
 * ({@code --peers}) or a sharded one ({@code --map}: a scan then reads range after range, not
 * atomically across ranges).
 */
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

  /**
   * A KV command: talks to one group ({@code --peers}, {@code --cluster}) or, with {@code --map},
   * routes by a cluster map to the group of each key's range.
   */
  abstract static class Base extends ClientCommand {
    @Option(
        names = "--map",
        paramLabel = "FILE",
        description =
            "Cluster map (descriptor from 'ferry shard create') of a sharded cluster: each key"
                + " goes to its range's group. Instead of --peers and --cluster.")
    Path map;

    @Override
    public Integer call() throws Exception {
      if (map == null) {
        try (KvOperations c = single()) {
          return run(c);
        }
      }
      if (peers != null) {
        throw new IllegalArgumentException("give --peers or --map, not both");
      }
      ClusterMap m = ShardCommand.openMap(map, tls.files().orElse(null));
      try (KvOperations c = routing(m)) {
        return run(c);
      } finally {
        if (m instanceof AutoCloseable closeable) {
          closeable.close();
        }
      }
    }

    private KvClient single() {
      Target t = target();
      return t.tls().isPresent()
          ? KvClient.connect(t.cluster(), t.peers(), t.timeout(), t.tls().get())
          : KvClient.connect(t.cluster(), t.peers(), t.timeout());
    }

    private RoutingKvClient routing(ClusterMap m) {
      Duration timeout = timeout();
      Optional<TlsFiles> files = tls.files();
      return files.isPresent()
          ? RoutingKvClient.connect(m, timeout, files.get())
          : RoutingKvClient.connect(m, timeout);
    }

    abstract int run(KvOperations c) throws Exception;
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
    int run(KvOperations c) throws Exception {
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
    int run(KvOperations c) throws Exception {
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
    int run(KvOperations c) throws Exception {
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
    int run(KvOperations c) throws Exception {
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

  @Command(
      name = "scan",
      description =
          "List keys in [FROM, TO) (with --map: range by range, not atomic across ranges).")
  static final class Scan extends Base {
    @Option(names = "--from")
    String from;

    @Option(names = "--to")
    String to;

    @Option(names = "--limit", defaultValue = "100")
    int limit;

    @Override
    int run(KvOperations c) throws Exception {
      Map<byte[], byte[]> rows =
          c.scan(from == null ? null : utf8(from), to == null ? null : utf8(to), limit);
      rows.forEach((k, v) -> System.out.println(text(k) + "\t" + text(v)));
      return 0;
    }
  }
}
