package dev.ferry.bench.replace;

import dev.ferry.kv.shard.ClusterLayout;
import dev.ferry.kv.shard.Range;
import dev.ferry.raft.ClusterSecret;
import dev.ferry.raft.admin.AddProgress;
import dev.ferry.raft.admin.ReplicaMover;
import dev.ferry.raft.admin.ReplicaMover.MoveRequest;
import dev.ferry.raft.admin.ReplicaMover.MoveResult;
import dev.ferry.shipping.PeerAddress;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.function.Consumer;

/**
 * Replaces a node: every group with a replica on {@code node} gets one on {@code with} instead.
 * Until {@code NodeMoves.replace} (kvstore, being built on another branch) lands, this is one
 * {@link ReplicaMover} move per affected group, {@code parallelism} at once; {@link #replace} is
 * the one place to swap for it.
 *
 * <p>The target is hosted by the mover itself ({@code HOST} at the default priority, {@code
 * CATCH_UP}), not with {@code REPAIR}: hosting it beforehand with {@code
 * AdminClient.hostGroup(name, peers, REPAIR)} makes each move wait 10 s for a copy "being retired"
 * (the mover's {@code awaitDropped}) before it uses it. Every install on the new node then has the
 * same priority, so its transfer scheduler admits them in the same order either way.
 */
final class Replacement {
  private static final int MAX_TRIES = 10;
  private static final long RETRY_PAUSE_NANOS = 2_000_000_000L;

  private Replacement() {}

  /**
   * One group's move.
   *
   * @param group the group
   * @param seconds from the start of the replacement to this move's end
   * @param bytesPerSource what the add's install fetched from each source (empty if it failed)
   * @param failedTries the errors of the tries that failed (before a success, or all of them)
   * @param error the last failure if the move did not succeed, empty if it did
   */
  record GroupMove(
      String group,
      double seconds,
      Map<String, Long> bytesPerSource,
      List<String> failedTries,
      String error) {
    GroupMove {
      failedTries = List.copyOf(failedTries);
    }
  }

  /** The ranges of {@code layout} with a replica on {@code node}, in index order. */
  static List<Range> affected(ClusterLayout layout, String node) {
    return layout.ranges().stream().filter(r -> r.replicas().contains(node)).toList();
  }

  /**
   * Moves every group of {@code layout} with a replica on {@code node} (which may be dead) to
   * {@code with}, {@code parallelism} moves at once; blocks until every move ended. A move that
   * fails is tried again after 2 s (running a move again is safe: it waits for its own pending
   * change, or finds it done), up to 10 tries within the deadline: a move of a group whose leader
   * was the dead node fails while the group has no new leader ({@code ReplicaMover} asks the leader
   * its followers still name). A move that still fails is reported in its {@link GroupMove}, the
   * others go on.
   *
   * @param steps receives the movers' step lines (from the movers' threads)
   * @throws InterruptedException if interrupted while waiting (the moves are abandoned)
   */
  static List<GroupMove> replace(
      ClusterLayout layout,
      String node,
      PeerAddress with,
      ClusterSecret secret,
      int parallelism,
      Duration deadline,
      Consumer<String> steps)
      throws InterruptedException {
    if (parallelism < 1) {
      throw new IllegalArgumentException("parallelism must be >= 1: " + parallelism);
    }
    ReplicaMover mover = ReplicaMover.builder(secret).build();
    long start = System.nanoTime();
    ExecutorService pool = Executors.newFixedThreadPool(parallelism);
    try {
      List<Future<GroupMove>> moves = new ArrayList<>();
      for (Range r : affected(layout, node)) {
        MoveRequest req = new MoveRequest(r.group(), layout.peers(r), node, with, deadline);
        moves.add(pool.submit(() -> moveOne(mover, req, start, steps)));
      }
      List<GroupMove> out = new ArrayList<>();
      for (Future<GroupMove> f : moves) {
        try {
          out.add(f.get());
        } catch (ExecutionException e) {
          throw new IllegalStateException("a move's task failed outside the move", e.getCause());
        }
      }
      return out;
    } finally {
      pool.shutdownNow();
    }
  }

  private static GroupMove moveOne(
      ReplicaMover mover, MoveRequest req, long start, Consumer<String> steps) {
    ReplicaMover.Listener named =
        new ReplicaMover.Listener() {
          private AddProgress.Phase phase;

          @Override
          public void step(String line) {
            steps.accept(req.group() + ": " + line);
          }

          @Override
          public void progress(AddProgress p) {
            if (p.phase() != phase) {
              phase = p.phase();
              steps.accept(req.group() + ": phase " + phase);
            }
          }
        };
    long until = start + req.deadline().toNanos();
    List<String> failures = new ArrayList<>();
    while (true) {
      try {
        MoveResult res = mover.move(req, named);
        Map<String, Long> bytes = new TreeMap<>();
        res.added().ifPresent(a -> bytes.putAll(a.bytesShipped()));
        return new GroupMove(req.group(), (System.nanoTime() - start) / 1e9, bytes, failures, "");
      } catch (IOException | RuntimeException e) {
        String error = e.getClass().getSimpleName() + ": " + e.getMessage();
        failures.add(error);
        if (failures.size() >= MAX_TRIES || System.nanoTime() + RETRY_PAUSE_NANOS > until) {
          return new GroupMove(
              req.group(), (System.nanoTime() - start) / 1e9, Map.of(), failures, error);
        }
        steps.accept(req.group() + ": failed (" + error + "), trying again");
        try {
          Thread.sleep(RETRY_PAUSE_NANOS / 1_000_000);
        } catch (InterruptedException ie) {
          Thread.currentThread().interrupt();
          return new GroupMove(
              req.group(), (System.nanoTime() - start) / 1e9, Map.of(), failures, "interrupted");
        }
      }
    }
  }
}
