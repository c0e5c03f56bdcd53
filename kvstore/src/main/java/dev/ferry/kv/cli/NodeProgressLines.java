package dev.ferry.kv.cli;

import dev.ferry.kv.shard.NodeMoves;
import dev.ferry.kv.shard.NodeMoves.GroupProgress;
import dev.ferry.kv.shard.NodeMoves.Move;
import dev.ferry.kv.shard.NodeMoves.NodeProgress;
import dev.ferry.kv.shard.NodeMoves.State;
import java.io.PrintStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * A replacement's or drain's progress as lines ({@code ferry admin replace|drain}): a progress bar
 * per group whose move runs and one for the whole node (groups done, bytes, ETA). On a terminal the
 * bars are one block redrawn in place (at most every 200 ms, and at every change of state), step
 * lines printed above it; piped, a group's bar prints at each change of state and each quarter of
 * its install, the node's bar whenever a move ends. A {@link NodeMoves.Listener}; its calls come
 * one at a time.
 */
final class NodeProgressLines implements NodeMoves.Listener {
  private static final long REDRAW_NANOS = 200_000_000L;

  private final PrintStream out;
  private final boolean terminal;
  private final Map<Move, GroupProgress> active = new LinkedHashMap<>();
  private final Map<Move, Long> startedAt = new LinkedHashMap<>();
  private final Map<Move, Integer> quarterShown = new LinkedHashMap<>();
  private NodeProgress node;
  private int drawn;
  private long lastDraw;

  NodeProgressLines(PrintStream out, boolean terminal) {
    this.out = out;
    this.terminal = terminal;
  }

  @Override
  public void planned(List<Move> moves) {
    println(
        moves.size()
            + " group(s) to move: "
            + String.join(
                ", ",
                moves.stream().map(m -> m.group() + " " + m.from() + "->" + m.to()).toList()));
  }

  @Override
  public void step(Move move, String line) {
    println("  " + move.group() + ": " + line);
  }

  @Override
  public void progress(GroupProgress g, NodeProgress n) {
    GroupProgress before = active.get(g.move());
    node = n;
    boolean changed = before == null || before.state() != g.state();
    if (g.state() == State.INSTALLING || g.state() == State.REMOVING) {
      active.put(g.move(), g);
      startedAt.putIfAbsent(g.move(), System.nanoTime());
    } else {
      active.remove(g.move());
    }
    if (g.state().ended()) {
      println(
          "  "
              + g.move().group()
              + (g.state() == State.DONE
                  ? ": done (" + g.move().from() + " -> " + g.move().to() + ")"
                  : ": FAILED: " + g.failure().orElse("?")));
      if (!terminal) {
        out.println(nodeLine(n));
      }
      return;
    }
    if (terminal) {
      long now = System.nanoTime();
      if (changed || now - lastDraw >= REDRAW_NANOS) {
        redraw();
      }
      return;
    }
    int quarter = (int) (4 * g.fraction());
    Integer shown = quarterShown.put(g.move(), quarter);
    if (changed || shown == null || shown != quarter) {
      out.println(groupLine(g));
    }
  }

  /** Ends the block (terminal): leaves the last bars on screen. */
  void finish() {
    if (terminal && node != null) {
      redraw();
    }
    drawn = 0;
  }

  private void println(String line) {
    if (terminal) {
      clearBlock();
      out.println(line);
      redraw();
    } else {
      out.println(line);
    }
  }

  private void clearBlock() {
    if (drawn > 0) {
      // Up to the block's first line, and clear to the end of the screen.
      out.print("\033[" + drawn + "F\033[J");
      drawn = 0;
    }
  }

  private void redraw() {
    clearBlock();
    List<String> lines = new ArrayList<>();
    for (GroupProgress g : active.values()) {
      lines.add(groupLine(g));
    }
    if (node != null) {
      lines.add(nodeLine(node));
    }
    lines.forEach(out::println);
    out.flush();
    drawn = lines.size();
    lastDraw = System.nanoTime();
  }

  private String groupLine(GroupProgress g) {
    Long since = startedAt.get(g.move());
    double seconds = since == null ? 0 : (System.nanoTime() - since) / 1e9;
    double rate = seconds < 0.05 ? 0 : g.bytesDone() / 1048576.0 / seconds;
    return ProgressBar.line(
        "  " + g.move().group(),
        g.bytesDone(),
        g.bytesTotal(),
        rate,
        "  " + g.state().name().toLowerCase(Locale.ROOT) + " -> " + g.move().to());
  }

  /** The whole node's bar: bytes, groups ended of all, and the ETA. */
  static String nodeLine(NodeProgress n) {
    double seconds = n.elapsed().toNanos() / 1e9;
    double rate = seconds < 0.05 ? 0 : n.bytesDone() / 1048576.0 / seconds;
    return ProgressBar.line(
        "node " + n.node(),
        n.bytesDone(),
        n.bytesTotal(),
        rate,
        String.format(
            Locale.ROOT,
            "  groups %d/%d done%s, ETA %s",
            n.done(),
            n.groups().size(),
            n.failed() == 0 ? "" : ", " + n.failed() + " failed",
            n.eta().map(NodeProgressLines::seconds).orElse("?")));
  }

  private static String seconds(Duration d) {
    return AdminCommand.Status.seconds(d);
  }
}
