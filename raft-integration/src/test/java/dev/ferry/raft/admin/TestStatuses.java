package dev.ferry.raft.admin;

import dev.ferry.snapshot.StateDigest;
import java.util.List;
import java.util.Optional;

/** Minimal {@link NodeStatus} values for tests: no checkpoint, change, install or counters. */
final class TestStatuses {
  private TestStatuses() {}

  /** A status of node {@code id} in {@code role}, applied and committed up to {@code index}. */
  static NodeStatus of(
      String id,
      String role,
      Optional<String> leader,
      long term,
      long index,
      List<NodeStatus.Member> members) {
    return new NodeStatus(
        id,
        role,
        leader,
        term,
        index,
        index,
        0,
        StateDigest.EMPTY,
        Optional.empty(),
        members,
        Optional.empty(),
        List.of(),
        Optional.empty(),
        Optional.empty(),
        Optional.empty(),
        Optional.empty(),
        Optional.empty());
  }
}
