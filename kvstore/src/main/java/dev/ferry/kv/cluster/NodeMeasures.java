package dev.ferry.kv.cluster;

import dev.ferry.kv.KvClient;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.stream.Stream;

/**
 * Measures of a node's progress for {@link Progress}: what it has stored and applied. Each reads
 * once and never throws: a node that is down or a file that vanished while being counted reads as
 * nothing, and the next poll asks again.
 */
public final class NodeMeasures {
  private NodeMeasures() {}

  /** Bytes of the regular files under {@code dir} (0 if it does not exist). */
  public static long bytes(Path dir) {
    return files(dir, "").mapToLong(NodeMeasures::size).sum();
  }

  /** How many regular files under {@code dir} have {@code part} in their path. */
  public static long count(Path dir, String part) {
    return files(dir, part).count();
  }

  /**
   * The applied log index node {@code id} reports through {@code client} (give it a short timeout),
   * or -1 if it does not answer.
   */
  public static long applied(KvClient client, String id) {
    try {
      return client.digestOn(id).index();
    } catch (IOException | RuntimeException e) {
      return -1;
    }
  }

  private static Stream<Path> files(Path dir, String part) {
    if (!Files.exists(dir)) {
      return Stream.empty();
    }
    try (Stream<Path> all = Files.walk(dir)) {
      return all
          .filter(p -> p.toString().contains(part) && Files.isRegularFile(p))
          .toList()
          .stream();
    } catch (IOException | UncheckedIOException e) {
      return Stream.empty(); // files come and go while the node writes; ask again
    }
  }

  private static long size(Path file) {
    try {
      return Files.size(file);
    } catch (IOException gone) {
      return 0;
    }
  }
}
