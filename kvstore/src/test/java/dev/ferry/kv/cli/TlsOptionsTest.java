package dev.ferry.kv.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.raft.TlsFiles;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The TLS options come all three or not at all. */
class TlsOptionsTest {
  @TempDir Path dir;

  private TlsOptions options(Path cert, Path key, Path trust) {
    TlsOptions o = new TlsOptions();
    o.cert = cert;
    o.key = key;
    o.trust = trust;
    return o;
  }

  @Test
  void noneMeansPlainText() {
    assertTrue(options(null, null, null).files().isEmpty());
  }

  @Test
  void allThreeMakeTlsFiles() throws IOException {
    Path c = Files.writeString(dir.resolve("c.pem"), "c");
    Path k = Files.writeString(dir.resolve("k.pem"), "k");
    Path t = Files.writeString(dir.resolve("t.pem"), "t");
    assertEquals(new TlsFiles(c, k, t), options(c, k, t).files().orElseThrow());
  }

  @Test
  void somePartsMissingIsAOneLineErrorNamingThem() throws IOException {
    Path c = Files.writeString(dir.resolve("c.pem"), "c");
    IllegalArgumentException e =
        assertThrows(IllegalArgumentException.class, () -> options(c, null, null).files());
    assertEquals(
        "--tls-cert, --tls-key and --tls-trust go together; missing --tls-key, --tls-trust",
        e.getMessage());
  }

  @Test
  void theKvCommandExitsWithStatus2OnPartialTlsOptions() throws IOException {
    Path c = Files.writeString(dir.resolve("c.pem"), "c");
    int status =
        FerryCli.run(
            "kv", "get", "--peers", "n1=127.0.0.1:1100", "--tls-cert", c.toString(), "key");
    assertEquals(2, status);
  }

  @Test
  void aMissingFileIsNamed() {
    Path missing = dir.resolve("missing.pem");
    IllegalArgumentException e =
        assertThrows(
            IllegalArgumentException.class, () -> options(missing, missing, missing).files());
    assertTrue(e.getMessage().contains(missing.toString()), e.getMessage());
  }
}
