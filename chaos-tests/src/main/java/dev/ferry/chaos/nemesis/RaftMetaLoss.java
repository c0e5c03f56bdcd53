package dev.ferry.chaos.nemesis;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Recognizes the one restart failure the chaos harness repairs by replacing the node: Ratis left
 * its {@code raft-meta} file empty after a failed write on a full disk, so the node cannot load its
 * term and vote and exits at start (docs/ratis-workarounds.md). Both must hold: the node's log
 * since the restart says {@code IOException: Failed to load <dir>/current/raft-meta} for a file
 * inside the node's data directory, and that file is empty now. Anything else is not this bug.
 */
final class RaftMetaLoss {
  private static final Pattern SIGNATURE =
      Pattern.compile("IOException: Failed to load (\\S+/current/raft-meta)(?![\\w.-])");
  private static final int MAX_LOG_BYTES = 1 << 20;

  private RaftMetaLoss() {}

  /**
   * The empty {@code raft-meta} file that {@code log} (a node's output since its restart) reports
   * it could not load, if the file is inside {@code dataDir} and is empty; empty otherwise.
   *
   * @throws IOException if the file's size cannot be read
   */
  static Optional<Path> emptiedMeta(String log, Path dataDir) throws IOException {
    Path root = dataDir.toAbsolutePath().normalize();
    Matcher m = SIGNATURE.matcher(log);
    while (m.find()) {
      Path meta = Path.of(m.group(1)).toAbsolutePath().normalize();
      if (meta.startsWith(root)
          && Files.isRegularFile(meta, LinkOption.NOFOLLOW_LINKS)
          && Files.size(meta) == 0) {
        return Optional.of(meta);
      }
    }
    return Optional.empty();
  }

  /**
   * What {@code log} holds from byte {@code offset} on (at most its first MiB): a node's output
   * since a restart, its log being appended to by every run.
   */
  static String readFrom(Path log, long offset) throws IOException {
    if (!Files.exists(log)) {
      return "";
    }
    try (RandomAccessFile f = new RandomAccessFile(log.toFile(), "r")) {
      long from = Math.min(Math.max(0, offset), f.length());
      byte[] b = new byte[(int) Math.min(f.length() - from, MAX_LOG_BYTES)];
      f.seek(from);
      f.readFully(b);
      return new String(b, StandardCharsets.UTF_8);
    }
  }
}
