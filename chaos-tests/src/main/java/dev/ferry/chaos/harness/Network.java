package dev.ferry.chaos.harness;

import java.io.IOException;
import java.util.Set;

/**
 * The network between a {@link ChaosCluster}'s nodes, and the faults it can inject into it. Nodes
 * are named by their ids. The test's clients are not part of it: they keep reaching every node (as
 * in Jepsen, a partition separates servers from each other, not from clients), except where a fault
 * says otherwise.
 *
 * <p>Faults add up until {@link #heal()}. A method whose {@link Capability} is missing from {@link
 * #capabilities()} throws {@link UnsupportedOperationException}. Thread-safe; every method blocks
 * until the fault is in place (a few system commands or a message to the proxy thread).
 */
public interface Network {
  /** What a network implementation can do beyond cutting links. */
  enum Capability {
    /** {@link #cut}: always supported. */
    CUT,
    /** {@link #cutOneWay}. */
    ONE_WAY,
    /** {@link #loss}. */
    LOSS,
    /** {@link #bandwidth}. */
    BANDWIDTH
  }

  /** The faults this network supports. */
  Set<Capability> capabilities();

  /** Nodes {@code a} and {@code b} no longer reach each other, in either direction. */
  void cut(String a, String b) throws IOException;

  /**
   * Packets from {@code from} to {@code to} are dropped; the other direction still flows (a TCP
   * connection between them then breaks both ways, as with real one-way loss).
   */
  void cutOneWay(String from, String to) throws IOException;

  /** Node {@code node} drops each packet it receives from other nodes with this probability. */
  void loss(String node, double probability) throws IOException;

  /** Node {@code node}'s outgoing traffic is limited to {@code bitsPerSecond}. */
  void bandwidth(String node, long bitsPerSecond) throws IOException;

  /** Removes every fault: all nodes reach each other at full speed again. */
  void heal() throws IOException;
}
