package dev.ferry.shipping.install;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * One install's driver: its tasks run one at a time, in the order given, on a pool shared with
 * other installs ({@link TransferScheduler}), and its timers on a shared timer. What a
 * single-thread scheduled executor per install gave, without a thread per install.
 *
 * <p>After {@link #shutdown()}, {@link #execute} throws {@link RejectedExecutionException}, tasks
 * already queued still run, and timers no longer fire (a timer that fires is dropped). Thread-safe.
 */
final class DriverLoop implements Executor {
  private final Executor pool;
  private final ScheduledExecutorService timer;
  private final ArrayDeque<Runnable> tasks = new ArrayDeque<>();
  private final List<ScheduledFuture<?>> timers = new ArrayList<>();
  private boolean running;
  private boolean shutdown;

  DriverLoop(Executor pool, ScheduledExecutorService timer) {
    this.pool = pool;
    this.timer = timer;
  }

  /**
   * Runs {@code task} after the tasks given before it, never at the same time as another of this
   * loop's tasks.
   *
   * @throws RejectedExecutionException after {@link #shutdown()}, or if the pool refuses
   */
  @Override
  public void execute(Runnable task) {
    synchronized (this) {
      if (shutdown) {
        throw new RejectedExecutionException("install driver shut down");
      }
      tasks.addLast(task);
      if (running) {
        return;
      }
      running = true;
    }
    try {
      pool.execute(this::drain);
    } catch (RejectedExecutionException e) {
      synchronized (this) {
        running = false;
        tasks.clear();
      }
      throw e;
    }
  }

  /** Runs the queued tasks; yields the pool thread after a batch so other installs get a turn. */
  private void drain() {
    for (int i = 0; i < 64; i++) {
      Runnable next;
      synchronized (this) {
        next = tasks.pollFirst();
        if (next == null) {
          running = false;
          return;
        }
      }
      try {
        next.run();
      } catch (RuntimeException e) {
        // The installer's tasks catch their own failures; one that escapes must not stop the loop.
        Thread t = Thread.currentThread();
        t.getUncaughtExceptionHandler().uncaughtException(t, e);
      }
    }
    try {
      pool.execute(this::drain);
    } catch (RejectedExecutionException e) {
      synchronized (this) {
        running = false;
        tasks.clear();
      }
    }
  }

  /** Runs {@code task} on this loop after {@code delay}; dropped if the loop was shut down. */
  ScheduledFuture<?> schedule(Runnable task, long delay, TimeUnit unit) {
    return track(timer.schedule(() -> offer(task), delay, unit));
  }

  /**
   * Runs {@code task} on this loop every {@code delay} after the previous run was handed to it (a
   * run still waiting on the loop is not doubled); stops at {@link #shutdown()}.
   */
  ScheduledFuture<?> scheduleWithFixedDelay(
      Runnable task, long initialDelay, long delay, TimeUnit unit) {
    AtomicBoolean pending = new AtomicBoolean();
    Runnable once =
        () -> {
          try {
            task.run();
          } finally {
            pending.set(false);
          }
        };
    return track(
        timer.scheduleWithFixedDelay(
            () -> {
              if (pending.compareAndSet(false, true) && !offer(once)) {
                pending.set(false);
              }
            },
            initialDelay,
            delay,
            unit));
  }

  private boolean offer(Runnable task) {
    try {
      execute(task);
      return true;
    } catch (RejectedExecutionException e) {
      return false; // the install ended
    }
  }

  private ScheduledFuture<?> track(ScheduledFuture<?> f) {
    boolean cancel;
    synchronized (this) {
      timers.removeIf(ScheduledFuture::isDone);
      cancel = shutdown;
      if (!cancel) {
        timers.add(f);
      }
    }
    if (cancel) {
      f.cancel(false);
    }
    return f;
  }

  /** No new tasks; queued ones still run; timers are cancelled. Idempotent. */
  void shutdown() {
    List<ScheduledFuture<?>> cancel;
    synchronized (this) {
      shutdown = true;
      cancel = List.copyOf(timers);
      timers.clear();
    }
    cancel.forEach(f -> f.cancel(false));
  }
}
