package dev.ferry.raft.admin;

import dev.ferry.shipping.PeerAddress;
import java.time.Duration;
import java.util.Objects;

/**
 * A request to add a node as a voter, through the digest gate of {@link MembershipAdmin#addMember}.
 *
 * @param node the node to add; it must already run, started as a listener ({@code
 *     FerryServer.Builder.asListener(true)}) with the current voters and itself as its peers
 * @param deadline how long the whole change may take (listener added, caught up, verified,
 *     promoted); positive
 */
public record AddRequest(PeerAddress node, Duration deadline) {
  public AddRequest {
    Objects.requireNonNull(node, "node");
    Objects.requireNonNull(deadline, "deadline");
    if (deadline.isNegative() || deadline.isZero()) {
      throw new IllegalArgumentException("deadline must be positive: " + deadline);
    }
  }
}
