package dev.ferry.chaos.nemesis;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RaftMetaLossTest {
  @TempDir Path tmp;

  private Path meta(String content) throws IOException {
    Path current = tmp.resolve("n1/raft/a9b57395-6600-3cc8-b4fa-5b34ab2eb75e/current");
    Files.createDirectories(current);
    Path meta = current.resolve("raft-meta");
    Files.writeString(meta, content, StandardCharsets.UTF_8);
    return meta;
  }

  private static String failedToLoad(Path file) {
    return "12:01:02.345 INFO FerryServer - n1: starting\n"
        + "Exception in thread \"main\" java.io.IOException: Failed to load "
        + file.toAbsolutePath()
        + "\n\tat org.apache.ratis.server.storage.RaftStorageMetadataFileImpl.load(...)\n"
        + "Caused by: java.io.IOException: Failed to parse 'term' from properties: {}\n";
  }

  @Test
  void emptyFileAndTheLogLineAreTheSignature() throws IOException {
    Path meta = meta("");
    assertEquals(
        Optional.of(meta.toAbsolutePath().normalize()),
        RaftMetaLoss.emptiedMeta(failedToLoad(meta), tmp.resolve("n1")));
  }

  @Test
  void aNonEmptyFileIsNot() throws IOException {
    Path meta = meta("#\nterm=3\nvotedFor=n2\n");
    assertTrue(RaftMetaLoss.emptiedMeta(failedToLoad(meta), tmp.resolve("n1")).isEmpty());
  }

  @Test
  void anotherErrorIsNot() throws IOException {
    Path meta = meta("");
    String log =
        "ERROR RaftStorage - Failed writing configuration to file:"
            + meta.resolveSibling("raft-meta.conf")
            + "\njava.io.IOException: Failed to load "
            + meta.resolveSibling("raft-meta.conf")
            + "\njava.io.IOException: No space left on device\n";
    assertTrue(RaftMetaLoss.emptiedMeta(log, tmp.resolve("n1")).isEmpty());
    assertTrue(RaftMetaLoss.emptiedMeta("", tmp.resolve("n1")).isEmpty());
  }

  @Test
  void anotherNodesFileIsNot() throws IOException {
    Path meta = meta("");
    Files.createDirectories(tmp.resolve("n2"));
    assertTrue(RaftMetaLoss.emptiedMeta(failedToLoad(meta), tmp.resolve("n2")).isEmpty());
  }

  @Test
  void aMissingFileIsNot() throws IOException {
    Path meta = meta("");
    Files.delete(meta);
    assertTrue(RaftMetaLoss.emptiedMeta(failedToLoad(meta), tmp.resolve("n1")).isEmpty());
  }

  @Test
  void readsOnlyWhatWasLoggedSinceTheRestart() throws IOException {
    Path log = tmp.resolve("n1.log");
    Files.writeString(log, "before restart\n", StandardCharsets.UTF_8);
    long from = Files.size(log);
    Files.writeString(
        log, "after restart\n", StandardCharsets.UTF_8, java.nio.file.StandardOpenOption.APPEND);
    assertEquals("after restart\n", RaftMetaLoss.readFrom(log, from));
    assertEquals("", RaftMetaLoss.readFrom(tmp.resolve("none.log"), 0));
  }
}
