package dev.ferry.shipping.install;

import java.util.Arrays;
import java.util.Locale;

/**
 * How urgent an install is, highest first: a node's {@link TransferScheduler} admits queued
 * installs in this order (first come, first served within a priority; a queued install moves up one
 * priority for every {@link TransferScheduler.Builder#promoteAfter} it waited, so none waits for
 * ever).
 */
public enum TransferPriority {
  /** A group below its replication factor: a replacement of a lost or drained replica. */
  REPAIR,
  /** A rebalancing move of a replica that is not lost (its source still serves). */
  REBALANCE,
  /** A lagging follower, or an ordinary add of a member. The default. */
  CATCH_UP;

  /** The lower-case name, as in metrics labels and admin requests ({@code catch_up}). */
  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }

  /**
   * The priority named {@code text}, in any case ({@code REPAIR}, {@code rebalance}, {@code
   * catch_up}).
   *
   * @throws IllegalArgumentException naming the accepted values if it names none
   */
  public static TransferPriority parse(String text) {
    for (TransferPriority p : values()) {
      if (p.name().equalsIgnoreCase(text)) {
        return p;
      }
    }
    throw new IllegalArgumentException(
        "unknown transfer priority '"
            + text
            + "'; one of "
            + Arrays.stream(values()).map(TransferPriority::label).toList());
  }
}
