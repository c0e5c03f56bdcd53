package dev.ferry.shipping.testing;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.Key;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.util.Base64;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Self-signed certificates for TLS tests, made with the JDK's {@code keytool} (Netty's {@code
 * SelfSignedCertificate} needs BouncyCastle on JDK 17) and written as PEM files, the form {@code
 * TlsFiles} names. Each certificate names {@code localhost} and {@code 127.0.0.1}, so gRPC's host
 * name check passes on loopback. Published in the shipping test-jar.
 */
public final class TestCerts {
  private static final char[] PASSWORD = "changeit".toCharArray();

  /** A node's PEM certificate and PKCS#8 private key. */
  public record Identity(Path cert, Path key) {}

  private TestCerts() {}

  /** Generates an EC P-256 key pair with a self-signed certificate for {@code name}. */
  public static Identity generate(Path dir, String name)
      throws IOException, GeneralSecurityException {
    Path store = dir.resolve(name + ".p12");
    Path keytool = Path.of(System.getProperty("java.home"), "bin", "keytool");
    Process p =
        new ProcessBuilder(
                List.of(
                    keytool.toString(),
                    "-genkeypair",
                    "-alias",
                    name,
                    "-keyalg",
                    "EC",
                    "-groupname",
                    "secp256r1",
                    "-sigalg",
                    "SHA256withECDSA",
                    "-dname",
                    "CN=" + name,
                    "-ext",
                    "SAN=dns:localhost,ip:127.0.0.1",
                    "-validity",
                    "2",
                    "-storetype",
                    "PKCS12",
                    "-keystore",
                    store.toString(),
                    "-storepass",
                    new String(PASSWORD),
                    "-keypass",
                    new String(PASSWORD)))
            .redirectErrorStream(true)
            .start();
    byte[] output;
    try (InputStream in = p.getInputStream()) {
      output = in.readAllBytes();
    }
    try {
      if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
        throw new IOException(
            "keytool failed: " + new String(output, StandardCharsets.UTF_8).strip());
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted waiting for keytool", e);
    }
    KeyStore ks = KeyStore.getInstance("PKCS12");
    try (InputStream in = Files.newInputStream(store)) {
      ks.load(in, PASSWORD);
    }
    Key key = ks.getKey(name, PASSWORD);
    Certificate cert = ks.getCertificate(name);
    Path certPem = dir.resolve(name + ".crt.pem");
    Path keyPem = dir.resolve(name + ".key.pem");
    Files.writeString(certPem, pem("CERTIFICATE", cert.getEncoded()));
    Files.writeString(keyPem, pem("PRIVATE KEY", key.getEncoded()));
    return new Identity(certPem, keyPem);
  }

  /** Writes the certificates of {@code ids} into one PEM trust file. */
  public static Path trust(Path file, Identity... ids) throws IOException {
    StringBuilder b = new StringBuilder();
    for (Identity id : ids) {
      b.append(Files.readString(id.cert()));
    }
    Files.writeString(file, b);
    return file;
  }

  private static String pem(String type, byte[] der) {
    return "-----BEGIN "
        + type
        + "-----\n"
        + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(der)
        + "\n-----END "
        + type
        + "-----\n";
  }
}
