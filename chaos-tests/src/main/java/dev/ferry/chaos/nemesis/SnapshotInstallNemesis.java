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
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Function;
import java.util.stream.Stream;

/**
 * An interrupted snapshot install. A spare node (not a member; storage wiped) joins: it starts as a
 * listener and is added through {@link Membership#add}, so it installs a full snapshot from its
 * peers while staged (the cluster runs with bulk data and a limited chunk send rate, so this takes
 * seconds). As soon as its first chunks arrive, the install is interrupted:
 *
 * <ul>
 *   <li>{@link Kind#KILL_RECEIVER}: the joining node is killed (heal restarts it; it resumes from
 *       the chunks it stored);
 *   <li>{@link Kind#KILL_SOURCE}: a follower, a source of chunks, is killed (heal restarts it);
 *   <li>{@link Kind#CORRUPT_SOURCE}: every stored chunk file of a follower is corrupted, so that it
 *       serves bad chunks.
 * </ul>
 *
 * <p>Heal waits for the add to finish, then makes the next spare: it removes a voter (the corrupted
 * one if any, else a random follower that did not just join), stops it and wipes its storage.
 * Storage is only ever wiped on nodes that are no longer members: a voter restarted with empty
 * storage under its old identity would break Raft's assumption that what a node acknowledged stays
 * on its disk (its vote could elect a leader missing committed entries).
 *
 * <p>Needs a cluster with a spare node. Used by one scheduler thread.
 */
public final class SnapshotInstallNemesis implements Nemesis {
  private static final Duration INSTALL_START = Duration.ofSeconds(20);

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
  private final Function<ChaosCluster, Membership> factory;
  private final Duration wait;
  private final List<String> killed = new ArrayList<>();
  private Membership membership;
  private CompletableFuture<String> pending;
  private String joining;
  private String corrupted;

  /**
   * A nemesis interrupting installs this way, adding nodes through the membership {@code factory}
   * makes (once, on first use).
   *
   * @param wait how long heal waits for each membership change
   */
  public SnapshotInstallNemesis(
      Kind kind, Function<ChaosCluster, Membership> factory, Duration wait) {
    this.kind = Objects.requireNonNull(kind, "kind");
    this.factory = Objects.requireNonNull(factory, "factory");
    this.wait = Objects.requireNonNull(wait, "wait");
  }

  @Override
  public String name() {
    return "install-" + kind.name().toLowerCase(java.util.Locale.ROOT).replace('_', '-');
  }

  @Override
  public boolean supports(ChaosCluster cluster) {
    return cluster.nodes().size() > cluster.initialVoters().size();
  }

  @Override
  public String inject(ChaosCluster c, Random random) throws Exception {
    if (pending != null) {
      return "nothing: the previous join is still in progress";
    }
    Optional<ChaosCluster.Configuration> conf = c.configuration();
    if (conf.isEmpty()) {
      return "nothing: no leader";
    }
    List<String> spares = new ArrayList<>();
    for (String id : c.nodes()) {
      if (!conf.get().members().contains(id) && !c.isAlive(id)) {
        spares.add(id);
      }
    }
    if (spares.isEmpty()) {
      return "nothing: no spare node";
    }
    if (membership == null) {
      membership = factory.apply(c);
    }
    String node = Targets.any(spares, random);
    c.wipe(node);
    c.startListener(node);
    joining = node;
    pending = membership.add(c.address(node));
    String what = node + " joins";
    try {
      Await.until(
          INSTALL_START,
          () -> chunkFiles(c.dataDir(node)) > 0 || pending.isDone(),
          node + " to receive chunks");
    } catch (TimeoutException e) {
      return what + ", no chunks within " + INSTALL_START;
    }
    if (pending.isDone()) {
      return what + ", the add finished before it could be interrupted";
    }
    List<String> voters = new ArrayList<>(Targets.voters(c));
    voters.remove(node);
    switch (kind) {
      case KILL_RECEIVER -> {
        c.kill(node);
        killed.add(node);
        return what + ", install started; killed it";
      }
      case KILL_SOURCE -> {
        c.leader().ifPresent(voters::remove); // a leader crash mid-change: MembershipNemesis
        if (voters.isEmpty()) {
          return what + ", install started; no follower source to kill";
        }
        String source = Targets.any(voters, random);
        c.kill(source);
        killed.add(source);
        return what + ", install started; killed source " + source;
      }
      case CORRUPT_SOURCE -> {
        c.leader().ifPresent(voters::remove);
        if (voters.isEmpty()) {
          return what + ", install started; no follower source to corrupt";
        }
        String source = Targets.any(voters, random);
        int n = corruptChunks(c.dataDir(source));
        corrupted = source;
        return what + ", install started; corrupted " + n + " chunk files of source " + source;
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
    if (pending == null) {
      return String.join("; ", done);
    }
    String outcome = outcome(pending, "add " + joining);
    if (outcome == null) {
      done.add("add " + joining + " still running after " + wait);
      return String.join("; ", done); // the next heal waits again
    }
    done.add(outcome);
    pending = null;
    Optional<ChaosCluster.Configuration> conf = c.configuration();
    if (conf.isEmpty()) {
      done.add("no leader: no spare made");
      return String.join("; ", done);
    }
    if (!conf.get().members().contains(joining)) {
      retire(c, joining, done);
    }
    String victim = corrupted;
    if (victim == null) {
      List<String> followers = new ArrayList<>(conf.get().voters());
      followers.remove(conf.get().leader());
      followers.remove(joining);
      victim = followers.isEmpty() ? null : followers.get(0);
    }
    corrupted = null;
    if (victim != null && conf.get().voters().size() > 2) {
      String removal = outcome(membership.remove(victim), "remove " + victim);
      done.add(removal == null ? "remove " + victim + " still running after " + wait : removal);
      Optional<ChaosCluster.Configuration> after = c.configuration();
      if (after.isPresent() && !after.get().members().contains(victim)) {
        retire(c, victim, done);
      }
    }
    return String.join("; ", done);
  }

  /** The outcome of {@code change} within the wait, or null if it is still running. */
  private String outcome(CompletableFuture<String> change, String what)
      throws InterruptedException {
    try {
      return change.get(wait.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      return null;
    } catch (ExecutionException e) {
      return what + " failed: " + e.getCause().getClass().getSimpleName();
    }
  }

  /** Stops a node that is no longer a member and wipes its storage: it is a spare again. */
  private static void retire(ChaosCluster c, String id, List<String> done) throws IOException {
    if (c.isAlive(id)) {
      c.kill(id);
    }
    c.wipe(id);
    done.add(id + " retired as a spare");
  }

  @Override
  public void close() throws IOException {
    if (membership != null) {
      membership.close();
    }
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
