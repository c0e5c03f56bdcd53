package dev.ferry.chaos.harness;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The machine-wide lock of chaos runs. A chaos cluster uses fixed names and addresses ({@code fe-*}
 * namespaces and links, 10.99.0.0/24, 127.99.*.*, tmpfs mounts {@code fe-chaos}) and, to clean up
 * after a crashed run, deletes what it finds under them and kills node JVMs marked {@code
 * -Dferry.chaos.node}: two builds running chaos tests at once would destroy each other's clusters.
 * So a cluster holds this lock from before that cleanup until it has removed everything it made; a
 * second run waits for it, saying so in one line, instead.
 *
 * <p>The lock is an exclusive lock on {@code /run/lock/ferry-chaos.lock} ({@code java.io.tmpdir}
 * when {@code /run/lock} is not writable; the system property {@code ferry.chaos.lockFile}
 * overrides), taken with {@link FileChannel#lock} (a POSIX record lock, which the kernel releases
 * when the holder dies, even by SIGKILL). The file names the holder (pid, command, since when) for
 * the message of whoever waits. Within one JVM, a semaphore orders clusters the same way.
 *
 * <p>Thread-safe; {@link #acquire} blocks, {@link #close()} may run on any thread (a shutdown
 * hook).
 */
public final class ChaosLock implements Closeable {
  private static final Logger LOG = LoggerFactory.getLogger(ChaosLock.class);

  private static final Semaphore IN_THIS_JVM = new Semaphore(1, true);
  private static final long POLL_MILLIS = 500;
  private static final Duration REPEAT = Duration.ofMinutes(5);

  private final Path file;
  private final FileChannel channel;
  private final FileLock lock;
  private boolean released;

  private ChaosLock(Path file, FileChannel channel, FileLock lock) {
    this.file = file;
    this.channel = channel;
    this.lock = lock;
  }

  /** The lock file chaos runs on this machine share. */
  public static Path defaultFile() {
    String override = System.getProperty("ferry.chaos.lockFile");
    if (override != null && !override.isBlank()) {
      return Path.of(override);
    }
    Path run = Path.of("/run/lock");
    Path dir =
        Files.isDirectory(run) && Files.isWritable(run)
            ? run
            : Path.of(System.getProperty("java.io.tmpdir"));
    return dir.resolve("ferry-chaos.lock");
  }

  /**
   * Takes the lock on {@code file}, waiting up to {@code maxWait} for another run to release it;
   * while it waits it prints one line naming the holder (and repeats it every 5 minutes).
   *
   * @throws IOException if the file cannot be opened or locked, or {@code maxWait} passes first
   *     (the message names the holder)
   */
  public static ChaosLock acquire(Path file, Duration maxWait) throws IOException {
    long start = System.nanoTime();
    long deadline = start + maxWait.toNanos();
    try {
      if (!IN_THIS_JVM.tryAcquire()) {
        LOG.info(
            "chaos: another chaos cluster of this JVM holds "
                + file
                + ": waiting for it to close (up to "
                + maxWait
                + ")");
        if (!IN_THIS_JVM.tryAcquire(
            Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS)) {
          throw new IOException(
              "another chaos cluster of this JVM still holds " + file + " after " + maxWait);
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("interrupted waiting for " + file);
    }
    FileChannel channel = null;
    try {
      createShared(file);
      channel =
          FileChannel.open(
              file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
      FileLock lock = channel.tryLock();
      long nextNote = start;
      while (lock == null) {
        long now = System.nanoTime();
        if (now - deadline >= 0) {
          throw new IOException(
              "another chaos run still holds " + file + " after " + maxWait + ": " + holder(file));
        }
        if (now - nextNote >= 0) {
          LOG.info(
              "chaos: another chaos run holds "
                  + file
                  + " ("
                  + holder(file)
                  + "): waiting for it to finish"
                  + (nextNote == start ? "" : ", waited " + seconds(now - start) + " so far")
                  + " (up to "
                  + maxWait
                  + ")");
          nextNote = now + REPEAT.toNanos();
        }
        sleep(file);
        lock = channel.tryLock();
      }
      if (System.nanoTime() - start > TimeUnit.SECONDS.toNanos(1)) {
        LOG.info("chaos: got " + file + " after waiting " + seconds(System.nanoTime() - start));
      }
      ChaosLock held = new ChaosLock(file, channel, lock);
      held.describeHolder();
      return held;
    } catch (IOException | RuntimeException e) {
      if (channel != null) {
        channel.close();
      }
      IN_THIS_JVM.release();
      throw e;
    }
  }

  /**
   * Creates the lock file, if it does not exist, writable by every user: builds of several users
   * share it (its directory, {@code /run/lock} or the temporary directory, is sticky).
   */
  private static void createShared(Path file) throws IOException {
    Files.createDirectories(file.toAbsolutePath().getParent());
    try {
      Files.createFile(file);
    } catch (FileAlreadyExistsException made) {
      // made by an earlier run
    }
    try {
      Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-rw-rw-"));
    } catch (IOException | UnsupportedOperationException e) {
      // another user's file (already shared), or not a POSIX file system
    }
  }

  private static void sleep(Path file) throws IOException {
    try {
      Thread.sleep(POLL_MILLIS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new java.io.InterruptedIOException("interrupted waiting for " + file);
    }
  }

  private void describeHolder() throws IOException {
    ProcessHandle self = ProcessHandle.current();
    String command = self.info().commandLine().orElse("?");
    if (command.length() > 200) {
      command = command.substring(0, 200) + "…";
    }
    byte[] text =
        ("pid " + self.pid() + " since " + Instant.now() + ": " + command + "\n")
            .getBytes(StandardCharsets.UTF_8);
    channel.truncate(0);
    channel.write(ByteBuffer.wrap(text), 0);
    channel.force(false);
  }

  /** What the lock file says of its holder (pid, since when, command). */
  static String holder(Path file) {
    try {
      String s = Files.readString(file, StandardCharsets.UTF_8).strip();
      return s.isEmpty() ? "holder unknown" : s;
    } catch (IOException e) {
      return "holder unknown: " + e.getMessage();
    }
  }

  /**
   * Fails unless {@code lock} is held: what touches the names every chaos run shares (namespaces,
   * marked JVMs, mounts) asks for it.
   *
   * @throws IllegalStateException if it is not
   */
  static void requireHeld(ChaosLock lock) {
    if (lock == null || !lock.isHeld()) {
      throw new IllegalStateException("the chaos lock must be held (ChaosLock.acquire)");
    }
  }

  /** The lock file. */
  public Path file() {
    return file;
  }

  /** Whether this lock is still held (not yet {@linkplain #close() released}). */
  public synchronized boolean isHeld() {
    return !released;
  }

  /** Releases the lock. Idempotent. */
  @Override
  public synchronized void close() {
    if (released) {
      return;
    }
    released = true;
    try {
      channel.truncate(0); // no holder to name any more
    } catch (IOException e) {
      // the next holder rewrites it
    }
    try {
      lock.release();
      channel.close();
    } catch (IOException e) {
      LOG.warn("chaos: releasing " + file + ": " + e);
    } finally {
      IN_THIS_JVM.release();
    }
  }

  private static String seconds(long nanos) {
    return String.format(Locale.ROOT, "%.0f s", nanos / 1e9);
  }
}
