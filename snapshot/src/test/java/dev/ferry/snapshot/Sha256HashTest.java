package dev.ferry.snapshot;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.snapshot.format.ManifestRoot;
import java.nio.ByteBuffer;
import java.util.Locale;
import org.junit.jupiter.api.Test;

class Sha256HashTest {
  private static byte[] bytes(int first) {
    byte[] b = new byte[32];
    b[0] = (byte) first;
    b[31] = 7;
    return b;
  }

  @Test
  void aChunkIdIsAValueOf32Bytes() {
    byte[] b = bytes(0xab);
    ChunkId id = ChunkId.fromBytes(b);
    b[1] = 1;
    assertEquals(0, id.toBytes()[1], "copied on the way in");
    assertEquals(id, ChunkId.fromHex(id.toHex()));
    assertEquals(id, ChunkId.fromHex(id.toHex().toUpperCase(Locale.ROOT)));
    assertEquals(id.hashCode(), ChunkId.fromHex(id.toHex()).hashCode());
    assertEquals("ab0000000000", id.toString());
    ByteBuffer out = ByteBuffer.allocate(40);
    out.put((byte) 9);
    id.writeTo(out);
    assertTrue(id.equalsBytes(out.array(), 1));
    assertFalse(id.equalsBytes(out.array(), 0));
  }

  @Test
  void theIdOfBytesIsTheirSha256() {
    byte[] data = "ferry".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
    ChunkId id = ChunkId.of(data);
    assertArrayEquals(ChunkId.sha256().digest(data), id.toBytes());
    assertEquals(id, ChunkId.of(ByteBuffer.wrap(data)));
    assertEquals(id, ChunkId.of(new byte[] {0, 'f', 'e', 'r', 'r', 'y', 0}, 1, 5));
    assertTrue(id.matches(data, 0, data.length));
    assertFalse(id.matches(data, 0, data.length - 1));
  }

  @Test
  void aChunkIdNeverEqualsAManifestRootWithTheSameBytes() {
    ChunkId id = ChunkId.fromBytes(bytes(1));
    ManifestRoot root = ManifestRoot.fromBytes(bytes(1));
    assertEquals(id.toHex(), root.toHex());
    assertNotEquals(id, root);
    assertNotEquals(root, id);
  }

  @Test
  void ordersUnsigned() {
    ChunkId low = ChunkId.fromBytes(bytes(0x7f));
    ChunkId high = ChunkId.fromBytes(bytes(0x80));
    assertTrue(low.compareTo(high) < 0);
    assertTrue(high.compareTo(low) > 0);
    assertEquals(0, low.compareTo(ChunkId.fromBytes(bytes(0x7f))));
  }

  @Test
  void refusesBadInputNamingTheKind() {
    var shortId =
        assertThrows(IllegalArgumentException.class, () -> ChunkId.fromBytes(new byte[31]));
    assertEquals("chunk id must be 32 bytes, got 31", shortId.getMessage());
    var badRoot =
        assertThrows(IllegalArgumentException.class, () -> ManifestRoot.fromHex("zz".repeat(32)));
    assertTrue(
        badRoot.getMessage().startsWith("manifest root must be 64 hex digits"),
        badRoot.getMessage());
    assertThrows(IllegalArgumentException.class, () -> ChunkId.fromHex("00"));
    assertThrows(NullPointerException.class, () -> ChunkId.fromBytes(null));
  }
}
