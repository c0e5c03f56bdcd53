package dev.ferry.chaos.nemesis;

/** Which node a fault on one node hits. */
public enum Target {
  /** The current leader (a random voter if no leader answers). */
  LEADER,
  /** A random running voter. */
  RANDOM,
  /** A random running voter that does not lead. */
  FOLLOWER
}
