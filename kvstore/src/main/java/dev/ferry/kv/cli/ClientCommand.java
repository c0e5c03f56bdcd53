package dev.ferry.kv.cli;

import dev.ferry.client.FerryClient;
import dev.ferry.raft.TlsFiles;
import dev.ferry.shipping.PeerAddress;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * The options of every command that talks to a cluster as a client ({@code kv}, {@code call},
 * {@code query}): {@code --peers}, {@code --cluster}, {@code --timeout} and the TLS options.
 */
abstract class ClientCommand implements Callable<Integer> {
  @Option(names = "--peers", description = "id=host:raftPort,... (required)")
  String peers;

  @Option(names = "--cluster", defaultValue = "ferry", description = "Cluster name.")
  String cluster;

  @Option(
      names = "--timeout",
      defaultValue = "15",
      description = "Seconds (default ${DEFAULT-VALUE}).")
  long timeoutSeconds;

  @Mixin TlsOptions tls = new TlsOptions();

  /**
   * The validated options.
   *
   * @param cluster the cluster name
   * @param peers the servers
   * @param timeout the deadline of the command's operation, retries included
   * @param tls the client's TLS files, if any
   */
  record Target(String cluster, List<PeerAddress> peers, Duration timeout, Optional<TlsFiles> tls) {
    /** A generic client of the target. */
    FerryClient client() {
      FerryClient.Builder b =
          FerryClient.builder().clusterName(cluster).peers(peers).deadline(timeout);
      tls.ifPresent(b::tls);
      return b.build();
    }
  }

  /**
   * The options, checked.
   *
   * @throws IllegalArgumentException naming the bad option (the CLI exits with status 2)
   */
  Target target() {
    if (peers == null) {
      throw new IllegalArgumentException("--peers is required (id=host:raftPort,...)");
    }
    Duration timeout = timeout();
    Optional<TlsFiles> files = tls.files();
    return new Target(cluster, PeerAddress.parseList(peers), timeout, files);
  }

  /**
   * The {@code --timeout}, checked.
   *
   * @throws IllegalArgumentException if it is below 1 second
   */
  Duration timeout() {
    if (timeoutSeconds < 1) {
      throw new IllegalArgumentException("--timeout must be >= 1 second");
    }
    return Duration.ofSeconds(timeoutSeconds);
  }
}
