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
 *     promoted); positive. Once the node is promoted in place of {@link #replaces}, the removal of
 *     that node is given at least 2 minutes more: the change no longer goes back.
 * @param replaces the id of the voter the node replaces (a replica move, see {@link #replacing}),
 *     or empty for a plain add
 */
public record AddRequest(PeerAddress node, Duration deadline, String replaces) {
  public AddRequest {
    Objects.requireNonNull(node, "node");
    Objects.requireNonNull(deadline, "deadline");
    Objects.requireNonNull(replaces, "replaces");
    if (deadline.isNegative() || deadline.isZero()) {
      throw new IllegalArgumentException("deadline must be positive: " + deadline);
    }
    if (!replaces.isEmpty() && (replaces.isBlank() || replaces.equals(node.id()))) {
      throw new IllegalArgumentException(
          "an add of " + node.id() + " cannot replace '" + replaces + "'");
    }
  }

  /** A plain add: it replaces no node. */
  public AddRequest(PeerAddress node, Duration deadline) {
    this(node, deadline, "");
  }

  /**
   * This add, as one that replaces voter {@code nodeId} (a replica move): the replicated membership
   * record names {@code nodeId} from the start, and once the node is a voter the same change
   * removes {@code nodeId} (the group has one voter more meanwhile, never one fewer). If the driver
   * dies after the verification, the group's next leader finishes both.
   *
   * @throws IllegalArgumentException if {@code nodeId} is blank or the node being added
   */
  public AddRequest replacing(String nodeId) {
    Objects.requireNonNull(nodeId, "nodeId");
    if (nodeId.isEmpty()) {
      throw new IllegalArgumentException("replacing needs a node id");
    }
    return new AddRequest(node, deadline, nodeId);
  }

  /** Whether this add replaces a node. */
  public boolean isReplacement() {
    return !replaces.isEmpty();
  }
}
