package dev.ferry.kv.cli;

import dev.ferry.raft.TlsFiles;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import picocli.CommandLine.Option;

/** The {@code --tls-cert/--tls-key/--tls-trust} options shared by {@code server} and {@code kv}. */
final class TlsOptions {
  @Option(
      names = "--tls-cert",
      paramLabel = "FILE",
      description = "PEM certificate chain: turns on mutual TLS (with --tls-key and --tls-trust).")
  Path cert;

  @Option(names = "--tls-key", paramLabel = "FILE", description = "PEM PKCS#8 private key.")
  Path key;

  @Option(
      names = "--tls-trust",
      paramLabel = "FILE",
      description = "PEM certificates of the trusted CAs.")
  Path trust;

  /**
   * The TLS files, or empty when none of the options is given.
   *
   * @throws IllegalArgumentException if only some of the options are given, or a file is missing or
   *     unreadable
   */
  Optional<TlsFiles> files() {
    if (cert == null && key == null && trust == null) {
      return Optional.empty();
    }
    List<String> missing = new ArrayList<>();
    if (cert == null) {
      missing.add("--tls-cert");
    }
    if (key == null) {
      missing.add("--tls-key");
    }
    if (trust == null) {
      missing.add("--tls-trust");
    }
    if (!missing.isEmpty()) {
      throw new IllegalArgumentException(
          "--tls-cert, --tls-key and --tls-trust go together; missing "
              + String.join(", ", missing));
    }
    return Optional.of(new TlsFiles(cert, key, trust));
  }
}
