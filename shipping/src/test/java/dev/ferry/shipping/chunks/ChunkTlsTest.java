package dev.ferry.shipping.chunks;

import static dev.ferry.shipping.chunks.ChunkFixture.await;
import static dev.ferry.shipping.chunks.ChunkFixture.failure;
import static dev.ferry.shipping.chunks.ChunkFixture.join;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.shipping.chunks.ChunkFixture.Outcomes;
import dev.ferry.shipping.testing.TestCerts;
import dev.ferry.shipping.testing.TestCerts.Identity;
import dev.ferry.snapshot.ChunkId;
import dev.ferry.snapshot.ChunkRef;
import dev.ferry.snapshot.format.Manifest;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.IOException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.junit.jupiter.api.io.TempDir;

/** Mutual TLS: trusted peers work (the HMAC handshake still runs inside TLS), strangers do not. */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
class ChunkTlsTest {
  private ChunkFixture fx;
  private ChunkServer server;
  private Identity clientId;
  private Identity stranger;
  private Path trusted;
  private Manifest manifest;
  private List<ChunkRef> refs;

  @BeforeAll
  void setUp(@TempDir Path dir) throws IOException, GeneralSecurityException {
    Identity serverId = TestCerts.generate(dir, "n1");
    clientId = TestCerts.generate(dir, "n2");
    stranger = TestCerts.generate(dir, "stranger");
    trusted = TestCerts.trust(dir.resolve("cluster.pem"), serverId, clientId);
    fx = new ChunkFixture(dir.resolve("store"));
    refs = new ArrayList<>(fx.putChunks(30, 100_000));
    manifest = fx.addManifest(4, 40, refs);
    server =
        fx.start(
            fx.serverBuilder("n1").tls(ChunkTls.server(serverId.cert(), serverId.key(), trusted)));
  }

  @AfterAll
  void tearDown() throws IOException {
    fx.close();
  }

  @Test
  void aTrustedPeerWithTheSecretFetchesOverTls() throws IOException {
    ChunkClient client =
        fx.connect(
            fx.clientBuilder(server, "n2")
                .tls(ChunkTls.client(clientId.cert(), clientId.key(), trusted)));
    assertEquals(manifest, join(client.fetchManifest(join(client.listManifests(0)).get(0))));
    List<ChunkId> ids = new ArrayList<>(refs.stream().map(ChunkRef::id).toList());
    ids.addAll(fx.unknownIds(2));
    Outcomes out = new Outcomes();
    client.fetch(ids, out);
    await(() -> out.reported() == ids.size(), "every chunk");
    assertEquals(refs.size(), out.arrived.size());
    refs.forEach(r -> ChunkFixture.verify(r, out.arrived.get(r.id())));
    assertEquals(2, out.failed.size());
  }

  @Test
  void aPeerWithAnUntrustedCertificateIsRefused() throws IOException {
    long refusedBefore = server.stats().connectionsRefused();
    Throwable t =
        failure(
            fx.clientBuilder(server, "n3")
                .tls(ChunkTls.client(stranger.cert(), stranger.key(), trusted))
                .connect());
    assertInstanceOf(ChunkAuthException.class, t);
    assertTrue(t.getMessage().contains("TLS"), t.getMessage());
    await(() -> server.stats().connectionsRefused() == refusedBefore + 1, "the refusal counted");
  }

  @Test
  void aPlainTextPeerIsRefused() {
    long refusedBefore = server.stats().connectionsRefused();
    // The server waits for a TLS ClientHello, the client for HELLO: the client gives up first.
    Throwable t =
        failure(fx.clientBuilder(server, "n2").connectTimeout(Duration.ofMillis(300)).connect());
    assertInstanceOf(ChunkAuthException.class, t);
    await(() -> server.stats().connectionsRefused() == refusedBefore + 1, "the refusal counted");
  }

  @Test
  void aServerContextThatDoesNotRequireClientCertificatesIsRejected() throws Exception {
    Identity id = TestCerts.generate(trusted.getParent(), "lax");
    SslContext lax = SslContextBuilder.forServer(id.cert().toFile(), id.key().toFile()).build();
    assertThrows(IllegalArgumentException.class, () -> fx.serverBuilder("n5").tls(lax).build());
  }
}
