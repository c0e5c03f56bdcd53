package dev.ferry.raft.ratis;

import java.io.IOException;
import org.apache.ratis.util.LifeCycle;

/**
 * The life-cycle steps of a Ratis state machine that reloads its state in place after a snapshot
 * install ({@code pause} then {@code reinitialize}), written once for Ferry's adapter and the
 * benchmarks' plain Ratis state machine. Ratis 3.x may call {@code pause} more than once per
 * install, so {@link #pause} is idempotent (docs/ratis-workarounds.md).
 */
public final class PausableLifeCycle {
  private PausableLifeCycle() {}

  /** RUNNING → PAUSING → PAUSED; does nothing in any other state. */
  public static void pause(LifeCycle lc) {
    if (lc.getCurrentState() == LifeCycle.State.RUNNING) {
      lc.transition(LifeCycle.State.PAUSING);
      lc.transition(LifeCycle.State.PAUSED);
    }
  }

  /** From PAUSED: STARTING, runs {@code reload}, then RUNNING (if it returned normally). */
  public static void reload(LifeCycle lc, Reload reload) throws IOException {
    if (lc.getCurrentState() == LifeCycle.State.PAUSED) {
      lc.transition(LifeCycle.State.STARTING);
    }
    reload.run();
    if (lc.getCurrentState() == LifeCycle.State.STARTING) {
      lc.transition(LifeCycle.State.RUNNING);
    }
  }

  /** Loads the state again, on the thread that called {@code reinitialize}. */
  @FunctionalInterface
  public interface Reload {
    /** Reloads; an exception leaves the life cycle in STARTING. */
    void run() throws IOException;
  }
}
