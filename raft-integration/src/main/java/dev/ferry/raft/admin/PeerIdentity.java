package dev.ferry.raft.admin;

import java.util.Objects;
import java.util.Optional;

/**
 * What a node answers to {@link AdminClient#identity}: its own storage identity, and what it knows
 * of the node asked about. A node started on a fresh disk asks its peers this before its Raft
 * server may start as a voter (docs/membership.md, "A voter that lost its disk").
 *
 * @param nodeId the node that answered
 * @param storageId its own storage identity (the random id its data directory got when first used);
 *     empty while it rejoins after its own disk was wiped
 * @param knowsGroup whether it holds Raft state of the group (false: it is fresh too, still waiting
 *     to start)
 * @param recorded the storage identity it learned for the node asked about, if any
 * @param role the role its Raft configuration gives the node asked about; empty if its Raft server
 *     does not run yet
 */
public record PeerIdentity(
    String nodeId,
    Optional<String> storageId,
    boolean knowsGroup,
    Optional<String> recorded,
    Optional<MemberRole> role) {
  public PeerIdentity {
    Objects.requireNonNull(nodeId, "nodeId");
    Objects.requireNonNull(storageId, "storageId");
    Objects.requireNonNull(recorded, "recorded");
    Objects.requireNonNull(role, "role");
  }

  /** A node's role in a Raft configuration. */
  public enum MemberRole {
    VOTER,
    LISTENER,
    ABSENT
  }
}
