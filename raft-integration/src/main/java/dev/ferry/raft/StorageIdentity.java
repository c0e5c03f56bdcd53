package dev.ferry.raft;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.UUID;

/**
 * What a node's data directory says about itself and its peers, in three small files beside Ratis's
 * storage, each written atomically and fsynced:
 *
 * <ul>
 *   <li>{@value #ID_FILE}: the directory's <b>storage identity</b>, a random id given when it is
 *       first used. A node whose disk was wiped comes back with another one, so a peer that
 *       remembers the old one can tell.
 *   <li>{@value #ROSTER_FILE}: the storage identities of its peers, as they reported them (learned
 *       by {@code MemberService}, answered to a fresh node that asks what its peers remember of it;
 *       {@code VoterGuard}).
 *   <li>{@value #REJOIN_FILE}: present while the node, found wiped, must run as a listener until it
 *       has been re-added through the digest gate; it then survives restarts, so a node that
 *       crashes while it rejoins never starts as a voter on an unverified log.
 * </ul>
 *
 * <p>Concurrency: the roster is written under this object's lock; the other files are written once
 * at start or by the membership thread.
 */
final class StorageIdentity {
  static final String ID_FILE = "storage-id";
  static final String ROSTER_FILE = "peer-storage-ids";
  static final String REJOIN_FILE = "rejoining";

  private final Path dir;
  private final String id;
  private final Map<String, String> roster;

  private StorageIdentity(Path dir, String id, Map<String, String> roster) {
    this.dir = dir;
    this.id = id;
    this.roster = roster;
  }

  /**
   * Reads the identity of {@code dataDir}, giving it a new one first if it has none (a new or wiped
   * directory, or one written by a version without identities) or if its Raft storage is {@code
   * fresh} (an identity that outlived the Raft state it stood for must not vouch for a new one),
   * and the roster of its peers'.
   *
   * @throws IOException if the files cannot be read or written
   */
  static StorageIdentity open(Path dataDir, boolean fresh) throws IOException {
    Path file = dataDir.resolve(ID_FILE);
    String id;
    if (!fresh && Files.isRegularFile(file)) {
      id = Files.readString(file, StandardCharsets.UTF_8).strip();
    } else {
      id = UUID.randomUUID().toString();
      write(dataDir, ID_FILE, id + "\n");
    }
    Map<String, String> roster = new TreeMap<>();
    Path r = dataDir.resolve(ROSTER_FILE);
    if (Files.isRegularFile(r)) {
      for (String line : Files.readAllLines(r, StandardCharsets.UTF_8)) {
        int eq = line.indexOf('=');
        if (eq > 0) {
          roster.put(line.substring(0, eq), line.substring(eq + 1).strip());
        }
      }
    }
    return new StorageIdentity(dataDir, id, roster);
  }

  /** This directory's storage identity. */
  String id() {
    return id;
  }

  /** The storage identity peer {@code nodeId} last reported, if this node learned one. */
  synchronized Optional<String> recorded(String nodeId) {
    return Optional.ofNullable(roster.get(nodeId));
  }

  /**
   * Remembers that peer {@code nodeId} reported {@code storageId} (fsynced before it returns, if it
   * changed anything).
   *
   * @return the identity it replaced, if a different one was recorded
   * @throws IOException if the roster cannot be written
   */
  synchronized Optional<String> record(String nodeId, String storageId) throws IOException {
    String before = roster.get(nodeId);
    if (storageId.equals(before)) {
      return Optional.empty();
    }
    roster.put(nodeId, storageId);
    StringBuilder b = new StringBuilder();
    roster.forEach((k, v) -> b.append(k).append('=').append(v).append('\n'));
    write(dir, ROSTER_FILE, b.toString());
    return Optional.ofNullable(before);
  }

  /** Whether the node must run as a listener until it is re-added ({@link #markRejoining}). */
  boolean rejoining() {
    return Files.isRegularFile(dir.resolve(REJOIN_FILE));
  }

  /** Records (fsynced) that the node must run as a listener until re-added, and why. */
  void markRejoining(String why) throws IOException {
    write(dir, REJOIN_FILE, why + "\n");
  }

  /** The node is a verified voter again: it may start as one. */
  void rejoined() throws IOException {
    Files.deleteIfExists(dir.resolve(REJOIN_FILE));
    force(dir, false);
  }

  /**
   * Writes {@code name} in {@code dir} atomically: a temporary file, fsynced, moved, dir fsynced.
   */
  private static void write(Path dir, String name, String text) throws IOException {
    Path tmp = dir.resolve(name + ".tmp");
    Files.writeString(tmp, text, StandardCharsets.UTF_8);
    force(tmp, true);
    try {
      Files.move(
          tmp,
          dir.resolve(name),
          StandardCopyOption.ATOMIC_MOVE,
          StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      Files.move(tmp, dir.resolve(name), StandardCopyOption.REPLACE_EXISTING);
    }
    force(dir, false);
  }

  private static void force(Path p, boolean file) throws IOException {
    try (FileChannel c =
        FileChannel.open(p, file ? StandardOpenOption.WRITE : StandardOpenOption.READ)) {
      c.force(true);
    } catch (IOException e) {
      if (file) {
        throw e;
      }
      // Some file systems cannot open a directory for fsync; the file itself was forced.
    }
  }
}
