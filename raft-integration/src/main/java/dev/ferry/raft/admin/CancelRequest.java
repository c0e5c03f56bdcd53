package dev.ferry.raft.admin;

import java.time.Duration;
import java.util.Objects;
import java.util.Optional;

/**
 * A request to cancel the pending add ({@link MembershipAdmin#cancel}).
 *
 * @param nodeId the node whose add to cancel; empty: whichever add is pending. A pending change
 *     about another node is then not touched.
 * @param deadline how long the cancel may take, waiting for Ratis to drop its staging of the node
 *     included; positive
 */
public record CancelRequest(Optional<String> nodeId, Duration deadline) {
  public CancelRequest {
    Objects.requireNonNull(nodeId, "nodeId");
    Objects.requireNonNull(deadline, "deadline");
    if (nodeId.isPresent() && nodeId.get().isBlank()) {
      throw new IllegalArgumentException("nodeId must not be blank");
    }
    if (deadline.isNegative() || deadline.isZero()) {
      throw new IllegalArgumentException("deadline must be positive: " + deadline);
    }
  }
}
