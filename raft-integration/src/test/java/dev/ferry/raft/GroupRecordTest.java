package dev.ferry.raft;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import dev.ferry.shipping.PeerAddress;
import dev.ferry.shipping.install.TransferPriority;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** A node's record of a group it hosts: written atomically, read back, bad files named. */
class GroupRecordTest {
  @TempDir Path dir;

  private static final List<PeerAddress> PEERS =
      List.of(new PeerAddress("n1", "10.0.0.1", 7000, 7001), PeerAddress.parse("n5=h5:7000:7001"));

  @Test
  void roundTripsAndReplacesTheOldRecordWhole() throws IOException {
    Path g = dir.resolve("kv.r3");
    assertEquals(Optional.empty(), GroupRecord.read(g));
    new GroupRecord("kv.r3", PEERS, true).write(g);
    assertEquals(Optional.of(new GroupRecord("kv.r3", PEERS, true)), GroupRecord.read(g));
    new GroupRecord("kv.r3", PEERS.subList(0, 1), false).write(g);
    assertEquals(
        Optional.of(new GroupRecord("kv.r3", PEERS.subList(0, 1), false)), GroupRecord.read(g));
    assertFalse(Files.exists(g.resolve(GroupRecord.FILE + ".tmp")), "no temporary file left");
  }

  /**
   * The install's priority is kept, as a line only when it is not the default (a record without
   * one, as older nodes wrote, is a catch-up); an unknown priority names the line.
   */
  @Test
  void keepsTheInstallPriority() throws IOException {
    Path g = dir.resolve("kv.r4");
    new GroupRecord("kv.r4", PEERS, true, TransferPriority.REBALANCE).write(g);
    assertEquals(
        Optional.of(new GroupRecord("kv.r4", PEERS, true, TransferPriority.REBALANCE)),
        GroupRecord.read(g));
    assertTrue(Files.readString(g.resolve(GroupRecord.FILE)).contains("priority=rebalance\n"));
    new GroupRecord("kv.r4", PEERS, true).write(g);
    assertFalse(Files.readString(g.resolve(GroupRecord.FILE)).contains("priority"));
    assertEquals(TransferPriority.CATCH_UP, GroupRecord.read(g).orElseThrow().priority());
    Files.writeString(
        g.resolve(GroupRecord.FILE),
        "listener=true\npriority=urgent\npeer=n1=h:1:2\n",
        StandardCharsets.UTF_8);
    IOException e = assertThrows(IOException.class, () -> GroupRecord.read(g));
    assertTrue(e.getMessage().contains("line 2"), e.getMessage());
  }

  @Test
  void aBadRecordIsAnErrorNamingTheFileAndLine() throws IOException {
    Path g = dir.resolve("kv.r1");
    Files.createDirectories(g);
    Path file = g.resolve(GroupRecord.FILE);
    Files.writeString(file, "listener=false\npeer=n1=h:1:2\nwhat=ever\n", StandardCharsets.UTF_8);
    IOException e = assertThrows(IOException.class, () -> GroupRecord.read(g));
    assertTrue(e.getMessage().contains(file + ", line 3"), e.getMessage());
    Files.writeString(file, "listener=false\npeer=n1=h:x:2\n", StandardCharsets.UTF_8);
    e = assertThrows(IOException.class, () -> GroupRecord.read(g));
    assertTrue(e.getMessage().contains("line 2"), e.getMessage());
    Files.writeString(file, "peer=n1=h:1:2\n", StandardCharsets.UTF_8);
    e = assertThrows(IOException.class, () -> GroupRecord.read(g));
    assertTrue(e.getMessage().contains("lacks the listener line"), e.getMessage());
    Path badName = dir.resolve(".hidden");
    Files.createDirectories(badName);
    Files.writeString(
        badName.resolve(GroupRecord.FILE),
        "listener=false\npeer=n1=h:1:2\n",
        StandardCharsets.UTF_8);
    assertThrows(IOException.class, () -> GroupRecord.read(badName));
  }
}
