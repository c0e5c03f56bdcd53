package dev.ferry.raft;

import dev.ferry.shipping.PeerAddress;
import dev.ferry.shipping.install.TransferPriority;
import dev.ferry.statemachine.StateMachine;
import dev.ferry.statemachine.StateMachineConfig;
import java.util.List;
import java.util.Objects;

/**
 * One Raft group a {@link FerryNode} hosts: its name (the cluster name its group id derives from,
 * {@link FerryServer#groupId}), its members, the state machine instance this node's replica runs,
 * and whether this node joins it as a listener. Every group of a node has a state machine instance
 * of its own: never pass one instance to two groups.
 *
 * @param name the group's name, e.g. {@code "kv.r3"}: 1–100 characters of {@code [A-Za-z0-9._-]},
 *     not starting with a dot (it names the group's folder in the node's data directory)
 * @param peers the group's members, the hosting node included (with the node's own address)
 * @param stateMachine the state machine this node's replica of the group runs (a new instance)
 * @param config how the replica runs it; values that shape the state must match on every replica
 * @param listener whether this node starts as a listener of the group (the first step of adding it
 *     as a member: its peer entry gets the startup role LISTENER, so the division runs as one)
 * @param priority the priority the node's transfer scheduler admits this replica's install at
 *     ({@link dev.ferry.shipping.install.TransferScheduler}): {@code REPAIR} for a replacement of a
 *     lost replica, {@code REBALANCE} for a move, {@code CATCH_UP} (the default) otherwise; once an
 *     install succeeded, later ones (a replica that lags) are {@code CATCH_UP}
 */
public record GroupSpec(
    String name,
    List<PeerAddress> peers,
    StateMachine stateMachine,
    StateMachineConfig config,
    boolean listener,
    TransferPriority priority) {
  public GroupSpec {
    Objects.requireNonNull(name, "name");
    Objects.requireNonNull(stateMachine, "stateMachine");
    Objects.requireNonNull(config, "config");
    Objects.requireNonNull(priority, "priority");
    FerryNode.checkGroupName(name);
    peers = List.copyOf(peers);
    if (peers.isEmpty()) {
      throw new IllegalArgumentException("group " + name + " has no peers");
    }
  }

  /** A group whose install runs at {@link TransferPriority#CATCH_UP}. */
  public GroupSpec(
      String name,
      List<PeerAddress> peers,
      StateMachine stateMachine,
      StateMachineConfig config,
      boolean listener) {
    this(name, peers, stateMachine, config, listener, TransferPriority.CATCH_UP);
  }

  /** A group this node is a voter of, run with {@link StateMachineConfig#defaults()}. */
  public static GroupSpec of(String name, List<PeerAddress> peers, StateMachine stateMachine) {
    return new GroupSpec(name, peers, stateMachine, StateMachineConfig.defaults(), false);
  }

  /** This group, joined by this node as a listener (to be added through the digest gate). */
  public GroupSpec asListener() {
    return new GroupSpec(name, peers, stateMachine, config, true, priority);
  }

  /** This group, run with {@code config}. */
  public GroupSpec withConfig(StateMachineConfig config) {
    return new GroupSpec(name, peers, stateMachine, config, listener, priority);
  }

  /** This group, its install admitted at {@code priority} (see {@link #priority()}). */
  public GroupSpec withPriority(TransferPriority priority) {
    return new GroupSpec(name, peers, stateMachine, config, listener, priority);
  }
}
