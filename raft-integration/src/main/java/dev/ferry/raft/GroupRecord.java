package dev.ferry.raft;

import dev.ferry.shipping.PeerAddress;
import dev.ferry.shipping.install.TransferPriority;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;

/**
 * What a node remembers of a group it hosts, so that it gets the group back when it restarts with
 * no one telling it (e.g. a group it gained by a replica move): the group's name, the peers it was
 * given when it started hosting it, whether it joined as a listener, and the priority of its
 * install. Kept in {@code <dataDir>/groups/<name>/group.members}, a small text file ({@code
 * listener=true|false}, a {@code priority=repair|rebalance} line unless the priority is the default
 * {@code catch_up}, then one {@code peer=id=host:raftPort:chunkPort} line per peer) written to a
 * temporary file, fsynced and renamed over the old one atomically. The peers are where the group
 * started from on this node: Ratis's stored configuration, not this file, says who the members are
 * now.
 *
 * @param name the group's name
 * @param peers the peers the node was given for it, the node included
 * @param listener whether the node joined it as a listener
 * @param priority the priority of its install ({@link GroupSpec#priority()})
 */
record GroupRecord(
    String name, List<PeerAddress> peers, boolean listener, TransferPriority priority) {
  static final String FILE = "group.members";
  private static final int MAX_BYTES = 64 * 1024;

  GroupRecord {
    FerryNode.checkGroupName(name);
    Objects.requireNonNull(priority, "priority");
    peers = List.copyOf(peers);
    if (peers.isEmpty()) {
      throw new IllegalArgumentException("group " + name + " has no peers");
    }
  }

  /** A record of a group installed at the default priority ({@code CATCH_UP}). */
  GroupRecord(String name, List<PeerAddress> peers, boolean listener) {
    this(name, peers, listener, TransferPriority.CATCH_UP);
  }

  /** Writes this record into {@code groupDir} atomically (temporary file, fsync, rename). */
  void write(Path groupDir) throws IOException {
    StringBuilder text = new StringBuilder("listener=").append(listener).append('\n');
    if (priority != TransferPriority.CATCH_UP) {
      // Absent for the default: a record a node of an older version can still read.
      text.append("priority=").append(priority.label()).append('\n');
    }
    for (PeerAddress p : peers) {
      text.append("peer=").append(p).append('\n');
    }
    byte[] bytes = text.toString().getBytes(StandardCharsets.UTF_8);
    Path file = groupDir.resolve(FILE);
    if (Files.isRegularFile(file) && java.util.Arrays.equals(Files.readAllBytes(file), bytes)) {
      return;
    }
    Files.createDirectories(groupDir);
    Path tmp = groupDir.resolve(FILE + ".tmp");
    try (FileChannel ch =
        FileChannel.open(
            tmp,
            StandardOpenOption.CREATE,
            StandardOpenOption.WRITE,
            StandardOpenOption.TRUNCATE_EXISTING)) {
      ByteBuffer b = ByteBuffer.wrap(bytes);
      while (b.hasRemaining()) {
        ch.write(b);
      }
      ch.force(true);
    }
    try {
      Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      throw new IOException("cannot replace " + file + " atomically", e);
    }
    try (FileChannel dir = FileChannel.open(groupDir, StandardOpenOption.READ)) {
      dir.force(true);
    } catch (IOException e) {
      // Some platforms cannot open a directory to sync it; the rename is still atomic.
    }
  }

  /**
   * The record in {@code groupDir}, if there is one.
   *
   * @throws IOException if it cannot be read or is malformed (naming the file and line)
   */
  static Optional<GroupRecord> read(Path groupDir) throws IOException {
    Path file = groupDir.resolve(FILE);
    if (!Files.isRegularFile(file)) {
      return Optional.empty();
    }
    if (Files.size(file) > MAX_BYTES) {
      throw new IOException(file + ": larger than " + MAX_BYTES + " bytes");
    }
    String name = groupDir.getFileName().toString();
    Boolean listener = null;
    TransferPriority priority = TransferPriority.CATCH_UP;
    List<PeerAddress> peers = new ArrayList<>();
    List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i);
      try {
        if (line.startsWith("listener=")) {
          listener = Boolean.parseBoolean(line.substring("listener=".length()));
        } else if (line.startsWith("priority=")) {
          priority = TransferPriority.parse(line.substring("priority=".length()));
        } else if (line.startsWith("peer=")) {
          peers.add(PeerAddress.parse(line.substring("peer=".length())));
        } else if (!line.isBlank()) {
          throw new IllegalArgumentException("unknown line");
        }
      } catch (IllegalArgumentException e) {
        throw new IOException(file + ", line " + (i + 1) + ": " + e.getMessage() + ": " + line, e);
      }
    }
    if (listener == null || peers.isEmpty()) {
      throw new IOException(file + ": lacks the listener line or any peer line");
    }
    try {
      return Optional.of(new GroupRecord(name, peers, listener, priority));
    } catch (IllegalArgumentException e) {
      throw new IOException(file + ": " + e.getMessage(), e);
    }
  }

  /** A record of {@code spec}. */
  static GroupRecord of(GroupSpec spec) {
    Objects.requireNonNull(spec, "spec");
    return new GroupRecord(spec.name(), spec.peers(), spec.listener(), spec.priority());
  }
}
