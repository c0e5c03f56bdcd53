package dev.ferry.raft;

import dev.ferry.shipping.chunks.ChunkTls;
import io.netty.handler.ssl.SslContext;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;
import javax.net.ssl.SSLException;
import org.apache.ratis.conf.Parameters;
import org.apache.ratis.grpc.GrpcConfigKeys;
import org.apache.ratis.grpc.GrpcTlsConfig;

/**
 * The PEM files of one party's mutual-TLS identity: used for Ratis's gRPC port (servers and
 * clients) and for the chunk service.
 *
 * <p>Both sides of every connection present a certificate that must chain to one of {@link
 * #trustedCertificates()}. On the Raft (gRPC) port a client also checks that the server's
 * certificate names the host it dialled (a DNS or IP subject alternative name matching the peer's
 * host, e.g. {@code SAN=dns:node1.example,ip:10.0.0.1}); the chunk service does not check host
 * names (its peers must still prove the cluster secret).
 *
 * <p>The compact constructor checks that each file exists and is readable (not that it parses: a
 * malformed file fails when the server or client is built). Immutable.
 *
 * @param certificateChain PEM certificate chain of this node or client (leaf first)
 * @param privateKey PEM, unencrypted PKCS#8 private key matching the chain's leaf
 * @param trustedCertificates PEM certificates of the CAs (or peers) whose certificates are accepted
 */
public record TlsFiles(Path certificateChain, Path privateKey, Path trustedCertificates) {

  /**
   * Validates the files.
   *
   * @throws NullPointerException if a path is null
   * @throws IllegalArgumentException naming the file that is missing, not a regular file, or not
   *     readable
   */
  public TlsFiles {
    check(certificateChain, "certificate chain");
    check(privateKey, "private key");
    check(trustedCertificates, "trusted certificates");
  }

  private static void check(Path file, String what) {
    Objects.requireNonNull(file, what);
    if (!Files.isRegularFile(file)) {
      throw new IllegalArgumentException("TLS " + what + " file does not exist: " + file);
    }
    if (!Files.isReadable(file)) {
      throw new IllegalArgumentException("TLS " + what + " file is not readable: " + file);
    }
  }

  /**
   * The chunk service's server context (client certificates required).
   *
   * @throws SSLException if a file cannot be parsed
   */
  public SslContext chunkServerContext() throws SSLException {
    return ChunkTls.server(certificateChain, privateKey, trustedCertificates);
  }

  /**
   * A chunk-service client context presenting this certificate.
   *
   * @throws SSLException if a file cannot be parsed
   */
  public SslContext chunkClientContext() throws SSLException {
    return ChunkTls.client(certificateChain, privateKey, trustedCertificates);
  }

  /**
   * Ratis gRPC TLS configuration with mutual TLS on: a server built with it requires client
   * certificates on its (shared server, client and admin) port, and every outgoing gRPC channel — a
   * server's to its peers, a client's to the servers — presents this certificate. The files are
   * read when Ratis builds its RPC layer.
   */
  public GrpcTlsConfig grpcConfig() {
    return new GrpcTlsConfig(
        privateKey.toFile(), certificateChain.toFile(), trustedCertificates.toFile(), true);
  }

  /**
   * New Ratis {@link Parameters} carrying {@link #grpcConfig()} as the default TLS configuration of
   * every gRPC service and channel ({@link GrpcConfigKeys.TLS}); pass them to {@code
   * RaftServer.newBuilder().setParameters} or {@code RaftClient.newBuilder().setParameters}.
   */
  public Parameters ratisParameters() {
    Parameters parameters = new Parameters();
    GrpcConfigKeys.TLS.setConf(parameters, grpcConfig());
    return parameters;
  }
}
