package dev.ferry.raft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import dev.ferry.shipping.PeerAddress;
import java.util.List;
import org.apache.ratis.proto.RaftProtos.LeaderInfoProto;
import org.apache.ratis.proto.RaftProtos.RaftPeerProto;
import org.apache.ratis.proto.RaftProtos.RaftPeerRole;
import org.apache.ratis.proto.RaftProtos.RoleInfoProto;
import org.apache.ratis.proto.RaftProtos.ServerRpcProto;
import org.apache.ratis.protocol.RaftPeer;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;
import org.junit.jupiter.api.Test;

class RaftPeersTest {

  @Test
  void theStagedPeersAreTheLeadersFollowersThatTheConfigurationDoesNotName() {
    RoleInfoProto.Builder leader = RoleInfoProto.newBuilder().setRole(RaftPeerRole.LEADER);
    LeaderInfoProto.Builder info = LeaderInfoProto.newBuilder().setTerm(2);
    for (String id : List.of("n2", "n3", "n5")) {
      info.addFollowerInfo(
          ServerRpcProto.newBuilder()
              .setId(RaftPeerProto.newBuilder().setId(ByteString.copyFromUtf8(id)))
              .setLastRpcElapsedTimeMs(id.equals("n5") ? 4200 : 10));
    }
    RoleInfoProto role = leader.setLeaderInfo(info).build();
    assertEquals(
        List.of("n5 (last answered 4200 ms ago)"),
        RaftPeers.staged(role, id -> List.of("n1", "n2", "n3").contains(id)));
    assertEquals(
        List.of(),
        RaftPeers.staged(
            RoleInfoProto.newBuilder().setRole(RaftPeerRole.FOLLOWER).build(), id -> false));
  }

  @Test
  void theRaftConfigurationCarriesEveryPort() {
    PeerAddress p = new PeerAddress("n4", "10.0.0.4", 9000, 9100);
    assertEquals(p, RaftPeers.fromRaftPeer(RaftPeers.toRaftPeer(p, RaftPeerRole.LISTENER)));
    assertEquals(p, PeerAddress.parse(p.toString()));
  }

  @Test
  void olderOrPartialAddressesAreReadWithDefaults() {
    RaftPeer chunkOnly =
        RaftPeer.newBuilder().setId("n1").setAddress("h:100").setDataStreamAddress("h:101").build();
    assertEquals(new PeerAddress("n1", "h", 100, 101), RaftPeers.fromRaftPeer(chunkOnly));
    // Written by an older node, with its admin port: read without it.
    RaftPeer withAdmin =
        RaftPeer.newBuilder()
            .setId("n1")
            .setAddress("h:100")
            .setDataStreamAddress("h:101:102")
            .build();
    assertEquals(new PeerAddress("n1", "h", 100, 101), RaftPeers.fromRaftPeer(withAdmin));
    RaftPeer none = RaftPeer.newBuilder().setId("n1").setAddress("h:100").build();
    assertEquals(PeerAddress.of("n1", "h", 100), RaftPeers.fromRaftPeer(none));
  }

  @Test
  void malformedAddressesAreRefusedWithTheOffendingText() {
    for (String bad : new String[] {"other:101:102", "h:x:102", "h:101:102:103", "h"}) {
      RaftPeer p =
          RaftPeer.newBuilder().setId("n1").setAddress("h:100").setDataStreamAddress(bad).build();
      IllegalArgumentException e =
          assertThrows(IllegalArgumentException.class, () -> RaftPeers.fromRaftPeer(p));
      assertEquals(true, e.getMessage().contains("n1"), e.getMessage());
    }
  }
}
