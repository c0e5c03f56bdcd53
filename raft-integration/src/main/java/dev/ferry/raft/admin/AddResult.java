package dev.ferry.raft.admin;

import dev.ferry.statemachine.DigestAt;
import java.time.Duration;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;

/**
 * A node was added as a voter after its state was verified.
 *
 * @param nodeId the node added
 * @param checkpointId the id of the digest checkpoint written through the log for the check
 * @param verified the digest the new node and every voter recorded at the checkpoint, with its log
 *     index and term
 * @param listenerAdded time to add the node as a listener (Ratis stages it meanwhile: it installs a
 *     snapshot and replays the log)
 * @param caughtUp time, after that, until the node had applied the leader's commit index of the
 *     start
 * @param verifiedIn time to write the checkpoint and compare the digests
 * @param promoted time to promote the listener to a voter
 * @param bytesShipped stored bytes the node received during its snapshot install, per source (empty
 *     if it needed no install, or its admin service could not be asked)
 * @param replaced for an add that replaces a node ({@link AddRequest#replacing}): its removal
 */
public record AddResult(
    String nodeId,
    long checkpointId,
    DigestAt verified,
    Duration listenerAdded,
    Duration caughtUp,
    Duration verifiedIn,
    Duration promoted,
    Map<String, Long> bytesShipped,
    Optional<RemoveResult> replaced) {
  public AddResult {
    Objects.requireNonNull(nodeId, "nodeId");
    Objects.requireNonNull(verified, "verified");
    Objects.requireNonNull(listenerAdded, "listenerAdded");
    Objects.requireNonNull(caughtUp, "caughtUp");
    Objects.requireNonNull(verifiedIn, "verifiedIn");
    Objects.requireNonNull(promoted, "promoted");
    bytesShipped = Map.copyOf(bytesShipped);
    Objects.requireNonNull(replaced, "replaced");
  }

  /** A plain add's result (it replaced no node). */
  public AddResult(
      String nodeId,
      long checkpointId,
      DigestAt verified,
      Duration listenerAdded,
      Duration caughtUp,
      Duration verifiedIn,
      Duration promoted,
      Map<String, Long> bytesShipped) {
    this(
        nodeId,
        checkpointId,
        verified,
        listenerAdded,
        caughtUp,
        verifiedIn,
        promoted,
        bytesShipped,
        Optional.empty());
  }

  /** Total stored bytes the node received from all sources. */
  public long totalBytesShipped() {
    return bytesShipped.values().stream().mapToLong(Long::longValue).sum();
  }

  /** The whole duration of the change (the replaced node's removal included). */
  public Duration total() {
    return listenerAdded
        .plus(caughtUp)
        .plus(verifiedIn)
        .plus(promoted)
        .plus(replaced.map(RemoveResult::duration).orElse(Duration.ZERO));
  }
}
