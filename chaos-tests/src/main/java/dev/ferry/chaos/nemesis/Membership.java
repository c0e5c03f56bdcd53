package dev.ferry.chaos.nemesis;

import dev.ferry.shipping.PeerAddress;
import java.io.Closeable;
import java.util.concurrent.CompletableFuture;

/**
 * How the membership nemesis changes the cluster's configuration: the Java admin API today ({@link
 * AdminMembership}), an admin RPC or CLI later. Implementations are thread-safe.
 */
public interface Membership extends Closeable {
  /**
   * Adds {@code node}, which already runs as a listener, as a voter. Does not block.
   *
   * @return a future of what was done, failed if the change failed (after any rollback)
   */
  CompletableFuture<String> add(PeerAddress node);

  /**
   * Removes member {@code nodeId} from the configuration (the node keeps running). Does not block.
   *
   * @return a future of what was done, failed if the change failed
   */
  CompletableFuture<String> remove(String nodeId);
}
