package dev.ferry.chaos.harness;

/** Where a {@link ChaosCluster}'s nodes live. */
public enum NetworkMode {
  /** Network namespaces when they can be made (root, iproute2), otherwise {@link #PROXY}. */
  AUTO,
  /**
   * Each node in its own network namespace ({@code fe-n<i>}, address 10.99.0.i) on a bridge ({@code
   * fe-br0}, 10.99.0.254, no default route); faults through iptables, nft and tc inside the
   * namespaces. Needs root.
   */
  NETNS,
  /**
   * Nodes on 127.99.0.i, reaching each other through an in-process {@link FaultProxy} (a listener
   * per ordered pair of nodes at 127.99.i.j; each node resolves its peers' names through its own
   * hosts file). Supports cuts (freezing links), kill and pause; not one-way cuts, loss or
   * bandwidth. Needs nothing special.
   */
  PROXY
}
