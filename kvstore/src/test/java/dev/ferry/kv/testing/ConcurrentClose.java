package dev.ferry.kv.testing;

import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * Closes a test's nodes or clusters all at once: a node's close takes about a second (its Raft and
 * chunk servers shut down), so closing N in turn costs N seconds of every test that starts them.
 */
public final class ConcurrentClose {
  private ConcurrentClose() {}

  /**
   * Closes every one of {@code all}, each on a thread of its own, and returns once all are closed.
   * Called by a test's teardown on its own thread; blocks.
   *
   * @throws Exception the first failure; the others are added to it as suppressed
   */
  public static void all(Collection<? extends AutoCloseable> all) throws Exception {
    List<CompletableFuture<Void>> closing = new ArrayList<>();
    for (AutoCloseable c : all) {
      closing.add(
          CompletableFuture.runAsync(
              () -> {
                try {
                  c.close();
                } catch (Exception e) {
                  throw new CompletionException(e);
                }
              },
              r -> new Thread(r, "test-close").start()));
    }
    Exception first = null;
    for (CompletableFuture<Void> f : closing) {
      try {
        f.join();
      } catch (CompletionException e) {
        Exception cause = e.getCause() instanceof Exception x ? x : e;
        if (first == null) {
          first = cause;
        } else {
          first.addSuppressed(cause);
        }
      }
    }
    if (first != null) {
      throw first;
    }
  }
}
