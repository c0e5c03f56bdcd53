package dev.ferry.snapshot.store;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Writes files so that a crash leaves either the old state or the whole new file, never a part:
 * write a temp file in a dedicated directory of the same file system, force it, rename it into
 * place atomically, then force the target's directory so the rename itself is durable.
 *
 * <p>Temp files are named {@code <seq>-<name>.tmp} and live only in {@link #tempDir()}; whoever
 * owns that directory deletes its contents at startup. Thread-safe.
 */
final class AtomicFileWriter {
  private final Path tempDir;
  private final boolean fsync;
  private final AtomicLong seq = new AtomicLong();

  /**
   * @param tempDir where temp files go; on the same file system as every target
   * @param fsync false skips every force (only for tests and benchmarks: a power loss may then lose
   *     or tear files)
   */
  AtomicFileWriter(Path tempDir, boolean fsync) {
    this.tempDir = tempDir;
    this.fsync = fsync;
  }

  Path tempDir() {
    return tempDir;
  }

  /** Writes {@code data} (its remaining bytes; position untouched) to {@code target} atomically. */
  void write(Path target, ByteBuffer data) throws IOException {
    Path temp = writeTemp(target.getFileName().toString(), data);
    try {
      moveIntoPlace(temp, target);
    } catch (IOException | RuntimeException e) {
      deleteQuietly(temp, e);
      throw e;
    }
  }

  /**
   * Writes {@code data} (its remaining bytes; position untouched) to a fresh temp file and forces
   * it. The caller moves it into place with {@link #moveIntoPlace} or deletes it.
   */
  Path writeTemp(String name, ByteBuffer data) throws IOException {
    return writeTemp(name, data, true);
  }

  /**
   * As {@link #writeTemp(String, ByteBuffer)}; {@code force} false leaves forcing to the caller.
   */
  Path writeTemp(String name, ByteBuffer data, boolean force) throws IOException {
    ByteBuffer buf = data.duplicate();
    while (true) {
      Path temp = tempDir.resolve(seq.incrementAndGet() + "-" + name + ".tmp");
      FileChannel ch;
      try {
        ch = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
      } catch (FileAlreadyExistsException e) {
        continue; // a leftover of an earlier run that startup did not see; take the next number
      }
      try (ch) {
        while (buf.hasRemaining()) {
          ch.write(buf);
        }
        if (fsync && force) {
          ch.force(true);
        }
      } catch (IOException | RuntimeException e) {
        deleteQuietly(temp, e);
        throw e;
      }
      return temp;
    }
  }

  /** Renames {@code temp} onto {@code target} atomically, then forces the target's directory. */
  void moveIntoPlace(Path temp, Path target) throws IOException {
    moveIntoPlace(temp, target, true);
  }

  /** As {@link #moveIntoPlace(Path, Path)}; {@code force} false leaves forcing to the caller. */
  void moveIntoPlace(Path temp, Path target, boolean force) throws IOException {
    Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE);
    if (fsync && force) {
      forceDirectory(target.getParent());
    }
  }

  /** Forces a file's content to disk (a read-only descriptor suffices on Linux). */
  void forceFile(Path file) throws IOException {
    if (!fsync) {
      return;
    }
    try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
      ch.force(true);
    }
  }

  /** Deletes {@code target} if present and forces its directory; true if it was present. */
  boolean delete(Path target) throws IOException {
    boolean deleted = Files.deleteIfExists(target);
    if (deleted && fsync) {
      forceDirectory(target.getParent());
    }
    return deleted;
  }

  /** Forces a directory's entries to disk (Linux: fsync on a read-only directory descriptor). */
  void forceDirectory(Path dir) throws IOException {
    if (!fsync) {
      return;
    }
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    }
  }

  static void deleteQuietly(Path file, Throwable primary) {
    try {
      Files.deleteIfExists(file);
    } catch (IOException e) {
      primary.addSuppressed(e);
    }
  }
}
