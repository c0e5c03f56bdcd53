package dev.ferry.raft.metrics;

import java.util.Locale;
import java.util.Objects;

/**
 * A node's health as {@code GET /health} reports it. Live: the process runs and answers (always
 * true in a report that is served). Ready: the node is a voting member of its group's current
 * configuration, knows a leader, and is not installing a snapshot; a listener (a node being added)
 * is never ready.
 *
 * @param ready whether the node is ready
 * @param role the node's Raft role ({@code LEADER}, {@code FOLLOWER}, {@code CANDIDATE}, {@code
 *     LISTENER}), or {@code UNKNOWN} when its Raft server cannot be read
 * @param member whether it is a voter in its current configuration
 * @param leader the leader's id, or {@code null} when none is known
 * @param installing whether it is installing a snapshot
 * @param reason why it is not ready, or {@code "ready"}
 */
public record Health(
    boolean ready, String role, boolean member, String leader, boolean installing, String reason) {
  public Health {
    Objects.requireNonNull(role, "role");
    Objects.requireNonNull(reason, "reason");
  }

  /**
   * The health of a node in this state: ready when it is a member, knows a leader and is not
   * installing; otherwise the first reason it is not.
   */
  public static Health of(String role, boolean member, String leader, boolean installing) {
    String reason;
    if (!member) {
      reason = "not a voting member";
    } else if (leader == null) {
      reason = "no leader known";
    } else if (installing) {
      reason = "installing a snapshot";
    } else {
      reason = "ready";
    }
    return new Health(reason.equals("ready"), role, member, leader, installing, reason);
  }

  /** This report as one line of JSON, with {@code "live": true}. */
  public String toJson() {
    return "{\"live\":true,\"ready\":"
        + ready
        + ",\"role\":"
        + quote(role)
        + ",\"member\":"
        + member
        + ",\"leader\":"
        + (leader == null ? "null" : quote(leader))
        + ",\"installing\":"
        + installing
        + ",\"reason\":"
        + quote(reason)
        + "}";
  }

  private static String quote(String s) {
    StringBuilder b = new StringBuilder("\"");
    for (char c : s.toCharArray()) {
      if (c == '"' || c == '\\') {
        b.append('\\').append(c);
      } else if (c < 0x20) {
        b.append(String.format(Locale.ROOT, "\\u%04x", (int) c));
      } else {
        b.append(c);
      }
    }
    return b.append('"').toString();
  }
}
