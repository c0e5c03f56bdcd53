package dev.ferry.raft;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.ratis.proto.RaftProtos.LogEntryProto;
import org.apache.ratis.proto.RaftProtos.RaftConfigurationProto;
import org.apache.ratis.proto.RaftProtos.RaftPeerProto;
import org.apache.ratis.thirdparty.com.google.protobuf.ByteString;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class StoredConfigurationTest {
  @TempDir Path dir;

  private static RaftPeerProto peer(String id) {
    return RaftPeerProto.newBuilder().setId(ByteString.copyFromUtf8(id)).build();
  }

  /** Writes the file as Ratis does: one {@code LogEntryProto} holding a configuration entry. */
  private Path store(RaftConfigurationProto conf) throws IOException {
    Path file = dir.resolve(StoredConfiguration.FILE);
    Files.createDirectories(file.getParent());
    try (OutputStream out = Files.newOutputStream(file)) {
      LogEntryProto.newBuilder()
          .setTerm(1)
          .setIndex(7)
          .setConfigurationEntry(conf)
          .build()
          .writeTo(out);
    }
    return file;
  }

  @Test
  void aConfigurationWithoutTheNodeIsForgotten() throws IOException {
    Path file =
        store(
            RaftConfigurationProto.newBuilder()
                .addPeers(peer("n1"))
                .addPeers(peer("n2"))
                .addPeers(peer("n3"))
                .build());
    assertTrue(StoredConfiguration.forgetIfItOmits(dir, "n4"));
    assertFalse(Files.exists(file));
  }

  @Test
  void aConfigurationThatNamesTheNodeAnywhereIsKept() throws IOException {
    for (RaftConfigurationProto conf :
        new RaftConfigurationProto[] {
          RaftConfigurationProto.newBuilder().addPeers(peer("n1")).addPeers(peer("n4")).build(),
          RaftConfigurationProto.newBuilder().addPeers(peer("n1")).addListeners(peer("n4")).build(),
          RaftConfigurationProto.newBuilder().addPeers(peer("n1")).addOldPeers(peer("n4")).build(),
          RaftConfigurationProto.newBuilder()
              .addPeers(peer("n1"))
              .addOldListeners(peer("n4"))
              .build()
        }) {
      Path file = store(conf);
      assertFalse(StoredConfiguration.forgetIfItOmits(dir, "n4"), conf.toString());
      assertTrue(Files.exists(file));
    }
  }

  @Test
  void noStoredConfigurationIsNothingToDo() throws IOException {
    assertFalse(StoredConfiguration.forgetIfItOmits(dir, "n4"));
  }
}
