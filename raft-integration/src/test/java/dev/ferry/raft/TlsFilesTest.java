package dev.ferry.raft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.ratis.grpc.GrpcTlsConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Validation of the TLS file triple and the Ratis configuration made from it. */
class TlsFilesTest {
  @TempDir Path dir;

  @Test
  void missingOrNonRegularFilesAreRefusedByName() throws IOException {
    Path ok = Files.writeString(dir.resolve("ok.pem"), "x");
    Path missing = dir.resolve("missing.pem");
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> new TlsFiles(ok, missing, ok));
    assertTrue(e.getMessage().contains("private key") && e.getMessage().contains("missing.pem"));
    e = assertThrows(IllegalArgumentException.class, () -> new TlsFiles(dir, ok, ok));
    assertTrue(e.getMessage().contains("certificate chain"), e.getMessage());
    assertThrows(NullPointerException.class, () -> new TlsFiles(ok, ok, null));
  }

  @Test
  void theRatisConfigurationIsMutualAndFileBased() throws IOException {
    Path cert = Files.writeString(dir.resolve("c.pem"), "c");
    Path key = Files.writeString(dir.resolve("k.pem"), "k");
    Path trust = Files.writeString(dir.resolve("t.pem"), "t");
    GrpcTlsConfig c = new TlsFiles(cert, key, trust).grpcConfig();
    assertTrue(c.getMtlsEnabled());
    assertTrue(c.isFileBasedConfig());
    assertEquals(cert.toFile(), c.getCertChainFile());
    assertEquals(key.toFile(), c.getPrivateKeyFile());
    assertEquals(trust.toFile(), c.getTrustStoreFile());
  }
}
