package dev.ferry.raft;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;
import org.apache.ratis.proto.RaftProtos.LogEntryProto;
import org.apache.ratis.proto.RaftProtos.RaftConfigurationProto;
import org.apache.ratis.proto.RaftProtos.RaftPeerProto;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The Raft configuration Ratis stores beside a group's log ({@code current/raft-meta.conf}), as a
 * joining node's restart needs it.
 *
 * <p>Why: when a node being added answers the leader's notification to install a snapshot, Ratis
 * stores the leader's configuration as of that snapshot, which predates the add and so does not
 * name the node. A joining node restarted mid-install (with {@code RECOVER}) then reads a
 * configuration without itself, and Ratis leaves it in state {@code STARTING} for good: it never
 * serves reads, so the add could never verify it. Forgetting that stored configuration makes Ratis
 * start from the node's group (the voters and itself as listener), and any later configuration in
 * its log still wins over it.
 *
 * <p>Only for a node started as a listener: a listener never votes nor counts for commits, so what
 * it believes the configuration is changes nothing for the cluster until it hears from the leader.
 * A configuration that names the node (as voter or listener) is left alone.
 */
final class StoredConfiguration {
  private static final Logger LOG = LoggerFactory.getLogger(StoredConfiguration.class);

  /** Ratis's {@code RaftStorageDirectoryImpl}: {@code current/raft-meta} plus {@code .conf}. */
  static final String FILE = "current/raft-meta.conf";

  private StoredConfiguration() {}

  /**
   * Deletes the configuration stored in {@code groupDir} (a Ratis group storage directory) if it
   * does not name {@code selfId}; logs what it did. Called once, before the Raft server is built.
   *
   * @return whether it deleted it
   * @throws IOException if the file cannot be read or deleted
   */
  static boolean forgetIfItOmits(Path groupDir, String selfId) throws IOException {
    Path file = groupDir.resolve(FILE);
    if (!Files.isRegularFile(file)) {
      return false;
    }
    LogEntryProto entry;
    try (InputStream in = Files.newInputStream(file)) {
      entry = LogEntryProto.parseFrom(in);
    }
    if (!entry.hasConfigurationEntry() || names(entry.getConfigurationEntry(), selfId)) {
      return false;
    }
    LOG.warn(
        "{}: its stored Raft configuration (index {}, from a snapshot install that was interrupted)"
            + " does not name it; starting from its group as a listener instead, so that the"
            + " leader can finish adding it",
        selfId,
        entry.getIndex());
    Files.delete(file);
    return true;
  }

  /** Whether {@code conf} names {@code id} as voter or listener, in its new or old part. */
  static boolean names(RaftConfigurationProto conf, String id) {
    return Stream.of(
            conf.getPeersList(),
            conf.getListenersList(),
            conf.getOldPeersList(),
            conf.getOldListenersList())
        .flatMap(java.util.List::stream)
        .map(RaftPeerProto::getId)
        .anyMatch(b -> b.toStringUtf8().equals(id));
  }
}
