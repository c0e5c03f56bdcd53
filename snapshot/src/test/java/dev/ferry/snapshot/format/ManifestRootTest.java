package dev.ferry.snapshot.format;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class ManifestRootTest {
  @Test
  void isAValueOf32Bytes() {
    byte[] b = new byte[32];
    b[0] = (byte) 0xff;
    ManifestRoot root = ManifestRoot.fromBytes(b);
    b[1] = 1;
    assertEquals(0, root.toBytes()[1], "copied on the way in");
    assertEquals(root, ManifestRoot.fromHex(root.toHex()));
    assertEquals(root, ManifestRoot.fromHex(root.toHex().toUpperCase(java.util.Locale.ROOT)));
    assertEquals(root.hashCode(), ManifestRoot.fromHex(root.toHex()).hashCode());
    assertEquals("ff0000000000", root.toString());
    assertArrayEquals(root.toBytes(), ManifestRoot.fromBytes(root.toBytes()).toBytes());
  }

  @Test
  void ordersUnsigned() {
    ManifestRoot low = ManifestRoot.fromBytes(new byte[32]);
    byte[] b = new byte[32];
    b[0] = (byte) 0x80;
    ManifestRoot high = ManifestRoot.fromBytes(b);
    assertTrue(low.compareTo(high) < 0);
    assertNotEquals(low, high);
  }

  @Test
  void refusesBadInput() {
    assertThrows(IllegalArgumentException.class, () -> ManifestRoot.fromBytes(new byte[31]));
    assertThrows(IllegalArgumentException.class, () -> ManifestRoot.fromHex("00"));
    assertThrows(IllegalArgumentException.class, () -> ManifestRoot.fromHex("zz".repeat(32)));
  }
}
