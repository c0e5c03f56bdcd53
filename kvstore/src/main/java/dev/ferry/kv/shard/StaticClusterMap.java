package dev.ferry.kv.shard;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Objects;

/**
 * A cluster map kept in a descriptor file every node and client has ({@code ferry shard create}
 * writes it, {@code ferry admin move} rewrites it), or one fixed layout ({@link #of}).
 *
 * <p>{@link #current()} returns the layout read last and never touches the file. {@link #refresh}
 * looks at the file's modification time and size; when either changed since the last read it reads
 * the file again and keeps the result if its version is higher (a file rewritten by a move is
 * picked up by a running client). A map made {@link #of} a layout never changes.
 *
 * <p>Thread-safe; versions of {@link #current()} never go down.
 */
public final class StaticClusterMap implements ClusterMap {
  private final Path file;
  private volatile Loaded loaded;

  /** A layout and the stamp (modification time, size) of the file it was read from. */
  private record Loaded(ClusterLayout layout, Object modified, long size) {}

  private StaticClusterMap(Path file, Loaded loaded) {
    this.file = file;
    this.loaded = loaded;
  }

  /** A map of {@code layout}, which never changes. */
  public static StaticClusterMap of(ClusterLayout layout) {
    return new StaticClusterMap(null, new Loaded(Objects.requireNonNull(layout, "layout"), 0, -1));
  }

  /**
   * A map read from a descriptor file ({@link ClusterLayout#read}), re-read on {@link #refresh}
   * when the file changed.
   *
   * @throws IOException if the file cannot be read
   * @throws IllegalArgumentException naming the file and line of the first problem in it
   */
  public static StaticClusterMap read(Path descriptor) throws IOException {
    return new StaticClusterMap(descriptor, load(descriptor));
  }

  private static Loaded load(Path file) throws IOException {
    BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
    return new Loaded(ClusterLayout.read(file), a.lastModifiedTime(), a.size());
  }

  @Override
  public ClusterLayout current() {
    return loaded.layout();
  }

  /**
   * Re-reads the file if its modification time or size changed since it was read, and returns the
   * current layout (the file's if its version is higher). Blocks on the file system only.
   *
   * @throws UncheckedIOException if the file cannot be read (the layout stays)
   * @throws IllegalArgumentException if the file no longer holds a valid map (the layout stays)
   */
  @Override
  public ClusterLayout refresh(long staleVersion) {
    if (file == null) {
      return loaded.layout();
    }
    synchronized (this) {
      Loaded before = loaded;
      try {
        BasicFileAttributes a = Files.readAttributes(file, BasicFileAttributes.class);
        if (!a.lastModifiedTime().equals(before.modified()) || a.size() != before.size()) {
          Loaded now = load(file);
          loaded =
              now.layout().version() > before.layout().version()
                  ? now
                  : new Loaded(before.layout(), now.modified(), now.size());
        }
      } catch (IOException e) {
        throw new UncheckedIOException("re-reading the cluster map " + file, e);
      }
      return loaded.layout();
    }
  }

  @Override
  public String toString() {
    ClusterLayout l = loaded.layout();
    return "static cluster map of "
        + l.cluster()
        + " v"
        + l.version()
        + (file == null ? "" : " (" + file + ")");
  }
}
