package dev.ferry.raft.admin;

import dev.ferry.snapshot.StateDigest;
import java.util.Objects;

/**
 * A joining node's state digest differed from the voters' at a checkpoint: it was refused promotion
 * and removed from the configuration.
 */
public final class MemberDigestMismatchException extends MembershipException {
  private static final long serialVersionUID = 1L;

  private final String nodeId;
  private final long index;
  private final transient StateDigest expected;
  private final transient StateDigest actual;

  public MemberDigestMismatchException(
      String nodeId, long index, StateDigest expected, StateDigest actual) {
    super(
        nodeId
            + ": digest "
            + actual.toHex()
            + " at index "
            + index
            + " differs from the voters' "
            + expected.toHex()
            + "; refused promotion and removed");
    this.nodeId = Objects.requireNonNull(nodeId, "nodeId");
    this.index = index;
    this.expected = expected;
    this.actual = actual;
  }

  /** The node refused. */
  public String nodeId() {
    return nodeId;
  }

  /** The checkpoint's log index. */
  public long index() {
    return index;
  }

  /** The voters' digest at {@link #index()}. */
  public StateDigest expected() {
    return expected;
  }

  /** The node's digest at {@link #index()}. */
  public StateDigest actual() {
    return actual;
  }
}
