package dev.ferry.raft.admin;

import dev.ferry.shipping.install.InstallProgress;
import java.util.Objects;
import java.util.Optional;

/**
 * How far an add has got, reported while it runs.
 *
 * @param nodeId the node being added
 * @param phase the current phase
 * @param install the node's snapshot install, when one is running and the node's admin service can
 *     be reached
 */
public record AddProgress(String nodeId, Phase phase, Optional<InstallProgress> install) {
  public AddProgress {
    Objects.requireNonNull(nodeId, "nodeId");
    Objects.requireNonNull(phase, "phase");
    Objects.requireNonNull(install, "install");
  }

  /** The phases of an add, in order. */
  public enum Phase {
    /** Recording the change in the replicated state. */
    STARTING,
    /** Added as a listener: Ratis stages it; it installs a snapshot and replays the log. */
    INSTALLING,
    /** Waiting for it to apply the leader's commit index of the start. */
    CATCHING_UP,
    /** Writing a digest checkpoint and comparing the digests. */
    VERIFYING,
    /** Digests equal: promoting it to voter. */
    PROMOTING,
    /**
     * It is a voter; removing the node it replaces (an add that replaces one, {@link
     * AddRequest#replacing}).
     */
    REMOVING,
    /** It is a voter. */
    DONE
  }
}
