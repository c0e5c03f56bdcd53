package dev.ferry.bench.replace;

import dev.ferry.kv.shard.ClusterLayout;
import dev.ferry.kv.shard.NodeMoves;
import dev.ferry.kv.shard.Range;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

/**
 * What the benchmark records of a replacement run by {@link NodeMoves#replace}: the affected
 * ranges, and per group one {@link GroupMove} built from a {@link Recorder} (the replacement's
 * listener) and the {@link NodeMoves.Result}s of its passes.
 */
final class Replacement {
  private Replacement() {}

  /**
   * One group's move.
   *
   * @param group the group
   * @param seconds from the start of the replacement to this move's end (its last pass's)
   * @param bytesPerSource what the add's install fetched from each source; empty, as {@link
   *     NodeMoves} does not report it (the node-wide figures come from the new node's metrics)
   * @param failedTries the errors of the passes whose move failed (before a success, or all)
   * @param error the last failure if the move did not succeed, empty if it did
   */
  record GroupMove(
      String group,
      double seconds,
      Map<String, Long> bytesPerSource,
      List<String> failedTries,
      String error) {
    GroupMove {
      bytesPerSource = Map.copyOf(bytesPerSource);
      failedTries = List.copyOf(failedTries);
    }
  }

  /** The ranges of {@code layout} with a replica on {@code node}, in index order. */
  static List<Range> affected(ClusterLayout layout, String node) {
    return layout.ranges().stream().filter(r -> r.replicas().contains(node)).toList();
  }

  /**
   * The listener of one replacement's passes: passes each move's step lines and state changes on as
   * {@code "group: line"} and {@code "group: phase STATE"}, and notes when each group's move ended.
   * {@link NodeMoves} calls it one call at a time, from its pool's threads; {@link #moves} is
   * called after the passes returned.
   */
  static final class Recorder implements NodeMoves.Listener {
    private final long start;
    private final LongSupplier nanoTime;
    private final Consumer<String> steps;
    private final Map<String, NodeMoves.State> states = new HashMap<>();
    private final Map<String, Double> endedAt = new HashMap<>();

    /**
     * @param start the replacement's start, in {@code nanoTime}'s terms
     * @param nanoTime the clock ({@code System::nanoTime})
     * @param steps receives the lines (on the callers' threads)
     */
    Recorder(long start, LongSupplier nanoTime, Consumer<String> steps) {
      this.start = start;
      this.nanoTime = nanoTime;
      this.steps = steps;
    }

    @Override
    public synchronized void planned(List<NodeMoves.Move> moves) {
      steps.accept(
          "planned "
              + moves.size()
              + " moves: "
              + moves.stream().map(m -> m.group() + " " + m.from() + "->" + m.to()).toList());
    }

    @Override
    public synchronized void step(NodeMoves.Move move, String line) {
      steps.accept(move.group() + ": " + line);
    }

    @Override
    public synchronized void progress(NodeMoves.GroupProgress group, NodeMoves.NodeProgress node) {
      String name = group.move().group();
      if (group.state().ended()) {
        endedAt.put(name, (nanoTime.getAsLong() - start) / 1e9);
      }
      if (states.put(name, group.state()) == group.state()) {
        return; // bytes only
      }
      steps.accept(
          name
              + ": phase "
              + group.state()
              + group.failure().map(f -> " (" + f + ")").orElse("")
              + " ("
              + node.ended()
              + "/"
              + node.groups().size()
              + " ended)");
    }

    /**
     * Each group's move over the passes, in the first pass's order: a group's failures are those of
     * the passes in which it failed, its state the last pass's that ran it (a later pass plans only
     * the groups still to move), its time when that pass's move ended.
     *
     * @param passes the first pass's result, then the retry's if there was one
     */
    synchronized List<GroupMove> moves(List<NodeMoves.Result> passes) {
      if (passes.isEmpty()) {
        throw new IllegalArgumentException("no pass");
      }
      Map<String, NodeMoves.GroupProgress> last = new LinkedHashMap<>();
      Map<String, List<String>> failures = new HashMap<>();
      for (NodeMoves.Result p : passes) {
        for (NodeMoves.GroupProgress g : p.groups()) {
          String name = g.move().group();
          last.put(name, g);
          if (g.state() == NodeMoves.State.FAILED) {
            failures
                .computeIfAbsent(name, k -> new ArrayList<>())
                .add(g.failure().orElse("failed"));
          }
        }
      }
      double took = passes.stream().mapToDouble(p -> p.took().toNanos() / 1e9).sum();
      List<GroupMove> out = new ArrayList<>();
      for (NodeMoves.GroupProgress g : last.values()) {
        String name = g.move().group();
        List<String> failed = failures.getOrDefault(name, List.of());
        String error =
            g.state() == NodeMoves.State.DONE
                ? ""
                : g.failure().orElse("did not end: " + g.state());
        out.add(new GroupMove(name, endedAt.getOrDefault(name, took), Map.of(), failed, error));
      }
      return out;
    }
  }
}
