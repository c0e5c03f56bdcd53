package dev.ferry.raft.admin;

import java.time.Duration;
import java.util.Objects;

/**
 * A request to remove a member (voter or listener) from the cluster's configuration.
 *
 * @param nodeId the member's id
 * @param deadline how long the change may take, leadership transfer included; positive
 */
public record RemoveRequest(String nodeId, Duration deadline) {
  public RemoveRequest {
    Objects.requireNonNull(nodeId, "nodeId");
    Objects.requireNonNull(deadline, "deadline");
    if (nodeId.isBlank()) {
      throw new IllegalArgumentException("nodeId must not be blank");
    }
    if (deadline.isNegative() || deadline.isZero()) {
      throw new IllegalArgumentException("deadline must be positive: " + deadline);
    }
  }
}
