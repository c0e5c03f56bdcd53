package dev.ferry.chaos.nemesis;

import dev.ferry.chaos.harness.Await;
import dev.ferry.chaos.harness.ChaosCluster;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.TimeoutException;
import java.util.stream.Stream;

/**
 * An interrupted snapshot install. A follower is killed and its storage wiped, so that on restart
 * it must install a snapshot from its peers (the cluster runs with a short log and a limited chunk
 * send rate, so an install takes seconds); as soon as its first chunks arrive, the install is
 * interrupted:
 *
 * <ul>
 *   <li>{@link Kind#KILL_RECEIVER}: the installing node is killed (heal restarts it; it resumes
 *       from the chunks it stored);
 *   <li>{@link Kind#KILL_SOURCE}: another member, a source of chunks, is killed (heal restarts it);
 *   <li>{@link Kind#CORRUPT_SOURCE}: every stored chunk file of another follower is corrupted, so
 *       that it serves bad chunks (heal kills it, wipes it and restarts it, so it installs afresh).
 * </ul>
 *
 * If the node caught up by replaying the log, or finished before it could be interrupted, the
 * summary says so. Used by one scheduler thread.
 */
public final class SnapshotInstallNemesis implements Nemesis {
  private static final Duration INSTALL_START = Duration.ofSeconds(30);

  /** How the install is interrupted. */
  public enum Kind {
    /** Kill the installing node. */
    KILL_RECEIVER,
    /** Kill a source. */
    KILL_SOURCE,
    /** Corrupt a source's stored chunks. */
    CORRUPT_SOURCE
  }

  private final Kind kind;
  private final List<String> killed = new ArrayList<>();
  private String corrupted;

  /** A nemesis interrupting installs this way. */
  public SnapshotInstallNemesis(Kind kind) {
    this.kind = Objects.requireNonNull(kind, "kind");
  }

  @Override
  public String name() {
    return "install-" + kind.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
  }

  @Override
  public String inject(ChaosCluster c, Random random) throws Exception {
    Optional<String> pick = Targets.pick(c, Target.FOLLOWER, random);
    if (pick.isEmpty()) {
      return "nothing: no follower runs";
    }
    String receiver = pick.get();
    c.kill(receiver);
    c.wipe(receiver);
    c.start(receiver);
    try {
      Await.until(
          INSTALL_START,
          () -> chunkFiles(c.dataDir(receiver)) > 0 || !c.isAlive(receiver),
          receiver + " to receive chunks");
    } catch (TimeoutException e) {
      return "wiped " + receiver + ": no install within " + INSTALL_START + " (log replay)";
    }
    String what = "wiped " + receiver + ", install started; ";
    List<String> others = new ArrayList<>(Targets.members(c));
    others.remove(receiver);
    switch (kind) {
      case KILL_RECEIVER -> {
        c.kill(receiver);
        killed.add(receiver);
        return what + "killed the receiver";
      }
      case KILL_SOURCE -> {
        if (others.isEmpty()) {
          return what + "no source to kill";
        }
        String source = Targets.any(others, random);
        c.kill(source);
        killed.add(source);
        return what + "killed source " + source;
      }
      case CORRUPT_SOURCE -> {
        Optional<String> leader = c.leader();
        List<String> followers = new ArrayList<>(others);
        leader.ifPresent(followers::remove);
        if (followers.isEmpty()) {
          return what + "no follower source to corrupt";
        }
        String source = Targets.any(followers, random);
        int n = corruptChunks(c.dataDir(source));
        corrupted = source;
        return what + "corrupted " + n + " chunk files of source " + source;
      }
      default -> throw new IllegalStateException("unknown kind " + kind);
    }
  }

  @Override
  public String heal(ChaosCluster c) throws Exception {
    List<String> done = new ArrayList<>();
    for (String id : killed) {
      if (!c.isAlive(id)) {
        c.start(id);
        done.add("restarted " + id);
      }
    }
    killed.clear();
    if (corrupted != null) {
      String id = corrupted;
      corrupted = null;
      c.kill(id);
      c.wipe(id);
      c.start(id);
      done.add("wiped and restarted corrupted " + id);
    }
    return String.join(", ", done);
  }

  /** The chunk files stored under a node's data directory. */
  static long chunkFiles(Path nodeDir) {
    return chunks(nodeDir).size();
  }

  private static List<Path> chunks(Path nodeDir) {
    if (!Files.exists(nodeDir)) {
      return List.of();
    }
    try (Stream<Path> files = Files.walk(nodeDir)) {
      return files
          .filter(p -> p.toString().contains("/chunks/chunks/") && Files.isRegularFile(p))
          .toList();
    } catch (IOException | UncheckedIOException e) {
      return List.of(); // files come and go while the node writes
    }
  }

  /** Flips a byte in the middle of every chunk file larger than 64 bytes; returns how many. */
  private static int corruptChunks(Path nodeDir) throws IOException {
    int n = 0;
    for (Path p : chunks(nodeDir)) {
      try {
        byte[] b = Files.readAllBytes(p);
        if (b.length > 64) {
          b[b.length / 2] ^= 0x5a;
          Files.write(p, b);
          n++;
        }
      } catch (IOException gone) {
        // deleted by retention meanwhile
      }
    }
    return n;
  }
}
