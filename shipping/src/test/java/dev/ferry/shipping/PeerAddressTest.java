package dev.ferry.shipping;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class PeerAddressTest {

  @Test
  void theTextualFormRoundTripsAndDefaultsTheServicePorts() {
    PeerAddress p = new PeerAddress("n4", "10.0.0.4", 9000, 9100);
    assertEquals(p, PeerAddress.parse(p.toString()));
    assertEquals("n4=10.0.0.4:9000:9100", p.toString());
    assertEquals(new PeerAddress("n1", "h", 100, 101), PeerAddress.parse("n1=h:100"));
    assertEquals(
        List.of(PeerAddress.of("a", "h", 100), PeerAddress.of("b", "h", 200)),
        PeerAddress.parseList("a=h:100, b=h:200,"));
  }

  @Test
  void theOlderFormWithAnAdminPortIsReadWithoutIt() {
    // Membership records in the replicated log hold this form: they must still decode.
    assertEquals(
        new PeerAddress("n4", "10.0.0.4", 9000, 9100),
        PeerAddress.parse("n4=10.0.0.4:9000:9100:9200"));
  }

  @Test
  void malformedPeersAreRefusedWithTheOffendingText() {
    for (String bad :
        new String[] {"n1", "n1=h", "n1=h:100:100", "n1=h:1:2:3:4", "n 1=h:100", "n1=h:70000"}) {
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> PeerAddress.parse(bad));
      assertTrue(e.getMessage().contains(bad.split("=")[0]), e.getMessage());
    }
    IllegalArgumentException twice =
        assertThrows(IllegalArgumentException.class, () -> PeerAddress.parseList("a=h:1,a=h:9"));
    assertTrue(twice.getMessage().contains("'a' appears twice"), twice.getMessage());
  }
}
