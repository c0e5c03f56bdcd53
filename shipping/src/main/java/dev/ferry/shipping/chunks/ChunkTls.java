package dev.ferry.shipping.chunks;

import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.nio.file.Path;
import java.util.Objects;
import javax.net.ssl.SSLException;

/**
 * Mutual-TLS contexts for the chunk service, from PEM files. Every node has a certificate chain and
 * an unencrypted PKCS#8 private key, and trusts the cluster's CA certificates; the server requires
 * a client certificate. Host names are not verified: a peer is accepted if its certificate chains
 * to a trusted CA (and then it must still prove the cluster secret).
 */
public final class ChunkTls {
  private static final String[] PROTOCOLS = {"TLSv1.3", "TLSv1.2"};

  private ChunkTls() {}

  /**
   * A server context requiring client certificates.
   *
   * @param certChain PEM certificate chain of this node
   * @param privateKey PEM PKCS#8 private key of this node
   * @param trusted PEM certificates of the CAs (or peers) whose clients are accepted
   * @throws SSLException if a file cannot be read or parsed
   */
  public static SslContext server(Path certChain, Path privateKey, Path trusted)
      throws SSLException {
    return serverBuilder(certChain, privateKey, trusted).build();
  }

  private static SslContextBuilder serverBuilder(Path certChain, Path privateKey, Path trusted) {
    return SslContextBuilder.forServer(
            Objects.requireNonNull(certChain, "certChain").toFile(),
            Objects.requireNonNull(privateKey, "privateKey").toFile())
        .trustManager(Objects.requireNonNull(trusted, "trusted").toFile())
        .clientAuth(ClientAuth.REQUIRE)
        .protocols(PROTOCOLS);
  }

  /**
   * A client context presenting this node's certificate.
   *
   * @param certChain PEM certificate chain of this node
   * @param privateKey PEM PKCS#8 private key of this node
   * @param trusted PEM certificates of the CAs (or peers) whose servers are accepted
   * @throws SSLException if a file cannot be read or parsed
   */
  public static SslContext client(Path certChain, Path privateKey, Path trusted)
      throws SSLException {
    return clientBuilder(certChain, privateKey, trusted).build();
  }

  private static SslContextBuilder clientBuilder(Path certChain, Path privateKey, Path trusted) {
    return SslContextBuilder.forClient()
        .keyManager(
            Objects.requireNonNull(certChain, "certChain").toFile(),
            Objects.requireNonNull(privateKey, "privateKey").toFile())
        .trustManager(Objects.requireNonNull(trusted, "trusted").toFile())
        .protocols(PROTOCOLS);
  }
}
